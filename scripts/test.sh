#!/usr/bin/env bash
# The test command: install what is missing, build (or reuse) the real Kubernetes control plane the tests under
# tests/cluster/ run against, then lint and run the whole suite.
# Test data comes from VOICESTACK_TEST_ASSETS (default ../shared/assets), KServe's CRDs from VOICESTACK_TEST_K8S
# (default ../shared/k8s).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
echo "== control plane (scripts/build-control-plane.sh)"
VOICESTACK_CONTROL_PLANE_BIN="$(scripts/build-control-plane.sh)"
export VOICESTACK_CONTROL_PLANE_BIN
. .venv/bin/activate
export VOICESTACK_TEST_ASSETS="${VOICESTACK_TEST_ASSETS:-$(cd .. && pwd)/shared/assets}"
echo "== ruff"
ruff check .
ruff format --check .
echo "== pytest"
python -m pytest "$@"
