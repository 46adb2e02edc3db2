"""234.5 s of long-form English (the 32 LJSpeech clips joined with 0.4 s gaps), transcribed once as SRT and
once as VTT: WER, and cue times against the known clip boundaries."""

from __future__ import annotations

import itertools

import pytest
import soundfile

from tests.accuracy.conftest import LONG_CLIP, LONG_CLIP_GAP, Clip, Measure, reference
from tests.accuracy.cues import Cue, check_timing, clip_spans, parse_srt, parse_vtt
from tests.support.assets import asset
from tests.support.wer import wer, word_errors

LONG_MAX_WER = 0.07  # measured 0.0423 (24 errors in 567 words; SRT and VTT alike)
CUE_TOLERANCE = 1.0  # seconds
# Cues that open (close) with a clip's first (last) word, whose times are then checked against the clip's:
MIN_BOUNDARIES_CHECKED = 12  # measured 18 (9 starts, 9 ends); worst error 0.54 s


@pytest.fixture(params=["srt", "vtt"])
def subtitle_format(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def cues(request: pytest.FixtureRequest, subtitle_format: str) -> list[Cue]:
    body = request.getfixturevalue(f"long_{subtitle_format}")
    return parse_srt(body) if subtitle_format == "srt" else parse_vtt(body)


def test_long_clip_wer(cues: list[Cue], subtitle_format: str, measured: Measure) -> None:
    path = asset(LONG_CLIP)
    text = " ".join(cue.text for cue in cues)
    rate = wer([reference(path)], [text])
    measured(f"long clip WER ({subtitle_format})", round(rate, 4))
    assert rate <= LONG_MAX_WER, word_errors(reference(path), text)


def test_cues_in_order_inside_the_audio(cues: list[Cue], ljspeech: list[Clip]) -> None:
    duration = soundfile.info(str(asset(LONG_CLIP))).duration
    spans = clip_spans([clip.duration for clip in ljspeech], LONG_CLIP_GAP)
    assert all(cue.text.strip() for cue in cues)
    assert all(0.0 <= cue.start < cue.end <= duration + 0.001 for cue in cues), cues
    assert all(before.end <= after.start for before, after in itertools.pairwise(cues)), cues
    # The subtitles cover the speech: from the first clip's start to the last clip's end.
    assert cues[0].start <= spans[0][0] + CUE_TOLERANCE
    assert cues[-1].end >= spans[-1][1] - CUE_TOLERANCE


def test_cue_times_match_clip_boundaries(
    cues: list[Cue], ljspeech: list[Clip], subtitle_format: str, measured: Measure
) -> None:
    """A cue that opens with a clip's first word starts within 1 s of that clip, one that closes with a clip's
    last word ends within 1 s of it, and every recognised word is on screen while its clip is spoken."""
    spans = clip_spans([clip.duration for clip in ljspeech], LONG_CLIP_GAP)
    report = check_timing([clip.reference for clip in ljspeech], spans, cues, CUE_TOLERANCE)
    measured(
        f"long clip {subtitle_format} cues",
        f"{len(cues)} cues; {len(report.start_errors)} starts and {len(report.end_errors)} ends checked, "
        f"worst {report.worst:.2f} s; {len(report.misplaced)} words misplaced",
    )
    assert not report.misplaced, "\n".join(report.misplaced)
    assert report.boundaries_checked >= MIN_BOUNDARIES_CHECKED, report
    assert report.worst <= CUE_TOLERANCE, report
