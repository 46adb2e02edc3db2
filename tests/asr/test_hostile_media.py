"""Hostile uploads: lying headers, formats that open sockets or files, endless audio (docs/audio-decoding.md).

The decoder is tested in-process (time, this process's memory and sockets), then through a real ASR
predictor: each refusal has its status and message, and the predictor serves the next request.
"""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from kserve.errors import InvalidInput

from tests.asr.client import AsrClient
from tests.support.assets import asset
from tests.support.hostile import (
    accepted,
    ffconcat,
    float_wav_with,
    hls_playlist,
    low_rate_bomb,
    riff_wav,
    sdp,
    tcp_listener,
    udp_sockets,
)
from tests.support.media import run_ffmpeg, watch_rss
from voicestack_predictors.asr.protocol import parse_request
from voicestack_predictors.common.audio import AudioDecodeError, AudioTooLong, decode_audio, decode_pcm_s16le
from voicestack_predictors.common.errors import PayloadTooLarge

REFUSED_FORMAT = "its format is not one this server accepts"


@pytest.fixture(scope="module")
def undeclared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Containers that do not state their duration: 90 s of tone as raw ADTS AAC and as an MP3 without a
    Xing/Info header, and an hour of silence as FLAC written to a pipe (0.7 MB; 230 MB once decoded)."""
    out = tmp_path_factory.mktemp("undeclared")
    tone = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=90"]
    run_ffmpeg(*tone, "-c:a", "aac", "-b:a", "32k", "-f", "adts", str(out / "tone.aac"))
    run_ffmpeg(*tone, "-c:a", "libmp3lame", "-b:a", "32k", "-write_xing", "0", str(out / "tone.mp3"))
    silence = ["-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "3600", "-c:a", "flac"]
    with (out / "silence.flac").open("wb") as flac:
        run_ffmpeg(*silence, "-f", "flac", "pipe:1", stdout=flac)
    return {"aac": out / "tone.aac", "mp3": out / "tone.mp3", "flac": out / "silence.flac"}


# --- the decoder, in this process ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [20_000, 352_000])
def test_a_1_hz_wav_bomb_is_refused_at_once_without_memory(size: int) -> None:
    """The reported bombs: 20 KB drove the predictor past 6 GB, 352 KB to 23.7 GB and the OOM killer."""
    bomb = low_rate_bomb(size)
    started = time.perf_counter()
    with watch_rss(os.getpid()) as rss, pytest.raises(AudioDecodeError, match="sample rate is 1 Hz"):
        decode_audio(bomb)
    assert time.perf_counter() - started < 1.0
    assert rss.grew_mib < 20, f"RSS grew {rss.grew_mib:.1f} MiB"


@pytest.mark.parametrize("rate", [1, 500, 999, 384_001, 1_000_000])
def test_sample_rates_outside_the_range_are_refused(rate: int) -> None:
    with pytest.raises(AudioDecodeError, match=f"sample rate is {rate} Hz; only 1000-384000 Hz"):
        decode_audio(riff_wav(bytes(4000), rate))


@pytest.mark.parametrize("rate", [1000, 384_000])
def test_the_ends_of_the_range_decode(rate: int) -> None:
    tone = (np.sin(np.arange(rate) * 0.05) * 8000).astype("<i2").tobytes()  # one second
    decoded = decode_audio(riff_wav(tone, rate))
    assert decoded.source_rate == rate
    assert decoded.duration == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_float_samples_are_refused(value: float) -> None:
    with pytest.raises(AudioDecodeError, match="NaN or infinite samples"):
        decode_audio(float_wav_with(value))
    assert decode_audio(float_wav_with(0.5)).duration == pytest.approx(0.5, abs=0.01)  # the same, finite


def test_sdp_hls_and_ffconcat_are_refused_before_anything_is_opened(tmp_path: Path) -> None:
    """Unguarded, FFmpeg's SDP demuxer binds the UDP port the upload names and waits 20 s for RTP; HLS
    fetches its URLs; ffconcat reads the files it lists (here a real WAV, which would decode)."""
    before = udp_sockets(os.getpid())
    with tcp_listener() as (listener, port):
        playlist = tmp_path / "playlist.m3u8"  # HLS is probed by its extension
        playlist.write_bytes(hls_playlist(f"http://127.0.0.1:{port}/segment.ts"))
        named = io.BytesIO(playlist.read_bytes())
        named.name = str(playlist)  # type: ignore[attr-defined]
        inputs: dict[str, object] = {
            "sdp": sdp(),
            "hls path": playlist,
            "hls file object": named,
            "ffconcat": ffconcat(str(asset("audio/en/jfk.wav"))),
        }
        for label, source in inputs.items():
            started = time.perf_counter()
            with pytest.raises(AudioDecodeError, match=REFUSED_FORMAT):
                decode_audio(source)  # type: ignore[arg-type]
            assert time.perf_counter() - started < 1.0, label
        assert not accepted(listener), "the HLS playlist's URL was fetched"
    assert udp_sockets(os.getpid()) == before


def test_a_declared_duration_over_the_limit_is_refused_before_decoding() -> None:
    wav = asset("audio/en/jfk.wav")  # 11 s
    with watch_rss(os.getpid()) as rss, pytest.raises(AudioTooLong, match=r"declares 11\.0 s") as error:
        decode_audio(wav, max_seconds=5)
    assert "at most 5 s (0:00:05)" in str(error.value) and error.value.limit_seconds == 5
    assert rss.grew_mib < 5
    assert decode_audio(wav, max_seconds=11.5).duration == pytest.approx(11.0, abs=0.05)


@pytest.mark.parametrize("key", ["aac", "mp3"])
def test_the_limit_is_enforced_while_decoding_what_declares_no_length(
    undeclared: dict[str, Path], key: str
) -> None:
    data = undeclared[key].read_bytes()
    with pytest.raises(AudioTooLong, match="decoding passed 30 s"):
        decode_audio(data, max_seconds=30)
    assert decode_audio(data, max_seconds=120).duration == pytest.approx(90.0, abs=0.2)


def test_memory_is_bounded_by_the_limit_not_by_the_file(undeclared: dict[str, Path]) -> None:
    """An hour of silence in 0.7 MB that declares no length: 230 MB decoded; at a 60 s limit, 4 MB."""
    data = undeclared["flac"].read_bytes()
    assert len(data) < 1_000_000
    with watch_rss(os.getpid()) as rss, pytest.raises(AudioTooLong, match="decoding passed 60 s"):
        decode_audio(data, max_seconds=60)
    assert rss.grew_mib < 30, f"RSS grew {rss.grew_mib:.1f} MiB"


def test_raw_pcm_is_limited_by_its_length() -> None:
    minute = bytes(2 * 16000 * 60)
    assert decode_pcm_s16le(minute, max_seconds=60).duration == pytest.approx(60.0)
    with pytest.raises(AudioTooLong, match=r"1922000 bytes of 16000 Hz PCM are 60\.1 s; at most 60 s"):
        decode_pcm_s16le(minute + bytes(2000), max_seconds=60)


def test_a_request_may_lower_the_server_limit_but_not_raise_it() -> None:
    """The router sends its per-API limit as the option; the predictor's own setting is the ceiling."""
    wav = asset("audio/en/jfk.wav").read_bytes()  # 11 s

    def decode(option: float | None, server_limit: float) -> float:
        headers = {"content-type": "audio/wav"}
        if option is not None:
            headers["x-voicestack-options"] = f'{{"max_audio_seconds": {option}}}'
        request = parse_request(wav, headers)
        try:
            request.check(server_limit)  # the header check before the request queues
        except InvalidInput as refused:  # decoding refuses it the same way
            with pytest.raises(type(refused), match=re.escape(str(refused))):
                request.decode(server_limit)
            raise
        return request.decode(server_limit).duration

    assert decode(None, 60) == pytest.approx(11.0, abs=0.05)
    assert decode(60, 3600) == pytest.approx(11.0, abs=0.05)
    with pytest.raises(PayloadTooLarge, match="at most 5 s"):
        decode(5, 3600)  # the request's limit
    with pytest.raises(PayloadTooLarge, match="at most 5 s"):
        decode(3600, 5)  # the server's ceiling wins over a higher request
    with pytest.raises(InvalidInput, match="max_audio_seconds must be more than 0"):
        decode(0, 60)


