"""Model ids the router answers to: each predictor's KServe model name plus its aliases.

There is one ASR backend and up to two TTS backends (``tts_*`` and the optional ``tts_fast_*``, e.g. Piper on
CPU beside XTTS-v2 on a GPU). An id both TTS backends claim belongs to the fast one (by default ``tts-1``),
so ``tts-1-hd`` and ``gpt-4o-mini-tts`` stay with the first. With one TTS backend it answers every TTS id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from voicestack.text import shown
from voicestack_router.errors import ApiError
from voicestack_router.settings import RouterSettings

Kind = Literal["asr", "tts"]


@dataclass(frozen=True)
class Backend:
    """One configured predictor as the OpenAI routes see it."""

    kind: Kind
    pool: str  # the BackendPool's attribute on app.state: "asr", "tts" or "tts_fast"
    model_name: str  # the predictor's KServe model name
    ids: tuple[str, ...]  # the model ids it answers to (its model name first)


def backends(settings: RouterSettings) -> list[Backend]:
    """The configured backends; the fast TTS backend before the other so it wins the ids they share."""
    found: list[Backend] = []
    if settings.asr_urls:
        ids = (settings.asr_model_name, *settings.asr_aliases)
        found.append(Backend("asr", "asr", settings.asr_model_name, tuple(dict.fromkeys(ids))))
    tts = [
        ("tts_fast", settings.tts_fast_urls, settings.tts_fast_model_name, settings.tts_fast_aliases),
        ("tts", settings.tts_urls, settings.tts_model_name, settings.tts_aliases),
    ]
    taken: set[str] = set()
    for pool, urls, model_name, aliases in tts:
        if not urls:
            continue
        ids = tuple(model_id for model_id in dict.fromkeys([model_name, *aliases]) if model_id not in taken)
        taken.update(ids)
        found.append(Backend("tts", pool, model_name, ids))
    return found


def model_ids(settings: RouterSettings, kind: Kind) -> list[str]:
    return [model_id for backend in backends(settings) if backend.kind == kind for model_id in backend.ids]


def resolve_backend(settings: RouterSettings, model: str, *, kind: Kind) -> Backend:
    """The backend serving a requested id; 404 ``model_not_found`` if the id means nothing here."""
    for backend in backends(settings):
        if backend.kind == kind and model in backend.ids:
            return backend
    other: Kind = "tts" if kind == "asr" else "asr"
    if model in model_ids(settings, other):
        raise ApiError(
            400,
            f"The model {shown(model)} is a {other.upper()} model and cannot be used here.",
            param="model",
            code="invalid_model",
        )
    known = ", ".join(model_ids(settings, kind)) or "none configured"
    raise ApiError(
        404,
        f"The model {shown(model)} does not exist (available: {known}).",
        param="model",
        code="model_not_found",
    )


def resolve_model(settings: RouterSettings, model: str, *, kind: Kind) -> str:
    """The predictor model name for a requested id (see :func:`resolve_backend`)."""
    return resolve_backend(settings, model, kind=kind).model_name


def model_card(model_id: str, kind: Kind, root: str) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "created": 0,
        "owned_by": "voicestack",
        "root": root,
        "capabilities": ["transcription", "translation"] if kind == "asr" else ["speech"],
    }


def all_models(settings: RouterSettings) -> list[dict[str, Any]]:
    return [
        model_card(model_id, backend.kind, backend.model_name)
        for backend in backends(settings)
        for model_id in backend.ids
    ]
