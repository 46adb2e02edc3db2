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

apt_wanted=(ffmpeg ${VOICESTACK_APT:-})
apt_missing=()
for pkg in "${apt_wanted[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || apt_missing+=("$pkg")
done
if [ "${#apt_missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "install: apt packages ${apt_missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

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
