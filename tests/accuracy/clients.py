"""The two kinds of caller: the official OpenAI SDK, and Bazarr's Whisper provider (``requests``, its exact
request shapes, its ffmpeg command for the audio)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import av
import ffmpeg
import openai
import pytest
import requests

API_KEY = "accuracy-key"
BAZARR_TIMEOUT = (5, 900)  # Bazarr's (response, transcription) timeouts


def transcribe(client: openai.OpenAI, path: Path, **options: Any) -> Any:
    """``POST /v1/audio/transcriptions`` for a file (model ``whisper-1``)."""
    with path.open("rb") as audio:
        return client.audio.transcriptions.create(model="whisper-1", file=audio, **options)


def translate(client: openai.OpenAI, path: Path, **options: Any) -> Any:
    with path.open("rb") as audio:
        return client.audio.translations.create(model="whisper-1", file=audio, **options)


def bazarr_pcm(path: Path) -> bytes:
    """The audio of a media file as Bazarr's provider extracts it before sending it with ``encode=false``:
    the ``ffmpeg`` binary through ffmpeg-python, s16le 16 kHz mono, ``aresample=async=1``."""
    binary = shutil.which("ffmpeg")
    if binary is None:
        pytest.fail("the ffmpeg binary is needed to extract audio the way Bazarr does", pytrace=False)
    out, _ = (
        ffmpeg.input(str(path), threads=0)
        .output("-", format="s16le", acodec="pcm_s16le", ac=1, ar=16000, af="aresample=async=1")
        .run(cmd=[binary, "-nostdin"], capture_stdout=True, capture_stderr=True)
    )
    return bytes(out)


def _bazarr_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "Subliminal/2.1.0"
    return session


def bazarr_asr(url: str, audio: bytes, *, encode: bool = False, **params: str) -> requests.Response:
    """``POST /asr`` as Bazarr sends it: a bare ``audio_file`` part (raw PCM unless ``encode``)."""
    query = {"task": "transcribe", "output": "srt", "encode": "true" if encode else "false", **params}
    with _bazarr_session() as session:
        return session.post(f"{url}/asr", params=query, files={"audio_file": audio}, timeout=BAZARR_TIMEOUT)


def bazarr_detect_language(url: str, audio: bytes, *, encode: bool = False, **params: str) -> dict[str, Any]:
    """``POST /detect-language`` as Bazarr sends it; the JSON answer (the status must be 200)."""
    query = {"encode": "true" if encode else "false", **params}
    with _bazarr_session() as session:
        response = session.post(
            f"{url}/detect-language", params=query, files={"audio_file": audio}, timeout=BAZARR_TIMEOUT
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def video_with_audio(audio_path: Path, out: Path) -> Path:
    """A video file (container from ``out``'s suffix: .mp4, .mkv) with a small moving picture and
    ``audio_path``'s sound as AAC, written with PyAV."""
    with av.open(str(audio_path)) as source, av.open(str(out), "w") as target:
        duration = float(source.duration or 0) / av.time_base
        video = target.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = target.add_stream("aac", rate=16000)
        audio.layout = "mono"
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=16000)
        for frame in source.decode(audio=0):
            for resampled in resampler.resample(frame):
                target.mux(audio.encode(resampled))
        for resampled in resampler.resample(None):
            target.mux(audio.encode(resampled))
        target.mux(audio.encode(None))
        for index in range(int(duration * 10)):
            picture = av.VideoFrame(64, 48, "yuv420p")
            for plane_index, plane in enumerate(picture.planes):
                plane.update(bytes([(index * 7 + plane_index * 50) % 256]) * plane.buffer_size)
            target.mux(video.encode(picture))
        target.mux(video.encode(None))
    return out
