"""Streaming audio encoders: raw s16le PCM in, container bytes out as soon as the encoder produces them.

Formats (OpenAI ``response_format``): ``mp3`` (MPEG audio), ``aac`` (ADTS), ``opus`` (Ogg Opus, 48 kHz),
``flac``, ``wav`` (a header with "unknown length" sizes, then PCM, so it can be streamed) and ``pcm`` (raw
s16le mono at 24 kHz, like OpenAI). Everything is resampled to the format's rate (24 kHz, Opus 48 kHz) with
PyAV's resampler, whatever the model's rate.

Encoding is CPU work (resampling, MP3/AAC/Opus encoding): the router calls ``feed_async``/``finish_async``,
which run it on a small thread pool so the event loop keeps serving other requests (``/healthz`` too)
while a long speech is encoded. One encoder's calls are awaited one after the other, so its bytes come out
in order; ``close`` waits for a call still running before it releases the container.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import av
import numpy as np

OUTPUT_RATE = 24_000

_T = TypeVar("_T")

# PyAV's encoders mostly release the GIL; a few threads are enough for a router (one per core, 2..4).
ENCODE_THREADS = ThreadPoolExecutor(
    max_workers=max(2, min(4, os.cpu_count() or 2)), thread_name_prefix="speech-encode"
)


@dataclass(frozen=True)
class AudioFormat:
    name: str
    media_type: str
    container: str | None  # None: written by hand (wav, pcm)
    codec: str | None
    rate: int


FORMATS: dict[str, AudioFormat] = {
    "mp3": AudioFormat("mp3", "audio/mpeg", "mp3", "libmp3lame", OUTPUT_RATE),
    "aac": AudioFormat("aac", "audio/aac", "adts", "aac", OUTPUT_RATE),
    "opus": AudioFormat("opus", "audio/ogg; codecs=opus", "ogg", "libopus", 48_000),
    "flac": AudioFormat("flac", "audio/flac", "flac", "flac", OUTPUT_RATE),
    "wav": AudioFormat("wav", "audio/wav", None, None, OUTPUT_RATE),
    "pcm": AudioFormat("pcm", "audio/pcm", None, None, OUTPUT_RATE),
}


def streaming_wav_header(rate: int, channels: int = 1, bits: int = 16) -> bytes:
    """A RIFF/WAVE header whose sizes say "unknown" (0xFFFFFFFF), as streaming writers do."""
    block_align = channels * bits // 8
    return (
        b"RIFF"
        + struct.pack("<I", 0xFFFFFFFF)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block_align, block_align, bits)
        + b"data"
        + struct.pack("<I", 0xFFFFFFFF)
    )


class _Sink:
    """A write-only file for PyAV's muxer: collects what it writes until taken."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


class StreamingEncoder:
    """Feed s16le mono PCM chunks at any rate; get encoded bytes back chunk by chunk."""

    def __init__(self, format_name: str) -> None:
        if format_name not in FORMATS:
            raise ValueError(f"unsupported audio format {format_name!r}")
        self.format = FORMATS[format_name]
        self._resampler: av.AudioResampler | None = None
        self._resampler_rate: int | None = None
        self._header_sent = False
        self._pending = b""  # an odd trailing byte between chunks
        self._sink = _Sink()
        self._container: av.container.OutputContainer | None = None
        self._stream: av.audio.stream.AudioStream | None = None
        self.samples_out = 0
        self._running: asyncio.Future[bytes] | None = None  # the off-loop call in progress
        if self.format.container is not None:
            options = {"page_duration": "100000"} if self.format.container == "ogg" else {}
            self._container = av.open(self._sink, "w", format=self.format.container, options=options)
            stream = self._container.add_stream(self.format.codec, rate=self.format.rate)
            stream.layout = "mono"
            self._stream = stream

    @property
    def media_type(self) -> str:
        return self.format.media_type

    def _resample(self, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        assert self._resampler is not None
        return list(self._resampler.resample(frame))

    def _target_sample_format(self) -> str:
        if self._stream is not None:
            return self._stream.codec_context.format.name
        return "s16"

    def feed(self, pcm: bytes, rate: int) -> bytes:
        """Encode a chunk of s16le mono PCM at ``rate``; returns the bytes ready so far."""
        data = self._pending + pcm
        if len(data) % 2:
            data, self._pending = data[:-1], data[-1:]
        else:
            self._pending = b""
        out = bytearray()
        if not self._header_sent:
            self._header_sent = True
            if self.format.name == "wav":
                out += streaming_wav_header(self.format.rate)
        if not data:
            return bytes(out)
        if self._resampler is None or self._resampler_rate != rate:
            if self._resampler is not None:
                out += self._encode_frames(self._resample(None))
            self._resampler = av.AudioResampler(
                format=self._target_sample_format(), layout="mono", rate=self.format.rate
            )
            self._resampler_rate = rate
        samples = np.frombuffer(data, dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = rate
        out += self._encode_frames(self._resample(frame))
        return bytes(out)

    async def _off_loop(self, function: Callable[..., bytes], *args: object) -> bytes:
        if self._running is not None and not self._running.done():
            raise RuntimeError("one encoder call at a time: await the previous one first")
        self._running = asyncio.get_running_loop().run_in_executor(ENCODE_THREADS, function, *args)
        # Shielded: a cancelled request must not mark the call done while its thread still encodes.
        return await asyncio.shield(self._running)

    async def feed_async(self, pcm: bytes, rate: int) -> bytes:
        """``feed`` on the encoder thread pool (the event loop stays free)."""
        return await self._off_loop(self.feed, pcm, rate)

    async def finish_async(self) -> bytes:
        """``finish`` on the encoder thread pool."""
        return await self._off_loop(self.finish)

    def _encode_frames(self, frames: list[av.AudioFrame]) -> bytes:
        if self._stream is None:  # wav / pcm: the resampled s16 samples themselves
            chunks = [frame.to_ndarray().astype("<i2").tobytes() for frame in frames]
            self.samples_out += sum(frame.samples for frame in frames)
            return b"".join(chunks)
        assert self._container is not None
        for frame in frames:
            frame.pts = None
            self.samples_out += frame.samples
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        return self._sink.take()

    def finish(self) -> bytes:
        """Flush the resampler and the encoder and close the container; returns the last bytes."""
        out = bytearray()
        if not self._header_sent:
            self._header_sent = True
            if self.format.name == "wav":
                out += streaming_wav_header(self.format.rate)
        if self._resampler is not None:
            out += self._encode_frames(self._resample(None))
        if self._stream is not None and self._container is not None:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
            out += self._sink.take()
            self._stream = None
            self._container = None
        return bytes(out)

    def close(self) -> None:
        """Release the encoder without flushing (the client went away). A call still running on the thread
        pool (its awaiting request was cancelled) finishes first: the container is closed after it."""
        if self._running is not None and not self._running.done():
            self._running.add_done_callback(self._close_after)
            return
        self._close_container()

    def _close_after(self, call: asyncio.Future[bytes]) -> None:
        if not call.cancelled():
            call.exception()  # retrieved: nobody awaits it any more
        self._close_container()

    def _close_container(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):  # nothing to do about a half-written container
                self._container.close()
            self._container = None
            self._stream = None
