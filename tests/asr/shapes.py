"""Assertions on the documented result shapes (docs/contracts.md), shared by the server tests."""

from __future__ import annotations

from typing import Any

SEGMENT_KEYS = {
    "id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob", "compression_ratio",
    "no_speech_prob",
}  # fmt: skip


def assert_transcription(result: dict[str, Any], task: str, duration: float, words: bool = False) -> None:
    assert result["task"] == task
    assert isinstance(result["text"], str)
    assert isinstance(result["language"], str) and result["language"]
    assert 0.0 <= result["language_probability"] <= 1.0
    assert abs(result["duration"] - duration) <= 0.05
    assert [segment["id"] for segment in result["segments"]] == list(range(len(result["segments"])))
    for segment in result["segments"]:
        assert set(segment) >= SEGMENT_KEYS
        assert 0.0 <= segment["start"] <= segment["end"] <= result["duration"]
        assert all(isinstance(token, int) for token in segment["tokens"])
        assert ("words" in segment) == words
        if words:
            assert_words_inside(segment)


def assert_words_inside(segment: dict[str, Any]) -> None:
    previous_end = segment["start"]
    for word in segment["words"]:
        assert set(word) == {"word", "start", "end", "probability"}
        assert segment["start"] <= word["start"] <= word["end"] <= segment["end"]
        assert word["start"] >= previous_end
        assert 0.0 <= word["probability"] <= 1.0
        previous_end = word["end"]


def assert_detection(result: dict[str, Any], duration: float) -> None:
    assert result["task"] == "detect_language"
    assert abs(result["duration"] - duration) <= 0.05
    probs = result["language_probs"]
    assert 1 <= len(probs) <= 10
    assert result["language"] == max(probs, key=probs.get)
    assert result["language_probability"] == probs[result["language"]]
    assert list(probs.values()) == sorted(probs.values(), reverse=True)
