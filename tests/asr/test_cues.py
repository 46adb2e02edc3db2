"""A batched window (one ≤ 30 s segment) cut into subtitle-sized segments by its word timings."""

from __future__ import annotations

from typing import Any

import pytest

from voicestack_predictors.asr.engines.cues import MAX_CUE_SECONDS, compression_ratio, split_window


def window(*words: tuple[str, float, float]) -> dict[str, Any]:
    return {
        "seek": 2780,
        "start": words[0][1],
        "end": words[-1][2],
        "text": "".join(word for word, _, _ in words),
        "tokens": [1, 2, 3],
        "temperature": 0.0,
        "avg_logprob": -0.1,
        "compression_ratio": 1.6,
        "no_speech_prob": 0.01,
        "words": [{"word": w, "start": s, "end": e, "probability": 0.9} for w, s, e in words],
    }


def encode(text: str) -> list[int]:
    return [len(part) for part in text.split()]


def test_sentences_become_segments_with_their_own_times_text_and_tokens() -> None:
    cues = split_window(
        window(
            (" Printing,", 27.8, 28.4), (" then.", 28.4, 29.0), (" Now", 30.2, 30.5), (" as?", 30.5, 31.0)
        ),
        encode,
        keep_words=False,
    )
    assert [(c["start"], c["end"], c["text"]) for c in cues] == [
        (27.8, 29.0, " Printing, then."),
        (30.2, 31.0, " Now as?"),
    ]
    assert [c["tokens"] for c in cues] == [[9, 5], [3, 3]]
    assert all(c["words"] is None and c["seek"] == 2780 and c["avg_logprob"] == -0.1 for c in cues)
    assert cues[0]["compression_ratio"] == pytest.approx(compression_ratio(" Printing, then."))


def test_words_are_kept_when_asked_for() -> None:
    cues = split_window(window((" One.", 0.0, 0.5), (" Two.", 0.6, 1.0)), encode, keep_words=True)
    assert [[w["word"] for w in c["words"]] for c in cues] == [[" One."], [" Two."]]


def test_a_clause_end_cuts_only_a_long_cue() -> None:
    short = split_window(window((" a,", 0.0, 1.0), (" b,", 1.0, 2.0), (" c.", 2.0, 3.0)), encode, False)
    assert [c["text"] for c in short] == [" a, b, c."]
    long = split_window(
        window((" a", 0.0, 3.0), (" b,", 3.0, 5.5), (" c", 5.5, 6.0), (" d.", 6.0, 7.0)), encode, False
    )
    assert [c["text"] for c in long] == [" a b,", " c d."]


def test_no_cue_runs_past_the_maximum() -> None:
    words = [(f" w{i}", float(i), i + 1.0) for i in range(25)]  # 25 s without punctuation
    cues = split_window(window(*words), encode, False)
    assert all(c["end"] - c["start"] <= MAX_CUE_SECONDS for c in cues)
    assert "".join(c["text"] for c in cues) == "".join(w for w, _, _ in words)
    assert [c["start"] for c in cues] == [0.0, 10.0, 20.0]


def test_a_window_of_one_word_or_none_stays_whole() -> None:
    one = window((" Hello.", 1.0, 1.5))
    assert split_window(one, encode, keep_words=True) == [one]
    empty = {**one, "words": []}
    assert split_window(empty, encode, keep_words=False) == [{**empty, "words": None}]
