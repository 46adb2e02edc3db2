#!/usr/bin/env bash
# Build the real Kubernetes control plane the tests under tests/cluster/ run against, once, into
#   .cache/control-plane/<kubernetes version>/bin/{etcd,kube-apiserver,kube-controller-manager,kubectl,helm}
# from the pinned Go wrapper modules in tests/cluster/build/ (kube: k8s.io/kubernetes + its etcd; helm).
# A stamp (the hash of the wrapper modules and this script) makes reruns a no-op; a changed pin rebuilds.
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
[ -n "$version" ] && [ -n "$helm_version" ] || { echo "build-control-plane: no pinned versions in $build" >&2; exit 1; }
out="${VOICESTACK_CONTROL_PLANE_CACHE:-.cache/control-plane}/$version"
want="$(cat "$build"/*/go.mod "$build"/*/go.sum "$0" | sha256sum | cut -d' ' -f1)"
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$want" ]; then
  echo "build-control-plane: Kubernetes $version, helm $helm_version: cached in $out" >&2
  echo "$PWD/$out/bin"
  exit 0
fi

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

timed() {  # timed LABEL COMMAND...: run COMMAND, report its wall seconds
  local start=$SECONDS
  "${@:2}"
  echo "build-control-plane: $1: $((SECONDS - start)) s" >&2
}
start=$SECONDS
echo "build-control-plane: building Kubernetes $version (etcd, kube-apiserver, kube-controller-manager, kubectl)" >&2
(cd "$build/kube" && timed "go build (Kubernetes, etcd)" go build -trimpath -ldflags "-s -w $kver" -o "$out/bin/" \
  go.etcd.io/etcd/server/v3 k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl)
mv "$out/bin/server" "$out/bin/etcd"  # go names the binary of go.etcd.io/etcd/server/v3 "server"
echo "build-control-plane: building helm $helm_version" >&2
# The Kubernetes version helm assumes without a cluster (`helm template`, `helm lint`), as Helm's Makefile sets
# it: that of the client-go it is built with (default otherwise: 1.20, below the chart's kubeVersion).
client_minor="$(awk '$1 == "k8s.io/client-go" {print $2; exit}' "$build/helm/go.mod" | cut -d. -f2)"
hver="-X helm.sh/helm/v3/internal/version.version=$helm_version"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  hver="$hver -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$client_minor"
done
(cd "$build/helm" && timed "go build (helm)" go build -trimpath -ldflags "-s -w $hver" -o "$out/bin/" \
  helm.sh/helm/v3/cmd/helm)
echo "$want" > "$out/stamp"
echo "build-control-plane: built in $((SECONDS - start)) s into $out/bin" >&2
echo "$out/bin"
