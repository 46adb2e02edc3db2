"""Calls to the ASR predictor's raw-body V1 route (``docs/contracts.md``) for the OpenAI and Bazarr routes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import av
import httpx

from voicestack.contracts.asr_options import OPTIONS_HEADER, AsrOptions, AsrOptionsError
from voicestack.contracts.audio import ASR_PCM_BYTES_PER_SECOND, PCM_CONTENT_TYPE
from voicestack.media import open_input
from voicestack_router.backends import BackendError, BackendPool
from voicestack_router.errors import ApiError
from voicestack_router.multipart_stream import UploadedFile

MEDIA_CONTENT_TYPE = "application/x-voicestack-audio"  # an accepted container (docs/audio-decoding.md)


def asr_options(**fields: Any) -> AsrOptions:
    """The typed options to send (None values: the predictor's own setting); a bad one is a 400 here,
    before the upload is forwarded."""
    try:
        return AsrOptions.parse(fields)
    except AsrOptionsError as exc:
        raise ApiError(400, str(exc), code="invalid_value") from exc


def probed_seconds(upload: UploadedFile, raw_pcm: bool) -> float | None:
    """The upload's duration as its container header states it (for the call's deadline), else None.

    Only the header is read (no decoding); a header that lies makes the deadline wrong, never the result,
    and the caller caps it at the route's longest accepted audio.
    """
    if raw_pcm:
        return upload.size / ASR_PCM_BYTES_PER_SECOND
    try:
        with open_input(upload.rewound()) as container:
            duration = container.duration
    except Exception:  # unreadable or refused: the predictor says why; the deadline takes the maximum
        return None
    return duration / av.time_base if duration and duration > 0 else None


async def deadline_seconds(upload: UploadedFile, options: AsrOptions, raw_pcm: bool) -> float:
    """The audio seconds a call's deadline is sized for: the probed duration, capped at the route's limit."""
    limit = options.max_audio_seconds or None
    seconds = await asyncio.to_thread(probed_seconds, upload, raw_pcm)
    if seconds is None:
        return limit or 0.0
    return min(seconds, limit) if limit else seconds


def _upload_request(upload: UploadedFile, options: AsrOptions, raw_pcm: bool) -> tuple[dict[str, str], Any]:
    headers = {
        "Content-Type": PCM_CONTENT_TYPE if raw_pcm else MEDIA_CONTENT_TYPE,
        "Content-Length": str(upload.size),
        OPTIONS_HEADER: options.header_value(),
    }
    return headers, upload.chunks


async def transcribe(
    pool: BackendPool,
    model_name: str,
    upload: UploadedFile,
    options: AsrOptions,
    *,
    raw_pcm: bool,
    http_timeout: httpx.Timeout,
    wait: bool,
) -> dict[str, Any]:
    """The predictor's result object for one upload (the upload is streamed from disk)."""
    headers, content = _upload_request(upload, options, raw_pcm)
    result = await pool.request_json(
        "POST",
        f"/v1/models/{model_name}:predict",
        content=content,
        headers=headers,
        http_timeout=http_timeout,
        wait=wait,
        audio_seconds=await deadline_seconds(upload, options, raw_pcm),
    )
    if not isinstance(result, dict):
        raise BackendError(502, "the ASR backend answered an unexpected result")
    return result


async def transcribe_stream(
    pool: BackendPool,
    model_name: str,
    upload: UploadedFile,
    options: AsrOptions,
    *,
    raw_pcm: bool,
    http_timeout: httpx.Timeout,
) -> AsyncIterator[dict[str, Any]]:
    """The predictor's NDJSON events (``segment`` … ``done``, or ``error``) as they arrive.

    Errors before the stream starts raise (``ApiError``/``Backend*``); a stream that breaks off yields an
    ``error`` event so the caller can tell its client.
    """
    headers, content = _upload_request(upload, options.model_copy(update={"stream": True}), raw_pcm)
    seconds = await deadline_seconds(upload, options, raw_pcm)
    async for event in _stream_events(pool, model_name, headers, content, http_timeout, seconds):
        yield event


async def transcribe_pcm_stream(
    pool: BackendPool, model_name: str, pcm: bytes, options: AsrOptions, *, http_timeout: httpx.Timeout
) -> AsyncIterator[dict[str, Any]]:
    """Like :func:`transcribe_stream` for audio already in memory as s16le 16 kHz mono (a realtime turn)."""
    headers = {
        "Content-Type": PCM_CONTENT_TYPE,
        "Content-Length": str(len(pcm)),
        OPTIONS_HEADER: options.model_copy(update={"stream": True}).header_value(),
    }
    seconds = len(pcm) / ASR_PCM_BYTES_PER_SECOND
    async for event in _stream_events(pool, model_name, headers, lambda: pcm, http_timeout, seconds):
        yield event


async def _stream_events(
    pool: BackendPool,
    model_name: str,
    headers: dict[str, str],
    content: Any,
    http_timeout: httpx.Timeout,
    audio_seconds: float,
) -> AsyncIterator[dict[str, Any]]:
    async with pool.stream(
        "POST",
        f"/v1/models/{model_name}:predict",
        content=content,
        headers=headers,
        http_timeout=http_timeout,
        audio_seconds=audio_seconds,
    ) as response:
        done = False
        try:
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    yield {"type": "error", "error": "the ASR backend sent an invalid stream line"}
                    return
                if event.get("type") in ("done", "error"):
                    done = True
                yield event
                if done:
                    return
        except httpx.HTTPError as exc:
            yield {"type": "error", "error": f"the ASR backend stream broke off ({type(exc).__name__})"}
            return
        if not done:
            yield {"type": "error", "error": "the ASR backend stream ended without a result"}


def require_upload(upload: UploadedFile | None, field: str) -> UploadedFile:
    if upload is None:
        raise ApiError(
            400, f"Missing the '{field}' file field.", param=field, code="missing_required_parameter"
        )
    if upload.size == 0:
        raise ApiError(400, f"The '{field}' file is empty.", param=field, code="empty_file")
    return upload
