"""The session's input formats to 16 kHz mono s16le, the rate the ASR predictor and Silero VAD take.

``audio/pcm`` is 24 kHz s16le (OpenAI's only PCM rate); ``audio/pcmu`` and ``audio/pcma`` are 8 kHz G.711
(telephony). Resampling is libswresample's (PyAV), stateful across appends, so 20 ms chunks join seamlessly.
"""

from __future__ import annotations

from typing import Literal

import av
import numpy as np

TARGET_RATE = 16000
InputFormat = Literal["audio/pcm", "audio/pcmu", "audio/pcma"]


def _ulaw_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (codes >> 4) & 0x07
    magnitude = ((((codes & 0x0F) << 3) + 0x84) << exponent) - 0x84
    return np.where(codes & 0x80, -magnitude, magnitude).astype(np.int16)


def _alaw_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    exponent = (codes >> 4) & 0x07
    mantissa = (codes & 0x0F) << 4
    magnitude = np.where(exponent == 0, mantissa + 8, (mantissa + 0x108) << np.maximum(exponent - 1, 0))
    return np.where(codes & 0x80, magnitude, -magnitude).astype(np.int16)


ULAW = _ulaw_table()
ALAW = _alaw_table()
SOURCE_RATES: dict[str, int] = {"audio/pcm": 24000, "audio/pcmu": 8000, "audio/pcma": 8000}


class InputDecoder:
    """Bytes of one input format in, 16 kHz int16 samples out (keeps an odd byte of PCM for the next call)."""

    def __init__(self, fmt: InputFormat) -> None:
        self.format = fmt
        self.rate = SOURCE_RATES[fmt]
        self._carry = b""
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=TARGET_RATE)

    def decode(self, data: bytes) -> np.ndarray:
        if self.format == "audio/pcm":
            data = self._carry + data
            usable = len(data) - len(data) % 2
            self._carry = data[usable:]
            samples = np.frombuffer(data[:usable], dtype="<i2")
        else:
            table = ULAW if self.format == "audio/pcmu" else ALAW
            samples = table[np.frombuffer(data, dtype=np.uint8)]
        if samples.size == 0:
            return np.zeros(0, dtype=np.int16)
        frame = av.AudioFrame.from_ndarray(
            samples.astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = self.rate
        out = [chunk.to_ndarray().reshape(-1) for chunk in self._resampler.resample(frame)]
        return np.concatenate(out).astype(np.int16) if out else np.zeros(0, dtype=np.int16)
