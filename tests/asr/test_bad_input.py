"""Bad requests get a 400 with a message that says what is wrong, and the server keeps answering."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.asr.client import AsrClient


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("truncated", "truncated"),
        ("truncated-wav", "truncated"),
        ("not-audio", "not a readable audio or video file"),
        ("video-only", "no audio track"),
    ],
)
def test_bad_media(fw_server: AsrClient, media: dict[str, Path], key: str, message: str) -> None:
    for response in (fw_server.raw(media[key], "video/mp4"), fw_server.v2(media[key])):
        assert response.status_code == 400, response.text
        assert message in response.json()["error"]
    assert fw_server.raw(media["m4a"], "audio/mp4", language="en", temperature=0).status_code == 200


def test_empty_bodies(fw_server: AsrClient) -> None:
    for content_type in ("audio/wav", "audio/pcm"):
        response = fw_server.raw(b"", content_type)
        assert response.status_code == 400
        assert "empty" in response.json()["error"]
    odd_pcm = fw_server.raw(b"\x00\x01\x02", "audio/pcm")
    assert odd_pcm.status_code == 400 and "multiple of 2 bytes" in odd_pcm.json()["error"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"temperature": 1.5}, "temperature must be between 0 and 1"),
        ({"beam_size": 0}, "beam_size must be an integer between 1 and 10"),
        ({"beam_size": 11}, "beam_size must be an integer between 1 and 10"),
        ({"task": "summarise"}, "task must be one of"),
        ({"language": "klingon"}, "is not one Whisper knows"),
        ({"word_timestamps": "maybe"}, "word_timestamps must be true or false"),
        ({"detect_lang_length": 0}, "detect_lang_length must be more than 0"),
        ({"detect_lang_length": 601}, "detect_lang_length must be between 0 and 600"),
        ({"detect_lang_offset": -1}, "detect_lang_offset must be at least 0"),
        ({"temprature": 0}, "unknown option(s) temprature"),
        ({"keywords": "ComfyUI"}, "keywords must be a list of strings"),
        ({"keywords": ["x" * 201]}, "a keyword is too long"),
        ({"language_candidates": ["en", "klingon"]}, "is not one Whisper knows"),
        ({"language_candidates": ["auto"]}, "'auto' is not one"),
        ({"logprobs": "maybe"}, "logprobs must be true or false"),
        ({"vad_parameters": {"threshold": 2}}, "vad_parameters.threshold must be between 0 and 1"),
        ({"vad_parameters": {"pad": 1}}, "unknown vad_parameters pad"),
        ({"vad_parameters": {"threshold": 0.5}, "vad_filter": False}, "vad_parameters need the VAD"),
    ],
)
def test_option_ranges_are_checked_first(fw_server: AsrClient, options: dict, message: str) -> None:
    # The body is not audio at all: the options must be refused before anything is decoded.
    response = fw_server.raw(b"not audio", "audio/wav", **options)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_malformed_requests(fw_server: AsrClient, jfk_flac: Path) -> None:
    url = f"{fw_server.base}/v1/models/whisper:predict"
    bad_header = httpx.post(
        url, content=b"x", headers={"Content-Type": "audio/wav", "X-VoiceStack-Options": "{oops"}, timeout=10
    )
    assert bad_header.status_code == 400 and "not valid JSON" in bad_header.json()["error"]
    bad_b64 = httpx.post(url, json={"instances": [{"audio": {"b64": "@@@"}}]}, timeout=10)
    assert bad_b64.status_code == 400 and "not valid base64" in bad_b64.json()["error"]
    two = httpx.post(
        url, json={"instances": [{"audio": {"b64": "AA=="}}, {"audio": {"b64": "AA=="}}]}, timeout=10
    )
    assert two.status_code == 400 and "exactly one instance" in two.json()["error"]
    v2_stream = fw_server.v2(jfk_flac, stream=True)
    assert v2_stream.status_code == 400 and "V1" in v2_stream.json()["error"]
    assert fw_server.ready().status_code == 200
