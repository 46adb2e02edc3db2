"""Subtitle cues (SRT, WebVTT) read back, and checked against a timeline of clips with known transcripts.

The long clip is 32 LJSpeech clips joined with 0.4 s of silence after each, so every reference word is known
to be spoken inside one clip's time span. Aligning the cues' words with the reference words (jiwer's
Levenshtein alignment on normalised text) tells, for each correctly recognised word, which cue shows it and
which clip speaks it; the cue's times can then be compared with the clip's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jiwer

from tests.support.wer import normalise, normalise_reference

_SRT_TIME = r"(\d{2,}):(\d{2}):(\d{2}),(\d{3})"
_VTT_TIME = r"(?:(\d{2,}):)?(\d{2}):(\d{2})\.(\d{3})"
_SRT_CUE = re.compile(rf"^(\d+)\n{_SRT_TIME} --> {_SRT_TIME}\n(.*?)\n\n", re.M | re.S)
_VTT_CUE = re.compile(rf"^{_VTT_TIME} --> {_VTT_TIME}\n(.*?)\n\n", re.M | re.S)


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def _seconds(hours: str | None, minutes: str, seconds: str, millis: str) -> float:
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def parse_srt(body: str) -> list[Cue]:
    """SRT cues; fails if the body holds anything else or the cues are not numbered 1, 2, …"""
    matches = list(_SRT_CUE.finditer(body))
    assert "".join(m.group(0) for m in matches) == body, "SRT body has text outside well-formed cues"
    assert [int(m.group(1)) for m in matches] == list(range(1, len(matches) + 1)), "SRT cues misnumbered"
    return [Cue(_seconds(*m.group(2, 3, 4, 5)), _seconds(*m.group(6, 7, 8, 9)), m.group(10)) for m in matches]


def parse_vtt(body: str) -> list[Cue]:
    """WebVTT cues after the ``WEBVTT`` header; fails on anything else in the body."""
    assert body.startswith("WEBVTT\n\n"), "VTT body does not start with the WEBVTT header"
    rest = body[len("WEBVTT\n\n") :]
    matches = list(_VTT_CUE.finditer(rest))
    assert "".join(m.group(0) for m in matches) == rest, "VTT body has text outside well-formed cues"
    return [Cue(_seconds(*m.group(1, 2, 3, 4)), _seconds(*m.group(5, 6, 7, 8)), m.group(9)) for m in matches]


def clip_spans(durations: Sequence[float], gap: float) -> list[tuple[float, float]]:
    """``(start, end)`` of each clip when the clips are joined with ``gap`` seconds of silence after each."""
    spans, at = [], 0.0
    for duration in durations:
        spans.append((at, at + duration))
        at += duration + gap
    return spans


@dataclass(frozen=True)
class Placement:
    """One correctly recognised word: the clip that speaks it and the cue that shows it, and whether it is
    the first/last word of each."""

    clip: int
    cue: int
    clip_first: bool
    clip_last: bool
    cue_first: bool
    cue_last: bool


def _owners(
    texts: Sequence[str], normaliser: Callable[[str], str]
) -> tuple[list[str], list[int], set[int], set[int]]:
    words: list[str] = []
    owner: list[int] = []
    firsts: set[int] = set()
    lasts: set[int] = set()
    for index, text in enumerate(texts):
        own = normaliser(text).split()
        if own:
            firsts.add(len(words))
            lasts.add(len(words) + len(own) - 1)
        words += own
        owner += [index] * len(own)
    return words, owner, firsts, lasts


def place_words(references: Sequence[str], cues: Sequence[Cue]) -> list[Placement]:
    """Every reference word the cues got right, with the clip that speaks it and the cue that shows it."""
    ref_words, ref_owner, ref_first, ref_last = _owners(references, normalise_reference)
    hyp_words, hyp_owner, hyp_first, hyp_last = _owners([cue.text for cue in cues], normalise)
    aligned = jiwer.process_words(" ".join(ref_words), " ".join(hyp_words))
    placements = []
    for chunk in aligned.alignments[0]:
        if chunk.type != "equal":
            continue
        for offset in range(chunk.ref_end_idx - chunk.ref_start_idx):
            ref, hyp = chunk.ref_start_idx + offset, chunk.hyp_start_idx + offset
            placements.append(
                Placement(
                    clip=ref_owner[ref],
                    cue=hyp_owner[hyp],
                    clip_first=ref in ref_first,
                    clip_last=ref in ref_last,
                    cue_first=hyp in hyp_first,
                    cue_last=hyp in hyp_last,
                )
            )
    return placements


@dataclass
class TimingReport:
    """What the timing check found: the checked boundaries with their errors, and the misplaced words."""

    start_errors: list[float]  # |cue start - clip start| where a cue opens with a clip's first word
    end_errors: list[float]  # |cue end - clip end| where a cue closes with a clip's last word
    misplaced: list[str]  # words shown by a cue that does not overlap (± tolerance) the clip speaking them

    @property
    def boundaries_checked(self) -> int:
        return len(self.start_errors) + len(self.end_errors)

    @property
    def worst(self) -> float:
        return max(self.start_errors + self.end_errors, default=0.0)


def check_timing(
    references: Sequence[str], spans: Sequence[tuple[float, float]], cues: Sequence[Cue], tolerance: float
) -> TimingReport:
    """Compare cue times with clip times through the words they share.

    A cue that opens with the first word of a clip must start within ``tolerance`` of that clip's start, and
    one that closes with a clip's last word must end within ``tolerance`` of its end; and every recognised
    word must be shown by a cue overlapping the time its clip is spoken (widened by ``tolerance``).
    """
    report = TimingReport([], [], [])
    for placed in place_words(references, cues):
        cue = cues[placed.cue]
        clip_start, clip_end = spans[placed.clip]
        if placed.cue_first and placed.clip_first:
            report.start_errors.append(abs(cue.start - clip_start))
        if placed.cue_last and placed.clip_last:
            report.end_errors.append(abs(cue.end - clip_end))
        if cue.end < clip_start - tolerance or cue.start > clip_end + tolerance:
            report.misplaced.append(
                f"clip {placed.clip} [{clip_start:.2f}, {clip_end:.2f}] shown by cue {placed.cue} "
                f"[{cue.start:.2f}, {cue.end:.2f}] {cue.text!r}"
            )
    return report
