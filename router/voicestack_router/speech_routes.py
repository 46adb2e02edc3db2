"""OpenAI ``/v1/audio/speech``: streamed synthesis, encoded as it arrives (raw audio or SSE events)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from voicestack.text import UNSPEAKABLE, is_speakable, shown
from voicestack_router.audio_encoding import StreamingEncoder
from voicestack_router.auth import check_api_key
from voicestack_router.errors import ApiError
from voicestack_router.models_registry import resolve_backend
from voicestack_router.timeouts import openai_timeout
from voicestack_router.tts_stream import SpeechRequest, SpeechStream, plan_speech

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/audio", tags=["OpenAI audio"], dependencies=[Depends(check_api_key)])


class VoiceRef(BaseModel):
    id: str


class SpeechBody(BaseModel):
    """The body the OpenAI SDK sends (`language` is an extension: default `auto`)."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(..., examples=["tts-1"])
    input: str = Field(..., description="Text to speak (at most `max_input_chars`, 4096 by default).")
    voice: str | VoiceRef = Field(..., examples=["alloy"], description='A voice name or `{"id": …}`.')
    instructions: str | None = Field(None, description="Accepted; the model has no instruction control.")
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(1.0, ge=0.25, le=4.0)
    stream_format: Literal["audio", "sse"] = "audio"
    language: str = Field("auto", description="Language code, or `auto` to detect it from the text.")


def require_json(request: Request) -> None:
    """415 for a body that is not JSON (FastAPI would try to validate it and answer 400)."""
    content_type = request.headers.get("content-type")
    if content_type is None:
        return  # FastAPI reads a body without a content type as JSON
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ApiError(
            415,
            f"Unsupported media type {shown(media_type)}: send the request as application/json.",
            code="unsupported_media_type",
        )


def _sse(event: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(event)}\n\n".encode()


async def _audio_bytes(
    stream: AsyncIterable[tuple[bytes, int]], encoder: StreamingEncoder
) -> AsyncIterator[bytes]:
    try:
        async for pcm, rate in stream:
            data = await encoder.feed_async(pcm, rate)  # off the event loop, one chunk after the other
            if data:
                yield data
        tail = await encoder.finish_async()
        if tail:
            yield tail
    except Exception:
        # Headers are gone: the only way to say "broken" is to abort the body, never to end it cleanly.
        log.exception("speech stream failed")
        encoder.close()
        raise
    except BaseException:  # cancelled (the client went away): release the encoder once its call is done
        encoder.close()
        raise


async def _sse_events(
    stream: AsyncIterable[tuple[bytes, int]], encoder: StreamingEncoder, text: str
) -> AsyncIterator[bytes]:
    try:
        async for pcm, rate in stream:
            data = await encoder.feed_async(pcm, rate)
            if data:
                yield _sse({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode("ascii")})
        tail = await encoder.finish_async()
        if tail:
            yield _sse({"type": "speech.audio.delta", "audio": base64.b64encode(tail).decode("ascii")})
        tokens = max(1, len(text) // 4)
        yield _sse(
            {
                "type": "speech.audio.done",
                "usage": {"input_tokens": tokens, "output_tokens": 0, "total_tokens": tokens},
            }
        )
    except Exception as exc:
        log.exception("speech stream failed")
        encoder.close()
        yield _sse(
            {
                "type": "error",
                "error": {
                    "message": str(exc) or type(exc).__name__,
                    "type": "server_error",
                    "param": None,
                    "code": "backend_error",
                },
            }
        )
    except BaseException:
        encoder.close()
        raise


@router.post(
    "/speech",
    summary="Text to speech (OpenAI)",
    response_class=StreamingResponse,
    responses={200: {"content": {"audio/mpeg": {}, "text/event-stream": {}}}},
    dependencies=[Depends(require_json)],
)
async def create_speech(body: SpeechBody, request: Request) -> StreamingResponse:
    """Audio is always streamed: the TTS predictor plans the text (one language and voice for all of
    it, cut into chunks), the chunks are synthesised (in parallel across replicas) and encoded as they
    arrive. `stream_format=sse` sends `speech.audio.delta` events with base64 audio, then
    `speech.audio.done`."""
    settings = request.app.state.settings
    backend = resolve_backend(settings, body.model, kind="tts")
    text = body.input.strip()
    if not text:
        raise ApiError(400, "'input' must not be empty.", param="input", code="invalid_value")
    if len(body.input) > settings.max_input_chars:
        raise ApiError(
            400,
            f"'input' is {len(body.input)} characters; the limit is {settings.max_input_chars}.",
            param="input",
            code="string_above_max_length",
        )
    if not is_speakable(text):  # never an empty 200: there would be no audio at all
        raise ApiError(400, f"'input' has {UNSPEAKABLE}.", param="input", code="unspeakable_text")
    voice = body.voice.id if isinstance(body.voice, VoiceRef) else body.voice
    if not voice.strip():
        raise ApiError(400, "'voice' must not be empty.", param="voice", code="invalid_value")
    pool = getattr(request.app.state, backend.pool)
    parallel = settings.tts_parallel_sentences or max(1, len(pool.replicas))
    http_timeout = openai_timeout(settings)
    # Voice and language are decided once, for the whole text (with "auto": detected from all of it).
    fields = {"text": text, "voice": voice, "language": body.language, "speed": body.speed}
    plan = await plan_speech(pool, backend.model_name, fields, http_timeout)
    speech = SpeechStream(
        pool,
        SpeechRequest(plan=plan, speed=body.speed, model_name=backend.model_name, http_timeout=http_timeout),
        parallel=parallel,
    )
    await speech.open()
    encoder = StreamingEncoder(body.response_format)
    headers = {
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
        "X-Voice": quote(plan.voice, safe="") if not plan.voice.isascii() else plan.voice,
        "X-Language": plan.language,
    }
    if body.stream_format == "sse":
        return StreamingResponse(
            _sse_events(speech, encoder, text), media_type="text/event-stream", headers=headers
        )
    return StreamingResponse(_audio_bytes(speech, encoder), media_type=encoder.media_type, headers=headers)
