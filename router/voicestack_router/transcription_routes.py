"""OpenAI ``/v1/audio/transcriptions`` and ``/v1/audio/translations`` over the ASR predictor."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from voicestack.contracts.languages import language_code
from voicestack.text import shown
from voicestack_router import asr_client
from voicestack_router.auth import check_api_key
from voicestack_router.errors import ApiError
from voicestack_router.models_registry import resolve_model
from voicestack_router.multipart_stream import MultipartForm, read_multipart
from voicestack_router.openapi import multipart_form
from voicestack_router.subtitles import OPENAI_TEXT_FORMATS, openai_output
from voicestack_router.timeouts import openai_timeout
from voicestack_router.transcription_fields import (
    TranscriptionFields,
    refuse_diarisation,
    transcription_fields,
)

AUDIO_TOKENS_PER_SECOND = 50  # Whisper's encoder: 1500 positions per 30 s window

router = APIRouter(prefix="/v1/audio", tags=["OpenAI audio"], dependencies=[Depends(check_api_key)])

_FORM_DOC = multipart_form(
    ["file", "model"],
    {
        "file": {"type": "string", "format": "binary"},
        "model": {"type": "string", "example": "whisper-1"},
        "language": {"type": "string", "example": "en"},
        "prompt": {"type": "string"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "response_format": {"type": "string", "enum": list(OPENAI_TEXT_FORMATS)},
        "timestamp_granularities[]": {
            "type": "array",
            "items": {"type": "string", "enum": ["word", "segment"]},
        },
        "stream": {"type": "boolean"},
        "include[]": {"type": "array", "items": {"type": "string", "enum": ["logprobs"]}},
        "languages[]": {"type": "array", "items": {"type": "string"}},
        "keywords[]": {"type": "array", "items": {"type": "string"}, "maxItems": 100},
        "chunking_strategy": {
            "description": '"auto", or {"type": "server_vad", "threshold", '
            '"silence_duration_ms", "prefix_padding_ms"} (as chunking_strategy[key] fields '
            "or a JSON string)",
            "type": "string",
        },
    },
)


def _temperature(form: MultipartForm) -> float | None:
    """OpenAI's ``temperature``: 0 (its default) means "raise the temperature until the thresholds are hit",
    i.e. Whisper's fallback (``None`` to the predictor); any other value is that one temperature."""
    raw = form.get("temperature")
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise ApiError(
            400, "'temperature' must be a number", param="temperature", code="invalid_value"
        ) from exc
    if not 0.0 <= value <= 1.0:
        raise ApiError(
            400, "'temperature' must be between 0 and 1", param="temperature", code="invalid_value"
        )
    return value or None


def _granularities(form: MultipartForm, response_format: str) -> list[str]:
    values = form.get_all("timestamp_granularities[]") + form.get_all("timestamp_granularities")
    wanted: list[str] = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            if item not in ("word", "segment"):
                raise ApiError(
                    400,
                    f"invalid timestamp granularity {shown(item)}: use 'word' or 'segment'",
                    param="timestamp_granularities",
                    code="invalid_value",
                )
            wanted.append(item)
    if wanted and response_format != "verbose_json":
        raise ApiError(
            400,
            "timestamp_granularities requires response_format=verbose_json",
            param="timestamp_granularities",
            code="invalid_value",
        )
    return wanted


