"""The shared decoder (voicestack_predictors.common.audio): every container to 16 kHz mono, clear errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from tests.support.assets import asset
from voicestack_predictors.common.audio import AudioDecodeError, decode_audio, decode_pcm_s16le

# Durations from the assets' MANIFEST.json.
CLIPS = {
    "audio/en/jfk.wav": 11.0,
    "audio/en/jfk.flac": 11.0,  # 44.1 kHz stereo 24-bit
    "audio/en/jfk.mp3": 11.0,
    "audio/en/OSR_us_000_0034_8k.wav": 35.548,  # 8 kHz: resampled up
    "audio/en/ljspeech/LJ001-0001.wav": 9.7,  # 22.05 kHz
}


@pytest.mark.parametrize("relative", sorted(CLIPS))
def test_shared_clips_decode_to_16k_mono_with_their_duration(relative: str) -> None:
    decoded = decode_audio(asset(relative))
    assert decoded.sample_rate == 16000
    assert decoded.samples.dtype == np.float32 and decoded.samples.ndim == 1
    assert decoded.duration == pytest.approx(CLIPS[relative], abs=0.05)
    assert 0.01 < float(np.abs(decoded.samples).max()) <= 1.0


@pytest.mark.parametrize("key", ["m4a", "ogg-opus", "webm", "mkv-video", "mp4-video"])
def test_generated_containers_decode_their_audio_track(media: dict[str, Path], key: str) -> None:
    decoded = decode_audio(media[key].read_bytes())
    assert decoded.duration == pytest.approx(11.0, abs=0.05)


def test_a_16k_mono_pcm_wav_upload_reads_the_samples_ffmpeg_gives() -> None:
    """Uploads (bytes) of 16 kHz 16-bit mono WAV skip FFmpeg; a path still goes through it: same samples.
    A header moved by an extra chunk, and a tail cut short within the truncation tolerance, too."""
    wav = asset("audio/en/jfk.wav")
    data = wav.read_bytes()
    assert np.array_equal(decode_audio(data).samples, decode_audio(wav).samples)
    riff, fmt_and_rest = data[:12], data[12:]
    padded = riff + b"junk" + (6).to_bytes(4, "little") + bytes(6) + fmt_and_rest
    padded = padded[:4] + (len(padded) - 8).to_bytes(4, "little") + padded[8:]
    cut = padded[: len(padded) - 3001]  # 0.09 s and half a sample short
    assert np.array_equal(decode_audio(cut).samples, decode_audio(io.BytesIO(cut)).samples)
    assert len(decode_audio(cut).samples) == len(decode_audio(data).samples) - 1501


def test_other_rates_are_honoured(jfk_flac: Path) -> None:
    decoded = decode_audio(jfk_flac, sample_rate=24000)
    assert decoded.sample_rate == 24000
    assert len(decoded.samples) == pytest.approx(11.0 * 24000, abs=0.05 * 24000)


def test_raw_pcm_is_read_as_s16le_mono() -> None:
    pcm = (np.sin(np.linspace(0, 2000, 16000)) * 16000).astype("<i2").tobytes()
    decoded = decode_pcm_s16le(pcm)
    assert decoded.duration == pytest.approx(1.0)
    assert float(np.abs(decoded.samples).max()) == pytest.approx(16000 / 32768, abs=1e-3)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("truncated", "truncated"),
        ("truncated-wav", "holds only 5.50 s of the 11.00 s its WAV header declares"),
        ("not-audio", "not a readable audio or video file"),
        ("video-only", "no audio track"),
    ],
)
def test_bad_media_is_refused_with_a_clear_message(media: dict[str, Path], key: str, message: str) -> None:
    with pytest.raises(AudioDecodeError, match=message):
        decode_audio(media[key].read_bytes())


def test_empty_inputs_are_refused() -> None:
    with pytest.raises(AudioDecodeError, match="empty"):
        decode_audio(b"")
    with pytest.raises(AudioDecodeError, match="empty"):
        decode_pcm_s16le(b"")
    with pytest.raises(AudioDecodeError, match="multiple of 2 bytes"):
        decode_pcm_s16le(b"\x00\x01\x02")


def test_wav_truncation_is_checked_for_every_source(media: dict[str, Path]) -> None:
    """Bytes, a path and a file object are all checked; a WAV written to a pipe (no sizes) is not."""
    path = media["truncated-wav"]
    for source in (path, path.read_bytes(), io.BytesIO(path.read_bytes())):
        with pytest.raises(AudioDecodeError, match="truncated"):
            decode_audio(source)  # type: ignore[arg-type]
    whole = asset("audio/en/jfk.wav").read_bytes()
    assert decode_audio(whole[: int(len(whole) * 0.99)]).duration == pytest.approx(10.89, abs=0.01)
    piped = bytearray(whole)
    piped[4:8] = b"\xff\xff\xff\xff"  # RIFF size unknown
    data_at = piped.index(b"data")
    piped[data_at + 4 : data_at + 8] = b"\xff\xff\xff\xff"  # data size unknown
    half = bytes(piped[: len(piped) // 2])
    assert decode_audio(half).duration == pytest.approx(5.5, abs=0.05)
