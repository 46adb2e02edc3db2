"""Bazarr's Whisper provider on real weights: raw PCM (``encode=false``) extracted from a video with its own
ffmpeg command, and encoded uploads (``encode=true``: MP3, video containers) all give JFK's words in SRT."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.accuracy.clients import bazarr_asr, bazarr_pcm, video_with_audio
from tests.accuracy.conftest import reference
from tests.accuracy.cues import parse_srt
from tests.router.conftest import Running
from tests.support.assets import asset
from tests.support.wer import normalise, normalise_reference, word_errors

JFK = "audio/en/jfk.flac"


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bazarr-videos")
    return {suffix: video_with_audio(asset(JFK), folder / f"jfk.{suffix}") for suffix in ("mkv", "mp4")}


def _upload(kind: str, videos: dict[str, Path]) -> tuple[bytes, bool]:
    """The body and its ``encode`` flag."""
    if kind == "pcm-from-mkv":  # what Bazarr really sends for a film: the audio track as raw PCM
        return bazarr_pcm(videos["mkv"]), False
    if kind == "mp3":
        return asset("audio/en/jfk.mp3").read_bytes(), True
    return videos[kind].read_bytes(), True


@pytest.mark.parametrize("kind", ["pcm-from-mkv", "mp3", "mkv", "mp4"])
def test_bazarr_srt_has_the_words(router: Running, videos: dict[str, Path], kind: str) -> None:
    body, encode = _upload(kind, videos)
    response = bazarr_asr(router.url, body, encode=encode, language="en")
    assert response.status_code == 200, response.text
    cues = parse_srt(response.text)
    assert cues and all(0.0 <= cue.start < cue.end <= 11.1 for cue in cues), cues
    text = " ".join(cue.text for cue in cues)
    expected = reference(asset(JFK))
    assert normalise(text) == normalise_reference(expected), word_errors(expected, text)
