"""Realtime sessions: bad events, keys, limits and failures (words do not matter here: the random micro
Whisper predictor, or a loopback predictor that breaks its stream mid-turn)."""

from __future__ import annotations

import base64
import contextlib
import json
import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin, Subprotocol

from tests.router.conftest import API_KEY, Running, start_router
from tests.router.realtime_support import Session, append_event, pcm_at
from tests.support.assets import asset

LOGPROBS = "item.input_audio_transcription.logprobs"
EVIL = Origin("http://elsewhere.example")
LIMITS = {
    "ROUTER_REALTIME_MAX_SESSIONS": "1",
    "ROUTER_REALTIME_IDLE_TIMEOUT_SECONDS": "2",
    "ROUTER_REALTIME_MAX_SESSION_SECONDS": "6",
    "ROUTER_REALTIME_MAX_BUFFER_SECONDS": "2",
    "ROUTER_CORS_ORIGINS": "http://app.example",
}


@pytest.fixture(scope="module")
def limited_router(asr_predictor: Running) -> Iterator[Running]:
    running = start_router({"ROUTER_ASR_URLS": asr_predictor.url, "ROUTER_API_KEYS": API_KEY, **LIMITS})
    running.server.wait_http(f"{running.url}/health", timeout=30)
    yield running
    running.server.stop()


@pytest.fixture(scope="module")
def jfk_24k() -> bytes:
    return pcm_at(asset("audio/en/jfk.wav"), 24000).tobytes()


def open_sessions(router: Running) -> float:
    metrics = httpx.get(f"{router.url}/metrics", headers={"Authorization": f"Bearer {API_KEY}"}).text
    line = next(
        line for line in metrics.splitlines() if line.startswith("voicestack_router_realtime_sessions ")
    )
    return float(line.split()[1])


