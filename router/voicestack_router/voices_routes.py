"""Voices: listed by the TTS predictor, added and deleted through the configured voice store."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from typing import Any, TypeVar

import av
from fastapi import APIRouter, Depends, Request

from voicestack.contracts.voices import DEFAULT_VOICE, RESERVED_VOICE_NAMES
from voicestack.media import UnacceptedFormat, open_input
from voicestack.text import shown
from voicestack_router.auth import check_api_key
from voicestack_router.consent_store import ConsentRecord, ConsentStore
from voicestack_router.errors import ApiError
from voicestack_router.models_registry import Backend, backends, resolve_backend
from voicestack_router.multipart_stream import read_multipart
from voicestack_router.openapi import multipart_form
from voicestack_router.settings import RouterSettings
from voicestack_router.timeouts import probe_timeout
from voicestack_router.voice_store import StoredVoice, VoiceStore, VoiceStoreError, validate_voice_name

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/audio", tags=["OpenAI voices"], dependencies=[Depends(check_api_key)])

MAX_SAMPLE_BYTES = 10 * 1024 * 1024  # OpenAI's limit for a voice sample
NEVER_CLONES = {"piper"}  # TTS engines (the predictor's voices "engine") that cannot use a voice sample


async def predictor_voices(request: Request, backend: Backend) -> dict[str, Any]:
    """A TTS predictor's ``/v1/models/{name}/voices`` answer."""
    settings = request.app.state.settings
    pool = getattr(request.app.state, backend.pool)
    result = await pool.request_json(
        "GET", f"/v1/models/{backend.model_name}/voices", http_timeout=probe_timeout(settings)
    )
    if not isinstance(result, dict):
        raise ApiError(502, "the TTS backend answered an unexpected voices list")
    return result


def tts_backends(settings: RouterSettings) -> list[Backend]:
    """The configured TTS backends (the fast one first); the first TTS pool when none is configured, so
    asking it fails the usual way (503, no TTS predictor configured)."""
    found = [backend for backend in backends(settings) if backend.kind == "tts"]
    return found or [Backend("tts", "tts", settings.tts_model_name, ())]


async def _listings(request: Request, chosen: list[Backend]) -> list[tuple[Backend, dict[str, Any]]]:
    """Each backend's voices; one that cannot be asked is left out unless none can be (then its error)."""
    answers = await asyncio.gather(
        *(predictor_voices(request, backend) for backend in chosen), return_exceptions=True
    )
    found = [
        (backend, answer) for backend, answer in zip(chosen, answers, strict=True) if isinstance(answer, dict)
    ]
    if not found:
        error = answers[0]
        assert isinstance(error, BaseException)
        raise error
    for backend, answer in zip(chosen, answers, strict=True):
        if isinstance(answer, BaseException):
            log.warning("voices of %s not listed: %s", backend.model_name, answer)
    return found


def _voice_object(name: str, created_at: int = 0, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "object": "audio.voice",
        "id": name,
        "name": name,
        "type": "audio_sample",
        "created_at": created_at,
        **(extra or {}),
    }


Store = TypeVar("Store")


def configured(store: Store | None) -> Store:
    """The voice or consent store the router was started with; 400 when voice upload is not set up."""
    if store is None:
        raise ApiError(
            400,
            "Voice upload is not configured (set voices_dir, or voice_store=configmap).",
            code="voice_store_not_configured",
        )
    return store


def _store(request: Request) -> VoiceStore:
    return configured(request.app.state.voice_store)


async def _stored_voices(request: Request) -> list[StoredVoice]:
    """The store's voices; none (a warning logged) when it cannot be read: the predictor's list stands."""
    store: VoiceStore | None = request.app.state.voice_store
    if store is None:
        return []
    try:
        return await store.list()
    except VoiceStoreError as exc:
        log.warning("voice store not listed: %s", exc.message)
        return []


