# Sourced by the scripts the README's commands reach: find the programs they will run, and install the Debian
# packages that provide the missing ones.
#
# Test for the program that will actually run, never for a sibling from the same family: a machine can hold the
# Docker client (`docker`) without the engine (`dockerd`), or a package marked installed whose files are gone.
#
#   VOICESTACK_SBIN_DIRS     extra directories searched after PATH (default "/usr/sbin /sbin": root's tools, not
#                            on every user's PATH)
#   VOICESTACK_APT_DRY_RUN   1: print "apt-get install: PKG..." (what would be installed, maybe nothing) and exit 0
#                            there, before anything is installed or started (tests/deploy/test_tool_detection.py)

# have PROGRAM: true when PROGRAM is on PATH or in one of the sbin directories.
have() {
  command -v "$1" >/dev/null 2>&1 && return 0
  local dir
  for dir in ${VOICESTACK_SBIN_DIRS-/usr/sbin /sbin}; do
    [ -x "$dir/$1" ] && return 0
  done
  return 1
}

apt_needed=()

# need PROGRAM PACKAGE: PACKAGE gets installed when PROGRAM is missing.
need() {
  have "$1" && return 0
  local pkg
  for pkg in "${apt_needed[@]}"; do [ "$pkg" = "$2" ] && return 0; done
  apt_needed+=("$2")
}

# need_python_venv PYTHON: Debian's python3 ships the venv module without ensurepip (package python3-venv).
need_python_venv() {
  "$1" -c 'import ensurepip, venv' >/dev/null 2>&1 || apt_needed+=(python3-venv)
}

# apt_install_needed LABEL: install what need() collected (as root, or through sudo).
apt_install_needed() {
  if [ "${VOICESTACK_APT_DRY_RUN:-}" = "1" ]; then
    echo "apt-get install: ${apt_needed[*]}"
    exit 0
  fi
  [ "${#apt_needed[@]}" -gt 0 ] || return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "$1: installing apt packages: ${apt_needed[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_needed[@]}" >/dev/null
  apt_needed=()
}
