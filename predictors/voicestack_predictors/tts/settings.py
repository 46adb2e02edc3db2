"""The TTS predictor's settings (``--<name>`` / ``TTS_<NAME>``), defined in
``voicestack/contracts/tts_settings.py`` (the operator writes the environment they read), and how the
predictor resolves ``--model``."""

from __future__ import annotations

from voicestack.contracts.tts_settings import (
    DEFAULT_MODEL,
    DEFAULT_MODEL_NAME,
    ENGINES,
    ENV_PREFIX,
    EngineSettings,
    TtsServing,
    parse_aliases,
)
from voicestack.models import CATALOGUE, resolve_model

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_MODEL_NAME",
    "ENGINES",
    "ENV_PREFIX",
    "EngineSettings",
    "TtsServing",
    "parse_aliases",
    "resolve_model_source",
]


def resolve_model_source(model: str) -> str:
    """Where the weights ``--model`` names are: a local path, or a coqui-tts model name for its downloader.

    A model catalogue name (``piper-en_US-joe-medium``) is pulled into the model cache on first use and
    becomes its directory (``docs/models.md``). Called once per engine load, before the engine is chosen
    from the files.
    """
    entry = CATALOGUE.get(model)
    if entry is not None and entry.kind != "tts":
        raise ValueError(f"catalogue model {model!r} is an {entry.kind} model, not a TTS voice")
    return resolve_model(model)
