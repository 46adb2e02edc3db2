#!/usr/bin/env bash
# End-to-end on a throwaway kind cluster: KServe (Standard mode), the voice-stack chart, a VoiceStack, and the
# openai SDK through a port-forward to the router. Needs Docker, kind, kubectl, helm and internet (images, KServe,
# cert-manager, model downloads); CI does not run it. Run from anywhere:
#
#   tests/e2e/kind-e2e.sh
#
# Environment:
#   CLUSTER            kind cluster name (default voice-stack; created if missing, deleted at the end unless KEEP=1)
#   KEEP               1: keep the cluster (and the release) for a look around afterwards
#   KIND_NODE_IMAGE    node image for `kind create cluster` (default: kind's own default)
#   KSERVE_VERSION     KServe chart version (default v0.16.1); CERT_MANAGER_VERSION (default v1.16.3)
#   VOICESTACK_EXAMPLE VoiceStack manifest to apply (default: examples/cpu.yaml, else a tiny inline one)
#   BUILD              0: do not build images, use IMAGE_PREFIX/IMAGE_TAG as they are (e.g. published ones)
#   BASE_IMAGE         passed to scripts/build-images.sh (default here: python:3.11-slim-bookworm)
#   READY_TIMEOUT      how long to wait for the VoiceStack to be Ready (default 30m: first start downloads models)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"

cluster="${CLUSTER:-voice-stack}"
namespace="voice-stack"
release="voice-stack"
kserve_version="${KSERVE_VERSION:-v0.16.1}"
cert_manager_version="${CERT_MANAGER_VERSION:-v1.16.3}"
prefix="${IMAGE_PREFIX:-ghcr.io/voice-stack/}"
version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' voicestack/__init__.py)"
tag="${IMAGE_TAG:-$version}"
port="${LOCAL_PORT:-18000}"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || python=python3

step() { printf '\n== %s\n' "$*"; }
for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "kind-e2e: $tool is required" >&2; exit 2; }
done
"$python" -c 'import openai' 2>/dev/null || { echo "kind-e2e: $python needs the openai package" >&2; exit 2; }

pf_pid=""
cleanup() {
  [ -z "$pf_pid" ] || kill "$pf_pid" 2>/dev/null || true
  if [ "${KEEP:-0}" != "1" ] && [ "${created_cluster:-0}" = "1" ]; then
    step "deleting kind cluster $cluster (KEEP=1 keeps it)"
    kind delete cluster --name "$cluster" || true
  fi
}
trap cleanup EXIT

step "kind cluster $cluster"
created_cluster=0
if ! kind get clusters | grep -qx "$cluster"; then
  kind create cluster --name "$cluster" ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} --wait 120s
  created_cluster=1
fi
kubectl config use-context "kind-$cluster" >/dev/null

step "cert-manager $cert_manager_version"
kubectl apply -f "https://github.com/cert-manager/cert-manager/releases/download/$cert_manager_version/cert-manager.yaml"
kubectl -n cert-manager wait deploy --all --for=condition=Available --timeout=5m

step "KServe $kserve_version (Standard mode)"
helm upgrade --install kserve-crd oci://ghcr.io/kserve/charts/kserve-crd --version "$kserve_version" \
  --namespace kserve --create-namespace --wait
helm upgrade --install kserve oci://ghcr.io/kserve/charts/kserve --version "$kserve_version" --namespace kserve \
  --set kserve.controller.deploymentMode=Standard \
  --set kserve.controller.gateway.ingressGateway.enableGatewayApi=false \
  --set kserve.controller.gateway.disableIngressCreation=true \
  --wait --timeout 10m

if [ "${BUILD:-1}" = "1" ]; then
  step "images (scripts/build-images.sh), loaded into kind"
  BASE_IMAGE="${BASE_IMAGE:-python:3.11-slim-bookworm}" IMAGE_PREFIX="$prefix" IMAGE_TAG="$tag" \
    scripts/build-images.sh router operator asr tts
  for image in router operator asr tts; do
    kind load docker-image --name "$cluster" "$prefix$image:$tag"
  done
fi

example="${VOICESTACK_EXAMPLE:-}"
[ -n "$example" ] || [ ! -f examples/cpu.yaml ] || example=examples/cpu.yaml
stack="e2e"
[ -z "$example" ] || stack="$(sed -n '/^metadata:/,/^[a-z]/s/^  name: *//p' "$example" | head -1)"

step "chart charts/voice-stack"
helm upgrade --install "$release" charts/voice-stack --namespace "$namespace" --create-namespace \
  --set "operator.image.repository=${prefix}operator" --set "operator.image.tag=$tag" \
  --set "images.router.repository=${prefix}router" --set "images.router.tag=$tag" \
  --set "images.asr.repository=${prefix}asr" --set "images.asr.tag=$tag" \
  --set "images.tts.repository=${prefix}tts" --set "images.tts.tag=$tag" \
  --set "voiceStack.name=$stack" \
  --wait --timeout 5m

step "VoiceStack $stack"
if [ -n "$example" ]; then
  echo "applying $example"
  kubectl -n "$namespace" apply -f "$example"
else
  kubectl -n "$namespace" apply -f - <<'YAML'
apiVersion: voicestack.io/v1alpha1
kind: VoiceStack
metadata:
  name: e2e
spec:
  asr:
    model: tiny
    device: cpu
    computeType: int8
  tts:
    device: cpu
    # XTTS-v2 is under the Coqui Public Model License (non-commercial use only): true accepts it, as
    # examples/cpu.yaml does; without it the TTS predictor refuses the download and the stack never gets Ready.
    acceptModelLicense: true
YAML
fi

step "waiting for VoiceStack $stack to be Ready (${READY_TIMEOUT:-30m})"
if ! kubectl -n "$namespace" wait "voicestack/$stack" --for=condition=Ready --timeout="${READY_TIMEOUT:-30m}"; then
  kubectl -n "$namespace" get voicestack,inferenceservice,deploy,pods -o wide || true
  kubectl -n "$namespace" describe "voicestack/$stack" || true
  exit 1
fi
kubectl -n "$namespace" get voicestack "$stack"

step "helm test (router health from inside the cluster)"
helm test "$release" --namespace "$namespace" --timeout 5m --logs

step "openai SDK through a port-forward to svc/$stack-router"
kubectl -n "$namespace" port-forward "svc/$stack-router" "$port:80" >/dev/null &
pf_pid=$!
for _ in $(seq 1 30); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 1
done
"$python" tests/e2e/openai_smoke.py "http://127.0.0.1:$port/v1"
step "kind-e2e: passed"
