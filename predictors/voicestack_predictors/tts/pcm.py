"""Audio out: float samples to s16le PCM, and a pitch-preserving time stretch for models without speed."""

from __future__ import annotations

import math

import numpy as np


def to_pcm16(audio: np.ndarray) -> bytes:
    """Float32 in [-1, 1] (clipped) → little-endian signed 16-bit PCM."""
    clipped = np.clip(np.nan_to_num(audio.astype(np.float32, copy=False)), -1.0, 1.0)
    return (clipped * 32767.0).round().astype("<i2").tobytes()


def time_stretch(audio: np.ndarray, speed: float, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """Play ``speed`` times faster (or slower) at the same rate and pitch (STFT phase vocoder)."""
    import torch
    import torchaudio.functional as F

    if speed == 1.0 or len(audio) < n_fft:
        return audio
    window = torch.hann_window(n_fft)
    spec = torch.stft(torch.from_numpy(audio), n_fft, hop, window=window, return_complex=True)
    advance = torch.linspace(0, math.pi * hop, spec.shape[-2])[..., None]
    stretched = F.phase_vocoder(spec, speed, advance)
    length = round(len(audio) / speed)
    return torch.istft(stretched, n_fft, hop, window=window, length=length).numpy().astype(np.float32)
