#!/usr/bin/env bash
# Build Voice Stack container images with a local Docker engine, without Docker Hub.
#
#   scripts/build-images.sh [IMAGE...]      IMAGE: router operator asr asr-cuda tts, or "all"
#                                            (default: router operator)
#
# Without BASE_IMAGE, the base is a Debian bookworm minbase (python3, python3-venv, ca-certificates) made with
# debootstrap from this machine's own apt mirror, with this machine's extra CA certificates added (so pip and
# apt inside the build trust the same TLS proxy this machine trusts), imported with `docker import`. It is
# made once and cached: as a Docker image tag (content hash) and as a tarball under .cache/images/.
#
# Environment:
#   BASE_IMAGE          use this base for every image instead of the debootstrap one (e.g. python:3.11-slim-bookworm)
#   CUDA_BASE_IMAGE     base for asr-cuda (default: BASE_IMAGE / the debootstrap base; the Dockerfile's own
#                       default is an nvidia/cuda runtime image, pass it explicitly where Docker Hub is reachable)
#   DEBIAN_MIRROR       debootstrap mirror (default: the first Debian URI in this machine's apt sources)
#   IMAGE_PREFIX        image name prefix (default: ghcr.io/voice-stack/)
#   IMAGE_TAG           image tag (default: the package version in voicestack/__init__.py)
#   TORCH_INDEX_URL     index for the CPU ASR image's torch (Dockerfile default https://download.pytorch.org/whl/cpu;
#                       https://pypi.org/simple where only PyPI is reachable: larger, CUDA-enabled torch)
#   BUILD_NETWORK       docker build --network (default: host, so pip reaches whatever index this machine reaches)
#   VOICESTACK_DOCKERD  auto (default): start dockerd in the background if no daemon answers and we are root;
#                       never: fail instead. A daemon started here is left running; its pid is in .cache/dockerd.pid.
# Pip settings inside the build come from PIP_INDEX_URL / PIP_EXTRA_INDEX_URL (http(s) URLs only: file://
# indexes of this machine are not visible inside a build) and are passed as build arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

