"""The bad-media corpus, built at test time: what a hostile or broken client might upload.

Each ``Case`` is bytes plus an upload filename and a class (the figures are reported per class). Nothing
here is stored in the project: valid seeds are cut from the shared assets with the ffmpeg binary, the rest
is made by hand (``tests.support.hostile`` has the WAV and SDP builders).
"""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.support.assets import asset
from tests.support.hostile import ffconcat, float_wav_with, hls_playlist, low_rate_bomb, riff_wav, sdp
from tests.support.media import run_ffmpeg

SEED_SECONDS = 1.5  # short seeds: the truncations that still decode are transcribed, cheaply
SEED_FORMATS = {  # suffix: ffmpeg output arguments
    "wav": ["-c:a", "pcm_s16le"],
    "flac": ["-c:a", "flac"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "32k"],
    "ogg": ["-c:a", "libopus", "-b:a", "24k"],
    "m4a": ["-c:a", "aac", "-b:a", "32k"],
    "webm": ["-c:a", "libopus", "-b:a", "24k"],
}
TRUNCATIONS = (0, 1, 3, 4, 8, 12, 16, 24, 36, 44, 64, 100, 200, 512, 1024, 0.5)  # bytes, or a fraction


@dataclass(frozen=True)
class Case:
    kind: str
    name: str
    data: bytes
    filename: str = "audio.bin"


def seeds(workdir: Path) -> dict[str, bytes]:
    """1.5 s of JFK in each seed format (16 kHz mono)."""
    source = asset("audio/en/jfk.wav")
    out: dict[str, bytes] = {}
    for suffix, codec in SEED_FORMATS.items():
        path = workdir / f"seed.{suffix}"
        run_ffmpeg("-i", str(source), "-t", str(SEED_SECONDS), "-ac", "1", "-ar", "16000", *codec, str(path))
        out[suffix] = path.read_bytes()
    return out


def _truncations(seed: dict[str, bytes]) -> list[Case]:
    cases = []
    for suffix, data in seed.items():
        for cut in TRUNCATIONS:
            size = int(len(data) * cut) if isinstance(cut, float) else cut
            cases.append(Case("truncated", f"{suffix}[:{size}]", data[:size], f"clip.{suffix}"))
    return cases


