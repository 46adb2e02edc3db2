"""Decode any audio or video container to float32 mono samples at a chosen rate, in-process with PyAV.

PyAV (FFmpeg's libraries, in-process) was chosen over ffmpeg-python (an ``ffmpeg`` subprocess) by
measurement: see ``docs/audio-decoding.md``. Every failure is an ``AudioDecodeError`` (a ``ValueError``)
whose message is meant for the caller who sent the file, so a server can return it as a 400 as is.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

log = logging.getLogger(__name__)

# A decode that ends this much earlier than the container declares is a truncated file.
_TRUNCATION_TOLERANCE_S = 0.5
_TRUNCATION_TOLERANCE_RATIO = 0.02
# Formats whose declared duration is only an estimate from the bitrate (unless a VBR header says more).
_BITRATE_ESTIMATED_FORMATS = {"mp3", "aac"}
_MP3_LENGTH_HEADERS = (b"Xing", b"Info", b"VBRI")

AudioSource = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO


class AudioDecodeError(ValueError):
    """The input is empty, truncated, not audio, or has no audio track; the message says which."""


@dataclass(frozen=True)
class DecodedAudio:
    """Mono float32 samples in [-1, 1] at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def decode_audio(source: AudioSource, sample_rate: int = 16000) -> DecodedAudio:
    """Decode the first audio track of a media file (bytes, path or binary file object).

    The track is downmixed to mono and resampled to ``sample_rate``. Video tracks are skipped without
    being decoded.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    file, head, size = _open_source(source)
    _check_wav_length(head, size)
    try:
        container = av.open(file, mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise AudioDecodeError(
            f"the input is not a readable audio or video file ({_ffmpeg_reason(exc)})"
        ) from exc
    with container:
        if not container.streams.audio:
            found = ", ".join(f"{s.type} {s.codec_context.name}" for s in container.streams) or "none"
            raise AudioDecodeError(f"the input has no audio track (streams found: {found})")
        stream = container.streams.audio[0]
        declared = _declared_duration(container, stream, head)
        samples, error = _decode_stream(container, stream, sample_rate)
    decoded = DecodedAudio(samples, sample_rate)
    if declared is not None and declared - decoded.duration > max(
        _TRUNCATION_TOLERANCE_S, _TRUNCATION_TOLERANCE_RATIO * declared
    ):
        raise AudioDecodeError(
            f"the audio is truncated: only {decoded.duration:.2f} s of the {declared:.2f} s the file "
            "declares could be decoded"
        )
    if len(samples) == 0:
        reason = f" ({error})" if error else ""
        raise AudioDecodeError(f"the audio track contains no decodable audio{reason}")
    if error:
        log.warning("decoding stopped early after %.2fs: %s", decoded.duration, error)
    return decoded


def decode_pcm_s16le(
    data: bytes | bytearray | memoryview, sample_rate: int = 16000, channels: int = 1
) -> DecodedAudio:
    """Raw little-endian 16-bit PCM (interleaved if ``channels`` > 1) as mono float32, no resampling."""
    if len(data) == 0:
        raise AudioDecodeError("the audio is empty (0 bytes of PCM)")
    frame_bytes = 2 * channels
    if len(data) % frame_bytes:
        raise AudioDecodeError(
            f"raw s16le PCM with {channels} channel(s) must be a multiple of {frame_bytes} bytes, "
            f"got {len(data)}"
        )
    pcm = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        pcm = pcm.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return DecodedAudio(pcm, sample_rate)


def _open_source(source: AudioSource) -> tuple[BinaryIO | str, bytes, int | None]:
    """A file object (or path) PyAV can read, its first bytes for format sniffing, and its size in bytes
    (None when a file object cannot tell)."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if not data:
            raise AudioDecodeError("the audio is empty (0 bytes)")
        return io.BytesIO(data), data[:8192], len(data)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise AudioDecodeError(f"audio file not found: {path}")
        size = path.stat().st_size
        if size == 0:
            raise AudioDecodeError(f"the audio file is empty: {path}")
        with path.open("rb") as handle:
            head = handle.read(8192)
        return str(path), head, size
    position = source.tell()
    head = source.read(8192)
    try:
        remaining: int | None = source.seek(0, io.SEEK_END) - position
    except (OSError, ValueError):
        remaining = None
    source.seek(position)
    if not head:
        raise AudioDecodeError("the audio is empty (0 bytes)")
    return source, head, remaining


def _wav_data_seconds(head: bytes, size: int | None) -> tuple[float, float] | None:
    """(declared, present) seconds of a RIFF/WAVE file's ``data`` chunk, from its header and the file size.

    None when unknown: not a plain RIFF WAVE, a header beyond ``head``, or a size placeholder (0 or
    0xFFFFFFFF, what a writer that cannot seek back, e.g. ffmpeg into a pipe, leaves).
    """
    if size is None or len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    position, byte_rate = 12, 0
    while position + 8 <= len(head):
        chunk, length = (
            head[position : position + 4],
            int.from_bytes(head[position + 4 : position + 8], "little"),
        )
        body = position + 8
        if chunk == b"fmt " and body + 12 <= len(head):
            byte_rate = int.from_bytes(head[body + 8 : body + 12], "little")
        elif chunk == b"data":
            if not byte_rate or length in (0, 0xFFFFFFFF):
                return None
            present = min(max(size - body, 0), length)
            return length / byte_rate, present / byte_rate
        position = body + length + (length & 1)
    return None


def _check_wav_length(head: bytes, size: int | None) -> None:
    """A WAV whose data chunk is cut short: FFmpeg decodes what is there without complaint."""
    seconds = _wav_data_seconds(head, size)
    if seconds is None:
        return
    declared, present = seconds
    if declared - present > max(_TRUNCATION_TOLERANCE_S, _TRUNCATION_TOLERANCE_RATIO * declared):
        raise AudioDecodeError(
            f"the audio is truncated: the file holds only {present:.2f} s of the {declared:.2f} s its "
            "WAV header declares"
        )


def _declared_duration(
    container: av.container.InputContainer, stream: av.AudioStream, head: bytes
) -> float | None:
    """The duration the file states, when it is exact enough to detect truncation."""
    if container.format.name in _BITRATE_ESTIMATED_FORMATS and not any(
        marker in head for marker in _MP3_LENGTH_HEADERS
    ):
        return None  # estimated from the bitrate: a VBR file without a length header would look truncated
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


def _decode_stream(
    container: av.container.InputContainer, stream: av.AudioStream, sample_rate: int
) -> tuple[np.ndarray, str | None]:
    """Samples of ``stream`` (mono float32 at ``sample_rate``) and the error that ended decoding, if any."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    chunks: list[np.ndarray] = []
    error: str | None = None
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
    except av.FFmpegError as exc:  # corrupt or cut-off data: keep what was decoded, report the rest
        error = _ffmpeg_reason(exc)
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        return np.zeros(0, dtype=np.float32), error
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    # Resampling can overshoot full scale slightly (ringing); keep the documented [-1, 1] range.
    np.clip(samples, -1.0, 1.0, out=samples)
    return samples, error


def _ffmpeg_reason(exc: av.FFmpegError) -> str:
    return getattr(exc, "strerror", None) or str(exc)
