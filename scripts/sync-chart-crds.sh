#!/usr/bin/env bash
# Copy the CRDs (source of truth: crds/) into the chart's crds/ so both are identical; tests/deploy checks it.
#   scripts/sync-chart-crds.sh          copy
#   scripts/sync-chart-crds.sh --check  only compare; exit 1 and list the differences when they differ
set -euo pipefail
cd "$(dirname "$0")/.."
src=crds
dst=charts/voice-stack/crds
if [ "${1:-}" = "--check" ]; then
  diff -r "$src" "$dst" && exit 0
  echo "chart CRDs differ from $src/: run scripts/sync-chart-crds.sh" >&2
  exit 1
fi
mkdir -p "$dst"
rm -f "$dst"/*.yaml
cp "$src"/*.yaml "$dst"/
echo "synced $(ls "$src"/*.yaml | wc -l) CRD file(s) into $dst"
