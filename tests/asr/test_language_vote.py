"""Language detection: a confident first window decides alone, otherwise the windows ``detect_lang_offset`` …
``+detect_lang_length`` select vote. Pure logic, with a fake distribution per window."""

from __future__ import annotations

import numpy as np
import pytest

from voicestack_predictors.asr.language_vote import EARLY_STOP_PROBABILITY, detection_windows, vote

RATE = 100  # samples per second: small arrays, same arithmetic


def test_windows_cover_offset_to_offset_plus_length() -> None:
    n = 234 * RATE
    assert detection_windows(n, RATE, 0, 90) == [(0, 3000), (3000, 6000), (6000, 9000)]
    assert detection_windows(n, RATE, 120, 45) == [(12000, 15000), (15000, 16500)]
    assert detection_windows(n, RATE, 200, 90) == [(20000, 23000), (23000, 23400)]  # clipped at the end
    assert detection_windows(n, RATE, 0, 60.5) == [(0, 3000), (3000, 6000)]  # a 0.5 s tail does not vote
    assert detection_windows(n, RATE, 0, 10) == [(0, 1000)]
    assert detection_windows(n, RATE, 300, 30) == []


def test_only_the_selected_range_votes() -> None:
    """Music for the first 60 s, German after: the default range is fooled less, an offset not at all."""
    audio = np.concatenate([np.zeros(60 * RATE), np.ones(120 * RATE)]).astype(np.float32)
    seen: list[tuple[float, int]] = []

    def distribution(window: np.ndarray) -> dict[str, float]:
        seen.append((float(window.mean()), len(window)))
        return {"de": 0.9, "en": 0.1} if window.mean() > 0.5 else {"en": 0.6, "de": 0.4}

    first_window = vote(audio, RATE, 0, 30, distribution)
    assert first_window.language == "en" and seen == [(0.0, 3000)]
    seen.clear()
    unsure = vote(audio, RATE, 0, 90, distribution)  # three windows: en, en, de → averaged
    assert (unsure.language, unsure.windows) == ("de", 3)
    assert [mean for mean, _ in seen] == [0.0, 0.0, 1.0]
    seen.clear()
    later = vote(audio, RATE, 60, 60, distribution, confident=2.0)  # above 1: every window votes
    assert (later.language, later.probability, later.windows) == ("de", pytest.approx(0.9), 2)
    assert seen == [(1.0, 3000), (1.0, 3000)]
    assert list(later.top) == ["de", "en"]
    with pytest.raises(ValueError, match="no audio"):
        vote(audio, RATE, 200, 30, distribution)


def speech(*languages: str) -> np.ndarray:
    """30 s per language: each window's samples carry its language's index, for the fake detector."""
    return np.concatenate([np.full(30 * RATE, LANGS.index(lang), dtype=np.float32) for lang in languages])


LANGS = ["en", "de", "music"]


def detector(confidence: dict[str, float]) -> tuple[list[str], object]:
    """A fake distribution source: each window's language gets ``confidence[lang]``, the rest is spread."""
    calls: list[str] = []

    def distribution(window: np.ndarray) -> dict[str, float]:
        lang = LANGS[int(window[0])]
        calls.append(lang)
        if lang == "music":  # no speech: a flat, unsure guess
            return {"en": 0.4, "de": 0.3, "fr": 0.3}
        other = "de" if lang == "en" else "en"
        return {lang: confidence[lang], other: 1 - confidence[lang]}

    return calls, distribution


def test_a_confident_first_window_decides_alone() -> None:
    calls, distribution = detector({"en": 0.99, "de": 0.99})
    result = vote(speech("en", "en", "en", "en"), RATE, 0, 90, distribution)
    assert (result.language, result.windows, calls) == ("en", 1, ["en"])
    assert result.probability == pytest.approx(0.99)
    assert list(result.top) == ["en", "de"]


def test_the_threshold_is_inclusive_and_just_below_it_the_windows_vote() -> None:
    at = {"en": EARLY_STOP_PROBABILITY, "de": 0.99}
    calls, distribution = detector(at)
    assert vote(speech("en", "de", "de"), RATE, 0, 90, distribution).windows == 1
    below = {"en": EARLY_STOP_PROBABILITY - 0.01, "de": 0.99}
    calls, distribution = detector(below)
    result = vote(speech("en", "de", "de"), RATE, 0, 90, distribution)
    assert (result.language, result.windows, calls) == ("de", 3, ["en", "de", "de"])


def test_mixed_audio_still_votes_over_every_window() -> None:
    """Music first, then German: the unsure first window hands the decision to the whole range."""
    calls, distribution = detector({"en": 0.99, "de": 0.95})
    result = vote(speech("music", "de", "de"), RATE, 0, 90, distribution)
    assert (result.language, result.windows, calls) == ("de", 3, ["music", "de", "de"])
    assert result.probability == pytest.approx((0.3 + 0.95 + 0.95) / 3)
    # Only the first window can stop the vote: a confident second one after an unsure first does not.
    calls, distribution = detector({"en": 0.99, "de": 0.99})
    assert vote(speech("music", "de", "en", "en"), RATE, 0, 120, distribution).windows == 4


def test_the_early_stop_starts_at_the_offset() -> None:
    calls, distribution = detector({"en": 0.99, "de": 0.99})
    result = vote(speech("en", "de", "de"), RATE, 30, 60, distribution)
    assert (result.language, result.windows, calls) == ("de", 1, ["de"])
