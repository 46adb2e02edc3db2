"""One Voice Stack under ``voicestack up`` (the supervisor) for the reliability suite, and its figures.

The predictors run random-weight micro models (words do not matter here; speed does). Limits are set low
so the suite finds them in seconds: a 2 s header deadline, a 2 s body grace at 2 KB/s, a small queue.
Every test records its figures in ``FIGURES``; they are printed at the end of the run (docs/reliability.md
quotes them).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psutil
import pytest

from tests.router.conftest import ASR_MODEL
from tests.support.assets import asset
from tests.support.servers import ServerProcess, free_port

FIGURES: dict[str, dict[str, Any]] = {}

STACK_ENV = {
    "VOICESTACK_RESTART_BACKOFF_SECONDS": "1",
    "ROUTER_HEALTH_INTERVAL_SECONDS": "0.5",
    "ROUTER_RETRY_AFTER_SECONDS": "1",
    "ROUTER_UNAVAILABLE_WAIT_SECONDS": "5",
    "ROUTER_HEADER_TIMEOUT_SECONDS": "2",
    "ROUTER_BODY_GRACE_SECONDS": "2",
    "ROUTER_BODY_MIN_BYTES_PER_SECOND": "2048",
    "ROUTER_BACKEND_MAX_INFLIGHT": "2",
    "ROUTER_BACKEND_MAX_QUEUE": "8",
    "ROUTER_MAX_AUDIO_SECONDS": "60",
    "ROUTER_MAX_BAZARR_AUDIO_SECONDS": "60",
}


@dataclass
class Stack:
    up: ServerProcess
    url: str

    def child(self, command: str) -> psutil.Process:
        """The direct child of ``up`` running ``voicestack <command>`` now."""
        for child in psutil.Process(self.up.process.pid).children():
            if child.cmdline()[3:4] == [command]:
                return child
        raise AssertionError(f"no {command} child")

    def rss_mib(self, command: str) -> float:
        return self.child(command).memory_info().rss / 2**20

    def wait_ready(self, timeout: float = 120.0) -> None:
        self.up.wait_http(f"{self.url}/health", timeout=timeout)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    port = free_port()
    up = ServerProcess.voicestack(
        "up", "--port", str(port),
        "--asr-model", str(asset(f"models-random/{ASR_MODEL}")),
        "--asr-arg=--beam_size=1", "--asr-arg=--max_new_tokens=8",
        "--tts-model", str(asset("models-random/piper-micro-random")),
        "--voices-dir", str(tmp_path_factory.mktemp("voices")),
        env={**STACK_ENV, "ROUTER_API_KEYS": ""},
    )  # fmt: skip
    stack = Stack(up, f"http://127.0.0.1:{port}")
    try:
        stack.wait_ready(timeout=300)
        yield stack
    finally:
        alive = up.process.poll() is None
        children = psutil.Process(up.process.pid).children(recursive=True) if alive else []
        for child in children:  # a test may leave a predictor stopped (SIGSTOP): let it take its SIGTERM
            with contextlib.suppress(psutil.Error, OSError):
                child.send_signal(signal.SIGCONT)
        up.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name, figures in FIGURES.items():
        terminalreporter.write_line(f"{name}:")
        for key, value in figures.items():
            terminalreporter.write_line(f"    {key}: {value}")
