"""A predictor pool whose replicas change while it runs (a Kubernetes headless Service's pods).

The replicas are real HTTP servers on loopback, each on its own address of 127.0.0.0/8 and the same port, as
pods behind a headless Service are. The machine has no DNS server the test controls, so the name is resolved
by ``StandInResolver``, a resolver function injected into ``DnsEndpoints`` that answers the addresses the test
sets; the system resolver itself is exercised on ``localhost`` (``/etc/hosts``) and, through a real router
process, with ``ROUTER_ASR_URLS=dns+http://localhost:PORT``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.router.conftest import start_router
from tests.support.servers import ServerProcess, free_port
from voicestack_router.backends import BackendPool, BackendUnavailable
from voicestack_router.endpoints import DnsEndpoints, endpoints_from_urls, system_resolver

TIMEOUT = httpx.Timeout(10.0)


class Replica:
    """A real HTTP server on ``address:port`` answering the predictor's health routes and ``/work``.

    ``/work`` answers the address that served it; while ``hold`` is set it waits for ``release`` first.
    """

    def __init__(self, address: str, port: int) -> None:
        self.address = address
        self.ready = True
        self.served = 0
        self.hold = False
        self.release = threading.Event()
        self.holding = threading.Event()
        replica = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/v2/health/live":
                    self._answer(200, {"live": True})
                elif self.path == "/v2/health/ready":
                    self._answer(200 if replica.ready else 503, {"ready": replica.ready})
                elif self.path == "/work":
                    if replica.hold:
                        replica.holding.set()
                        replica.release.wait(30)
                    replica.served += 1
                    self._answer(200, {"served_by": replica.address})
                else:
                    self._answer(404, {"error": "no such route"})

            def _answer(self, status: int, body: dict[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((address, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class StandInResolver:
    """Stand-in for DNS: answers the addresses the test sets for any name (and records the lookups)."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = list(addresses)
        self.lookups: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append((host, port))
        return list(self.addresses)


ADDRESSES = ["127.0.0.2", "127.0.0.3"]


@pytest.fixture
def replicas() -> Iterator[dict[str, Replica]]:
    """Two replicas on 127.0.0.2 and 127.0.0.3, same port (a few tries to find a port free on both)."""
    for _ in range(20):
        port = free_port()
        started: list[Replica] = []
        try:
            for address in ADDRESSES:
                started.append(Replica(address, port))
        except OSError:
            for replica in started:
                replica.stop()
            continue
        yield {replica.address: replica for replica in started}
        for replica in started:
            replica.stop()
        return
    raise RuntimeError("no port free on both loopback addresses")


def _port(replicas: dict[str, Replica]) -> int:
    return next(iter(replicas.values())).server.server_address[1]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


async def _work(pool: BackendPool) -> str:
    answer = await pool.request_json("GET", "/work", http_timeout=TIMEOUT)
    return str(answer["served_by"])


async def _round(pool: BackendPool) -> None:
    """One health round, as the pool's watcher runs it."""
    await pool.refresh()
    await pool.check()


async def test_replica_added_at_run_time_takes_requests_once_ready(
    replicas: dict[str, Replica], client: httpx.AsyncClient
) -> None:
    resolver = StandInResolver(["127.0.0.2"])
    pool = BackendPool(
        "asr", DnsEndpoints(f"dns+http://asr-headless.test:{_port(replicas)}", resolver), client
    )
    assert pool.configured and pool.replicas == []  # nothing known before the first lookup
    await _round(pool)
    assert resolver.lookups == [("asr-headless.test", _port(replicas))]
    assert {await _work(pool) for _ in range(4)} == {"127.0.0.2"}

    # A second pod appears but is not ready yet: it is probed, not used.
    replicas["127.0.0.3"].ready = False
    resolver.addresses = list(ADDRESSES)
    await _round(pool)
    assert [replica.url.split("//")[1].split(":")[0] for replica in pool.replicas] == ADDRESSES
    assert {await _work(pool) for _ in range(4)} == {"127.0.0.2"}
    assert replicas["127.0.0.3"].served == 0
    assert pool.describe()["replicas"][1]["admitted"] is False

    # Its readiness passes: from the next round on it takes its share.
    replicas["127.0.0.3"].ready = True
    await _round(pool)
    served = [await _work(pool) for _ in range(6)]
    assert served.count("127.0.0.3") == 3 and served.count("127.0.0.2") == 3, served
    assert pool.status() == "ok" and pool.describe()["total_replicas"] == 2


