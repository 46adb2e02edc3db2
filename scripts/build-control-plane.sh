#!/usr/bin/env bash
# Build the real Kubernetes control plane the tests under tests/cluster/ run against, once, into
#   .cache/control-plane/<kubernetes version>/bin/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler,
#                                                  kubectl,helm,kwok,kwok-stages.yaml,kserve-controller,kserve/}
# from the pinned Go wrapper modules in tests/cluster/build/ (kube: k8s.io/kubernetes + its etcd; helm; kwok;
# kserve: KServe's controller with the CRDs, ConfigMap and RBAC it needs).
# A stamp per wrapper module (the hash of its go.mod, go.sum and build recipe) makes reruns a no-op; a changed
# pin rebuilds that part only.
# Prints the directory's bin path on stdout as the last line, timings on stderr.
#   VOICESTACK_CONTROL_PLANE_CACHE   where the versions live (default .cache/control-plane)
#   GOFLAGS, GOPROXY, GOMODCACHE     as Go reads them (the module proxy must be reachable on a first build)
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/tools.sh
need openssl openssl  # tests/cluster/controlplane.py makes the cluster's certificates with it
apt_install_needed build-control-plane
# Any Go >= 1.21 fetches the toolchain the wrapper modules ask for (GOTOOLCHAIN=auto, from the module proxy);
# Debian bookworm's golang-go is 1.19, too old for that, so Go is a prerequisite of the build machine.
go_minor="$(go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9][0-9]*\).*/\1/p')"
if [ -z "$go_minor" ] || [ "$go_minor" -lt 21 ]; then
  echo "build-control-plane: Go >= 1.21 is required (https://go.dev/dl/); found: $(go version 2>&1 || true)" >&2
  exit 1
fi

build=tests/cluster/build
version="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$build/kube/go.mod")"
helm_version="$(awk '$1 == "helm.sh/helm/v3" {print $2; exit}' "$build/helm/go.mod")"
kwok_version="$(awk '$1 == "require" && $2 == "sigs.k8s.io/kwok" {print $3}' "$build/kwok/go.mod")"
kserve_version="$(awk '$1 == "require" && $2 == "github.com/kserve/kserve" {print $3}' "$build/kserve/go.mod")"
[ -n "$version" ] && [ -n "$helm_version" ] && [ -n "$kwok_version" ] && [ -n "$kserve_version" ] \
  || { echo "build-control-plane: no pinned versions in $build" >&2; exit 1; }
out="${VOICESTACK_CONTROL_PLANE_CACHE:-.cache/control-plane}/$version"
mkdir -p "$out/bin"
out="$(cd "$out" && pwd)"
export GOFLAGS="${GOFLAGS:--mod=readonly}" GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"  # the pins, never updated here
minor="${version#v1.}"
minor="${minor%%.*}"
# What `kubectl version` and the server's /version report (the same -X flags Kubernetes' own build sets);
# without them both say v0.0.0-master and Helm's kubeVersion checks see a pre-release.
kver="-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1"
kver="$kver -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
kver="$kver -X k8s.io/client-go/pkg/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitMajor=1"
kver="$kver -X k8s.io/client-go/pkg/version.gitMinor=$minor"
# The Kubernetes version helm assumes without a cluster (`helm template`, `helm lint`), as Helm's Makefile sets
# it: that of the client-go it is built with (default otherwise: 1.20, below the chart's kubeVersion).
client_minor="$(awk '$1 == "k8s.io/client-go" {print $2; exit}' "$build/helm/go.mod" | cut -d. -f2)"
hver="-X helm.sh/helm/v3/internal/version.version=$helm_version"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  hver="$hver -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$client_minor"
done
kube_packages="go.etcd.io/etcd/server/v3 k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager"
kube_packages="$kube_packages k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl"

timed() {  # timed LABEL COMMAND...: run COMMAND, report its wall seconds
  local start=$SECONDS
  "${@:2}"
  echo "build-control-plane: $1: $((SECONDS - start)) s" >&2
}

