"""Transcript formats against their rules (SRT, WebVTT, TSV, text, JSON) and whisper-asr-webservice."""

from __future__ import annotations

import json

import pytest

from voicestack_router.subtitles import (
    bazarr_output,
    openai_output,
    srt,
    timestamp,
    tsv,
    txt,
    verbose_json,
    vtt,
)

SEGMENTS = [
    {"id": 0, "seek": 0, "start": 0.0, "end": 4.2, "text": " And so my fellow Americans,", "tokens": [1, 2],
     "temperature": 0.0, "avg_logprob": -0.3, "compression_ratio": 1.2, "no_speech_prob": 0.01,
     "words": [{"word": " And", "start": 0.0, "end": 0.3, "probability": 0.9},
               {"word": " so", "start": 0.3, "end": 0.5, "probability": 0.8}]},
    {"id": 1, "seek": 0, "start": 3661.0005, "end": 3725.4996, "text": " ask not --> what\tyour country ",
     "tokens": [3], "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.1,
     "no_speech_prob": 0.02},
]  # fmt: skip
RESULT = {"task": "transcribe", "text": " And so my fellow Americans, ask not", "language": "en",
          "language_probability": 0.98, "duration": 3726.0, "segments": SEGMENTS}  # fmt: skip


@pytest.mark.parametrize(
    ("seconds", "hours", "marker", "expected"),
    [
        (0, True, ",", "00:00:00,000"),
        (1.0005, True, ".", "00:00:01.000"),  # banker's rounding of .5 ms is fine either way; no overflow
        (59.9996, True, ".", "00:01:00.000"),  # rounding carries into the minutes
        (3599.9999, False, ".", "01:00:00.000"),  # and into the hours, which then appear
        (3661.25, True, ",", "01:01:01,250"),
        (360000.0, True, ",", "100:00:00,000"),  # past 99 hours the field grows, it never wraps
        (-0.5, True, ",", "00:00:00,000"),
        (75.5, False, ".", "01:15.500"),
    ],
)
def test_timestamp(seconds: float, hours: bool, marker: str, expected: str) -> None:
    assert timestamp(seconds, always_hours=hours, marker=marker) == expected


def test_srt_rules() -> None:
    text = srt(SEGMENTS)
    assert text == (
        "1\n00:00:00,000 --> 00:00:04,200\nAnd so my fellow Americans,\n\n"
        "2\n01:01:01,000 --> 01:02:05,500\nask not -> what\tyour country\n\n"
    )
    assert srt([]) == ""


def test_vtt_rules() -> None:
    assert vtt(SEGMENTS).startswith(
        "WEBVTT\n\n00:00:00.000 --> 00:00:04.200\nAnd so my fellow Americans,\n\n"
    )
    # whisper-asr-webservice's VTT leaves the hours out when they are zero
    bazarr, _ = bazarr_output(RESULT, "vtt")
    assert bazarr.startswith("WEBVTT\n\n00:00.000 --> 00:04.200\nAnd so my fellow Americans,\n\n")
    assert "01:01:01.000 --> 01:02:05.500\nask not -> what" in bazarr


def test_cue_text_never_holds_a_blank_line() -> None:
    assert srt([{"start": 0, "end": 1, "text": "a\n\nb"}]) == "1\n00:00:00,000 --> 00:00:01,000\na\nb\n\n"


def test_tsv_and_txt() -> None:
    assert (
        tsv(SEGMENTS) == "start\tend\ttext\n0\t4200\tAnd so my fellow Americans,\n"
        "3661000\t3725500\task not --> what your country\n"
    )
    assert txt(SEGMENTS) == "And so my fellow Americans,\nask not --> what\tyour country\n"


def test_bazarr_json_and_jsonl() -> None:
    body, _ = bazarr_output(RESULT, "json")
    # like Whisper's own result: the segments' texts joined as they are (the predictor's text is stripped)
    joined = " And so my fellow Americans, ask not --> what\tyour country "
    assert json.loads(body) == {"text": joined, "segments": SEGMENTS, "language": "en"}
    lines, _ = bazarr_output(RESULT, "jsonl")
    assert [json.loads(line) for line in lines.splitlines()] == SEGMENTS
    with pytest.raises(ValueError):
        bazarr_output(RESULT, "docx")


def test_openai_formats() -> None:
    assert openai_output(RESULT, "json", task="transcribe") == (
        {"text": RESULT["text"].strip(), "usage": {"type": "duration", "seconds": 3726.0}},
        "application/json",
    )
    translated = openai_output(RESULT, "json", task="translate")
    assert translated == ({"text": RESULT["text"].strip()}, "application/json")
    text, media = openai_output(RESULT, "text", task="transcribe")
    assert text == "And so my fellow Americans, ask not\n" and media.startswith("text/plain")
    verbose = verbose_json(RESULT, task="translate", words=True)
    assert (
        verbose["task"] == "translate" and verbose["language"] == "english" and verbose["duration"] == 3726.0
    )
    assert [word["word"] for word in verbose["words"]] == ["And", "so"]
    assert "usage" not in verbose  # OpenAI's TranslationVerbose has none
    assert set(verbose["segments"][0]) == {"id", "seek", "start", "end", "text", "tokens", "temperature",
                                           "avg_logprob", "compression_ratio", "no_speech_prob"}  # fmt: skip
    plain, _ = openai_output(RESULT, "verbose_json", task="transcribe")
    assert isinstance(plain, dict) and "words" not in plain


def test_bazarr_json_is_written_like_the_webservice() -> None:
    # whisper-asr-webservice's WriteJSON is ``json.dump(result, file)``: non-ASCII text is \u-escaped.
    result = {"text": "Grüße", "segments": [{"start": 0.0, "end": 1.0, "text": " Grüße"}], "language": "de"}
    body, _ = bazarr_output(result, "json")
    assert body == (
        '{"text": " Gr\\u00fc\\u00dfe", "segments": [{"start": 0.0, "end": 1.0, '
        '"text": " Gr\\u00fc\\u00dfe"}], "language": "de"}'
    )
