"""Whisper engines behind one interface: faster-whisper (default) and openai-whisper."""

from __future__ import annotations

from voicestack.models import CATALOGUE, resolve_model
from voicestack_predictors.asr.engines.base import AsrEngine, DecodeOptions
from voicestack_predictors.asr.settings import EngineSettings

# The engines whose ``segments`` can add token log probabilities (``AsrEngine.token_logprobs``).
TOKEN_LOGPROB_ENGINES = ("faster-whisper",)


def create_engine(settings: EngineSettings, parallel: int = 1) -> AsrEngine:
    """Load the configured engine (blocking); ``parallel`` is how many inferences may run at once.

    A model catalogue name (``whisper-base``) is pulled into the model cache first and loaded from there.
    """
    entry = CATALOGUE.get(settings.model)
    if entry is not None and (entry.kind, entry.engine) != ("asr", settings.engine):
        raise ValueError(
            f"catalogue model {entry.name!r} is an {entry.kind} model for the {entry.engine} engine; "
            f"the {settings.engine} engine cannot load it"
        )
    settings = settings.model_copy(update={"model": resolve_model(settings.model)})
    if settings.engine == "faster-whisper":
        from voicestack_predictors.asr.engines.faster_whisper_engine import FasterWhisperEngine

        return FasterWhisperEngine(settings, parallel)
    if settings.engine == "whisper":
        from voicestack_predictors.asr.engines.openai_whisper_engine import OpenAIWhisperEngine

        return OpenAIWhisperEngine(settings)
    raise ValueError(f"unknown engine {settings.engine!r}")


__all__ = ["TOKEN_LOGPROB_ENGINES", "AsrEngine", "DecodeOptions", "create_engine"]
