"""Language detection over several 30 s windows: each window's distribution is one vote, averaged.

Whisper looks only at the first 30 s; a film that opens with music or a clip that starts in another
language is then misdetected. Averaging the distributions of a few windows from ``detect_lang_offset``
over ``detect_lang_length`` seconds is cheap (one encoder pass per window) and much steadier.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

WINDOW_SECONDS = 30.0
MIN_WINDOW_SECONDS = 1.0  # a shorter tail window carries too little speech to vote
TOP_LANGUAGES = 10


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
) -> tuple[str, float, dict[str, float]]:
    """The winning language, its averaged probability, and the top averaged probabilities."""
    windows = detection_windows(len(audio), sample_rate, offset, length)
    if not windows:
        raise ValueError("no audio in the language detection range")
    totals: dict[str, float] = {}
    for start, end in windows:
        for language, probability in distribution(audio[start:end]).items():
            totals[language] = totals.get(language, 0.0) + float(probability)
    averaged = sorted(((lang, total / len(windows)) for lang, total in totals.items()), key=lambda x: -x[1])
    top = {lang: round(prob, 4) for lang, prob in averaged[:TOP_LANGUAGES]}
    language, probability = averaged[0]
    return language, probability, top