log() { printf 'build-images: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
now() { date +%s; }

# ---- images to build ---------------------------------------------------------------------------------------
all_images=(router operator asr asr-cuda tts)
images=("$@")
[ "${#images[@]}" -gt 0 ] || images=(router operator)
[ "${images[0]}" != "all" ] || images=("${all_images[@]}")
for img in "${images[@]}"; do
  [ -f "docker/$img.Dockerfile" ] || die "unknown image '$img' (no docker/$img.Dockerfile)"
done

version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' voicestack/__init__.py)"
prefix="${IMAGE_PREFIX:-ghcr.io/voice-stack/}"
tag="${IMAGE_TAG:-$version}"
network="${BUILD_NETWORK:-host}"
cache="$root/.cache"
mkdir -p "$cache/images"

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# ---- tools -------------------------------------------------------------------------------------------------
. scripts/lib/tools.sh
need docker docker.io
need dockerd docker.io  # the machine may ship the client without the engine
if [ -z "${BASE_IMAGE:-}" ]; then
  need debootstrap debootstrap
fi
apt_install_needed build-images
export PATH="$PATH:/usr/sbin:/sbin"

# ---- daemon ------------------------------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  [ "${VOICESTACK_DOCKERD:-auto}" = "auto" ] || die "no Docker daemon answers (VOICESTACK_DOCKERD=never)"
  command -v dockerd >/dev/null 2>&1 || die "no Docker daemon answers and dockerd is not installed"
  [ "$(id -u)" -eq 0 ] || die "no Docker daemon answers; start one (dockerd needs root)"
  log "starting dockerd (log: .cache/dockerd.log)"
  nohup dockerd >"$cache/dockerd.log" 2>&1 &
  echo $! >"$cache/dockerd.pid"
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$(cat "$cache/dockerd.pid")" 2>/dev/null || { tail -20 "$cache/dockerd.log" >&2; die "dockerd exited"; }
    sleep 1
  done
  docker info >/dev/null 2>&1 || die "dockerd did not come up in 60 s (see .cache/dockerd.log)"
fi

# ---- base image --------------------------------------------------------------------------------------------
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri="$(grep -h -s -E '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)"
  [ -n "$uri" ] || uri="$(grep -h -s -E '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    | awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}

extra_cas() { find /usr/local/share/ca-certificates -type f -name '*.crt' 2>/dev/null | sort; }

make_base() {
  local mirror recipe hash name tarball rootfs proxy started
  mirror="$(debian_mirror)"
  packages="python3,python3-venv,ca-certificates"
  # The tag changes when the recipe, the mirror or the extra CA certificates change.
  recipe="bookworm minbase $packages $mirror v1"
  hash="$( { echo "$recipe"; while read -r f; do cat "$f"; done < <(extra_cas); } | sha256sum | cut -c1-12)"
  name="voicestack-base:bookworm-$hash"
  tarball="$cache/images/base-bookworm-$hash.tar.gz"
  if docker image inspect "$name" >/dev/null 2>&1; then
    echo "$name"; return
  fi
  started="$(now)"
  if [ ! -f "$tarball" ]; then
    rootfs="$cache/images/rootfs-$hash"
    $sudo rm -rf "$rootfs"
    proxy="$(apt-config dump 2>/dev/null | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p' | head -1)"
    log "debootstrap bookworm from $mirror${proxy:+ via $proxy} (about a minute)"
    http_proxy="${proxy:-${http_proxy:-}}" $sudo debootstrap --variant=minbase --include="$packages" \
      bookworm "$rootfs" "$mirror" >"$cache/images/debootstrap.log" 2>&1 \
      || { tail -20 "$cache/images/debootstrap.log" >&2; die "debootstrap failed"; }
    while read -r f; do
      $sudo cp "$f" "$rootfs/usr/local/share/ca-certificates/"
    done < <(extra_cas)
    $sudo chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || true
    $sudo chroot "$rootfs" apt-get clean
    $sudo rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/* \
      "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log
    $sudo tar -C "$rootfs" --numeric-owner -czf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    $sudo rm -rf "$rootfs"
  fi
  log "importing $name"
  docker import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' "$tarball" "$name" >/dev/null
  log "base image $name ready in $(($(now) - started)) s"
  echo "$name"
}

if [ -n "${BASE_IMAGE:-}" ]; then
  base="$BASE_IMAGE"
else
  base="$(make_base)"
fi
cuda_base="${CUDA_BASE_IMAGE:-$base}"

# ---- builds ------------------------------------------------------------------------------------------------
build_args=(--build-arg "BASE_IMAGE=$base")
[ -f /etc/ssl/certs/ca-certificates.crt ] && build_args+=(--build-arg "PIP_CERT=/etc/ssl/certs/ca-certificates.crt")
http_only() { tr ' ' '\n' <<<"${1:-}" | grep -E '^https?://' | paste -sd' ' || true; }
index_url="$(http_only "${PIP_INDEX_URL:-}")"
extra_index_url="$(http_only "${PIP_EXTRA_INDEX_URL:-}")"
[ -z "$index_url" ] || build_args+=(--build-arg "PIP_INDEX_URL=$index_url")
[ -z "$extra_index_url" ] || build_args+=(--build-arg "PIP_EXTRA_INDEX_URL=$extra_index_url")
# The CPU ASR image takes torch from TORCH_INDEX_URL (Dockerfile default: the PyTorch CPU wheel index).
[ -z "${TORCH_INDEX_URL:-}" ] || build_args+=(--build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL")

for img in "${images[@]}"; do
  started="$(now)"
  args=("${build_args[@]}")
  [ "$img" != "asr-cuda" ] || args=(--build-arg "BASE_IMAGE=$cuda_base" "${build_args[@]:1}")
  log "building $prefix$img:$tag"
  DOCKER_BUILDKIT=0 docker build --network "$network" "${args[@]}" -f "docker/$img.Dockerfile" \
    -t "$prefix$img:$tag" . >"$cache/images/build-$img.log" 2>&1 \
    || { tail -40 "$cache/images/build-$img.log" >&2; die "building $img failed (.cache/images/build-$img.log)"; }
  size="$(docker image inspect -f '{{.Size}}' "$prefix$img:$tag")"
  log "built $prefix$img:$tag in $(($(now) - started)) s ($((size / 1024 / 1024)) MiB)"
done