# Each part (one wrapper module) is rebuilt only when its stamp (the hash of its go.mod, go.sum and build recipe)
# changed, so a new pin of one part leaves the others' binaries alone.
stamp() { { cat "$build/$1/go.mod" "$build/$1/go.sum"; echo "$2"; } | sha256sum | cut -d' ' -f1; }
part() {  # part NAME LABEL RECIPE: run build_NAME unless the stamp matches
  local want
  want="$(stamp "$1" "$3")"
  if [ -f "$out/stamp.$1" ] && [ "$(cat "$out/stamp.$1")" = "$want" ]; then
    echo "build-control-plane: $2: cached" >&2
    return
  fi
  echo "build-control-plane: building $2" >&2
  rm -f "$out/stamp.$1"
  timed "go build ($2)" "build_$1"
  echo "$want" > "$out/stamp.$1"
}
build_kube() {
  # shellcheck disable=SC2086  # a list of packages
  (cd "$build/kube" && go build -trimpath -ldflags "-s -w $kver" -o "$out/bin/" $kube_packages)
  mv "$out/bin/server" "$out/bin/etcd"  # go names the binary of go.etcd.io/etcd/server/v3 "server"
}
build_helm() {
  (cd "$build/helm" && go build -trimpath -ldflags "-s -w $hver" -o "$out/bin/" helm.sh/helm/v3/cmd/helm)
}
build_kwok() {
  (cd "$build/kwok" && go build -trimpath -ldflags "-s -w" -o "$out/bin/" sigs.k8s.io/kwok/cmd/kwok)
  # kwok's own default node and pod lifecycle (the stages `kwokctl` installs), from the pinned module: nodes
  # become Ready with the capacity they declare, scheduled pods Running and Ready, deleted pods go.
  local dir stages=kustomize/stage
  dir="$(cd "$build/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  for stage in node/fast/node-initialize node/heartbeat/node-heartbeat pod/fast/pod-ready pod/fast/pod-complete \
    pod/fast/pod-delete; do
    cat "$dir/$stages/$stage.yaml"
    echo "---"
  done > "$out/bin/kwok-stages.yaml"
}
build_kserve() {
  (cd "$build/kserve" && go build -trimpath -ldflags "-s -w" -o "$out/bin/kserve-controller" \
    github.com/kserve/kserve/cmd/manager)
  # What the controller needs in the cluster, from the same pinned module: the CRDs of the kinds its other
  # controllers watch (the InferenceService CRD itself comes from the test data), its shipped ConfigMap, and
  # its RBAC (the manager's ServiceAccount, ClusterRole and ClusterRoleBinding it runs under).
  local dir
  dir="$(cd "$build/kserve" && go list -m -f '{{.Dir}}' github.com/kserve/kserve)"
  rm -rf "$out/bin/kserve" && mkdir -p "$out/bin/kserve/crds" "$out/bin/kserve/rbac"
  cp "$dir/config/crd/full/serving.kserve.io_trainedmodels.yaml" \
    "$dir/config/crd/full/serving.kserve.io_inferencegraphs.yaml" "$out/bin/kserve/crds/"
  cp "$dir/config/configmap/inferenceservice.yaml" "$out/bin/kserve/inferenceservice-config.yaml"
  cp "$dir/config/rbac/service_account.yaml" "$dir/config/rbac/role.yaml" "$dir/config/rbac/role_binding.yaml" \
    "$out/bin/kserve/rbac/"
}

start=$SECONDS
part kube "Kubernetes $version (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl)" \
  "$kver $kube_packages"
part helm "helm $helm_version" "$hver"
part kwok "kwok $kwok_version" "stages v1"
part kserve "KServe controller $kserve_version" "files v2"
echo "build-control-plane: ready in $((SECONDS - start)) s in $out/bin" >&2
echo "$out/bin"
