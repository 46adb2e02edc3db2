"""Decode an audio or video file to float32 mono samples at a chosen rate, in-process with PyAV.

PyAV (FFmpeg's libraries, in-process) was chosen over ffmpeg-python (an ``ffmpeg`` subprocess) by
measurement: see ``docs/audio-decoding.md``. Every failure is an ``AudioDecodeError`` (a ``ValueError``)
whose message is meant for the caller who sent the file, so a server can return it as a 400 as is; audio
longer than the caller's limit is its subclass ``AudioTooLong`` (a 413).

Uploads are hostile until decoded: only accepted containers are opened and nothing else is
(``voicestack.media.open_input``), the duration is limited before decoding (what the container declares)
and while decoding (the samples produced, into a buffer that never grows past the limit), and sample rates
outside ``MIN_SAMPLE_RATE``–``MAX_SAMPLE_RATE`` or non-finite samples are refused.
"""

from __future__ import annotations

import io
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from voicestack.contracts.audio import DEFAULT_MAX_SECONDS
from voicestack.media import UnacceptedFormat, open_input

log = logging.getLogger(__name__)

# A decode that ends this much earlier than the container declares is a truncated file.
_TRUNCATION_TOLERANCE_S = 0.5
_TRUNCATION_TOLERANCE_RATIO = 0.02
# Formats whose declared duration is only an estimate from the bitrate (unless a VBR header says more).
_BITRATE_ESTIMATED_FORMATS = {"mp3", "aac"}
_MP3_LENGTH_HEADERS = (b"Xing", b"Info", b"VBRI")

# A WAV header can declare 1 Hz: resampled to 16 kHz, 20 KB of it is hours of audio.
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384_000
# The sample buffer starts at this many seconds when the container declares no duration, then doubles.
_INITIAL_BUFFER_SECONDS = 60.0

AudioSource = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO


class AudioDecodeError(ValueError):
    """The input is empty, truncated, not accepted audio, or has no audio track; the message says which."""


class AudioTooLong(AudioDecodeError):
    """The audio is longer than the caller's limit (declared by the container, or found while decoding)."""

    def __init__(self, message: str, limit_seconds: float) -> None:
        super().__init__(message)
        self.limit_seconds = limit_seconds