@router.get("/voices", summary="List voices")
async def list_voices(request: Request, model: str | None = None) -> dict[str, Any]:
    """The predictors' voices (files, folders, built-in speakers), OpenAI-style, plus the aliases. With two
    TTS backends each voice says which `model` serves it, and `aliases`/`default` are those of the one
    serving `tts-1`; `?model=<id>` lists one backend only. Voices uploaded to the voice store that no
    predictor has loaded yet (a ConfigMap mount refreshes within about a minute) are listed too, with
    `"source": "store"` and `"pending": true`."""
    settings = request.app.state.settings
    chosen = [resolve_backend(settings, model, kind="tts")] if model else tts_backends(settings)
    listings = await _listings(request, chosen)
    data = [
        _voice_object(
            str(voice["name"]),
            extra={
                **{key: value for key, value in voice.items() if key != "name"},
                "model": backend.model_name,
            },
        )
        for backend, voices in listings
        for voice in voices.get("voices", [])
    ]
    known = {voice["name"] for voice in data}
    data += [
        _voice_object(stored.name, extra={"source": "store", "pending": True, "filename": stored.filename})
        for stored in await _stored_voices(request)
        if stored.name not in known
    ]
    first = listings[0][1]
    return {
        "object": "list",
        "data": data,
        "aliases": first.get("aliases") or {},
        "default": first.get("default"),
    }


async def _refuse_without_cloning(request: Request) -> None:
    """400 when every TTS predictor that answers runs an engine that never clones (Piper): a stored sample
    could not be used. Unknown or unreachable engines do not block an upload."""
    settings = request.app.state.settings
    try:
        listings = await _listings(request, tts_backends(settings))
    except Exception:
        return
    engines = [str(voices.get("engine")) for _, voices in listings]
    if all(engine in NEVER_CLONES for engine in engines):
        served = ", ".join(
            f"{backend.model_name} ({engine})" for (backend, _), engine in zip(listings, engines, strict=True)
        )
        raise ApiError(
            400,
            f"Voice cloning is not available here: the TTS model ({served}) cannot clone voices. "
            "Uploaded voices need the XTTS-v2 engine (served as tts-1-hd where configured).",
            code="voice_cloning_unsupported",
        )


@router.post(
    "/voices",
    summary="Create a voice from a sample",
    openapi_extra=multipart_form(
        ["name", "audio_sample"],
        {
            "name": {"type": "string"},
            "audio_sample": {"type": "string", "format": "binary"},
            "consent": {
                "type": "string",
                "description": "The id of a consent record (POST /v1/audio/voice_consents); "
                "required unless require_voice_consent is false.",
            },
            "replace": {
                "type": "boolean",
                "default": False,
                "description": "Allow a reserved name (`default`, an OpenAI voice name such as `alloy`): the "
                "upload then takes the built-in voice's or alias's place.",
            },
        },
    ),
)
async def create_voice(request: Request) -> dict[str, Any]:
    """Store a reference sample (≤ 10 MiB, an accepted audio container) as the voice `name`; the TTS
    predictor picks it up without a restart (a directory locally, a ConfigMap in a cluster)."""
    store = _store(request)
    await _refuse_without_cloning(request)
    form = await read_multipart(request, max_file_bytes=MAX_SAMPLE_BYTES)
    try:
        if form.get("type") == "prompt" or form.get("prompt"):
            raise ApiError(
                400,
                "Voices from a text prompt (type=prompt) are not supported by this server: create a voice "
                "from an audio_sample.",
                param="type",
                code="unsupported_feature",
            )
        name = form.get("name")
        if not name:
            raise ApiError(400, "Missing the 'name' field.", param="name", code="missing_required_parameter")
        sample = form.files.get("audio_sample")
        if sample is None or sample.size == 0:
            raise ApiError(
                400,
                "Missing the 'audio_sample' file.",
                param="audio_sample",
                code="missing_required_parameter",
            )
        data = sample.read_bytes()
        replace = form.flag("replace")
        consent_id = form.get("consent")
    finally:
        form.close()
    try:
        name = validate_voice_name(name)
        _refuse_reserved(name, replace)
        settings = request.app.state.settings
        await asyncio.to_thread(
            check_audio, data, settings.voice_min_sample_seconds, settings.voice_max_sample_seconds
        )
        consent = await consent_for_voice(request, consent_id)  # the last check: the input is good
        await store.add(name, sample.filename, data, consent.id if consent else None)
    except VoiceStoreError as exc:
        raise ApiError(exc.status, exc.message, param="name" if exc.status == 400 else None) from exc
    return _voice_object(name, int(time.time()))