async def test_removed_replica_finishes_its_request_and_gets_no_new_ones(
    replicas: dict[str, Replica], client: httpx.AsyncClient
) -> None:
    resolver = StandInResolver(ADDRESSES)
    pool = BackendPool(
        "asr", DnsEndpoints(f"dns+http://asr-headless.test:{_port(replicas)}", resolver), client
    )
    await _round(pool)
    leaving = replicas["127.0.0.3"]
    leaving.hold = True
    # Sequential calls alternate, so the two calls land one on each replica; the one on .3 is held.
    held = [asyncio.create_task(_work(pool)) for _ in range(2)]
    await asyncio.to_thread(leaving.holding.wait, 10)
    assert leaving.holding.is_set(), "no request reached the replica that will leave"

    # The pod goes away from the name (scale-down): new requests go to the other one only.
    resolver.addresses = ["127.0.0.2"]
    await _round(pool)
    assert [replica.url for replica in pool.replicas] == [f"http://127.0.0.2:{_port(replicas)}"]
    draining = pool.describe()["replicas"][1]
    assert draining["draining"] is True and draining["inflight"] == 1
    before = leaving.served
    assert {await _work(pool) for _ in range(4)} == {"127.0.0.2"}
    assert leaving.served == before

    # The request it held completes with its answer, and the replica is then forgotten.
    leaving.release.set()
    assert sorted(await asyncio.gather(*held)) == ADDRESSES
    assert pool.draining == [] and len(pool.describe()["replicas"]) == 1


async def test_slots_grow_with_the_replicas(replicas: dict[str, Replica], client: httpx.AsyncClient) -> None:
    """One request per replica: a second request waits while one pod is busy, and is served as soon as a
    second pod is admitted (the pool's capacity follows the endpoint set)."""
    resolver = StandInResolver(["127.0.0.2"])
    endpoints = DnsEndpoints(f"dns+http://asr-headless.test:{_port(replicas)}", resolver)
    pool = BackendPool("asr", endpoints, client, max_inflight=1)
    await _round(pool)
    busy = replicas["127.0.0.2"]
    busy.hold = True
    first = asyncio.create_task(_work(pool))
    await asyncio.to_thread(busy.holding.wait, 10)
    second = asyncio.create_task(_work(pool))
    await asyncio.sleep(0.3)
    assert not second.done() and pool.waiting == 1  # no slot: one replica, one request each

    resolver.addresses = list(ADDRESSES)
    await _round(pool)
    assert await asyncio.wait_for(second, 10) == "127.0.0.3"
    assert not first.done()
    busy.release.set()
    assert await first == "127.0.0.2"


async def test_no_replica_found_is_unavailable_not_a_hang(client: httpx.AsyncClient) -> None:
    """A name with no ready pod: the pool is configured, a call is a 503 after its retries."""
    pool = BackendPool(
        "asr",
        DnsEndpoints("dns+http://asr-headless.test:8080", StandInResolver([])),
        client,
        retry_attempts=2,
    )
    await _round(pool)
    with pytest.raises(BackendUnavailable, match="No asr predictor replica is ready"):
        await _work(pool)
    assert pool.status() == "unavailable"


async def test_system_resolver_reads_localhost() -> None:
    """``localhost`` comes from ``/etc/hosts``: no query leaves the machine."""
    assert "127.0.0.1" in await system_resolver("localhost", 8080)
    urls = await endpoints_from_urls(["dns+http://localhost:8080/base", "http://other:9000"]).current()
    assert urls[0] == "http://other:9000" and "http://127.0.0.1:8080/base" in urls[1:]


def test_router_setting_follows_a_dns_name() -> None:
    """A real router process with ``ROUTER_ASR_URLS=dns+http://localhost:PORT`` transcribes through the
    predictor that name resolves to, and reports the resolved replica."""
    port = free_port()
    stub = ServerProcess([sys.executable, "-m", "tests.router.predictor_stub", "--port", str(port)])
    try:
        stub.wait_http(f"http://127.0.0.1:{port}/v2/health/ready", timeout=30)
        router = start_router({"ROUTER_ASR_URLS": f"dns+http://localhost:{port}"})
        try:
            deadline = time.monotonic() + 20
            health = httpx.get(f"{router.url}/health", timeout=5)
            while health.json()["status"] != "ok" and time.monotonic() < deadline:
                time.sleep(0.1)
                health = httpx.get(f"{router.url}/health", timeout=5)
            replicas = health.json()["backends"]["asr"]["replicas"]
            assert [replica["url"] for replica in replicas if replica["ready"]] == [
                f"http://127.0.0.1:{port}"
            ]
            answer = httpx.post(
                f"{router.url}/v1/audio/transcriptions",
                data={"model": "whisper-1", "response_format": "json"},
                files={"file": ("a.pcm", b"\0" * 3200, "audio/pcm")},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["text"].strip() == "received 3200 bytes"
        finally:
            router.server.stop()
    finally:
        stub.stop()


def test_malformed_dns_setting_is_refused() -> None:
    from voicestack_router.settings import RouterSettings

    with pytest.raises(ValueError, match="dns\\+"):
        RouterSettings(asr_urls=["dns+ftp://name:21"])
