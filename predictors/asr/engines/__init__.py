"""Whisper engines behind one interface: faster-whisper (default) and openai-whisper."""

from __future__ import annotations

from predictors.asr.engines.base import AsrEngine, DecodeOptions
from predictors.asr.settings import EngineSettings


def create_engine(settings: EngineSettings, parallel: int = 1) -> AsrEngine:
    """Load the configured engine (blocking); ``parallel`` is how many inferences may run at once."""
    if settings.engine == "faster-whisper":
        from predictors.asr.engines.faster_whisper_engine import FasterWhisperEngine

        return FasterWhisperEngine(settings, parallel)
    if settings.engine == "whisper":
        from predictors.asr.engines.openai_whisper_engine import OpenAIWhisperEngine

        return OpenAIWhisperEngine(settings)
    raise ValueError(f"unknown engine {settings.engine!r}")


__all__ = ["AsrEngine", "DecodeOptions", "create_engine"]
