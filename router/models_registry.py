"""Model ids the router answers to: each predictor's KServe model name plus its aliases."""

from __future__ import annotations

from typing import Any, Literal

from router.errors import ApiError
from router.settings import RouterSettings

Kind = Literal["asr", "tts"]


def model_ids(settings: RouterSettings, kind: Kind) -> list[str]:
    if kind == "asr":
        return [settings.asr_model_name, *settings.asr_aliases] if settings.asr_urls else []
    return [settings.tts_model_name, *settings.tts_aliases] if settings.tts_urls else []


def resolve_model(settings: RouterSettings, model: str, *, kind: Kind) -> str:
    """The predictor model name for a requested id; 404 ``model_not_found`` if the id means nothing here."""
    if model in model_ids(settings, kind):
        return settings.asr_model_name if kind == "asr" else settings.tts_model_name
    other: Kind = "tts" if kind == "asr" else "asr"
    if model in model_ids(settings, other):
        raise ApiError(
            400,
            f"The model {model!r} is a {other.upper()} model and cannot be used here.",
            param="model",
            code="invalid_model",
        )
    known = ", ".join(model_ids(settings, kind)) or "none configured"
    raise ApiError(
        404,
        f"The model {model!r} does not exist (available: {known}).",
        param="model",
        code="model_not_found",
    )


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
    cards = [model_card(model_id, "asr", settings.asr_model_name) for model_id in model_ids(settings, "asr")]
    cards += [model_card(model_id, "tts", settings.tts_model_name) for model_id in model_ids(settings, "tts")]
    return cards
