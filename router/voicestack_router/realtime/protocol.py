"""The transcription-session protocol's client events (validated) and server events (plain dicts).

Names and fields follow the official ``openai`` SDK's ``openai.types.realtime`` models; the tests validate
every server event against them. Unknown fields in a client event are refused, so a typo is an ``error``
event rather than a setting silently ignored.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PcmFormat(_Strict):
    type: Literal["audio/pcm"] = "audio/pcm"
    rate: Literal[24000] = 24000


class G711Format(_Strict):
    type: Literal["audio/pcmu", "audio/pcma"]


AudioFormat = Annotated[PcmFormat | G711Format, Field(discriminator="type")]


class Transcription(_Strict):
    model: str | None = None
    language: str | None = None
    prompt: str | None = None


class ServerVad(_Strict):
    type: Literal["server_vad"]
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    prefix_padding_ms: int = Field(300, ge=0, le=10_000)
    silence_duration_ms: int = Field(500, ge=32, le=10_000)
    idle_timeout_ms: int | None = Field(None, ge=1000)
    create_response: bool | None = None  # conversation sessions only: accepted, meaningless here
    interrupt_response: bool | None = None


class NoiseReduction(_Strict):
    """Accepted for compatibility; the audio reaches VAD and Whisper unfiltered (docs/realtime.md)."""

    type: Literal["near_field", "far_field"] | None = None
    strength: float | None = None


class AudioInput(_Strict):
    format: AudioFormat | None = None
    transcription: Transcription | None = None
    turn_detection: ServerVad | None = None
    noise_reduction: NoiseReduction | None = None


class Audio(_Strict):
    input: AudioInput | None = None


LOGPROBS = "item.input_audio_transcription.logprobs"


class SessionConfig(_Strict):
    type: Literal["transcription"]
    audio: Audio | None = None
    include: list[Literal["item.input_audio_transcription.logprobs"]] | None = None


class SessionUpdate(_Strict):
    type: Literal["session.update"]
    event_id: str | None = None
    session: SessionConfig


class BufferAppend(_Strict):
    type: Literal["input_audio_buffer.append"]
    event_id: str | None = None
    audio: str


class BufferCommit(_Strict):
    type: Literal["input_audio_buffer.commit"]
    event_id: str | None = None


class BufferClear(_Strict):
    type: Literal["input_audio_buffer.clear"]
    event_id: str | None = None


ClientEvent = Annotated[
    SessionUpdate | BufferAppend | BufferCommit | BufferClear, Field(discriminator="type")
]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def server_event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": new_id("event"), **fields}


def error_event(
    message: str,
    *,
    code: str,
    error_type: str = "invalid_request_error",
    param: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """``error``: the session stays open unless the server closes it right after."""
    error = {"type": error_type, "code": code, "message": message, "param": param, "event_id": event_id}
    return server_event("error", error=error)