def wait_until_free(router: Running, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while open_sessions(router) > 0:
        assert time.monotonic() < deadline, "the router still counts an open realtime session"
        time.sleep(0.05)


def close_of(session: Session) -> tuple[int | None, str | None]:
    with pytest.raises(ConnectionClosed) as closed:
        session.ws.recv(timeout=30)
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


def test_bad_events_get_error_events_and_the_session_lives(asr_router: Running, jfk_24k: bytes) -> None:
    with Session(asr_router.url, API_KEY) as session:
        created = session.until("session.created")
        assert created["session"]["audio"]["input"]["transcription"] is None

        def refused(event: dict | str | bytes) -> dict:
            session.ws.send(event if isinstance(event, str | bytes) else json.dumps(event))
            error = session.until("error")["error"]
            assert error["type"] == "invalid_request_error" and error["message"], error
            return error

        assert refused(append_event(b"\0\0" * 2400))["code"] == "session_not_configured"
        assert refused("{not json")["code"] == "invalid_json"
        assert refused(b"\x00binary")["code"] == "invalid_event"
        unknown = refused({"type": "response.create", "event_id": "e1"})
        assert (unknown["code"], unknown["param"], unknown["event_id"]) == ("invalid_event", "type", "e1")
        wrong_rate = {
            "type": "transcription",
            "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}},
        }
        error = refused({"type": "session.update", "session": wrong_rate})
        assert error["code"] == "invalid_value" and error["param"].endswith("format.audio/pcm.rate"), error
        wrong_type = {"type": "transcription", "audio": {"input": {"format": {"type": "audio/opus"}}}}
        assert refused({"type": "session.update", "session": wrong_type})["code"] == "invalid_value"
        semantic = {"type": "transcription", "audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}}
        assert refused({"type": "session.update", "session": semantic})["code"] == "invalid_value"
        no_model = {
            "type": "transcription",
            "audio": {"input": {"transcription": {"model": "gpt-9-transcribe"}}},
        }
        assert refused({"type": "session.update", "session": no_model})["code"] == "model_not_found"
        # None of that changed the session: configure it for real, then audio works.
        updated = session.configure(turn_detection=None)
        assert updated["session"]["audio"]["input"]["transcription"]["model"] == "whisper-1"
        assert (
            refused({"type": "input_audio_buffer.append", "audio": "%%%not base64"})["code"]
            == "invalid_audio"
        )
        session.stream(jfk_24k[: 24000 * 2 * 2], chunk_bytes=4800, pace_seconds=None).join()
        session.send({"type": "input_audio_buffer.commit"})
        completed = session.until("conversation.item.input_audio_transcription.completed")
        assert completed["usage"]["seconds"] == pytest.approx(2.0, abs=0.05)


def test_keys_from_the_header_or_the_browser_subprotocol(asr_router: Running) -> None:
    url = asr_router.url.replace("http://", "ws://") + "/v1/realtime?intent=transcription"
    for headers in (None, {"Authorization": "Bearer wrong"}):
        with pytest.raises(InvalidStatus) as refused, connect(url, additional_headers=headers):
            pass
        assert refused.value.response.status_code == 401
        assert json.loads(refused.value.response.body)["error"]["code"] == "invalid_api_key"
    # What the OpenAI browser SDK sends: the key as a subprotocol, "realtime" echoed back.
    browser_protocols = [Subprotocol("realtime"), Subprotocol(f"openai-insecure-api-key.{API_KEY}")]
    with connect(url, subprotocols=browser_protocols) as browser:
        assert browser.subprotocol == "realtime"
        assert json.loads(browser.recv(timeout=10))["type"] == "session.created"
    with pytest.raises(InvalidStatus) as foreign, connect(url, subprotocols=browser_protocols, origin=EVIL):
        pass  # a web page elsewhere: WebSockets skip CORS, so the router checks the Origin itself
    assert json.loads(foreign.value.response.body)["error"]["code"] == "origin_not_allowed"
    conversation_url = url.replace("intent=transcription", "model=gpt-realtime")
    with (
        pytest.raises(InvalidStatus) as conversation,
        connect(conversation_url, subprotocols=browser_protocols),
    ):
        pass
    assert conversation.value.response.status_code == 400
    assert json.loads(conversation.value.response.body)["error"]["code"] == "unsupported_intent"


def test_session_limit_idle_time_and_buffer(limited_router: Running, jfk_24k: bytes) -> None:
    with Session(limited_router.url, API_KEY) as first:
        first.until("session.created")
        first.configure(turn_detection=None)
        with Session(limited_router.url, API_KEY) as second:
            refusal = second.recv()
            assert refusal["type"] == "error" and refusal["error"]["code"] == "too_many_sessions"
            assert close_of(second)[0] == 1013
        # 2 s of buffer: a third second is refused, the buffer kept.
        first.stream(jfk_24k[: 24000 * 2 * 2], chunk_bytes=4800, pace_seconds=None).join()
        first.send(append_event(jfk_24k[: 24000 * 2]))
        full = first.until("error")["error"]
        assert full["code"] == "input_audio_buffer_full"
        first.send({"type": "input_audio_buffer.commit"})
        # Then nothing from the client: waiting for words is not idle, but 2 s after them the session closes.
        completed = first.until("conversation.item.input_audio_transcription.completed")
        started = time.monotonic()
        assert completed["usage"]["seconds"] == pytest.approx(2.0, abs=0.05)
        idle = first.until("error", timeout=10)["error"]
        assert idle["code"] == "idle_timeout" and 1.5 < time.monotonic() - started < 4
        assert close_of(first) == (1008, "idle_timeout")
    wait_until_free(limited_router)


def test_session_length_limit(limited_router: Running) -> None:
    wait_until_free(limited_router)
    with Session(limited_router.url, API_KEY) as session:
        session.until("session.created")
        started = time.monotonic()
        event: dict = {}
        while event.get("type") != "error" and time.monotonic() - started < 10:
            with contextlib.suppress(ConnectionClosed):  # the session may end between two events
                session.send({"type": "input_audio_buffer.clear"})  # busy enough never to be idle
            event = session.recv(timeout=10)
            time.sleep(0.2)
        assert event["error"]["code"] == "session_expired", event
        assert 5.5 < time.monotonic() - started < 8
        assert close_of(session)[0] == 1008
    wait_until_free(limited_router)


def test_a_client_vanishing_mid_turn_frees_everything(limited_router: Running, jfk_24k: bytes) -> None:
    wait_until_free(limited_router)
    session = Session(limited_router.url, API_KEY).__enter__()
    session.until("session.created")
    session.configure(turn_detection=None)
    session.stream(jfk_24k[: 24000 * 2 * 2], chunk_bytes=4800, pace_seconds=None).join()
    session.send({"type": "input_audio_buffer.commit"})
    session.until("input_audio_buffer.committed")
    session.ws.socket.close()  # gone mid-turn, without a close frame
    wait_until_free(limited_router)
    with Session(limited_router.url, API_KEY, origin=Origin("http://app.example")) as again:  # the only slot
        assert again.recv()["type"] == "session.created"


class BreakingPredictor(BaseHTTPRequestHandler):
    """An ASR predictor whose first transcription stream breaks off after one segment; later ones finish."""

    protocol_version = "HTTP/1.1"
    calls = 0

    def log_message(self, *_: object) -> None:
        pass

    def do_GET(self) -> None:
        self._send_json({"live": True, "ready": True})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).calls += 1
        logprobs = [{"token": " Half", "bytes": list(b" Half"), "logprob": math.log(0.5)}]
        segment = {"id": 0, "start": 0.0, "end": 1.0, "text": " Half a", "logprobs": logprobs}
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._chunk(json.dumps({"type": "segment", "segment": segment}) + "\n")
        if type(self).calls == 1:
            self.close_connection = True  # no terminating chunk: the stream breaks off mid-turn
            return
        self._chunk(
            json.dumps(
                {
                    "type": "done",
                    "result": {"text": " Half a turn.", "segments": [segment], "logprobs": logprobs},
                }
            )
            + "\n"
        )
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send_json(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_a_predictor_failing_mid_turn_fails_that_item_only() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BreakingPredictor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    router = start_router({"ROUTER_ASR_URLS": f"http://127.0.0.1:{server.server_address[1]}"})
    try:
        with Session(router.url) as session:
            session.until("session.created")
            session.configure(turn_detection=None)
            session.send(
                {"type": "session.update", "session": {"type": "transcription", "include": [LOGPROBS]}}
            )
            assert session.until("session.updated")["session"]["include"] == [LOGPROBS]
            audio = base64.b64encode(np.zeros(24000, dtype="<i2").tobytes()).decode()
            items = []
            for _ in range(2):
                session.send({"type": "input_audio_buffer.append", "audio": audio})
                session.send({"type": "input_audio_buffer.commit"})
                items.append(session.until("input_audio_buffer.committed")["item_id"])
            # The first turn may fail before the second is committed: its event is then already received.
            failed = session.received_or_until("conversation.item.input_audio_transcription.failed")
            assert failed["item_id"] == items[0] and "broke off" in failed["error"]["message"]
            delta = session.until("conversation.item.input_audio_transcription.delta")
            completed = session.until("conversation.item.input_audio_transcription.completed")
            assert completed["item_id"] == items[1] and completed["transcript"] == "Half a turn."
            # Whisper's word probabilities as OpenAI's logprobs: one entry per word.
            half = {"token": " Half", "bytes": list(b" Half"), "logprob": pytest.approx(math.log(0.5))}
            assert delta["logprobs"] == [half] and completed["logprobs"] == [half]
    finally:
        router.server.stop()
        server.shutdown()
