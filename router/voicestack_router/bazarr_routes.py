"""The whisper-asr-webservice API that Bazarr's "Whisper" provider speaks: ``/asr``, ``/detect-language``.

Served at the root and under ``/v1/bazarr/``. Bazarr sends ``encode=false`` with raw s16le 16 kHz mono
PCM in the ``audio_file`` field, possibly hundreds of MB: the body is streamed to a temporary file and
from there to the predictor, never held in memory; there is no read timeout; and when the backend is busy
the request waits in the queue (Bazarr bans a provider for a day when it is refused). Bazarr saves the
body of ``/asr`` as the subtitle whatever the status, so errors are JSON that no subtitle parser accepts.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response

from voicestack import __version__
from voicestack.contracts.audio import ASR_PCM_BYTES_PER_SECOND
from voicestack.contracts.languages import LANGUAGES, language_code, language_name
from voicestack.text import shown
from voicestack_router import asr_client
from voicestack_router.errors import ApiError
from voicestack_router.multipart_stream import read_multipart
from voicestack_router.openapi import multipart_form
from voicestack_router.subtitles import bazarr_output
from voicestack_router.timeouts import bazarr_timeout

router = APIRouter(tags=["Bazarr (whisper-asr-webservice)"])

MAX_FILENAME_CHARS = 100
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9._ ()+-]")


def attachment(upload_name: str, extension: str) -> str:
    """``Content-Disposition`` naming the subtitle after the upload (``film.wav`` → ``film.wav.srt``).

    The name is the client's: only its last path component is kept, control characters, quotes and
    separators go, and it is cut to ``MAX_FILENAME_CHARS``. ``filename`` is an ASCII fallback; a name that
    needed changing for it is also sent whole as RFC 6266's ``filename*`` (UTF-8, percent-encoded).
    """
    name = re.split(r"[/\\]", upload_name)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C" and c not in "\"';")
    name = name.strip(" .")[:MAX_FILENAME_CHARS] or "audio"
    full = f"{name}.{extension}"
    ascii_name = unicodedata.normalize("NFKD", full).encode("ascii", "ignore").decode("ascii")
    ascii_name = _UNSAFE_ASCII.sub("_", ascii_name)
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != full:
        header += f"; filename*=UTF-8''{quote(full, safe='')}"
    return header


_AUDIO_FORM = multipart_form(["audio_file"], {"audio_file": {"type": "string", "format": "binary"}})

EncodeQuery = Annotated[
    bool,
    Query(
        description="true: an audio or video file (decoded by the predictor); false: raw "
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
            f"Unsupported language {shown(value)}; use one of {', '.join(sorted(LANGUAGES))}.",
            param="language",
            code="unsupported_language",
        )
    return code


def _check_pcm(size: int, max_seconds: float) -> None:
    """Raw s16le 16 kHz mono: its byte count is its duration, so a film too long is refused before it is
    sent on (the predictor would refuse it too)."""
    if size % 2:
        raise ApiError(
            400,
            "encode=false expects raw s16le PCM: the byte count must be even.",
            param="audio_file",
            code="invalid_audio",
        )
    seconds = size / ASR_PCM_BYTES_PER_SECOND
    if seconds > max_seconds:
        raise ApiError(
            413,
            f"The audio is too long: {size} bytes of 16 kHz PCM are {seconds:.1f} s; at most "
            f"{max_seconds:g} s is accepted per request.",
            param="audio_file",
            code="audio_too_long",
        )


async def _run(request: Request, options: dict[str, Any], encode: bool) -> tuple[dict[str, Any], str]:
    settings = request.app.state.settings
    form = await read_multipart(request, max_file_bytes=settings.max_bazarr_upload_bytes)
    try:
        upload = asr_client.require_upload(form.files.get("audio_file"), "audio_file")
        if not encode:
            _check_pcm(upload.size, settings.max_bazarr_audio_seconds)
        result = await asr_client.transcribe(
            request.app.state.asr,
            settings.asr_model_name,
            upload,
            asr_client.asr_options(**options, max_audio_seconds=settings.max_bazarr_audio_seconds),
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
            "Content-Disposition": attachment(filename, output),
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
        response_class=PlainTextResponse,  # the subtitle or text, whatever `output` asks for
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
