# TTS predictor image: Piper voices and Coqui XTTS as a KServe predictor (voicestack[tts] only). torch and
# torchaudio come first from requirements/torch.txt; that wheel carries CUDA and also runs on CPU, so one image
# serves both (Piper runs on ONNX Runtime's CPU provider).
#   docker build -f docker/tts.Dockerfile -t ghcr.io/voice-stack/tts:0.1.0 .    (from the repo root)
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
RUN /opt/venv/bin/pip install -r requirements/torch.txt
RUN python3 requirements.py tts > /tmp/requirements.txt \
    && /opt/venv/bin/pip install -c requirements/constraints.txt -c requirements/torch.txt -r /tmp/requirements.txt -r requirements/torch.txt
COPY voicestack voicestack
# Only the TTS predictor and what it shares with the other (common/): each image holds what it runs.
COPY predictors/voicestack_predictors/__init__.py predictors/voicestack_predictors/
COPY predictors/voicestack_predictors/common predictors/voicestack_predictors/common
COPY predictors/voicestack_predictors/tts predictors/voicestack_predictors/tts
RUN /opt/venv/bin/pip install --no-deps . && /opt/venv/bin/pip check \
    && /opt/venv/bin/pip uninstall -y -q pip

FROM ${BASE_IMAGE}
RUN (command -v python3 >/dev/null) 2>/dev/null \
    || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
         python3 ca-certificates && rm -rf /var/lib/apt/lists/*; } \
    && groupadd --gid 10001 voicestack \
    && useradd --uid 10001 --gid 10001 --home-dir /home/voicestack --create-home --shell /usr/sbin/nologin voicestack
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HOME=/home/voicestack
USER 10001:10001
WORKDIR /home/voicestack
EXPOSE 8080
ENTRYPOINT ["voicestack", "tts"]