def _sse(event: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode()


def token_usage(result: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's token usage (``transcript.text.done`` types it so): the audio as Whisper's encoder sees it,
    50 positions per second (1500 per 30 s window), and the tokens the decoder produced."""
    audio_tokens = round(float(result.get("duration") or 0.0) * AUDIO_TOKENS_PER_SECOND)
    output_tokens = sum(len(segment.get("tokens") or []) for segment in result.get("segments") or [])
    return {
        "type": "tokens",
        "input_tokens": audio_tokens,
        "input_token_details": {"audio_tokens": audio_tokens, "text_tokens": 0},
        "output_tokens": output_tokens,
        "total_tokens": audio_tokens + output_tokens,
    }


def _extras(result: dict[str, Any], fields: TranscriptionFields) -> dict[str, Any]:
    """What ``include[]`` and ``languages[]`` add to a JSON answer or to ``transcript.text.done``."""
    extras: dict[str, Any] = {}
    if fields.logprobs:
        extras["logprobs"] = list(result.get("logprobs") or [])
    if fields.languages:
        extras["languages"] = [{"code": result["language"]}] if result.get("language") else []
    return extras


async def _sse_stream(
    events: AsyncIterator[dict[str, Any]], form: MultipartForm, fields: TranscriptionFields
) -> AsyncIterator[bytes]:
    try:
        async for event in events:
            kind = event.get("type")
            if kind == "segment":
                segment = event.get("segment", {})
                text = str(segment.get("text", ""))
                if text:
                    delta: dict[str, Any] = {"type": "transcript.text.delta", "delta": text}
                    if fields.logprobs:
                        delta["logprobs"] = list(segment.get("logprobs") or [])
                    yield _sse(delta)
            elif kind == "done":
                result = event.get("result") or {}
                yield _sse(
                    {
                        "type": "transcript.text.done",
                        "text": str(result.get("text", "")).strip(),
                        **_extras(result, fields),
                        "usage": token_usage(result),
                    }
                )
            elif kind == "error":
                message = str(event.get("error", "transcription failed"))
                yield _sse(
                    {
                        "type": "error",
                        "error": {
                            "message": message,
                            "type": "server_error",
                            "param": None,
                            "code": "backend_error",
                        },
                    }
                )
    finally:
        form.close()


async def _handle(request: Request, *, task: str, force_format: str | None = None) -> Response:
    settings = request.app.state.settings
    form = await read_multipart(request, max_file_bytes=settings.max_upload_bytes)
    keep_form = False
    try:
        upload = asr_client.require_upload(form.files.get("file"), "file")
        model = form.get("model")
        if not model:
            raise ApiError(
                400, "Missing the 'model' field.", param="model", code="missing_required_parameter"
            )
        resolve_model(settings, model, kind="asr")
        response_format = force_format or (form.get("response_format") or "json").strip()
        if task == "transcribe":
            refuse_diarisation(form, response_format)
        if response_format not in OPENAI_TEXT_FORMATS:
            raise ApiError(
                400,
                f"Invalid response_format {shown(response_format)}: "
                f"use one of {', '.join(OPENAI_TEXT_FORMATS)}.",
                param="response_format",
                code="invalid_value",
            )
        granularities = _granularities(form, response_format)
        streaming = form.flag("stream")
        fields = transcription_fields(form, task=task, response_format=response_format, streaming=streaming)
        language = None
        raw_language = form.get("language")
        if task == "transcribe" and raw_language and raw_language.strip():
            language = language_code(raw_language)
            if language is None:
                raise ApiError(
                    400,
                    f"Unsupported language {shown(raw_language)}.",
                    param="language",
                    code="unsupported_language",
                )
        options = asr_client.asr_options(
            task=task,
            language=language,
            initial_prompt=form.get("prompt") or None,
            temperature=_temperature(form),
            word_timestamps=True if "word" in granularities else None,
            max_audio_seconds=settings.max_audio_seconds,
            **fields.options,
        )
        pool = request.app.state.asr
        timeout = openai_timeout(settings)
        if streaming:
            events = asr_client.transcribe_stream(
                pool, settings.asr_model_name, upload, options, raw_pcm=False, http_timeout=timeout
            )
            first = await anext(events)  # errors before the stream starts become HTTP errors
            keep_form = True

            async def replay() -> AsyncIterator[dict[str, Any]]:
                yield first
                async for event in events:
                    yield event

            return StreamingResponse(
                _sse_stream(replay(), form, fields),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        result = await asr_client.transcribe(
            pool, settings.asr_model_name, upload, options, raw_pcm=False, http_timeout=timeout, wait=False
        )
    finally:
        if not keep_form:
            form.close()
    body, media_type = openai_output(result, response_format, task=task, granularities=granularities)
    if isinstance(body, dict):
        if response_format == "json":
            body.update(_extras(result, fields))
        return JSONResponse(body)
    return PlainTextResponse(body, media_type=media_type)


@router.post("/transcriptions", summary="Transcribe audio (OpenAI)", openapi_extra=_FORM_DOC)
async def create_transcription(request: Request) -> Response:
    """Speech to text in the spoken language: `json`, `text`, `srt`, `vtt` or `verbose_json`; `stream=true`
    sends `transcript.text.delta` events as segments complete, then `transcript.text.done`."""
    return await _handle(request, task="transcribe")


@router.post("/transcriptions/verbose", summary="Transcribe audio, verbose JSON", openapi_extra=_FORM_DOC)
async def create_verbose_transcription(request: Request) -> Response:
    """Like `/v1/audio/transcriptions` with `response_format=verbose_json` always."""
    return await _handle(request, task="transcribe", force_format="verbose_json")


@router.post("/translations", summary="Translate audio to English (OpenAI)", openapi_extra=_FORM_DOC)
async def create_translation(request: Request) -> Response:
    """Speech in any language to English text, in the same formats as transcriptions."""
    return await _handle(request, task="translate")
