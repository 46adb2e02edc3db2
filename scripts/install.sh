#!/usr/bin/env bash
# Install everything Voice Stack needs on a fresh Debian/Ubuntu machine, idempotently:
# apt packages (ffmpeg), a virtual environment in .venv, torch first, then the project and its extras.
#   VOICESTACK_EXTRAS   extras to install (default: all,dev)
#   PYTHON              interpreter for the venv (default: python3, must be >= 3.11)
#   VOICESTACK_APT      extra apt packages to make sure of (space separated)
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${VOICESTACK_EXTRAS:-all,dev}"
python="${PYTHON:-python3}"

# Programs the stack and its tests run, each with the Debian package that provides it.
. scripts/lib/tools.sh
need ffmpeg ffmpeg    # openai-whisper's load_audio and the tests' media conversions run the ffmpeg binary
need ffprobe ffmpeg
for pkg in ${VOICESTACK_APT:-}; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || apt_needed+=("$pkg")
done
command -v "$python" >/dev/null 2>&1 && need_python_venv "$python"
apt_install_needed install

"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
[ -x .venv/bin/python ] || "$python" -m venv .venv

stamp=".venv/.voicestack-install"
want="$(cat pyproject.toml requirements/*.txt | sha256sum | cut -d' ' -f1) $extras"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip
echo "install: torch (about 3 GB on a fresh machine)"
"${pip[@]}" install -q -r requirements/torch.txt
echo "install: voicestack[$extras]"
"${pip[@]}" install -q -c requirements/constraints.txt -c requirements/torch.txt -e ".[$extras]"
echo "$want" > "$stamp"
