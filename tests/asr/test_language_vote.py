"""Language detection votes over the windows ``detect_lang_offset`` … ``+detect_lang_length`` select."""

from __future__ import annotations

import numpy as np
import pytest

from predictors.asr.language_vote import detection_windows, vote

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
    assert first_window[0] == "en" and seen == [(0.0, 3000)]
    seen.clear()
    assert vote(audio, RATE, 0, 90, distribution)[0] == "de"  # three windows: en, en, de → averaged
    assert [mean for mean, _ in seen] == [0.0, 0.0, 1.0]
    seen.clear()
    language, probability, top = vote(audio, RATE, 60, 60, distribution)
    assert (language, probability) == ("de", pytest.approx(0.9))
    assert seen == [(1.0, 3000), (1.0, 3000)]
    assert list(top) == ["de", "en"]
    with pytest.raises(ValueError, match="no audio"):
        vote(audio, RATE, 200, 30, distribution)