@dataclass(frozen=True)
class DecodedAudio:
    """Mono float32 samples in [-1, 1] at ``sample_rate``; ``source_rate`` is the rate the file stored."""

    samples: np.ndarray
    sample_rate: int
    source_rate: int | None = None

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def decode_audio(
    source: AudioSource, sample_rate: int = 16000, *, max_seconds: float = DEFAULT_MAX_SECONDS
) -> DecodedAudio:
    """Decode the first audio track of a media file (bytes, path or binary file object).

    The track is downmixed to mono and resampled to ``sample_rate``. Video tracks are skipped without
    being decoded. Audio longer than ``max_seconds`` raises ``AudioTooLong``, before decoding when the
    container declares its duration, else as soon as decoding passes the limit.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds}")
    file, head, size = _open_source(source)
    try:
        _check_wav_length(head, size)
        plain = _plain_pcm_wav(source, sample_rate, max_seconds) if isinstance(source, bytes) else None
        if plain is not None:
            if len(plain.samples) == 0:
                raise AudioDecodeError("the audio track contains no decodable audio")
            return plain
        with _open_container(file) as container:
            decoded, declared, error = _decode_container(container, head, sample_rate, max_seconds)
    finally:
        if file is not source:
            file.close()
    if declared is not None and declared - decoded.duration > max(
        _TRUNCATION_TOLERANCE_S, _TRUNCATION_TOLERANCE_RATIO * declared
    ):
        raise AudioDecodeError(
            f"the audio is truncated: only {decoded.duration:.2f} s of the {declared:.2f} s the file "
            "declares could be decoded"
        )
    if len(decoded.samples) == 0:
        reason = f" ({error})" if error else ""
        raise AudioDecodeError(f"the audio track contains no decodable audio{reason}")
    if error:
        log.warning("decoding stopped early after %.2fs: %s", decoded.duration, error)
    return decoded


def probe_audio(source: AudioSource, *, max_seconds: float = DEFAULT_MAX_SECONDS) -> None:
    """The checks ``decode_audio`` makes before decoding, without decoding: an accepted container with an
    audio track, a sample rate in range, a WAV not cut short, and no declared duration past ``max_seconds``.

    Cheap (the container's header only), so a server can refuse bad media at once and leave the decoding
    for later; what only decoding finds (truncated data, NaN samples, an undeclared length past the limit)
    ``decode_audio`` still refuses.
    """
    if not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds}")
    file, head, size = _open_source(source)
    try:
        _check_wav_length(head, size)
        with _open_container(file) as container:
            _audio_track(container, head, max_seconds)
    finally:
        if file is not source:
            file.close()


def _open_container(file: BinaryIO) -> av.container.InputContainer:
    try:
        return open_input(file)
    except UnacceptedFormat as exc:
        raise AudioDecodeError(str(exc)) from exc
    except av.FFmpegError as exc:
        raise AudioDecodeError(
            f"the input is not a readable audio or video file ({_ffmpeg_reason(exc)})"
        ) from exc


def _decode_container(
    container: av.container.InputContainer, head: bytes, sample_rate: int, max_seconds: float
) -> tuple[DecodedAudio, float | None, str | None]:
    """The first audio track decoded, the duration the file declares, and the error that ended decoding."""
    stream, source_rate, declared = _audio_track(container, head, max_seconds)
    samples, error = _decode_stream(container, stream, sample_rate, max_seconds, declared)
    return DecodedAudio(samples, sample_rate, source_rate), declared, error


def _audio_track(
    container: av.container.InputContainer, head: bytes, max_seconds: float
) -> tuple[av.AudioStream, int | None, float | None]:
    """The first audio track, the sample rate it states and the duration the file declares, once its
    header passed the checks made before decoding."""
    if not container.streams.audio:
        found = ", ".join(f"{s.type} {_codec_name(s)}" for s in container.streams) or "none"
        raise AudioDecodeError(f"the input has no audio track (streams found: {found})")
    stream = container.streams.audio[0]
    if stream.codec_context is None:  # a header naming no codec FFmpeg has (WAV format tag 0, 0 bits…)
        raise AudioDecodeError("the audio track's codec is unknown or its parameters are invalid")
    source_rate = stream.codec_context.sample_rate or None
    if source_rate is not None:
        _check_rate(source_rate)
    declared = _declared_duration(container, stream, head)
    if declared is not None and declared > max_seconds:
        raise _too_long(f"the file declares {declared:.1f} s", max_seconds)
    return stream, source_rate, declared


def decode_pcm_s16le(
    data: bytes | bytearray | memoryview,
    sample_rate: int = 16000,
    channels: int = 1,
    *,
    max_seconds: float = DEFAULT_MAX_SECONDS,
) -> DecodedAudio:
    """Raw little-endian 16-bit PCM (interleaved if ``channels`` > 1) as mono float32, no resampling.

    Its duration is its byte length: longer than ``max_seconds`` raises ``AudioTooLong`` before anything
    is converted.
    """
    check_pcm_s16le(len(data), sample_rate, channels, max_seconds=max_seconds)
    pcm = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        pcm = pcm.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return DecodedAudio(pcm, sample_rate, sample_rate)


def check_pcm_s16le(
    size: int, sample_rate: int = 16000, channels: int = 1, *, max_seconds: float = DEFAULT_MAX_SECONDS
) -> None:
    """What ``decode_pcm_s16le`` refuses, from the byte count alone: empty, part of a frame, too long."""
    if size == 0:
        raise AudioDecodeError("the audio is empty (0 bytes of PCM)")
    frame_bytes = 2 * channels
    if size % frame_bytes:
        raise AudioDecodeError(
            f"raw s16le PCM with {channels} channel(s) must be a multiple of {frame_bytes} bytes, got {size}"
        )
    seconds = size / (frame_bytes * sample_rate)
    if seconds > max_seconds:
        raise _too_long(f"{size} bytes of {sample_rate} Hz PCM are {seconds:.1f} s", max_seconds)


def _too_long(found: str, max_seconds: float) -> AudioTooLong:
    return AudioTooLong(
        f"the audio is too long: {found}; at most {max_seconds:g} s ({_clock(max_seconds)}) is accepted "
        "per request",
        max_seconds,
    )


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _check_rate(rate: int) -> None:
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioDecodeError(
            f"the audio's sample rate is {rate} Hz; only {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz is accepted"
        )


def _open_source(source: AudioSource) -> tuple[BinaryIO, bytes, int | None]:
    """A file object PyAV can read (a path is opened here: FFmpeg opens nothing itself), its first bytes
    for format sniffing, and its size in bytes (None when a file object cannot tell)."""
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
        handle = path.open("rb")
        head = handle.read(8192)
        handle.seek(0)
        return handle, head, size
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


@dataclass(frozen=True)
class _WavData:
    """A RIFF/WAVE file's ``data`` chunk as its header states it, and the ``fmt `` fields that read it."""

    offset: int  # where the samples start
    length: int  # the bytes the chunk declares
    byte_rate: int
    format_tag: int = 0  # 1: integer PCM
    channels: int = 0
    rate: int = 0
    block_align: int = 0
    bits: int = 0

    def seconds(self, size: int) -> tuple[float, float]:
        """(declared, present) seconds, ``size`` being the whole file's bytes."""
        present = min(max(size - self.offset, 0), self.length)
        return self.length / self.byte_rate, present / self.byte_rate


def _wav_data(head: bytes) -> _WavData | None:
    """The ``data`` chunk of a RIFF/WAVE file from its first bytes.

    None when unknown: not a plain RIFF WAVE, a header beyond ``head``, or a size placeholder (0 or
    0xFFFFFFFF, what a writer that cannot seek back, e.g. ffmpeg into a pipe, leaves).
    """
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    position, fmt = 12, b""
    while position + 8 <= len(head):
        chunk, length = (
            head[position : position + 4],
            int.from_bytes(head[position + 4 : position + 8], "little"),
        )
        body = position + 8
        if chunk == b"fmt " and body + 12 <= len(head):
            fmt = head[body : body + min(length, 16)]
        elif chunk == b"data":
            byte_rate = int.from_bytes(fmt[8:12], "little")
            if not byte_rate or length in (0, 0xFFFFFFFF):
                return None
            if len(fmt) < 16:
                return _WavData(body, length, byte_rate)
            tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", fmt)
            return _WavData(body, length, byte_rate, tag, channels, rate, block_align, bits)
        position = body + length + (length & 1)
    return None


def _plain_pcm_wav(data: bytes, sample_rate: int, max_seconds: float) -> DecodedAudio | None:
    """A 16-bit integer PCM mono WAV already at ``sample_rate`` (what recorders, ffmpeg and most clients
    send), read with numpy: FFmpeg would only convert each sample to ``s / 32768``, so the samples are the
    same, without opening a container or running a resampler. None for any other WAV or file."""
    wav = _wav_data(data[:8192])
    if wav is None or (wav.format_tag, wav.channels, wav.bits, wav.block_align) != (1, 1, 16, 2):
        return None
    if wav.rate != sample_rate or wav.byte_rate != 2 * sample_rate:
        return None
    declared, _ = wav.seconds(len(data))
    if declared > max_seconds:
        raise _too_long(f"the file declares {declared:.1f} s", max_seconds)
    present = min(max(len(data) - wav.offset, 0), wav.length) // 2
    samples = np.frombuffer(data, dtype="<i2", count=present, offset=wav.offset).astype(np.float32)
    samples /= 32768.0
    return DecodedAudio(samples, sample_rate, sample_rate)


def _check_wav_length(head: bytes, size: int | None) -> None:
    """A WAV whose data chunk is cut short: FFmpeg decodes what is there without complaint."""
    wav = _wav_data(head)
    if wav is None or size is None:
        return
    declared, present = wav.seconds(size)
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


class _SampleBuffer:
    """Mono float32 samples appended in place, never more than ``limit`` of them.

    Grows by doubling (``ndarray.resize`` reallocates, usually without a copy) from what the container
    declares, or a minute when it declares nothing, so memory follows the audio actually decoded and is
    bounded by the caller's limit, never by a header.
    """

    def __init__(self, sample_rate: int, max_seconds: float, declared: float | None) -> None:
        self.sample_rate = sample_rate
        self.max_seconds = max_seconds
        self.limit = int(max_seconds * sample_rate)
        expected = (declared + _TRUNCATION_TOLERANCE_S) if declared is not None else _INITIAL_BUFFER_SECONDS
        self.samples = np.empty(min(self.limit, int(expected * sample_rate) + 1), dtype=np.float32)
        self.filled = 0

    def append(self, chunk: np.ndarray) -> None:
        end = self.filled + len(chunk)
        if end > self.limit:
            raise _too_long(f"decoding passed {self.max_seconds:g} s", self.max_seconds)
        if not np.isfinite(chunk).all():
            raise AudioDecodeError(
                f"the audio contains NaN or infinite samples (after {self.filled / self.sample_rate:.2f} s)"
            )
        if end > len(self.samples):
            self.samples.resize(min(self.limit, max(end, 2 * len(self.samples))), refcheck=False)
        self.samples[self.filled : end] = chunk
        self.filled = end

    def finish(self) -> np.ndarray:
        self.samples.resize(self.filled, refcheck=False)
        return self.samples


def _decode_stream(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    sample_rate: int,
    max_seconds: float,
    declared: float | None,
) -> tuple[np.ndarray, str | None]:
    """Samples of ``stream`` (mono float32 at ``sample_rate``) and the error that ended decoding, if any."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    buffer = _SampleBuffer(sample_rate, max_seconds, declared)
    error: str | None = None
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                _check_rate(frame.sample_rate)  # codecs may state (or change) the rate only in frames
                for out in resampler.resample(frame):
                    buffer.append(out.to_ndarray().reshape(-1))
    except av.FFmpegError as exc:  # corrupt or cut-off data: keep what was decoded, report the rest
        error = _ffmpeg_reason(exc)
    try:
        for out in resampler.resample(None):
            buffer.append(out.to_ndarray().reshape(-1))
    except av.FFmpegError as exc:  # a layout the resampler cannot convert (255 channels) fails here too
        error = error or _ffmpeg_reason(exc)
    samples = buffer.finish()
    # Resampling can overshoot full scale slightly (ringing); keep the documented [-1, 1] range.
    np.clip(samples, -1.0, 1.0, out=samples)
    return samples, error


def _codec_name(stream: av.stream.Stream) -> str:
    return stream.codec_context.name if stream.codec_context is not None else "unknown"


def _ffmpeg_reason(exc: av.FFmpegError) -> str:
    return getattr(exc, "strerror", None) or str(exc)
