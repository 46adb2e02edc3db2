"""No plain-text error leaves the router: unexpected exceptions, a request cancelled at shutdown, and
predictors that are unreachable or drop the connection part-way all answer in OpenAI's JSON shape.

In process (the real application, served by uvicorn on loopback where the server's own behaviour matters),
in front of ports where nothing listens or of a loopback server that breaks off its answer.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from tests.support.media import pcm16_wav
from tests.support.servers import free_port
from voicestack_router import models_routes
from voicestack_router.app import create_app
from voicestack_router.settings import RouterSettings

ERROR_KEYS = {"message", "type", "param", "code"}
WAV = pcm16_wav(b"\x00\x01" * 16000)


def _closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused


def _error(response: httpx.Response) -> dict[str, object]:
    assert response.headers["content-type"] == "application/json", response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS, body
    return dict(body["error"])


@contextmanager
def served(app: FastAPI, graceful_seconds: float = 10.0) -> Iterator[tuple[str, uvicorn.Server]]:
    """The app under uvicorn on a loopback port, in a thread (uvicorn's own 500 is what is guarded)."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, timeout_graceful_shutdown=graceful_seconds
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_an_unexpected_exception_in_a_route_is_a_json_500(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_settings: RouterSettings) -> list[dict[str, object]]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(models_routes, "all_models", broken)
    app = create_app(RouterSettings(cors_origins=["http://app.example"], health_interval_seconds=60))
    with served(app) as (url, _server):
        response = httpx.get(
            f"{url}/v1/models", headers={"Origin": "http://app.example", "X-Request-ID": "bug-1"}
        )
    assert response.status_code == 500
    error = _error(response)
    assert error["type"] == "server_error" and error["code"] == "internal_error"
    assert error["message"] == "internal error: RuntimeError"  # the class, not the text (it may hold data)
    # answered inside the CORS and request-id middlewares: a browser can read it, a log line can be found
    assert response.headers["access-control-allow-origin"] == "http://app.example"
    assert response.headers["x-request-id"] == "bug-1"


def test_a_stream_that_fails_after_it_started_is_aborted_not_ended() -> None:
    """Once the status line is out, the only honest signal is a broken body (Starlette's
    ServerErrorMiddleware sends nothing after the response started; uvicorn closes the connection)."""
    app = create_app(RouterSettings(health_interval_seconds=60))

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first part"
        raise RuntimeError("failed part-way")

    app.add_api_route("/test/broken-stream", lambda: StreamingResponse(chunks()), methods=["GET"])
    with served(app) as (url, _server), httpx.stream("GET", f"{url}/test/broken-stream") as response:
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()


def test_a_bazarr_request_held_at_shutdown_gets_a_json_503() -> None:
    """uvicorn cancels what is still running after ``timeout_graceful_shutdown`` and would then answer a
    plain-text 500: a Bazarr request waiting for an unreachable predictor is the usual case."""
    settings = RouterSettings(
        asr_urls=[_closed_port_url()], unavailable_wait_seconds=60, retry_after_seconds=3,
        health_interval_seconds=60,
    )  # fmt: skip
    app = create_app(settings)
    with served(app, graceful_seconds=0.5) as (url, server):
        result: dict[str, httpx.Response] = {}

        def bazarr() -> None:
            result["response"] = httpx.post(
                f"{url}/asr", params={"encode": "false"}, files={"audio_file": ("a", b"\x00\x01" * 8000)},
                timeout=30,
            )  # fmt: skip

        caller = threading.Thread(target=bazarr)
        caller.start()
        deadline = time.monotonic() + 10
        while httpx.get(f"{url}/health").json()["backends"]["asr"]["active"] != 1:
            assert time.monotonic() < deadline, "the Bazarr request is not waiting"
            time.sleep(0.05)
        server.should_exit = True
        caller.join(timeout=20)
    response = result["response"]
    assert response.status_code == 503
    assert _error(response)["code"] == "shutting_down"
    assert response.headers["retry-after"] == "3"


@pytest.fixture(scope="module")
def unreachable() -> Iterator[TestClient]:
    settings = RouterSettings(
        asr_urls=[_closed_port_url()], tts_urls=[_closed_port_url()], unavailable_wait_seconds=1.5,
        retry_after_seconds=4, health_interval_seconds=60,
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:
        yield client


def test_openai_gets_a_json_503_with_retry_after_at_once(unreachable: TestClient) -> None:
    started = time.monotonic()
    response = unreachable.post(
        "/v1/audio/transcriptions", files={"file": ("a.wav", WAV)}, data={"model": "whisper-1"}
    )
    assert response.status_code == 503 and time.monotonic() - started < 5
    assert _error(response)["code"] == "backend_unavailable"
    assert response.headers["retry-after"] == "4"
    speech = unreachable.post("/v1/audio/speech", json={"model": "tts-1", "input": "Hi.", "voice": "alloy"})
    assert speech.status_code == 503 and speech.headers["retry-after"] == "4"
    assert _error(speech)["code"] == "backend_unavailable"


@pytest.mark.parametrize("route", ["/asr", "/detect-language"])
def test_bazarr_waits_for_the_predictor_within_the_bound(unreachable: TestClient, route: str) -> None:
    started = time.monotonic()
    response = unreachable.post(
        route, params={"encode": "false"}, files={"audio_file": ("a", b"\x00" * 3200)}
    )
    waited = time.monotonic() - started
    assert response.status_code == 503
    assert _error(response)["code"] == "backend_unavailable"
    assert 1.5 <= waited < 6, waited  # unavailable_wait_seconds, plus at most one retry pause


class _BreaksOff(socketserver.BaseRequestHandler):
    """Reads a whole request, answers 200 with the first bytes of a JSON body, then hangs up."""

    predictions = 0

    def handle(self) -> None:
        sock: socket.socket = self.request
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.lower().split(b"\r\n")
        lengths = [line.split(b":", 1)[1] for line in lines if line.startswith(b"content-length:")]
        while len(body) < int(lengths[0] if lengths else 0):
            body += sock.recv(65536)
        type(self).predictions += head.startswith(b"POST ")  # the router's health checks are GETs
        sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"te')
        sock.shutdown(socket.SHUT_RDWR)


def test_a_predictor_dropping_mid_answer_is_retried_then_a_json_503() -> None:
    stub = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _BreaksOff)
    stub.daemon_threads = True
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    settings = RouterSettings(
        asr_urls=[f"http://127.0.0.1:{stub.server_address[1]}"], retry_attempts=3, health_interval_seconds=60
    )
    try:
        with TestClient(create_app(settings)) as client:
            response = client.post(
                "/v1/audio/transcriptions", files={"file": ("a.wav", WAV)}, data={"model": "whisper-1"}
            )
    finally:
        stub.shutdown()
        stub.server_close()
    assert response.status_code == 503, response.text
    assert _error(response)["code"] == "backend_unavailable"
    assert "retry-after" in response.headers
    assert _BreaksOff.predictions == 3  # repeated like a refused connection (the call is safe to repeat)