def _wav_header(
    *, tag: int = 1, channels: int = 1, rate: int = 16000, bits: int = 16, align: int | None = None
) -> bytes:
    block = align if align is not None else (channels * bits // 8) & 0xFFFF
    return struct.pack("<HHIIHH", tag, channels, rate, (rate * max(block, 1)) & 0xFFFFFFFF, block, bits)


def _wav(fmt: bytes, payload: bytes, data_size: int | None = None, riff_size: int | None = None) -> bytes:
    size = len(payload) if data_size is None else data_size
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + payload
    riff = 4 + len(chunks) if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", riff) + b"WAVE" + chunks


def _lying_headers() -> list[Case]:
    payload = (np.sin(np.arange(16000) / 5) * 8000).astype("<i2").tobytes()
    fmts = {
        "rate 0": _wav_header(rate=0),
        "rate 1": _wav_header(rate=1),
        "rate 7": _wav_header(rate=7),
        "rate 2^31-1": _wav_header(rate=2**31 - 1),
        "rate 2^32-1": _wav_header(rate=2**32 - 1),
        "channels 0": _wav_header(channels=0),
        "channels 255": _wav_header(channels=255),
        "channels 65535": _wav_header(channels=65535),
        "bits 0": _wav_header(bits=0),
        "bits 7": _wav_header(bits=7),
        "bits 64": _wav_header(bits=64),
        "block align 0": _wav_header(align=0),
        "block align 65535": _wav_header(align=65535),
        "tag 0": _wav_header(tag=0),
        "tag mp3 in wav": _wav_header(tag=0x55),
        "tag extensible, short": _wav_header(tag=0xFFFE),
        "tag 0xffff": _wav_header(tag=0xFFFF),
    }
    cases = [Case("lying_header", name, _wav(fmt, payload), "clip.wav") for name, fmt in fmts.items()]
    good = _wav_header()
    head = payload[:4000]
    cases += [
        Case("lying_header", "data size 4 GiB", _wav(good, payload, data_size=2**32 - 1), "clip.wav"),
        Case("lying_header", "data size 0", _wav(good, payload, data_size=0), "clip.wav"),
        Case("lying_header", "riff size 0", _wav(good, payload, riff_size=0), "clip.wav"),
        Case("lying_header", "fmt chunk 4 GiB", b"RIFF\0\0\0\0WAVEfmt \xff\xff\xff\xff" + head, "clip.wav"),
        Case("lying_header", "mp3 named .wav", b"ID3\x04\0\0\0\0\0\0" + payload[:4000], "clip.wav"),
        Case("lying_header", "flac magic, garbage", b"fLaC\0\0\0\x22" + payload[:4000], "clip.flac"),
        Case("lying_header", "ogg magic, garbage", b"OggS\0\x02" + bytes(22) + payload[:4000], "clip.ogg"),
        Case("lying_header", "ftyp, no moov", b"\0\0\0\x18ftypM4A \0\0\0\0M4A isom" + head, "a.m4a"),
        Case("lying_header", "ebml magic, garbage", b"\x1a\x45\xdf\xa3" + payload[:4000], "clip.webm"),
    ]
    return cases


def _bombs() -> list[Case]:
    eight_channels = _wav(_wav_header(channels=8, rate=1), bytes(20_000))
    return [
        Case("bomb", "20 KB at 1 Hz", low_rate_bomb(20_000), "clip.wav"),
        Case("bomb", "5 KB at 1 Hz", low_rate_bomb(5_000), "clip.wav"),
        Case("bomb", "20 KB at 1 Hz, 8 channels", eight_channels, "clip.wav"),
        Case("bomb", "20 KB at 2 Hz float", riff_wav(bytes(20_000), 2, float32=True), "clip.wav"),
        Case("bomb", "deflate bomb (zlib of 100 MB)", zlib.compress(bytes(100 * 2**20), 9), "clip.wav"),
    ]


def _non_finite() -> list[Case]:
    cases = [
        Case("nan_inf", name, float_wav_with(value), "clip.wav")
        for name, value in (("NaN", float("nan")), ("+Inf", float("inf")), ("-Inf", float("-inf")))
    ]
    all_nan = np.full(8000, np.nan, dtype="<f4").tobytes()
    huge = np.full(8000, 3e38, dtype="<f4").tobytes()
    denormal = np.full(8000, 1e-45, dtype="<f4").tobytes()
    for name, payload in (("all NaN", all_nan), ("3e38", huge), ("denormals", denormal)):
        cases.append(Case("nan_inf", name, riff_wav(payload, 16000, float32=True), "clip.wav"))
    return cases


def _foreign() -> list[Case]:
    rng = random.Random(16)
    png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde"
    items = {
        "png": (png + bytes(64), "image.png"),
        "jpeg": (b"\xff\xd8\xff\xe0\0\x10JFIF\0" + bytes(64), "image.jpg"),
        "gif": (b"GIF89a\x01\0\x01\0\0\0\0;", "image.gif"),
        "bmp": (b"BM" + bytes(60), "image.bmp"),
        "pdf": (b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "doc.pdf"),
        "zip": (b"PK\x03\x04" + bytes(60), "a.zip"),
        "gzip": (b"\x1f\x8b\x08\0" + bytes(60), "a.gz"),
        "elf": (b"\x7fELF\x02\x01\x01" + bytes(57), "a.out"),
        "html": (b"<!doctype html><html><body>hi</body></html>", "a.html"),
        "json": (b'{"audio": "no"}', "a.json"),
        "svg": (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "a.svg"),
        "text": (b"this is not audio\n" * 20, "a.txt"),
        "one byte": (b"\0", "clip.wav"),
        "zeros 64 KB": (bytes(65536), "clip.wav"),
        "0xff 64 KB": (b"\xff" * 65536, "clip.mp3"),
        "mpeg sync storm": (b"\xff\xfb\x90\x00" * 4096, "clip.mp3"),
        "ivf (vp8 video)": (b"DKIF\0\0\x20\0VP80" + bytes(52), "a.ivf"),
        "yuv4mpeg": (b"YUV4MPEG2 W2 H2 F25:1\nFRAME\n" + bytes(6), "a.y4m"),
    }
    cases = [Case("foreign", name, data, filename) for name, (data, filename) in items.items()]
    for index, size in enumerate((16, 257, 4096, 65536, 300_000, 1024, 33, 9000)):
        data = rng.randbytes(size)
        cases.append(Case("foreign", f"random {size} B #{index}", data, "clip.wav"))
    return cases


def _reaching(hls_port: int) -> list[Case]:
    """Inputs that make FFmpeg's demuxers open sockets or files (none may be opened)."""
    url = f"http://127.0.0.1:{hls_port}/segment.ts"
    return [
        Case("network_or_file", "sdp", sdp(), "stream.sdp"),
        Case("network_or_file", "sdp named .wav", sdp(45998), "clip.wav"),
        Case("network_or_file", "hls to a listener", hls_playlist(url), "list.m3u8"),
        Case("network_or_file", "hls, file url", hls_playlist("file:///etc/passwd"), "list.m3u8"),
        Case("network_or_file", "hls named .mp3", hls_playlist(url), "clip.mp3"),
        Case("network_or_file", "ffconcat /etc/passwd", ffconcat("/etc/passwd"), "list.ffconcat"),
        Case("network_or_file", "ffconcat http", ffconcat(url), "list.txt"),
        Case("network_or_file", "dash mpd", _dash(url), "a.mpd"),
        Case("network_or_file", "rtsp url text", b"rtsp://127.0.0.1:45997/a\n", "a.sdp"),
        Case("network_or_file", "m3u plain", f"#EXTM3U\n{url}\n".encode(), "a.m3u"),
        Case("network_or_file", "image2 pattern text", b"/tmp/%d.png\n", "%d.png"),
        Case("network_or_file", "subviewer/srt", b"1\n00:00:00,000 --> 00:00:01,000\nhi\n", "a.srt"),
    ]


def _dash(url: str) -> bytes:
    return (
        '<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
        'mediaPresentationDuration="PT1S"><Period><AdaptationSet mimeType="audio/mp4"><Representation '
        f'id="a" bandwidth="1"><BaseURL>{url}</BaseURL></Representation></AdaptationSet></Period></MPD>'
    ).encode()


HOSTILE_NAMES = (
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "a" * 10_000 + ".wav",
    "clip\r\nX-Injected: 1.wav",
    'clip";.wav',
    "\u202egnp.wav",
    "CON",
    "",
    "clip.sdp",
    "clip.m3u8",
    "🎙️.wav",
    "%00.wav",
)


def _hostile_names(wav: bytes) -> list[Case]:
    return [Case("hostile_name", repr(name[:40]), wav, name) for name in HOSTILE_NAMES]


def _bit_flips(seed: dict[str, bytes]) -> list[Case]:
    rng = random.Random(7)
    cases = []
    for suffix in ("wav", "mp3", "flac", "ogg", "m4a"):
        data = seed[suffix]
        for index in range(6):
            corrupted = bytearray(data)
            for _ in range(8):
                position = rng.randrange(min(len(data), 2048))  # mostly the header and first frames
                corrupted[position] = rng.randrange(256)
            cases.append(Case("corrupted", f"{suffix} flips #{index}", bytes(corrupted), f"clip.{suffix}"))
    return cases


def build(workdir: Path, hls_port: int) -> list[Case]:
    seed = seeds(workdir)
    return [
        *_truncations(seed),
        *_lying_headers(),
        *_bombs(),
        *_non_finite(),
        *_foreign(),
        *_reaching(hls_port),
        *_hostile_names(seed["wav"]),
        *_bit_flips(seed),
    ]
