"""Language detection over 30 s windows: a confident first window decides alone, otherwise windows vote.

Whisper looks only at the first 30 s; a film that opens with music or a clip that starts in another
language is then misdetected. Averaging the distributions of a few windows from ``detect_lang_offset``
over ``detect_lang_length`` seconds is much steadier, but each window costs an encoder pass (about 0.4 s
for Whisper base on two CPU cores). Most audio is one language and its first window says so with near
certainty, so when the first window's top language reaches ``EARLY_STOP_PROBABILITY`` it decides alone;
music, noise, or a language change inside the first window leave it below that, and then every window in
the range votes (threshold measured on real weights: docs/asr-predictor.md#language-detection).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

WINDOW_SECONDS = 30.0
MIN_WINDOW_SECONDS = 1.0  # a shorter tail window carries too little speech to vote
TOP_LANGUAGES = 10
EARLY_STOP_PROBABILITY = 0.9


@dataclass(frozen=True)
class LanguageVote:
    language: str
    probability: float  # the winner's probability, averaged over the windows that voted
    top: dict[str, float]  # the top averaged probabilities, best first
    windows: int  # how many windows voted (1 when the first window was confident)


def detection_windows(
    n_samples: int, sample_rate: int, offset: float, length: float
) -> list[tuple[int, int]]:
    """``[start, end)`` sample ranges of 30 s windows covering ``offset`` … ``offset + length``."""
    start = int(offset * sample_rate)
    end = min(n_samples, start + int(length * sample_rate))
    window = int(WINDOW_SECONDS * sample_rate)
    windows = [(s, min(s + window, end)) for s in range(start, end, window)]
    if len(windows) > 1 and windows[-1][1] - windows[-1][0] < MIN_WINDOW_SECONDS * sample_rate:
        windows.pop()
    return windows


def vote(
    audio: np.ndarray,
    sample_rate: int,
    offset: float,
    length: float,
    distribution: Callable[[np.ndarray], dict[str, float]],
    confident: float = EARLY_STOP_PROBABILITY,
    first_window: np.ndarray | None = None,
) -> LanguageVote:
    """The first window's answer if its top probability is at least ``confident``, else all windows' average.

    ``confident`` above 1 disables the early stop (every window votes). ``first_window`` is scored in place
    of the first window: the audio the transcription will encode first (the first 30 s of speech after VAD),
    so that the engine can hand the detection's encoder pass on.
    """
    windows = detection_windows(len(audio), sample_rate, offset, length)
    if not windows:
        raise ValueError("no audio in the language detection range")
    totals: dict[str, float] = {}
    voted = 0
    for index, (start, end) in enumerate(windows):
        window = first_window if index == 0 and first_window is not None else audio[start:end]
        for language, probability in distribution(window).items():
            totals[language] = totals.get(language, 0.0) + float(probability)
        voted += 1
        if voted == 1 and max(totals.values(), default=0.0) >= confident:
            break
    averaged = sorted(((lang, total / voted) for lang, total in totals.items()), key=lambda x: -x[1])
    top = {lang: round(prob, 4) for lang, prob in averaged[:TOP_LANGUAGES]}
    language, probability = averaged[0]
    return LanguageVote(language, probability, top, voted)
