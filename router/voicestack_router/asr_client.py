"""Calls to the ASR predictor's raw-body V1 route (``docs/contracts.md``) for the OpenAI and Bazarr routes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import av
import httpx

from voicestack.media import open_input
from voicestack_router.backends import BackendError, BackendPool
from voicestack_router.errors import ApiError
from voicestack_router.multipart_stream import UploadedFile

PCM_CONTENT_TYPE = "audio/pcm"  # raw s16le 16 kHz mono (Bazarr's encode=false)
PCM_BYTES_PER_SECOND = 2 * 16000
MEDIA_CONTENT_TYPE = "application/x-voicestack-audio"  # an accepted container (docs/audio-decoding.md)


def probed_seconds(upload: UploadedFile, raw_pcm: bool) -> float | None:
    """The upload's duration as its container header states it (for the call's deadline), else None.

    Only the header is read (no decoding); a header that lies makes the deadline wrong, never the result,
    and the caller caps it at the route's longest accepted audio.
    """
    if raw_pcm:
        return upload.size / PCM_BYTES_PER_SECOND
    try:
        with upload.path.open("rb") as handle, open_input(handle) as container:
            duration = container.duration
    except Exception:  # unreadable or refused: the predictor says why; the deadline takes the maximum
        return None
    return duration / av.time_base if duration and duration > 0 else None


async def deadline_seconds(upload: UploadedFile, options: dict[str, Any], raw_pcm: bool) -> float:
    """The audio seconds a call's deadline is sized for: the probed duration, capped at the route's limit."""
    limit = float(options.get("max_audio_seconds") or 0) or None
    seconds = await asyncio.to_thread(probed_seconds, upload, raw_pcm)
    if seconds is None:
        return limit or 0.0
    return min(seconds, limit) if limit else seconds


def options_header(options: dict[str, Any]) -> str:
    """``X-VoiceStack-Options``: a JSON object, ASCII-escaped so it is a valid header value."""
    return json.dumps({key: value for key, value in options.items() if value is not None}, ensure_ascii=True)


def _upload_request(
    upload: UploadedFile, options: dict[str, Any], raw_pcm: bool
) -> tuple[dict[str, str], Any]:
    headers = {
        "Content-Type": PCM_CONTENT_TYPE if raw_pcm else MEDIA_CONTENT_TYPE,
        "Content-Length": str(upload.size),
        "X-VoiceStack-Options": options_header(options),
    }
    return headers, upload.chunks


async def transcribe(
    pool: BackendPool,
    model_name: str,
    upload: UploadedFile,
    options: dict[str, Any],
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
    options: dict[str, Any],
    *,
    raw_pcm: bool,
    http_timeout: httpx.Timeout,
) -> AsyncIterator[dict[str, Any]]:
    """The predictor's NDJSON events (``segment`` … ``done``, or ``error``) as they arrive.

    Errors before the stream starts raise (``ApiError``/``Backend*``); a stream that breaks off yields an
    ``error`` event so the caller can tell its client.
    """
    headers, content = _upload_request(upload, {**options, "stream": True}, raw_pcm)
    async with pool.stream(
        "POST",
        f"/v1/models/{model_name}:predict",
        content=content,
        headers=headers,
        http_timeout=http_timeout,
        audio_seconds=await deadline_seconds(upload, options, raw_pcm),
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
