"""Real processes on loopback for the router suite: predictors on random-weight models, and routers."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import httpx
import numpy as np
import openai
import pytest

from tests.support.assets import asset
from tests.support.media import pcm16_wav
from tests.support.servers import ServerProcess, free_port

ASR_MODEL = "faster-whisper-ct2-micro-random"
VITS_MODEL = "coqui-vits-micro-random"
API_KEY = "test-key"


@dataclass
class Running:
    server: ServerProcess
    url: str

    @property
    def pid(self) -> int:
        return self.server.process.pid


def start_asr(port: int | None = None, *extra: str) -> Running:
    port = port or free_port()
    server = ServerProcess.voicestack(
        "asr", "--http_port", str(port), "--enable_grpc", "false",
        "--model", str(asset(f"models-random/{ASR_MODEL}")),
        "--beam_size", "1", "--max_new_tokens", "24", *extra,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    server.wait_http(f"{url}/v2/health/ready", timeout=120)
    return Running(server, url)


def start_router(env: dict[str, str]) -> Running:
    port = free_port()
    server = ServerProcess.voicestack(
        "router", "--host", "127.0.0.1", "--port", str(port),
        env={"ROUTER_HEALTH_INTERVAL_SECONDS": "0.5", **env},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    server.wait_http(f"{url}/healthz", timeout=60)
    return Running(server, url)


@pytest.fixture(scope="session")
def asr_predictor() -> Iterator[Running]:
    # One inference at a time and no predictor-side queue: a second concurrent call gets the predictor's 503.
    running = start_asr(None, "--max_concurrency", "1", "--max_queue", "0")
    yield running
    running.server.stop()


@pytest.fixture(scope="session")
def voices_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("voices")


def start_tts(voices_dir: Path) -> Running:
    """The TTS predictor on the random VITS model, its voices read from ``voices_dir``."""
    port = free_port()
    server = ServerProcess.voicestack(
        "tts", "--http_port", str(port), "--enable_grpc", "false",
        "--model", str(asset(f"models-random/{VITS_MODEL}")), "--voices_dir", str(voices_dir),
        "--max_concurrency", "2",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    server.wait_http(f"{url}/v2/health/ready", timeout=180)
    return Running(server, url)


@pytest.fixture(scope="session")
def tts_predictor(voices_dir: Path) -> Iterator[Running]:
    running = start_tts(voices_dir)
    yield running
    running.server.stop()


@pytest.fixture(scope="session")
def router(asr_predictor: Running, tts_predictor: Running, voices_dir: Path) -> Iterator[Running]:
    """The main router: both predictors, an API key, the directory voice store."""
    running = start_router(
        {
            "ROUTER_ASR_URLS": asr_predictor.url,
            "ROUTER_TTS_URLS": tts_predictor.url,
            "ROUTER_API_KEYS": API_KEY,
            "ROUTER_VOICES_DIR": str(voices_dir),
            "ROUTER_VOICE_STORE": "directory",
            "ROUTER_CORS_ORIGINS": "http://app.example",
            "ROUTER_RETRY_AFTER_SECONDS": "1",
        }
    )
    running.server.wait_http(f"{running.url}/health", timeout=30)
    yield running
    running.server.stop()


@pytest.fixture(scope="session")
def asr_router(asr_predictor: Running) -> Iterator[Running]:
    """A router with only the ASR predictor (for the Bazarr and transcription tests without TTS)."""
    running = start_router(
        {"ROUTER_ASR_URLS": asr_predictor.url, "ROUTER_RETRY_AFTER_SECONDS": "1", "ROUTER_API_KEYS": API_KEY}
    )
    running.server.wait_http(f"{running.url}/health", timeout=30)
    yield running
    running.server.stop()


@pytest.fixture(scope="session")
def asr_client(asr_router: Running) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{asr_router.url}/v1", api_key=API_KEY, max_retries=0, timeout=120)


@pytest.fixture(scope="session")
def client(router: Running) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{router.url}/v1", api_key=API_KEY, max_retries=0, timeout=120)


@functools.cache
def consent_for(router_url: str) -> str:
    """The id of a consent record on this router (the JFK clip as its recording), created once: new voices
    are created against one."""
    with asset("audio/en/jfk.wav").open("rb") as recording:
        response = httpx.post(
            f"{router_url}/v1/audio/voice_consents",
            headers={"Authorization": f"Bearer {API_KEY}"},
            data={"name": "test speaker", "language": "en-US"},
            files={"recording": ("consent.wav", recording, "audio/wav")},
            timeout=60,
        )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def pcm16k(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
        chunks = [
            out.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for out in resampler.resample(frame)
        ]
    return np.concatenate(chunks).astype("<i2")


@pytest.fixture(scope="session")
def short_pcm() -> bytes:
    """2.5 s of JFK as raw s16le 16 kHz mono (what Bazarr sends with encode=false)."""
    return pcm16k(asset("audio/en/jfk.wav"))[: 16000 * 5 // 2].tobytes()


@pytest.fixture(scope="session")
def short_wav(tmp_path_factory: pytest.TempPathFactory, short_pcm: bytes) -> Path:
    path = tmp_path_factory.mktemp("clips") / "jfk_short.wav"
    path.write_bytes(pcm16_wav(short_pcm))
    return path
