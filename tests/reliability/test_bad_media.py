"""The bad-media corpus (``corpus.py``, >= 200 inputs) × the four audio endpoints, through the router to
the real ASR predictor: no 5xx, every refusal in the JSON error shape, no hang, the predictor's memory
bounded, no socket opened, and the stack still serving afterwards."""

from __future__ import annotations

import collections
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.reliability import corpus
from tests.reliability.conftest import FIGURES, Stack
from tests.support.hostile import accepted, tcp_listener, udp_sockets
from tests.support.media import watch_rss

PER_REQUEST_SECONDS = 30.0  # a hang is anything slower
BOMB_SECONDS = 5.0
RSS_GROWTH_MIB = 400


def _send(client: httpx.Client, endpoint: str, case: corpus.Case) -> httpx.Response:
    files = {"file": (case.filename, case.data)}
    if endpoint in ("/v1/audio/transcriptions", "/v1/audio/translations"):
        return client.post(endpoint, files=files, data={"model": "whisper-1"})
    bazarr_files = {"audio_file": (case.filename, case.data)}
    params = {"encode": "true"} if endpoint == "/detect-language" else {"encode": "true", "output": "json"}
    return client.post(endpoint, files=bazarr_files, params=params)


ENDPOINTS = ("/v1/audio/transcriptions", "/v1/audio/translations", "/asr", "/detect-language")


def _check(response: httpx.Response) -> str | None:
    """What is wrong with one answer (None: nothing)."""
    if response.status_code >= 500:
        return f"{response.status_code}: {response.text[:200]}"
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            return f"{response.status_code} not in the JSON error shape: {response.text[:200]}"
        if not isinstance(error, dict) or not error.get("message"):
            return f"{response.status_code} error without a message: {response.text[:200]}"
    return None


@pytest.mark.slow
def test_bad_media_corpus(stack: Stack, tmp_path: Path) -> None:
    with tcp_listener() as (listener, hls_port):
        cases = corpus.build(tmp_path, hls_port)
        assert len(cases) >= 200
        asr, router = stack.child("asr"), stack.child("router")
        sockets_before = (udp_sockets(asr.pid), udp_sockets(router.pid))
        outcomes: collections.Counter[str] = collections.Counter()
        by_class: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        problems: list[str] = []
        slowest: dict[str, float] = collections.defaultdict(float)
        local = threading.local()  # one keep-alive client per worker thread
        clients: list[httpx.Client] = []

        def run(item: tuple[str, corpus.Case]) -> None:
            endpoint, case = item
            started = time.perf_counter()
            if not hasattr(local, "client"):
                local.client = httpx.Client(base_url=stack.url, timeout=PER_REQUEST_SECONDS)
                clients.append(local.client)
            try:
                response = _send(local.client, endpoint, case)
            except httpx.HTTPError as exc:
                problems.append(f"{endpoint} {case.kind} {case.name}: {type(exc).__name__} {exc}")
                outcomes["no answer"] += 1
                return
            seconds = time.perf_counter() - started
            slowest[case.kind] = max(slowest[case.kind], seconds)
            status = f"{response.status_code // 100}xx"
            outcomes[status] += 1
            by_class[case.kind][str(response.status_code)] += 1
            problem = _check(response)
            if problem:
                problems.append(f"{endpoint} {case.kind} {case.name}: {problem}")

        started = time.perf_counter()
        with watch_rss(asr.pid, interval=0.05) as rss, ThreadPoolExecutor(2) as pool:
            list(pool.map(run, [(endpoint, case) for case in cases for endpoint in ENDPOINTS]))
        total_seconds = time.perf_counter() - started
        for client in clients:
            client.close()
        reached = accepted(listener)

    FIGURES["bad-media corpus"] = {
        "inputs": len(cases),
        "requests": len(cases) * len(ENDPOINTS),
        "outcomes": dict(outcomes),
        "by class (status: count)": {kind: dict(counter) for kind, counter in by_class.items()},
        "slowest answer per class (s)": {kind: round(value, 2) for kind, value in slowest.items()},
        "ASR predictor RSS MiB (before, peak)": (round(rss.baseline / 2**20), round(rss.peak / 2**20)),
        "wall seconds": round(total_seconds, 1),
    }
    assert not problems, "\n".join(problems[:30])
    assert outcomes["5xx"] == 0 and outcomes["no answer"] == 0
    assert slowest["bomb"] < BOMB_SECONDS, slowest
    assert rss.grew_mib < RSS_GROWTH_MIB, rss.grew_mib
    assert not reached, "a playlist made a server connect to the listener"
    assert (udp_sockets(asr.pid), udp_sockets(router.pid)) == sockets_before
    assert asr.is_running() and stack.child("asr").pid == asr.pid, "the ASR predictor was restarted"
    wav = next(case.data for case in cases if case.kind == "hostile_name")  # a valid clip
    served = httpx.post(
        f"{stack.url}/v1/audio/transcriptions", files={"file": ("a.wav", wav)}, data={"model": "whisper-1"}
    )
    assert served.status_code == 200, served.text
