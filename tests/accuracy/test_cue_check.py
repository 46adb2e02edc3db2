"""The cue-timing check itself (no model): it passes on cues that follow the clips, fails on others."""

from __future__ import annotations

import pytest

from tests.accuracy.cues import Cue, check_timing, clip_spans, parse_srt, parse_vtt

REFERENCES = ["The first clip says this.", "A second one follows", "and the third ends it."]
SPANS = clip_spans([3.0, 2.0, 2.5], gap=0.4)  # (0, 3), (3.4, 5.4), (5.8, 8.3)
GOOD = [
    Cue(0.0, 3.2, "The first clip says this."),
    Cue(3.3, 5.7, "A second one follows and"),
    Cue(5.7, 8.3, "the third ends it."),
]


def test_clip_spans() -> None:
    assert [tuple(round(x, 3) for x in span) for span in SPANS] == [(0.0, 3.0), (3.4, 5.4), (5.8, 8.3)]


def test_cues_that_follow_the_clips_pass() -> None:
    report = check_timing(REFERENCES, SPANS, GOOD, tolerance=1.0)
    assert not report.misplaced
    # opens clip 0 and 1; closes clip 0 and 2 ("and" opens clip 2 but closes cue 1: not a boundary pair)
    assert len(report.start_errors) == 2 and len(report.end_errors) == 2
    assert report.worst == pytest.approx(0.2)


def test_shifted_cues_fail() -> None:
    shifted = [Cue(cue.start + 1.5, cue.end + 1.5, cue.text) for cue in GOOD]
    assert check_timing(REFERENCES, SPANS, shifted, tolerance=1.0).worst > 1.0


def test_words_shown_at_the_wrong_time_fail() -> None:
    # The third clip's first words gone from the screen more than 1 s before that clip is spoken (no cue
    # boundary sits at a clip boundary there, so only the word placement can see it).
    early = [GOOD[0], Cue(3.3, 4.7, "A second one follows and the third"), Cue(8.0, 8.3, "ends it.")]
    report = check_timing(REFERENCES, SPANS, early, tolerance=1.0)
    assert len(report.misplaced) == 3 and report.worst < 1.0


def test_parsers_read_what_the_router_writes() -> None:
    srt = "1\n00:00:00,000 --> 00:00:03,200\nThe first\n\n2\n01:00:03,300 --> 01:00:05,700\nsecond\n\n"
    assert parse_srt(srt) == [Cue(0.0, 3.2, "The first"), Cue(3603.3, 3605.7, "second")]
    vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:03.200\nThe first\n\n01:00:03.300 --> 01:00:05.700\nsecond\n\n"
    assert parse_vtt(vtt) == parse_srt(srt)
    with pytest.raises(AssertionError):
        parse_srt(srt.replace("2\n", "3\n", 1))
    with pytest.raises(AssertionError):
        parse_vtt(vtt[len("WEBVTT\n\n") :])
