"""Busy backends (OpenAI clients refused with Retry-After, Bazarr waits) and a predictor that dies."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import urlparse

import httpx
import openai
import pytest
import requests

from tests.router.conftest import API_KEY, Running, pcm16k, start_asr, start_router
from tests.support.assets import asset
from tests.support.media import pcm16_wav


@pytest.fixture(scope="module")
def long_pcm() -> bytes:
    """11 minutes of speech (JFK 60 times): the random model takes a few seconds on it."""
    return pcm16k(asset("audio/en/jfk.wav")).tobytes() * 60


def _bazarr(url: str, pcm: bytes) -> requests.Response:
    return requests.post(f"{url}/asr", params={"encode": "false", "output": "srt"},
                         files={"audio_file": ("audio_file", pcm)}, timeout=(5, None))  # fmt: skip


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _asr_state(router: Running) -> dict:
    return httpx.get(f"{router.url}/health").json()["backends"]["asr"]


@pytest.fixture(scope="module")
def one_slot_router(asr_predictor: Running) -> Iterator[Running]:
    running = start_router({"ROUTER_ASR_URLS": asr_predictor.url, "ROUTER_BACKEND_MAX_INFLIGHT": "1",
                            "ROUTER_BACKEND_MAX_QUEUE": "0", "ROUTER_RETRY_AFTER_SECONDS": "7"})  # fmt: skip
    yield running
    running.server.stop()


def test_router_queue_full_429_for_openai_and_bazarr_waits(one_slot_router: Running, long_pcm: bytes,
                                                           short_pcm: bytes) -> None:  # fmt: skip
    client = openai.OpenAI(base_url=f"{one_slot_router.url}/v1", api_key="x", max_retries=0)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_bazarr, one_slot_router.url, long_pcm)
        _wait_for(lambda: _asr_state(one_slot_router)["active"] == 1)
        with pytest.raises(openai.RateLimitError) as refused:
            client.audio.transcriptions.create(model="whisper-1", file=("a.pcm.wav", b"RIFF0000"))
        assert refused.value.response.headers["retry-after"] == "7"
        assert refused.value.body["type"] == "rate_limit_error"  # type: ignore[index]
        second = pool.submit(_bazarr, one_slot_router.url, short_pcm)
        _wait_for(lambda: _asr_state(one_slot_router)["waiting"] == 1)  # queued, not refused
        assert first.result(timeout=120).status_code == 200
        assert second.result(timeout=120).status_code == 200


def _predictor_active(predictor: Running) -> float:
    for line in httpx.get(f"{predictor.url}/metrics").text.splitlines():
        if line.startswith("voicestack_active_inferences{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_predictor_busy_503_for_openai_and_bazarr_waits(
    asr_router: Running, asr_predictor: Running, long_pcm: bytes, short_pcm: bytes
) -> None:
    # The predictor runs one inference and queues none: while it works, it answers 503 itself.
    client = openai.OpenAI(base_url=f"{asr_router.url}/v1", api_key=API_KEY, max_retries=0)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_bazarr, asr_router.url, long_pcm)
        _wait_for(lambda: _predictor_active(asr_predictor) == 1)  # the predictor is working on it
        with pytest.raises(openai.InternalServerError) as busy:
            client.audio.transcriptions.create(model="whisper-1", file=("a.wav", pcm16_wav(short_pcm)))
        assert busy.value.status_code == 503 and busy.value.response.headers["retry-after"]
        waiting: Future[requests.Response] = pool.submit(_bazarr, asr_router.url, short_pcm)
        assert first.result(timeout=120).status_code == 200
        assert waiting.result(timeout=120).status_code == 200


def test_killed_predictor_gives_503_and_the_router_recovers(long_pcm: bytes, short_pcm: bytes) -> None:
    predictor = start_asr()
    port = urlparse(predictor.url).port
    router = start_router({"ROUTER_ASR_URLS": predictor.url, "ROUTER_RETRY_AFTER_SECONDS": "2"})
    client = openai.OpenAI(base_url=f"{router.url}/v1", api_key="x", max_retries=0, timeout=120)
    try:
        killer = threading.Timer(1.0, lambda: os.killpg(predictor.pid, signal.SIGKILL))
        killer.start()
        started = time.monotonic()
        with pytest.raises(openai.InternalServerError) as gone:
            client.audio.transcriptions.create(model="whisper-1", file=("long.wav", pcm16_wav(long_pcm)))
        assert gone.value.status_code == 503 and time.monotonic() - started < 30
        assert gone.value.body["code"] == "backend_unavailable"  # type: ignore[index]
        assert gone.value.response.headers["retry-after"] == "2"
        predictor.server.process.wait(timeout=10)
        _wait_for(lambda: httpx.get(f"{router.url}/health").status_code == 503, timeout=10)
        predictor = start_asr(port)  # back on the same address
        _wait_for(lambda: httpx.get(f"{router.url}/health").status_code == 200, timeout=30)
        result = client.audio.transcriptions.create(
            model="whisper-1", file=("short.wav", pcm16_wav(short_pcm)), temperature=0
        )
        assert isinstance(result.text, str)
    finally:
        router.server.stop()
        predictor.server.stop()
