"""What the predictor needs from a TTS engine, whatever coqui-tts model is behind it."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from voicestack.text import DEFAULT_CHAR_LIMIT
from voicestack_predictors.tts.voices import Voice

# A voice is either cloned from samples (a ``Voice`` from the voice directory) or a model's built-in speaker.
VoiceChoice = Voice | str


class UnspeakableText(ValueError):
    """No chunk of the text has anything the model can say (e.g. CJK for a model with an English alphabet).

    Raised before any audio is produced, so the predictor answers it as a 400, never as an empty 200.
    """


class TtsEngine(ABC):
    kind: str
    sample_rate: int
    supports_cloning: bool = False
    languages: list[str]
    builtin_voices: list[str]
    device: str = "cpu"
    # Whether ``streaming`` makes a difference: the first chunk is generated incrementally (early audio, at
    # a higher total cost). Engines that always generate a chunk whole ignore ``streaming``.
    incremental: bool = False

    def char_limit(self, language: str) -> int:
        """Longest text chunk the model takes at once in ``language``."""
        return DEFAULT_CHAR_LIMIT

    @abstractmethod
    def synthesize(
        self,
        chunks: list[str],
        language: str,
        voice: VoiceChoice,
        speed: float,
        streaming: bool,
        stop: threading.Event,
    ) -> Iterator[np.ndarray]:
        """Float32 mono audio at ``sample_rate``, piece by piece; stops early once ``stop`` is set."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the engine holds beyond Python references (nothing by default)."""


@dataclass(frozen=True)
class EngineInfo:
    """What a loaded engine offers; kept after an idle unload so listings and planning need no reload."""

    kind: str
    sample_rate: int
    supports_cloning: bool
    languages: list[str]
    builtin_voices: list[str]
    char_limits: dict[str, int]  # longest chunk per language, so planning never needs the engine itself
    incremental: bool  # can generate a chunk incrementally (audio before it is done), at a cost

    @classmethod
    def of(cls, engine: TtsEngine) -> EngineInfo:
        return cls(
            engine.kind,
            engine.sample_rate,
            engine.supports_cloning,
            list(engine.languages),
            list(engine.builtin_voices),
            {language: engine.char_limit(language) for language in engine.languages},
            engine.incremental,
        )
