"""The result object of ``docs/contracts.md``: engine output made uniform, JSON-ready and consistent.

Times are clamped into the audio (and words into their segment, in order): a model, above all one
with random weights, can emit timestamps past the end of a window or out of order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def _seconds(value: Any) -> float:
    return round(float(value), 3)


def shape_segment(raw: Mapping[str, Any], index: int, duration: float) -> dict[str, Any]:
    """One segment with the OpenAI verbose fields, and ``words`` when the engine gave them."""
    start = min(max(_seconds(raw["start"]), 0.0), _seconds(duration))
    end = min(max(_seconds(raw["end"]), start), _seconds(duration))
    segment: dict[str, Any] = {
        "id": index,
        "seek": int(raw.get("seek", 0)),
        "start": start,
        "end": end,
        "text": str(raw["text"]),
        "tokens": [int(token) for token in raw.get("tokens", [])],
        "temperature": float(raw.get("temperature") or 0.0),
        "avg_logprob": float(raw.get("avg_logprob", 0.0)),
        "compression_ratio": float(raw.get("compression_ratio", 0.0)),
        "no_speech_prob": float(raw.get("no_speech_prob", 0.0)),
    }
    if raw.get("words") is not None:
        segment["words"] = list(shape_words(raw["words"], start, end))
    return segment


def shape_words(words: Iterable[Mapping[str, Any]], start: float, end: float) -> Iterable[dict[str, Any]]:
    """Words inside ``[start, end]``, each starting no earlier than the previous one ended."""
    cursor = start
    for word in words:
        word_start = min(max(_seconds(word["start"]), cursor), end)
        word_end = min(max(_seconds(word["end"]), word_start), end)
        cursor = word_end
        yield {
            "word": str(word["word"]),
            "start": word_start,
            "end": word_end,
            "probability": round(float(word.get("probability", 0.0)), 4),
        }


def transcription_result(
    task: str,
    language: str,
    language_probability: float,
    duration: float,
    segments: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "task": task,
        "text": "".join(segment["text"] for segment in segments).strip(),
        "language": language,
        "language_probability": round(float(language_probability), 4),
        "duration": _seconds(duration),
        "segments": segments,
    }


def detection_result(
    language: str, language_probability: float, duration: float, language_probs: dict[str, float]
) -> dict[str, Any]:
    return {
        "task": "detect_language",
        "language": language,
        "language_probability": round(float(language_probability), 4),
        "duration": _seconds(duration),
        "language_probs": language_probs,
    }
