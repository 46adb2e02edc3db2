"""Transcript formatting from the predictor's result object (``docs/contracts.md``).

Two flavours:
- OpenAI (``response_format``): ``text``, ``srt``, ``vtt``, ``json``, ``verbose_json``.
- whisper-asr-webservice, byte-compatible for Bazarr (``output``): ``txt``, ``vtt``, ``srt``, ``tsv``,
  ``json``, ``jsonl``. Its VTT writes hours only when they are not zero (``MM:SS.mmm``), like the webservice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from voicestack.contracts.languages import language_name

Segment = Mapping[str, Any]

BAZARR_OUTPUTS = ("txt", "vtt", "srt", "tsv", "json", "jsonl")
OPENAI_TEXT_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")


def timestamp(seconds: float, *, always_hours: bool = True, marker: str = ".") -> str:
    """``HH:MM:SS.mmm`` (rounded to the millisecond; hours grow past 99 rather than wrap)."""
    millis = max(0, round(float(seconds) * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    prefix = f"{hours:02d}:" if always_hours or hours else ""
    return f"{prefix}{minutes:02d}:{secs:02d}{marker}{millis:03d}"


def _cue_text(segment: Segment) -> str:
    # A cue's text must not contain the cue-timing arrow, nor a blank line (it would end the cue).
    text = str(segment.get("text", "")).strip().replace("-->", "->")
    return "\n".join(line for line in text.splitlines() if line.strip())


def srt(segments: Iterable[Segment]) -> str:
    """SubRip: index from 1, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, the text, a blank line."""
    cues = []
    for index, segment in enumerate(segments, start=1):
        start = timestamp(segment["start"], marker=",")
        end = timestamp(segment["end"], marker=",")
        cues.append(f"{index}\n{start} --> {end}\n{_cue_text(segment)}\n\n")
    return "".join(cues)


def vtt(segments: Iterable[Segment], *, always_hours: bool = True) -> str:
    """WebVTT: the ``WEBVTT`` header, a blank line, then ``start --> end`` cues with dot milliseconds."""
    cues = ["WEBVTT\n\n"]
    for segment in segments:
        start = timestamp(segment["start"], always_hours=always_hours)
        end = timestamp(segment["end"], always_hours=always_hours)
        cues.append(f"{start} --> {end}\n{_cue_text(segment)}\n\n")
    return "".join(cues)


def tsv(segments: Iterable[Segment]) -> str:
    """``start\\tend\\ttext`` header, then integer milliseconds and the text (tabs made spaces)."""
    lines = ["start\tend\ttext\n"]
    for segment in segments:
        text = str(segment.get("text", "")).strip().replace("\t", " ").replace("\n", " ")
        lines.append(
            f"{round(1000 * float(segment['start']))}\t{round(1000 * float(segment['end']))}\t{text}\n"
        )
    return "".join(lines)


def txt(segments: Iterable[Segment]) -> str:
    """One line per segment, stripped."""
    return "".join(f"{str(segment.get('text', '')).strip()}\n" for segment in segments)


def bazarr_output(result: Mapping[str, Any], output: str) -> tuple[str, str]:
    """The body and media type whisper-asr-webservice answers ``/asr`` with for ``output``."""
    segments = list(result.get("segments") or [])
    if output == "srt":
        return srt(segments), "text/plain"
    if output == "vtt":
        return vtt(segments, always_hours=False), "text/plain"
    if output == "tsv":
        return tsv(segments), "text/plain"
    if output == "txt":
        return txt(segments), "text/plain"
    if output == "json":
        # Whisper's result text is its segments' texts joined, unstripped (the predictor's is stripped); the
        # webservice writes ``json.dump(result, file)``: ASCII escapes and the default separators.
        text = "".join(str(segment.get("text", "")) for segment in segments)
        body = {"text": text, "segments": segments, "language": result.get("language")}
        return json.dumps(body), "application/json"
    if output == "jsonl":
        return "".join(
            json.dumps(segment, ensure_ascii=False) + "\n" for segment in segments
        ), "application/x-ndjson"
    raise ValueError(f"unknown output {output!r}; use one of {', '.join(BAZARR_OUTPUTS)}")


def openai_segment(segment: Segment) -> dict[str, Any]:
    """A segment with exactly the fields of OpenAI's ``TranscriptionSegment``."""
    return {
        "id": int(segment.get("id", 0)),
        "seek": int(segment.get("seek", 0)),
        "start": float(segment["start"]),
        "end": float(segment["end"]),
        "text": str(segment.get("text", "")),
        "tokens": [int(token) for token in segment.get("tokens") or []],
        "temperature": float(segment.get("temperature") or 0.0),
        "avg_logprob": float(segment.get("avg_logprob") or 0.0),
        "compression_ratio": float(segment.get("compression_ratio") or 0.0),
        "no_speech_prob": float(segment.get("no_speech_prob") or 0.0),
    }


def verbose_json(
    result: Mapping[str, Any], *, task: str, words: bool = False, segments: bool = True
) -> dict[str, Any]:
    """OpenAI's ``verbose_json``: task, full language name, duration, text, segments and (asked) words."""
    raw_segments = list(result.get("segments") or [])
    body: dict[str, Any] = {
        "task": task,
        "language": language_name(result.get("language")) or "",
        "duration": float(result.get("duration") or 0.0),
        "text": str(result.get("text", "")).strip(),
    }
    if segments:
        body["segments"] = [openai_segment(segment) for segment in raw_segments]
    if words:
        body["words"] = [
            {
                "word": str(word.get("word", "")).strip(),
                "start": float(word["start"]),
                "end": float(word["end"]),
            }
            for segment in raw_segments
            for word in segment.get("words") or []
        ]
    body["usage"] = {"type": "duration", "seconds": round(float(result.get("duration") or 0.0), 3)}
    return body


def openai_output(
    result: Mapping[str, Any], response_format: str, *, task: str, granularities: Iterable[str] = ()
) -> tuple[str | dict[str, Any], str]:
    """The body (text or a JSON object) and media type for an OpenAI ``response_format``."""
    segments = list(result.get("segments") or [])
    text = str(result.get("text", "")).strip()
    if response_format == "json":
        return {"text": text}, "application/json"
    if response_format == "text":
        return text + "\n", "text/plain; charset=utf-8"
    if response_format == "srt":
        return srt(segments), "text/plain; charset=utf-8"
    if response_format == "vtt":
        return vtt(segments), "text/vtt; charset=utf-8"
    if response_format == "verbose_json":
        wanted = set(granularities) or {"segment"}
        return verbose_json(result, task=task, words="word" in wanted, segments=True), "application/json"
    raise ValueError(f"unknown response_format {response_format!r}")
