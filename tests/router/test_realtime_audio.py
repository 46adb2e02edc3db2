"""The realtime input formats: G.711 decoding as Python's reference ``audioop`` does it, and the stateful
24 kHz → 16 kHz resampling that 20 ms chunks go through (no samples lost or invented, the pitch kept)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from voicestack_router.realtime.audio import ALAW, ULAW, InputDecoder

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


@pytest.mark.parametrize(("table", "reference"), [(ULAW, audioop.ulaw2lin), (ALAW, audioop.alaw2lin)])
def test_g711_tables_match_the_reference_decoder(table: np.ndarray, reference) -> None:
    every_code = bytes(range(256))
    assert np.array_equal(table, np.frombuffer(reference(every_code, 2), dtype="<i2"))


def test_pcm24k_in_odd_sized_chunks_keeps_length_and_pitch() -> None:
    seconds, tone = 2.0, 440.0
    t = np.arange(int(24000 * seconds)) / 24000
    data = (np.sin(2 * np.pi * tone * t) * 12000).astype("<i2").tobytes()
    decoder = InputDecoder("audio/pcm")
    out = np.concatenate([decoder.decode(data[i : i + 961]) for i in range(0, len(data), 961)])  # odd bytes
    assert abs(out.size - 16000 * seconds) < 64  # the resampler holds back a few samples at most
    spectrum = np.abs(np.fft.rfft(out.astype(np.float64)))
    assert np.fft.rfftfreq(out.size, 1 / 16000)[spectrum.argmax()] == pytest.approx(tone, abs=2)


def test_mu_law_8k_comes_out_at_16k() -> None:
    t = np.arange(8000) / 8000
    linear = (np.sin(2 * np.pi * 300 * t) * 8000).astype("<i2").tobytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        encoded = audioop.lin2ulaw(linear, 2)
    out = InputDecoder("audio/pcmu").decode(encoded)
    assert abs(out.size - 16000) < 64
    assert 0.8 * 8000 < np.abs(out).max() < 1.2 * 8000
