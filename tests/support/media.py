"""Small audio and process-memory helpers shared by tests and benchmarks."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import psutil


def run_ffmpeg(*args: str, stdout: IO[bytes] | None = None) -> None:
    """Run the ``ffmpeg`` binary (to build test media); a missing binary fails with that reason."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("the ffmpeg binary is needed to build test media")
    subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-y", *args], check=True, stdout=stdout)


def pcm16_wav(pcm: bytes, sample_rate: int = 16000) -> bytes:
    """A mono 16-bit WAV file holding raw s16le ``pcm``."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(pcm)
    return buffer.getvalue()


@dataclass
class RssPeak:
    baseline: int
    peak: int

    @property
    def grew_mib(self) -> float:
        return (self.peak - self.baseline) / 2**20


@contextlib.contextmanager
def watch_rss(pid: int, interval: float = 0.02) -> Iterator[RssPeak]:
    """Sample a process's resident memory in a thread while the block runs; ``peak`` is final on exit."""
    process = psutil.Process(pid)
    rss = process.memory_info().rss
    result = RssPeak(baseline=rss, peak=rss)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            result.peak = max(result.peak, process.memory_info().rss)
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        done.set()
        sampler.join()
