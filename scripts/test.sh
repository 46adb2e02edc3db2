#!/usr/bin/env bash
# The test command: install what is missing, then lint and run the whole suite.
# Test data comes from VOICESTACK_TEST_ASSETS (default ../shared/assets).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
. .venv/bin/activate
export VOICESTACK_TEST_ASSETS="${VOICESTACK_TEST_ASSETS:-$(cd .. && pwd)/shared/assets}"
echo "== ruff"
ruff check .
ruff format --check .
echo "== pytest"
python -m pytest "$@"
