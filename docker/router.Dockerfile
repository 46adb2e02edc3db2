# Router image: the OpenAI- and Bazarr-compatible API in front of the predictors (voicestack[router] only).
#   docker build -f docker/router.Dockerfile -t ghcr.io/voice-stack/router:0.1.0 .    (from the repo root)
# BASE_IMAGE: any Debian/Ubuntu image with Python >= 3.11 (python3 and python3-venv are installed with apt when
# missing). scripts/build-images.sh passes a debootstrapped bookworm base; the PIP_* build args reach pip.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_CERT
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN (command -v python3 >/dev/null && python3 -c 'import ensurepip, venv') 2>/dev/null \
    || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
         python3 python3-venv ca-certificates && rm -rf /var/lib/apt/lists/*; }
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --upgrade pip
WORKDIR /src
# Dependencies first (a layer that changes only with pyproject.toml or the pins), then the code.
COPY pyproject.toml README.md docker/requirements.py ./
COPY requirements/constraints.txt requirements/torch.txt requirements/
RUN python3 requirements.py router > /tmp/requirements.txt \
    && /opt/venv/bin/pip install -c requirements/constraints.txt -c requirements/torch.txt -r /tmp/requirements.txt
# Silero VAD for realtime sessions: the model file faster-whisper ships (the router does not need the rest).
RUN /opt/venv/bin/pip download --no-deps -c requirements/constraints.txt -d /tmp/fw faster-whisper \
    && /opt/venv/bin/python -c "import glob, zipfile; zipfile.ZipFile(glob.glob('/tmp/fw/*.whl')[0]).extract('faster_whisper/assets/silero_vad_v6.onnx', '/opt/venv/share/voicestack')" \
    && rm -rf /tmp/fw
COPY voicestack voicestack
COPY router router
RUN /opt/venv/bin/pip install --no-deps . && /opt/venv/bin/pip check \
    && /opt/venv/bin/pip uninstall -y -q pip setuptools

FROM ${BASE_IMAGE}
RUN (command -v python3 >/dev/null) 2>/dev/null \
    || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
         python3 ca-certificates && rm -rf /var/lib/apt/lists/*; } \
    && groupadd --gid 10001 voicestack \
    && useradd --uid 10001 --gid 10001 --home-dir /home/voicestack --create-home --shell /usr/sbin/nologin voicestack
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HOME=/home/voicestack \
    ROUTER_REALTIME_VAD_MODEL=/opt/venv/share/voicestack/faster_whisper/assets/silero_vad_v6.onnx
USER 10001:10001
WORKDIR /home/voicestack
EXPOSE 8000
ENTRYPOINT ["voicestack", "router"]
CMD ["--host", "0.0.0.0", "--port", "8000"]
