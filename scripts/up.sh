#!/usr/bin/env bash
# The run command: install what is missing, then start the local stack (ASR, TTS, router).
set -euo pipefail
cd "$(dirname "$0")/.."
VOICESTACK_EXTRAS="${VOICESTACK_EXTRAS:-all}" scripts/install.sh
exec .venv/bin/voicestack up "$@"
