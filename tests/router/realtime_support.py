"""A plain WebSocket client for realtime transcription sessions, checked against the openai SDK's types.

Every server event received goes through ``check_event``: it must parse as the ``openai.types.realtime``
model its ``type`` names, with no field that model does not know (at any depth). Used by
``tests/router/test_realtime*.py`` and ``benchmarks/realtime.py``.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import av
import numpy as np
from openai import BaseModel as OpenAIModel
from openai.types.realtime import RealtimeServerEvent, RealtimeTranscriptionSessionCreateRequest
from websockets.sync.client import ClientConnection, connect

EVENT_TYPES: dict[str, type[OpenAIModel]] = {
    get_args(cls.model_fields["type"].annotation)[0]: cls
    for cls in get_args(get_args(RealtimeServerEvent)[0])
}


def _no_extras(model: Any, path: str) -> None:
    if isinstance(model, OpenAIModel):
        assert not model.model_extra, f"{path}: fields the SDK does not define: {sorted(model.model_extra)}"
        for name in type(model).model_fields:
            _no_extras(getattr(model, name), f"{path}.{name}")
    elif isinstance(model, list):
        for index, item in enumerate(model):
            _no_extras(item, f"{path}[{index}]")


def check_event(data: dict[str, Any]) -> OpenAIModel:
    """The event as the SDK's model (fails on an unknown type, a missing or mistyped or unknown field)."""
    cls = EVENT_TYPES.get(data.get("type", ""))
    assert cls is not None, f"not an event type of the SDK: {data}"
    event = cls.model_validate(data)
    _no_extras(event, data["type"])
    if data["type"] in ("session.created", "session.updated"):
        session = RealtimeTranscriptionSessionCreateRequest.model_validate(data["session"])
        _no_extras(session, "session")
    return event


def pcm_at(path: Path, rate: int) -> np.ndarray:
    """A file's first audio stream as mono int16 at ``rate``."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        chunks = [
            out.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for out in resampler.resample(frame)
        ]
    return np.concatenate(chunks).astype("<i2")


def append_event(chunk: bytes) -> dict[str, Any]:
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode()}


class Session:
    """One WebSocket session: send events, receive validated events (with their arrival times)."""

    def __init__(self, base_url: str, key: str | None = None, **options: Any) -> None:
        url = base_url.replace("http://", "ws://") + "/v1/realtime?intent=transcription"
        headers = {"Authorization": f"Bearer {key}"} if key else None
        self._connecting = connect(url, additional_headers=headers, max_size=None, **options)
        self.received: list[tuple[float, dict[str, Any]]] = []

    def __enter__(self) -> Session:
        self.ws: ClientConnection = self._connecting.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._connecting.__exit__(*exc)

    def send(self, event: dict[str, Any]) -> None:
        self.ws.send(json.dumps(event))

    def recv(self, timeout: float = 60.0) -> dict[str, Any]:
        data = json.loads(self.ws.recv(timeout=timeout))
        check_event(data)
        self.received.append((time.monotonic(), data))
        return data

    def until(self, kind: str, timeout: float = 120.0) -> dict[str, Any]:
        """Receive up to (and including) the next event of type ``kind``."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.recv(timeout=max(deadline - time.monotonic(), 0.01))
            if event["type"] == kind:
                return event

    def received_or_until(self, kind: str, timeout: float = 120.0) -> dict[str, Any]:
        """The first event of type ``kind`` already received (``until`` passed over it), else the next one."""
        seen = [event for _, event in self.received if event["type"] == kind]
        return seen[0] if seen else self.until(kind, timeout)

    def configure(self, include: list[str] | None = None, **audio_input: Any) -> dict[str, Any]:
        session: dict[str, Any] = {
            "type": "transcription",
            "audio": {"input": {"transcription": {"model": "whisper-1", "language": "en"}, **audio_input}},
        }
        if include is not None:
            session["include"] = include
        self.send({"type": "session.update", "session": session})
        return self.until("session.updated")

    def stream(self, data: bytes, chunk_bytes: int, pace_seconds: float | None) -> threading.Thread:
        return stream_audio(self.send, data, chunk_bytes, pace_seconds)


def stream_audio(
    send: Callable[[dict[str, Any]], None], data: bytes, chunk_bytes: int, pace_seconds: float | None
) -> threading.Thread:
    """Append ``data`` in chunks from a thread: one per ``pace_seconds`` (real time), or as fast as it can."""

    def send_all() -> None:
        started = time.monotonic()
        for index, offset in enumerate(range(0, len(data), chunk_bytes)):
            if pace_seconds:
                time.sleep(max(started + index * pace_seconds - time.monotonic(), 0))
            send(append_event(data[offset : offset + chunk_bytes]))

    thread = threading.Thread(target=send_all, daemon=True)
    thread.start()
    return thread
