"""The whisper-asr-webservice API that Bazarr's "Whisper" provider speaks: ``/asr``, ``/detect-language``.

Served at the root and under ``/v1/bazarr/``. Bazarr sends ``encode=false`` with raw s16le 16 kHz mono
PCM in the ``audio_file`` field, possibly hundreds of MB: the body is streamed to a temporary file and
from there to the predictor, never held in memory; there is no read timeout; and when the backend is busy
the request waits in the queue (Bazarr bans a provider for a day when it is refused). Bazarr saves the
body of ``/asr`` as the subtitle whatever the status, so errors are JSON that no subtitle parser accepts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from router import asr_client
from router.errors import ApiError
from router.languages import LANGUAGES, language_code, language_name
from router.multipart_stream import read_multipart
from router.subtitles import bazarr_output
from router.timeouts import bazarr_timeout
from voicestack import __version__

router = APIRouter(tags=["Bazarr (whisper-asr-webservice)"])

_AUDIO_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["audio_file"],
                    "properties": {"audio_file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}

EncodeQuery = Annotated[
    bool,
    Query(
        description="true: any container (decoded by the predictor); false: raw "
        "s16le 16 kHz mono PCM, as Bazarr sends"
    ),
]


def _language(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    code = language_code(value)
    if code is None:
        raise ApiError(
            400,
            f"Unsupported language {value!r}; use one of {', '.join(sorted(LANGUAGES))}.",
            param="language",
            code="unsupported_language",
        )
    return code


async def _run(request: Request, options: dict[str, Any], encode: bool) -> tuple[dict[str, Any], str]:
    settings = request.app.state.settings
    form = await read_multipart(request, max_file_bytes=settings.max_bazarr_upload_bytes)
    try:
        upload = asr_client.require_upload(form.files.get("audio_file"), "audio_file")
        if not encode and upload.size % 2:
            raise ApiError(
                400,
                "encode=false expects raw s16le PCM: the byte count must be even.",
                param="audio_file",
                code="invalid_audio",
            )
        result = await asr_client.transcribe(
            request.app.state.asr,
            settings.asr_model_name,
            upload,
            options,
            raw_pcm=not encode,
            http_timeout=bazarr_timeout(settings),
            wait=True,
        )
        return result, upload.filename or "audio"
    finally:
        form.close()


async def asr(
    request: Request,
    encode: EncodeQuery = True,
    task: Annotated[Literal["transcribe", "translate"], Query()] = "transcribe",
    language: Annotated[str | None, Query(description="Language code, e.g. `en`; detected if absent")] = None,
    initial_prompt: Annotated[str | None, Query()] = None,
    vad_filter: Annotated[
        bool | None, Query(description="Skip parts without speech (default: the ASR predictor's --vad)")
    ] = None,
    word_timestamps: Annotated[bool, Query(description="Word-level timestamps (json output)")] = False,
    output: Annotated[Literal["txt", "vtt", "srt", "tsv", "json", "jsonl"], Query()] = "txt",
    video_file: Annotated[str | None, Query(description="Accepted and ignored")] = None,
) -> Response:
    """Transcribe (or translate to English) the uploaded `audio_file`; the body is the subtitle or text."""
    options = {
        "task": task,
        "language": _language(language),
        "initial_prompt": initial_prompt or None,
        "vad_filter": vad_filter,
        "word_timestamps": word_timestamps or None,
    }
    result, filename = await _run(request, options, encode)
    body, _media_type = bazarr_output(result, output)
    return Response(
        body,
        media_type="text/plain",
        headers={
            "Asr-Engine": "voicestack",
            "Content-Disposition": f'attachment; filename="{quote(filename)}.{output}"',
        },
    )


async def detect_language(
    request: Request,
    encode: EncodeQuery = True,
    detect_lang_length: Annotated[
        float | None, Query(gt=0, description="Seconds of audio to listen to")
    ] = None,
    detect_lang_offset: Annotated[float | None, Query(ge=0, description="Seconds to skip first")] = None,
    video_file: Annotated[str | None, Query(description="Accepted and ignored")] = None,
) -> dict[str, Any]:
    """The spoken language: `{"detected_language": "english", "language_code": "en", "confidence": 0.98}`."""
    options = {
        "task": "detect_language",
        "detect_lang_length": detect_lang_length,
        "detect_lang_offset": detect_lang_offset,
    }
    result, _ = await _run(request, options, encode)
    code = str(result.get("language") or "")
    return {
        "detected_language": language_name(code) or code,
        "language_code": code,
        "confidence": float(result.get("language_probability") or 0.0),
    }


async def status() -> dict[str, str]:
    """Service version (whisper-asr-webservice's `/status`)."""
    return {"version": __version__}


for prefix in ("", "/v1/bazarr"):
    router.add_api_route(
        f"{prefix}/asr",
        asr,
        methods=["POST"],
        summary="Transcribe (Bazarr)",
        openapi_extra=_AUDIO_FORM,
        include_in_schema=prefix == "",
    )
    router.add_api_route(
        f"{prefix}/detect-language",
        detect_language,
        methods=["POST"],
        summary="Detect the language (Bazarr)",
        openapi_extra=_AUDIO_FORM,
        include_in_schema=prefix == "",
    )
    router.add_api_route(
        f"{prefix}/status", status, methods=["GET"], summary="Version", include_in_schema=prefix == ""
    )
