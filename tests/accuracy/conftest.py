"""The real stack on real weights: a ``voicestack asr`` predictor on Whisper base (the predictor's own
defaults: CPU, int8, beam 5) and a ``voicestack router`` in front of it, started once per session.

Everything slow is done once: the long clip is transcribed once per subtitle format and the answers are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest
import soundfile

from tests.accuracy.clients import API_KEY, transcribe
from tests.router.conftest import Running, start_router
from tests.support.assets import asset
from tests.support.servers import ServerProcess, free_port

Measure = Callable[[str, object], None]
_MEASURED = pytest.StashKey[dict[str, object]]()

LONG_CLIP = "audio/long/ljspeech_LJ001-0001_to_0032_16k.flac"
LONG_CLIP_GAP = 0.4  # seconds of silence after each of the 32 clips in the long clip


@dataclass(frozen=True)
class Clip:
    path: Path
    reference: str
    duration: float


def reference(path: Path) -> str:
    """The transcript beside a clip (``x.wav`` → ``x.txt``)."""
    return path.with_suffix(".txt").read_text(encoding="utf-8").strip()


@pytest.fixture(scope="session")
def predictor(real_models: dict[str, Path]) -> Iterator[Running]:
    port = free_port()
    server = ServerProcess.voicestack(
        "asr", "--http_port", str(port), "--http_host", "127.0.0.1", "--enable_grpc", "false",
        "--model", str(real_models["whisper-base"]),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_http(f"{url}/v2/health/ready", timeout=300)
        yield Running(server, url)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def router(predictor: Running) -> Iterator[Running]:
    running = start_router({"ROUTER_ASR_URLS": predictor.url, "ROUTER_API_KEYS": API_KEY})
    try:
        running.server.wait_http(f"{running.url}/health", timeout=60)
        yield running
    finally:
        running.server.stop()


@pytest.fixture(scope="session")
def client(router: Running) -> openai.OpenAI:
    # Long audio on two shared cores takes minutes: the router's own limit (600 s) is the one that counts.
    return openai.OpenAI(base_url=f"{router.url}/v1", api_key=API_KEY, max_retries=0, timeout=900)


@pytest.fixture(scope="session")
def ljspeech() -> list[Clip]:
    """The 32 LJSpeech clips, in the order the long clip joins them."""
    paths = sorted(asset("audio/en/ljspeech").glob("LJ001-*.wav"))
    assert len(paths) == 32, paths
    return [Clip(path, reference(path), soundfile.info(str(path)).duration) for path in paths]


@pytest.fixture(scope="session")
def long_srt(client: openai.OpenAI) -> str:
    return str(transcribe(client, asset(LONG_CLIP), response_format="srt"))


@pytest.fixture(scope="session")
def long_vtt(client: openai.OpenAI) -> str:
    return str(transcribe(client, asset(LONG_CLIP), response_format="vtt"))


@pytest.fixture
def measured(request: pytest.FixtureRequest, record_property: Callable[[str, object], None]) -> Measure:
    """Record a measured figure: in the JUnit XML, and in a summary at the end of the run (for the docs)."""

    def record(name: str, value: object) -> None:
        record_property(name, value)
        request.config.stash.setdefault(_MEASURED, {})[name] = value

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    figures = config.stash.get(_MEASURED, {})
    if figures:
        terminalreporter.section("accuracy on real weights: measured")
        for name, value in figures.items():
            terminalreporter.write_line(f"{name}: {value}")
