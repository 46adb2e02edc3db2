"""Hostile uploads built at test time: WAV headers that lie, and inputs that make FFmpeg open other things."""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Iterator

import numpy as np
import psutil

# What FFmpeg's SDP demuxer does with this: bind UDP sockets on the port named, and wait for RTP.
SDP_PORT = 45999


def riff_wav(payload: bytes, sample_rate: int, *, float32: bool = False) -> bytes:
    """A mono WAV holding ``payload`` (s16le, or float32 samples) whose header says ``sample_rate`` Hz.

    Written by hand: the ``wave`` module writes neither float WAVs nor any rate its caller asks for.
    """
    bits, tag = (32, 3) if float32 else (16, 1)
    block = bits // 8
    fmt = struct.pack("<HHIIHH", tag, 1, sample_rate, sample_rate * block, block, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def low_rate_bomb(size: int = 20_000) -> bytes:
    """``size`` bytes of WAV declaring 1 Hz: resampled to 16 kHz, 20 KB would be 2.8 h of audio (640 MB)."""
    return riff_wav(bytes(size - 44), 1)


def float_wav_with(value: float, sample_rate: int = 16000) -> bytes:
    """Half a second of float32 silence with one ``value`` (NaN, Inf) in the middle."""
    samples = np.zeros(sample_rate // 2, dtype="<f4")
    samples[len(samples) // 2] = value
    return riff_wav(samples.tobytes(), sample_rate, float32=True)


def sdp(port: int = SDP_PORT) -> bytes:
    return (
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=voicestack test\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    ).encode()


def hls_playlist(url: str) -> bytes:
    return f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n{url}\n#EXT-X-ENDLIST\n".encode()


def ffconcat(path: str) -> bytes:
    return f"ffconcat version 1.0\nfile '{path}'\n".encode()


def udp_sockets(pid: int) -> list[str]:
    """The UDP sockets ``pid`` holds, as ``address:port`` (an SDP input would bind some)."""
    process = psutil.Process(pid)
    connections = getattr(process, "net_connections", process.connections)(kind="udp")
    return [f"{item.laddr.ip}:{item.laddr.port}" for item in connections]


@contextlib.contextmanager
def tcp_listener() -> Iterator[tuple[socket.socket, int]]:
    """A listening socket on loopback (for an HLS URL): ``accepted(listener)`` says whether anyone came."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.setblocking(False)
    try:
        yield listener, int(listener.getsockname()[1])
    finally:
        listener.close()


def accepted(listener: socket.socket) -> bool:
    try:
        connection, _ = listener.accept()
    except BlockingIOError:
        return False
    connection.close()
    return True
