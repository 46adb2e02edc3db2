"""Faults under the ``voicestack up`` supervisor: a predictor that hangs (SIGSTOP) is noticed by the
router's health checks and its requests end in a JSON 503 in bounded time; a predictor killed mid-request
(SIGKILL) costs that request a JSON 503, and the stack recovers by itself."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil

from tests.reliability.conftest import FIGURES, Stack
from tests.router.conftest import start_router
from tests.support.assets import asset

HUNG_BOUND_SECONDS = 15.0  # health interval 0.5 s, 2 probes of 2 s, retries: about 5 s expected


def _transcribe(stack: Stack, data: bytes) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = httpx.post(
        f"{stack.url}/v1/audio/transcriptions",
        files={"file": ("jfk.wav", data)},
        data={"model": "whisper-1"},
        timeout=120,
    )
    return response, time.perf_counter() - started


def _bazarr(stack: Stack, data: bytes) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = httpx.post(
        f"{stack.url}/asr", params={"output": "json"}, files={"audio_file": ("a.wav", data)}, timeout=120
    )
    return response, time.perf_counter() - started


def _json_503(response: httpx.Response) -> str:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    return str(response.json()["error"]["code"])


def test_a_hung_predictor_fails_its_requests_with_503_in_bounded_time(stack: Stack) -> None:
    clip = asset("audio/en/jfk.wav").read_bytes()
    asr = stack.child("asr")
    asr.send_signal(signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(2) as pool:
            openai_call = pool.submit(_transcribe, stack, clip)
            bazarr_call = pool.submit(_bazarr, stack, clip)
            (openai, openai_seconds), (bazarr, bazarr_seconds) = openai_call.result(), bazarr_call.result()
        codes = (_json_503(openai), _json_503(bazarr))
        assert openai_seconds < HUNG_BOUND_SECONDS, openai_seconds
        # Bazarr's calls wait ROUTER_UNAVAILABLE_WAIT_SECONDS (5 s here) for a comeback first.
        assert bazarr_seconds < HUNG_BOUND_SECONDS + 10, bazarr_seconds
        health = httpx.get(f"{stack.url}/health", timeout=10)
        assert health.status_code == 503 and "stalled" in health.text
    finally:
        asr.send_signal(signal.SIGCONT)
    stack.wait_ready(timeout=30)
    recovered, _ = _transcribe(stack, clip)
    assert recovered.status_code == 200, recovered.text
    FIGURES["SIGSTOP (hung ASR predictor)"] = {
        "OpenAI call answered (s)": round(openai_seconds, 1),
        "Bazarr call answered (s)": round(bazarr_seconds, 1),
        "codes": codes,
        "after SIGCONT": recovered.status_code,
    }


def test_a_predictor_killed_mid_request_costs_a_503_and_comes_back(stack: Stack) -> None:
    clip = asset("audio/en/jfk.wav").read_bytes()
    asr = stack.child("asr")
    asr.send_signal(signal.SIGSTOP)  # holds the request inside the predictor, then:
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(_transcribe, stack, clip)
        time.sleep(1.0)
        asr.send_signal(signal.SIGKILL)
        killed_at = time.perf_counter()
        response, _ = call.result()
    answered_after_kill = time.perf_counter() - killed_at
    code = _json_503(response)
    psutil.wait_procs([asr], timeout=10)
    started = time.perf_counter()
    stack.wait_ready(timeout=120)
    back_after = time.perf_counter() - started
    assert stack.child("asr").pid != asr.pid
    recovered, _ = _transcribe(stack, clip)
    assert recovered.status_code == 200, recovered.text
    assert "asr was killed by SIGKILL" in stack.up.log()
    FIGURES["SIGKILL (ASR predictor mid-request)"] = {
        "answer": f"503 {code}",
        "answered after the kill (s)": round(answered_after_kill, 1),
        "ready again after (s)": round(back_after, 1),
        "after recovery": recovered.status_code,
    }


def test_a_call_past_its_deadline_is_a_504(stack: Stack) -> None:
    """The deadline alone (stall detection off): 2 s + 0.1 s per second of audio, so 3.1 s for JFK's 11 s."""
    asr = stack.child("asr")
    command = asr.cmdline()
    port = command[command.index("--http_port") + 1]
    router = start_router(
        {
            "ROUTER_ASR_URLS": f"http://127.0.0.1:{port}",
            "ROUTER_DEADLINE_BASE_SECONDS": "2",
            "ROUTER_DEADLINE_PER_AUDIO_SECOND": "0.1",
            "ROUTER_STALL_AFTER_PROBES": "1000",
        }
    )
    clip = asset("audio/en/jfk.wav").read_bytes()
    try:
        router.server.wait_http(f"{router.url}/health", timeout=30)
        asr.send_signal(signal.SIGSTOP)
        try:
            started = time.perf_counter()
            response = httpx.post(
                f"{router.url}/v1/audio/transcriptions",
                files={"file": ("jfk.wav", clip)},
                data={"model": "whisper-1"},
                timeout=60,
            )
            seconds = time.perf_counter() - started
        finally:
            asr.send_signal(signal.SIGCONT)
    finally:
        router.server.stop()
    assert response.status_code == 504, response.text
    assert response.json()["error"]["code"] == "backend_timeout"
    assert "within 3 s" in response.json()["error"]["message"]
    assert 3.0 <= seconds < 10, seconds
    stack.wait_ready(timeout=30)
    FIGURES["deadline (11 s clip, 2 s + 0.1 s/s)"] = {
        "answer": "504 backend_timeout",
        "after (s)": round(seconds, 1),
    }
