"""Two real ASR predictor replicas behind one router: requests are spread over both, a replica that dies
mid-request is failed over (the transcription is repeated on the other one), readiness says "degraded", and
a replica that comes back on its address is used again.

Which replica served what is read from each predictor's own ``voicestack_asr_requests_total``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.router.conftest import ASR_MODEL, Running, pcm16k, start_router
from tests.support.assets import asset
from tests.support.media import pcm16_wav
from tests.support.servers import ServerProcess, free_port


def _launch_asr(port: int) -> ServerProcess:
    return ServerProcess.voicestack(
        "asr", "--http_port", str(port), "--enable_grpc", "false",
        "--model", str(asset(f"models-random/{ASR_MODEL}")), "--beam_size", "1", "--max_new_tokens", "8",
    )  # fmt: skip


def _ready(server: ServerProcess, port: int) -> Running:
    url = f"http://127.0.0.1:{port}"
    server.wait_http(f"{url}/v2/health/ready", timeout=120)
    return Running(server, url)


class Replicas:
    """Two predictor processes on fixed ports; one can be killed and started again on its port."""

    def __init__(self) -> None:
        self.ports = [free_port(), free_port()]
        launched = [_launch_asr(port) for port in self.ports]  # both load at once
        self.running = [_ready(server, port) for server, port in zip(launched, self.ports, strict=True)]

    @property
    def urls(self) -> list[str]:
        return [running.url for running in self.running]

    def restart(self, index: int) -> None:
        self.running[index] = _ready(_launch_asr(self.ports[index]), self.ports[index])

    def served(self) -> list[float]:
        """Successful transcriptions each replica counted (0 for a dead one)."""
        return [_served(running.url) for running in self.running]

    def stop(self) -> None:
        for running in self.running:
            running.server.stop()


def _served(url: str) -> float:
    try:
        text = httpx.get(f"{url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return 0.0
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "voicestack_asr_requests_total" and sample.labels.get("outcome") == "ok"
    )


@pytest.fixture(scope="module")
def replicas() -> Iterator[Replicas]:
    started = Replicas()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def two_replica_router(replicas: Replicas) -> Iterator[Running]:
    running = start_router({"ROUTER_ASR_URLS": ",".join(replicas.urls), "ROUTER_RETRY_AFTER_SECONDS": "1"})
    running.server.wait_http(f"{running.url}/health", timeout=30)
    yield running
    running.server.stop()


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 2 minutes of speech (JFK 12 times): long enough to be in flight when a replica is killed."""
    path = tmp_path_factory.mktemp("long") / "jfk_x12.wav"
    path.write_bytes(pcm16_wav(pcm16k(asset("audio/en/jfk.wav")).tobytes() * 12))
    return path


def _health(router: Running) -> httpx.Response:
    return httpx.get(f"{router.url}/health", timeout=5)


def _wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _transcribe(client: openai.OpenAI, path: Path) -> str:
    with path.open("rb") as handle:
        return client.audio.transcriptions.create(model="whisper-1", file=handle, response_format="text")


def test_spread_failover_degraded_and_back(
    replicas: Replicas, two_replica_router: Running, short_wav: Path, long_wav: Path
) -> None:
    # max_retries=0: any repeat is the router's own failover, never the SDK's.
    client = openai.OpenAI(base_url=f"{two_replica_router.url}/v1", api_key="x", max_retries=0, timeout=120)
    _wait_for(lambda: _health(two_replica_router).json()["status"] == "ok", what="both replicas ready")

    # 1. Spread: round-robin over the two ready replicas.
    before = replicas.served()
    for _ in range(6):
        _transcribe(client, short_wav)
    spread = [after - first for after, first in zip(replicas.served(), before, strict=True)]
    assert sum(spread) == 6 and min(spread) >= 2, f"requests per replica: {spread}"

    # 2. Failover: kill the replica that is working on a long transcription; the router repeats it on the
    #    other one (the upload is re-read from its temporary file) and the caller only sees a 200.
    before = replicas.served()
    with ThreadPoolExecutor(1) as pool:
        pending: Future[str] = pool.submit(_transcribe, client, long_wav)

        def busy_replica() -> int | None:
            replicas_state = _health(two_replica_router).json()["backends"]["asr"]["replicas"]
            busy = [index for index, replica in enumerate(replicas_state) if replica["inflight"]]
            return busy[0] + 1 if busy else None  # +1: index 0 is a truthy answer too

        victim = int(_wait_for(busy_replica, what="the long request in flight")) - 1  # type: ignore[arg-type]
        survivor = 1 - victim
        replicas.running[victim].server.kill()
        text = pending.result(timeout=120)
    assert text.strip(), "the failed-over transcription came back empty"
    assert replicas.served()[survivor] - before[survivor] == 1

    # 3. Readiness: still 200 (one replica serves), but says which replica is down and why.
    health = _health(two_replica_router)
    assert health.status_code == 200
    body = health.json()
    asr = body["backends"]["asr"]
    assert body["status"] == "degraded" and asr["status"] == "degraded"
    assert (asr["ready_replicas"], asr["live_replicas"], asr["total_replicas"]) == (1, 1, 2)
    dead = asr["replicas"][victim]
    assert dead["url"] == replicas.urls[victim] and not dead["live"] and not dead["ready"] and dead["error"]
    assert asr["replicas"][survivor]["ready"] and asr["replicas"][survivor]["error"] is None

    # Meanwhile every request succeeds on the survivor.
    before = replicas.served()
    for _ in range(3):
        _transcribe(client, short_wav)
    assert replicas.served()[survivor] - before[survivor] == 3

    # 4. Back: a new process on the same address is found by the health checks and used again.
    replicas.restart(victim)
    _wait_for(lambda: _health(two_replica_router).json()["status"] == "ok", timeout=10, what="replica back")
    before = replicas.served()
    for _ in range(4):
        _transcribe(client, short_wav)
    again = [after - first for after, first in zip(replicas.served(), before, strict=True)]
    assert sum(again) == 4 and again[victim] >= 1, f"requests per replica after the comeback: {again}"


def test_all_replicas_down_is_unavailable(replicas: Replicas, two_replica_router: Running) -> None:
    """Both gone: readiness 503, and a request is a clear 503 ``backend_unavailable`` after the retries."""
    for running in replicas.running:
        running.server.kill()
    _wait_for(lambda: _health(two_replica_router).status_code == 503, timeout=10, what="readiness 503")
    body = _health(two_replica_router).json()
    assert body["status"] == "unavailable" and body["backends"]["asr"]["live_replicas"] == 0
    response = httpx.post(
        f"{two_replica_router.url}/v1/audio/transcriptions",
        data={"model": "whisper-1"},
        files={"file": ("a.wav", b"RIFF....WAVE", "audio/wav")},
        timeout=30,
    )
    assert response.status_code == 503 and response.json()["error"]["code"] == "backend_unavailable"
    assert response.headers["retry-after"] == "1"
