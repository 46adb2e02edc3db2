"""Bazarr's calls, made exactly as its Whisper provider makes them (``requests``, ``encode=false``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from tests.router.conftest import Running

SRT_CUE = re.compile(r"(\d+)\n(\d{2}):(\d{2}):(\d{2}),(\d{3}) --> (\d{2}):(\d{2}):(\d{2}),(\d{3})\n")


def _asr(url: str, pcm: bytes, **params: str) -> requests.Response:
    return requests.post(
        f"{url}/asr",
        params={"task": "transcribe", "language": "en", "output": "srt", "encode": "false", **params},
        files={"audio_file": ("audio_file", pcm)},
        timeout=(5, None),
    )


@pytest.mark.parametrize("prefix", ["", "/v1/bazarr"])
def test_asr_srt_as_bazarr_sends_it(asr_router: Running, short_pcm: bytes, prefix: str) -> None:
    response = _asr(asr_router.url + prefix, short_pcm, video_file="/media/film.mkv", vad_filter="false")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-disposition"] == 'attachment; filename="audio_file.srt"'
    cues = SRT_CUE.findall(response.text)
    assert cues and [int(cue[0]) for cue in cues] == list(range(1, len(cues) + 1))
    assert response.text.endswith("\n\n")


@pytest.mark.parametrize("output", ["txt", "vtt", "tsv", "json", "jsonl"])
def test_every_output(asr_router: Running, short_pcm: bytes, output: str) -> None:
    response = _asr(asr_router.url, short_pcm, output=output, task="translate")
    assert response.status_code == 200
    body = response.text
    if output == "vtt":
        assert body.startswith("WEBVTT\n\n") and re.search(r"^\d{2}:\d{2}\.\d{3} --> ", body, re.MULTILINE)
    elif output == "tsv":
        assert body.startswith("start\tend\ttext\n")
        assert all(len(line.split("\t")) == 3 for line in body.splitlines())
    elif output == "json":
        parsed = json.loads(body)
        assert set(parsed) == {"text", "segments", "language"}
    elif output == "jsonl":
        assert all("start" in json.loads(line) for line in body.splitlines())
    else:
        assert "-->" not in body


def test_encoded_upload(asr_router: Running, short_wav: Path) -> None:
    with short_wav.open("rb") as audio:
        response = requests.post(f"{asr_router.url}/asr", params={"output": "txt"},
                                 files={"audio_file": ("clip.wav", audio)}, timeout=(5, None))  # fmt: skip
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="clip.wav.txt"'


def test_detect_language(asr_router: Running, short_pcm: bytes) -> None:
    response = requests.post(
        f"{asr_router.url}/detect-language",
        params={
            "encode": "false",
            "detect_lang_length": "30",
            "detect_lang_offset": "0",
            "video_file": "/x.mkv",
        },
        files={"audio_file": ("audio_file", short_pcm)},
        timeout=(5, None),
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"detected_language", "language_code", "confidence"}
    assert body["detected_language"].islower() and 0.0 <= body["confidence"] <= 1.0


def test_status(asr_router: Running) -> None:
    assert "version" in requests.get(f"{asr_router.url}/status", timeout=5).json()


def test_errors_never_look_like_subtitles(asr_router: Running, short_pcm: bytes) -> None:
    for response in (
        _asr(asr_router.url, short_pcm, language="klingon"),
        _asr(asr_router.url, short_pcm, output="docx"),
        _asr(asr_router.url, short_pcm[:-1]),  # odd byte count is not s16le
        requests.post(
            f"{asr_router.url}/asr", params={"encode": "false"}, files={"other": ("x", b"1")}, timeout=5
        ),
    ):
        assert response.status_code == 400, response.text
        assert response.json()["error"]["message"]
        assert SRT_CUE.search(response.text) is None and not response.text.startswith("WEBVTT")


def test_upload_name_is_sanitised_in_content_disposition(asr_router: Running, short_pcm: bytes) -> None:
    """The upload's file name went into the header as is: quotes, path, non-ASCII, any length."""
    name = '../../etc/x\\"y;z Amélie 字幕' + "n" * 300 + ".wav"
    boundary = "vsboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="audio_file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + short_pcm
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = requests.post(
        f"{asr_router.url}/asr",
        params={"language": "en", "output": "srt", "encode": "false"},
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=(5, None),
    )
    assert response.status_code == 200, response.text
    header = response.raw.headers["content-disposition"]  # as sent (requests decodes latin-1)
    assert header.isascii() and len(header) < 400
    match = re.fullmatch(r'attachment; filename="([^"]*)"; filename\*=UTF-8\'\'(\S+)', header)
    assert match, header
    fallback, encoded = match.groups()
    assert not re.search(r'[/\\;"]|\.\.', fallback) and fallback.endswith(".srt")
    assert "y" in fallback and "Amelie" in fallback
    full = requests.utils.unquote(encoded)
    assert full.startswith("xyz Amélie 字幕") and full.endswith("n.srt") and "/" not in full