# --- through a real ASR predictor ------------------------------------------------------------------------


def test_the_predictor_refuses_bombs_and_keeps_serving(fw_server: AsrClient, media: dict[str, Path]) -> None:
    assert fw_server.server is not None
    pid = fw_server.server.process.pid
    with watch_rss(pid) as rss:
        started = time.perf_counter()
        bomb = fw_server.raw(low_rate_bomb(20_000), "application/x-voicestack-audio")
        elapsed = time.perf_counter() - started
    assert bomb.status_code == 400, bomb.text
    assert "sample rate is 1 Hz" in bomb.json()["error"]
    assert elapsed < 5 and rss.grew_mib < 50, (elapsed, rss.grew_mib)
    nan = fw_server.v2(float_wav_with(np.nan))
    assert nan.status_code == 400 and "NaN or infinite" in nan.json()["error"]
    assert fw_server.raw(media["m4a"], "audio/mp4", language="en", temperature=0).status_code == 200


def test_the_predictor_opens_no_socket_for_an_sdp(fw_server: AsrClient, media: dict[str, Path]) -> None:
    assert fw_server.server is not None
    pid = fw_server.server.process.pid
    before = udp_sockets(pid)
    started = time.perf_counter()
    response = fw_server.raw(sdp(), "application/sdp")
    assert response.status_code == 400, response.text
    assert REFUSED_FORMAT in response.json()["error"]
    assert time.perf_counter() - started < 5  # was 20 s: the SDP demuxer waiting for RTP
    assert udp_sockets(pid) == before
    assert fw_server.raw(media["m4a"], "audio/mp4", language="en", temperature=0).status_code == 200


def test_the_predictor_answers_413_past_the_requested_limit(fw_server: AsrClient, jfk_flac: Path) -> None:
    for response in (
        fw_server.raw(jfk_flac, "audio/flac", max_audio_seconds=5),
        fw_server.v1_json(jfk_flac, max_audio_seconds=5),
        fw_server.raw(bytes(2 * 16000 * 6), "audio/pcm", max_audio_seconds=5),
    ):
        assert response.status_code == 413, response.text
        assert response.json()["error"].startswith("the audio is too long:")
    ok = fw_server.raw(jfk_flac, "audio/flac", max_audio_seconds=12, language="en", temperature=0)
    assert ok.status_code == 200 and ok.json()["duration"] == pytest.approx(11.0, abs=0.05)
