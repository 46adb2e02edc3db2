"""Which media containers the stack reads from uploads, and opening them so FFmpeg opens nothing else.

FFmpeg's demuxers can do more than read the bytes they are given: SDP opens RTP/UDP sockets at the address
and port it names, HLS and DASH fetch the URLs in a playlist, ffconcat and image2 open other files. An
upload must never make a server reach the network or its own disk, so every upload (the predictors' decoder,
the router's voice-sample check) is opened by ``open_input``:

- from a Python file object, so no FFmpeg protocol opens the input itself (a path is opened by Python);
- with ``format_whitelist``: FFmpeg probes the format, then refuses any demuxer not in ``ACCEPTED_DEMUXERS``
  before it reads a header (a refused SDP opens no socket);
- with an empty ``protocol_whitelist``: anything an accepted demuxer might try to open besides the input
  (a QuickTime external reference, say) is refused too.

Imports PyAV: only the router and the predictors use this module, never the operator.
"""

from __future__ import annotations

from typing import BinaryIO

import av
import av.container

# FFmpeg demuxer names (``ffmpeg -demuxers``): audio files and the video containers that carry audio tracks.
ACCEPTED_DEMUXERS: tuple[str, ...] = (
    "wav",  # WAV, RF64, BW64
    "w64",  # Sony Wave64
    "flac",
    "mp3",
    "ogg",  # Ogg Vorbis, Opus, FLAC
    "mov",  # mov, mp4, m4a, 3gp (the demuxer's full name is "mov,mp4,m4a,3gp,3g2,mj2")
    "matroska",  # mkv, mka, webm ("matroska,webm")
    "aac",  # raw ADTS
    "aiff",
    "caf",
    "asf",  # wma, wmv
    "avi",
    "mpegts",
    "mpeg",  # MPEG program stream (.mpg, .mpeg, .vob)
    "flv",
    "amr",
    "ac3",
    "eac3",
    "wv",  # WavPack
)

ACCEPTED_FORMATS_TEXT = (
    "wav, flac, mp3, ogg/opus, m4a/mp4/mov/3gp, webm/mkv, aac, aiff, caf, wma, avi, ts, mpeg, flv, amr, ac3, "
    "wavpack"
)


class UnacceptedFormat(ValueError):
    """FFmpeg recognised the input as a format outside ``ACCEPTED_DEMUXERS`` (a playlist, SDP, an image…)."""


def open_input(file: BinaryIO) -> av.container.InputContainer:
    """Open ``file`` for reading with only the accepted demuxers and no protocols.

    Raises ``UnacceptedFormat`` for a format outside the list, and PyAV's own errors (``av.FFmpegError``)
    for input FFmpeg cannot read at all.
    """
    options = {"format_whitelist": ",".join(ACCEPTED_DEMUXERS), "protocol_whitelist": ""}
    try:
        return av.open(file, mode="r", container_options=options, metadata_errors="ignore")
    except av.ArgumentError as exc:
        # EINVAL from avformat_open_input: the probed format is not on the whitelist.
        raise UnacceptedFormat(
            f"the input is not a readable audio or video file: its format is not one this server accepts "
            f"({ACCEPTED_FORMATS_TEXT})"
        ) from exc
