"""Every documented way in and out of the ASR predictor, against a real faster-whisper server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.asr.client import AsrClient
from tests.asr.shapes import assert_detection, assert_transcription
from voicestack_predictors.common.audio import decode_audio


def test_ready_and_named_whisper_by_default(fw_server: AsrClient) -> None:
    assert fw_server.model == "whisper"
    assert fw_server.ready().status_code == 200
    assert httpx.get(f"{fw_server.base}/v2/models/whisper/ready", timeout=5).status_code == 200
    assert httpx.get(f"{fw_server.base}/v2/health/live", timeout=5).status_code == 200


def test_v1_raw_body_returns_the_result_object(fw_server: AsrClient, jfk_flac: Path) -> None:
    response = fw_server.raw(jfk_flac, "audio/flac", temperature=0)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert_transcription(response.json(), "transcribe", 11.0)


def test_v1_raw_pcm(fw_server: AsrClient, jfk_flac: Path) -> None:
    samples = decode_audio(jfk_flac).samples
    pcm = (samples * 32767).astype("<i2").tobytes()
    response = fw_server.raw(pcm, "audio/pcm", language="en", temperature=0)
    assert response.status_code == 200, response.text
    result = response.json()
    assert_transcription(result, "transcribe", 11.0)
    assert result["language"] == "en" and result["language_probability"] == 1.0


def test_v1_json_base64(fw_server: AsrClient, jfk_flac: Path) -> None:
    response = fw_server.v1_json(jfk_flac, temperature=0, word_timestamps=True)
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == 1
    assert_transcription(predictions[0], "transcribe", 11.0, words=True)


def test_v1_json_raw_pcm(fw_server: AsrClient) -> None:
    pcm = np.zeros(16000 * 2, dtype="<i2").tobytes()
    response = fw_server.v1_json(pcm, audio_format="pcm_s16le", language="en", temperature=0)
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0]["duration"] == 2.0


def test_v2_infer_base64_bytes(fw_server: AsrClient, jfk_flac: Path) -> None:
    response = fw_server.v2(jfk_flac, temperature=0, language="en")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == "whisper"
    [output] = body["outputs"]
    assert (output["name"], output["datatype"], output["shape"]) == ("result", "BYTES", [1])
    assert_transcription(json.loads(output["data"][0]), "transcribe", 11.0)


def test_streaming_ndjson(fw_server: AsrClient, jfk_flac: Path) -> None:
    url = f"{fw_server.base}/v1/models/whisper:predict"
    headers = {
        "Content-Type": "audio/flac",
        "X-VoiceStack-Options": json.dumps({"stream": True, "temperature": 0}),
    }
    with httpx.stream("POST", url, content=jfk_flac.read_bytes(), headers=headers, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        events = [json.loads(line) for line in response.iter_lines() if line.strip()]
    assert events[-1]["type"] == "done"
    segments = [event["segment"] for event in events[:-1]]
    assert all(event["type"] == "segment" for event in events[:-1])
    result = events[-1]["result"]
    assert_transcription(result, "transcribe", 11.0)
    assert segments == result["segments"]


def test_word_timestamps_lie_inside_their_segments(fw_server: AsrClient, jfk_flac: Path) -> None:
    response = fw_server.raw(jfk_flac, word_timestamps=True, temperature=0, language="en")
    assert response.status_code == 200, response.text
    result = response.json()
    assert_transcription(result, "transcribe", 11.0, words=True)
    assert any(segment["words"] for segment in result["segments"])


def test_translate_and_detect_language(fw_server: AsrClient, jfk_flac: Path) -> None:
    translated = fw_server.raw(jfk_flac, task="translate", temperature=0)
    assert translated.status_code == 200, translated.text
    assert_transcription(translated.json(), "translate", 11.0)
    detected = fw_server.raw(jfk_flac, task="detect_language")
    assert detected.status_code == 200, detected.text
    assert_detection(detected.json(), 11.0)


def test_language_detection_votes_over_the_requested_range(fw_server: AsrClient, long_flac: Path) -> None:
    """Different ranges of the 234 s clip give different (averaged) distributions."""
    first = fw_server.raw(long_flac, task="detect_language", detect_lang_length=30).json()
    later = fw_server.raw(
        long_flac, task="detect_language", detect_lang_offset=120, detect_lang_length=90
    ).json()
    assert_detection(first, 234.546)
    assert_detection(later, 234.546)
    assert first["language_probs"] != later["language_probs"]
    past_end = fw_server.raw(long_flac, task="detect_language", detect_lang_offset=300)
    assert past_end.status_code == 400
    assert "past the end" in past_end.json()["error"]


def test_vad_filter_and_initial_prompt(fw_server: AsrClient, jfk_flac: Path) -> None:
    response = fw_server.raw(jfk_flac, vad_filter=True, initial_prompt="President Kennedy.", beam_size=2)
    assert response.status_code == 200, response.text
    assert_transcription(response.json(), "transcribe", 11.0)


@pytest.mark.parametrize(
    ("key", "content_type"),
    [
        ("m4a", "audio/mp4"),
        ("ogg-opus", "audio/ogg"),
        ("webm", "audio/webm"),
        ("mkv-video", "video/x-matroska"),
        ("mp4-video", "video/mp4"),
    ],
)
def test_containers_through_the_server(
    fw_server: AsrClient, media: dict[str, Path], key: str, content_type: str
) -> None:
    response = fw_server.raw(media[key], content_type, language="en", temperature=0)
    assert response.status_code == 200, response.text
    assert response.json()["duration"] == pytest.approx(11.0, abs=0.05)


def test_resampled_8k_clip(fw_server: AsrClient) -> None:
    from tests.support.assets import asset

    response = fw_server.raw(
        asset("audio/en/OSR_us_000_0034_8k.wav"), "audio/wav", language="en", temperature=0
    )
    assert response.status_code == 200, response.text
    assert response.json()["duration"] == pytest.approx(35.6, abs=0.055)


def test_the_callers_request_id_is_logged(fw_server: AsrClient, short_wav: Path) -> None:
    url = f"{fw_server.base}/v1/models/whisper:predict"
    headers = {
        "Content-Type": "audio/wav",
        "X-Request-ID": "req-4711",
        "X-VoiceStack-Options": '{"language": "en"}',
    }
    assert httpx.post(url, content=short_wav.read_bytes(), headers=headers, timeout=60).status_code == 200
    assert fw_server.server is not None
    assert "request req-4711" in fw_server.server.log()
