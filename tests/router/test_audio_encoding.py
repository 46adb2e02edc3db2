"""Streaming encoders: decode what they produce and check container, rate, channels and duration."""

from __future__ import annotations

import io
import struct

import av
import numpy as np
import pytest

from voicestack_router.audio_encoding import FORMATS, StreamingEncoder, streaming_wav_header

CONTAINERS = {"mp3": "mp3", "aac": "aac", "opus": "ogg", "flac": "flac", "wav": "wav"}


def _tone(seconds: float, rate: int) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()


@pytest.mark.parametrize("name", sorted(CONTAINERS))
@pytest.mark.parametrize("rate", [22050, 24000])
def test_encoded_audio_decodes_back(name: str, rate: int) -> None:
    encoder = StreamingEncoder(name)
    pcm = _tone(2.0, rate)
    pieces = [encoder.feed(pcm[i : i + 3001], rate) for i in range(0, len(pcm), 3001)]  # odd sizes on purpose
    pieces.append(encoder.finish())
    data = b"".join(pieces)
    assert sum(1 for piece in pieces[:-1] if piece) > 1, "bytes must come out before the end"
    with av.open(io.BytesIO(data)) as container:
        assert container.format.name.split(",")[0] == CONTAINERS[name]
        stream = container.streams.audio[0]
        assert stream.rate == FORMATS[name].rate and stream.channels == 1
        samples = sum(frame.samples for frame in container.decode(stream))
    assert samples / stream.rate == pytest.approx(2.0, abs=0.08)


def test_pcm_is_24k_s16le_mono() -> None:
    encoder = StreamingEncoder("pcm")
    data = encoder.feed(_tone(1.0, 22050), 22050) + encoder.finish()
    assert len(data) % 2 == 0
    assert len(data) / 2 / 24000 == pytest.approx(1.0, abs=0.01)


def test_streaming_wav_header() -> None:
    header = streaming_wav_header(24000)
    assert header[:4] == b"RIFF" and header[8:16] == b"WAVEfmt " and header[36:40] == b"data"
    assert struct.unpack("<I", header[4:8])[0] == 0xFFFFFFFF
    assert struct.unpack("<HHIIHH", header[20:36]) == (1, 1, 24000, 48000, 2, 16)
