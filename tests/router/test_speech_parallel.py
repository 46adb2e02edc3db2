"""Speech over two TTS replicas: sentences are synthesised in parallel, and the audio comes out in order.

Two loopback stub predictors (in this process, so they can share counters) answer ``/synthesize`` with a
constant level that names the sentence (sentence k → 1000·(k+1)) after a delay that is *shorter* for later
sentences: if the router delivered audio as it arrived rather than in order, the levels would be shuffled.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import numpy as np
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.router.conftest import Running, start_router
from tests.router.predictor_stub import stub_plan
from tests.support.servers import free_port

RATE = 24_000
SENTENCES = 4
FILLER = "and this clause only makes the sentence long enough to be a chunk of its own for the splitter"
TEXT = " ".join(f"Sentence number {index} {FILLER}." for index in range(SENTENCES))


@dataclass
class Calls:
    lock: threading.Lock = field(default_factory=threading.Lock)
    active: int = 0
    most: int = 0
    by_port: dict[int, int] = field(default_factory=dict)


def stub_app(port: int, calls: Calls) -> Starlette:
    async def live(_: Request) -> JSONResponse:
        return JSONResponse({"live": True})

    async def synthesize(request: Request) -> Response:
        body = await request.json()
        match = re.search(r"number (\d+)", body["text"])
        assert match is not None
        index = int(match.group(1))
        with calls.lock:
            calls.active += 1
            calls.most = max(calls.most, calls.active)
            calls.by_port[port] = calls.by_port.get(port, 0) + 1
        try:
            await asyncio.sleep(0.8 - 0.15 * index)  # later sentences are ready sooner
        finally:
            with calls.lock:
                calls.active -= 1
        level = np.full(RATE // 5, 1000 * (index + 1), dtype="<i2").tobytes()
        headers = {"X-Sample-Rate": str(RATE), "X-Voice": body["voice"], "X-Language": "en"}
        return Response(level, media_type="audio/pcm", headers=headers)

    async def plan(request: Request) -> JSONResponse:
        return JSONResponse(stub_plan(await request.json(), RATE))

    return Starlette(
        routes=[
            Route("/v2/health/live", live),
            Route("/v2/health/ready", live),
            Route("/v1/models/{name}/plan", plan, methods=["POST"]),
            Route("/v1/models/{name}/synthesize", synthesize, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="module")
def stubs() -> Iterator[tuple[list[str], Calls]]:
    calls = Calls()
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []
    urls = []
    for _ in range(2):
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(stub_app(port, calls), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        urls.append(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 10
    while not all(server.started for server, _ in servers):
        assert time.monotonic() < deadline, "stub predictors did not start"
        time.sleep(0.05)
    yield urls, calls
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def two_tts_router(stubs: tuple[list[str], Calls]) -> Iterator[Running]:
    urls, _ = stubs
    running = start_router({"ROUTER_TTS_URLS": ",".join(urls), "ROUTER_TTS_MODEL_NAME": "xtts"})
    running.server.wait_http(f"{running.url}/health", timeout=30)
    yield running
    running.server.stop()


def levels(pcm: bytes) -> list[int]:
    """The sentence levels in the order they play (runs of at least 50 ms)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
    order: list[int] = []
    run_value, run_length = 0, 0
    for value in np.round(samples / 1000).astype(int):
        if value == run_value:
            run_length += 1
            if run_length == RATE // 20 and value and (not order or order[-1] != value):
                order.append(int(value))
        else:
            run_value, run_length = value, 1
    return order


def test_sentences_in_parallel_across_replicas_delivered_in_order(
    stubs: tuple[list[str], Calls], two_tts_router: Running
) -> None:
    _, calls = stubs
    started = time.perf_counter()
    response = httpx.post(
        f"{two_tts_router.url}/v1/audio/speech",
        json={"model": "tts-1", "input": TEXT, "voice": "alloy", "response_format": "pcm"},
        timeout=60,
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    assert levels(response.content) == [1, 2, 3, 4]  # in sentence order, though later ones finished first
    assert calls.most == 2, f"at most {calls.most} sentence(s) at once over two replicas"
    assert len(calls.by_port) == 2 and sum(calls.by_port.values()) == SENTENCES
    sequential = sum(0.8 - 0.15 * index for index in range(SENTENCES))
    assert elapsed < sequential, f"{elapsed:.2f} s: no faster than one sentence after the other"
