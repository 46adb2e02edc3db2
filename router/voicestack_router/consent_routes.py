"""OpenAI's ``/v1/audio/voice_consents``: consent recordings that custom voices are created against."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from voicestack.text import shown
from voicestack_router.auth import check_api_key
from voicestack_router.consent_store import ConsentStore, new_consent
from voicestack_router.errors import ApiError
from voicestack_router.multipart_stream import read_multipart
from voicestack_router.voice_store import VoiceStore, VoiceStoreError
from voicestack_router.voices_routes import MAX_SAMPLE_BYTES, check_audio, configured

router = APIRouter(prefix="/v1/audio", tags=["OpenAI voices"], dependencies=[Depends(check_api_key)])

BCP47 = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
MAX_NAME_CHARS = 256
# A consent recording: a spoken sentence, not a voice sample (no 3 s minimum); any readable audio up to this.
MAX_RECORDING_SECONDS = 300.0
T = TypeVar("T")


def consent_store(request: Request) -> ConsentStore:
    return configured(request.app.state.consent_store)


async def _stored(call: Awaitable[T]) -> T:
    try:
        return await call
    except VoiceStoreError as exc:
        if exc.status == 404:  # not a consent id at all
            raise ApiError(404, exc.message, param="consent_id", code="consent_not_found") from exc
        raise ApiError(exc.status, exc.message) from exc


def _not_found(consent_id: str) -> ApiError:
    return ApiError(
        404, f"Voice consent {shown(consent_id)} not found.", param="consent_id", code="consent_not_found"
    )


def _label(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise ApiError(400, "Missing the 'name' field.", param="name", code="missing_required_parameter")
    if len(name) > MAX_NAME_CHARS:
        raise ApiError(
            400, f"'name' is over {MAX_NAME_CHARS} characters.", param="name", code="invalid_value"
        )
    return name


@router.post(
    "/voice_consents",
    summary="Upload a voice consent recording",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["name", "language", "recording"],
                        "properties": {
                            "name": {"type": "string"},
                            "language": {"type": "string", "example": "en-US"},
                            "recording": {"type": "string", "format": "binary"},
                        },
                    }
                }
            },
        }
    },
)
async def create_consent(request: Request) -> dict[str, Any]:
    """Store a consent recording (≤ 10 MiB, an accepted audio container) with its label and the BCP 47
    language of the consent phrase; voices are then created against its id."""
    store = consent_store(request)
    form = await read_multipart(request, max_file_bytes=MAX_SAMPLE_BYTES)
    try:
        name = _label(form.get("name"))
        language = (form.get("language") or "").strip()
        if not BCP47.match(language):
            raise ApiError(
                400,
                f"'language' must be a BCP 47 tag such as en-US, got {shown(language)}.",
                param="language",
                code="invalid_value",
            )
        recording = form.files.get("recording")
        if recording is None or recording.size == 0:
            raise ApiError(
                400, "Missing the 'recording' file.", param="recording", code="missing_required_parameter"
            )
        data = recording.read_bytes()
    finally:
        form.close()
    await asyncio.to_thread(check_audio, data, 0.0, MAX_RECORDING_SECONDS, "recording")
    record = new_consent(name, language, recording.filename)
    await _stored(store.add(record, data))
    return record.openai()


@router.get("/voice_consents", summary="List voice consent recordings")
async def list_consents(
    request: Request,
    after: str | None = None,
    limit: int = Query(20, ge=1, le=100),
) -> dict[str, Any]:
    """Oldest first, `limit` at a time from after the id `after` (OpenAI's cursor pagination)."""
    records = await _stored(consent_store(request).list())
    if after:
        ids = [record.id for record in records]
        records = records[ids.index(after) + 1 :] if after in ids else []
    page = records[:limit]
    return {
        "object": "list",
        "data": [record.openai() for record in page],
        "has_more": len(records) > limit,
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
    }


@router.get("/voice_consents/{consent_id}", summary="Retrieve a voice consent recording")
async def retrieve_consent(consent_id: str, request: Request) -> dict[str, Any]:
    record = await _stored(consent_store(request).get(consent_id))
    if record is None:
        raise _not_found(consent_id)
    return record.openai()


class ConsentUpdate(BaseModel):
    name: str = Field(..., description="The new label.")


@router.post("/voice_consents/{consent_id}", summary="Update a voice consent recording's label")
async def update_consent(consent_id: str, body: ConsentUpdate, request: Request) -> dict[str, Any]:
    record = await _stored(consent_store(request).rename(consent_id, _label(body.name)))
    if record is None:
        raise _not_found(consent_id)
    return record.openai()


@router.delete("/voice_consents/{consent_id}", summary="Delete a voice consent recording")
async def delete_consent(consent_id: str, request: Request) -> dict[str, Any]:
    """Refused (409 `consent_in_use`) while voices created against it remain: delete those first."""
    store = consent_store(request)
    voices: VoiceStore = request.app.state.voice_store
    if await _stored(store.get(consent_id)) is None:
        raise _not_found(consent_id)
    using = await _stored(voices.voices_using(consent_id))
    if using:
        raise ApiError(
            409,
            f"Voice consent {shown(consent_id)} is used by the voice(s) "
            f"{', '.join(shown(voice) for voice in using)}: delete them first.",
            param="consent_id",
            code="consent_in_use",
        )
    await _stored(store.delete(consent_id))
    return {"id": consent_id, "object": "audio.voice_consent", "deleted": True}
