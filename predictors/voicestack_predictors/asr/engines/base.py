"""The one interface both Whisper implementations sit behind."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicestack.contracts.audio import ASR_SAMPLE_RATE as SAMPLE_RATE

__all__ = ["SAMPLE_RATE"]
# OpenAI's fallback schedule: retry a window at a higher temperature when its output looks degenerate.
FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
# Whisper's own default beam, kept wherever an engine has no better measured choice for a path.
DEFAULT_BEAM_SIZE = 5


@dataclass(frozen=True)
class DecodeOptions:
    """What one transcription asks of the engine.

    ``beam_size`` and ``vad_filter`` left as None are the engine's to choose for the path the audio takes.
    ``language`` is None only while it is being detected: ``segments`` needs it.
    """

    task: str  # transcribe | translate
    language: str | None
    initial_prompt: str | None
    temperatures: tuple[float, ...]
    beam_size: int | None
    word_timestamps: bool
    vad_filter: bool | None
    max_new_tokens: int | None
    keywords: tuple[str, ...] = ()
    logprobs: bool = False  # add ``logprobs`` ([{token, bytes, logprob}]) to every segment
    vad_parameters: Mapping[str, float] | None = None  # Silero VAD settings (faster-whisper's VadOptions)


def vad_settings(parameters: Mapping[str, float] | None) -> dict[str, Any]:
    """A fresh dict of Silero VAD settings for faster-whisper's ``VadOptions`` (the ``*_ms`` ones are ints;
    fresh because faster-whisper's batched pipeline edits the dict it gets)."""
    return {key: (int(v) if key.endswith("_ms") else float(v)) for key, v in (parameters or {}).items()}


class AsrEngine(ABC):
    """A loaded Whisper model. Methods are blocking and may be called from several threads."""

    name: str = "engine"
    # Whether ``segments`` can add per-token log probabilities (``DecodeOptions.logprobs``).
    token_logprobs: bool = False

    @property
    @abstractmethod
    def multilingual(self) -> bool:
        """False for English-only models (``*.en``): they neither detect language nor translate."""

    @abstractmethod
    def language_distribution(self, window: np.ndarray) -> dict[str, float]:
        """Language probabilities for one window of at most 30 s of 16 kHz mono audio."""

    def first_encoded_window(self, audio: np.ndarray, options: DecodeOptions) -> np.ndarray | None:
        """The audio of the first window ``segments`` will encode, where it is not the audio's first 30 s
        and the engine reuses language detection's encoder pass for it (default: never)."""
        return None

    @abstractmethod
    def segments(
        self, audio: np.ndarray, options: DecodeOptions, stop: threading.Event
    ) -> Iterator[dict[str, Any]]:
        """Segments (OpenAI verbose fields, ``words`` optional) as decoded; ends early on ``stop``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free what the garbage collector would not (default: nothing)."""