async def consent_for_voice(request: Request, consent_id: str | None) -> ConsentRecord | None:
    """The consent record a new voice is created against: required (``require_voice_consent``, the
    default) and then it must exist; otherwise used when it exists."""
    required = request.app.state.settings.require_voice_consent
    store: ConsentStore | None = request.app.state.consent_store
    consent_id = (consent_id or "").strip()
    if not consent_id or store is None:
        if required:
            raise ApiError(
                400,
                "Missing the 'consent' field: create a consent record first (POST /v1/audio/voice_consents).",
                param="consent",
                code="missing_required_parameter",
            )
        return None
    try:
        record = await store.get(consent_id)
    except VoiceStoreError as exc:
        if exc.status != 404:
            raise ApiError(exc.status, exc.message) from exc
        record = None
    if record is None and required:
        raise ApiError(
            400,
            f"Voice consent {shown(consent_id)} not found: create it with POST /v1/audio/voice_consents.",
            param="consent",
            code="consent_not_found",
        )
    return record


def _refuse_reserved(name: str, replace: bool) -> None:
    """409 for a name that would take the place of the built-in default voice or an OpenAI alias, unless
    the upload says ``replace=true`` (then the uploaded voice answers to that name, on purpose)."""
    if replace or name.lower() not in RESERVED_VOICE_NAMES:
        return
    what = (
        "the built-in default voice's name"
        if name.lower() == DEFAULT_VOICE
        else "an OpenAI voice name, an alias of the default voice"
    )
    raise ApiError(
        409,
        f"Voice name {shown(name)} is {what}: a voice of this name would take its place for every client. "
        "Send the form field replace=true to do that on purpose, or choose another name.",
        param="name",
        code="voice_name_reserved",
    )


def check_audio(data: bytes, min_seconds: float, max_seconds: float, param: str = "audio_sample") -> None:
    """An accepted container with an audio track of ``min_seconds``-``max_seconds`` (the predictor's limits:
    it would list a shorter or longer sample as unusable), opened without letting FFmpeg open anything else.
    """
    seconds = 0.0
    try:
        with open_input(io.BytesIO(data)) as container:
            if not container.streams.audio:
                raise ApiError(400, "The sample has no audio track.", param=param, code="invalid_audio")
            for frame in container.decode(container.streams.audio[0]):
                seconds += frame.samples / (frame.sample_rate or 1)
                if seconds > max_seconds:
                    break
    except (av.FFmpegError, UnacceptedFormat) as exc:
        raise ApiError(
            400, f"The sample is not a readable audio file: {exc}", param=param, code="invalid_audio"
        ) from exc
    if not min_seconds <= seconds <= max_seconds:
        length = f"over {max_seconds:g}" if seconds > max_seconds else f"{seconds:.1f}"
        raise ApiError(
            400,
            f"The sample is {length} s long; a voice sample must be {min_seconds:g}-{max_seconds:g} s "
            f"(at least {min_seconds:g} s of speech).",
            param=param,
            code="invalid_audio_duration",
        )


@router.delete("/voices/{voice_id}", summary="Delete a voice")
async def delete_voice(voice_id: str, request: Request) -> dict[str, Any]:
    """Remove an uploaded voice (built-in speakers cannot be removed)."""
    store = _store(request)
    try:
        deleted = await store.delete(voice_id)
    except VoiceStoreError as exc:
        raise ApiError(exc.status, exc.message, param="voice_id") from exc
    if not deleted:
        raise ApiError(404, f"Voice {shown(voice_id)} not found.", param="voice_id", code="voice_not_found")
    return {"id": voice_id, "object": "audio.voice.deleted", "deleted": True}
