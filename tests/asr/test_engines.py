"""The openai-whisper engine answers with the same shapes as faster-whisper (configured by env only)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.asr.client import AsrClient
from tests.asr.shapes import assert_detection, assert_transcription

SHORT = 1.87  # LJ001-0002.wav


def test_env_configures_engine_and_model_name(ow_server: AsrClient) -> None:
    assert ow_server.model == "whisper-pt"
    assert ow_server.ready().status_code == 200


def test_transcribe_with_words(ow_server: AsrClient, short_wav: Path) -> None:
    response = ow_server.raw(short_wav, "audio/wav", word_timestamps=True, temperature=0, language="en")
    assert response.status_code == 200, response.text
    result = response.json()
    assert_transcription(result, "transcribe", SHORT, words=True)
    assert result["segments"]


def test_translate_and_detect(ow_server: AsrClient, jfk_flac: Path) -> None:
    translated = ow_server.v2(jfk_flac, task="translate", temperature=0)
    assert translated.status_code == 200, translated.text
    assert_transcription(json.loads(translated.json()["outputs"][0]["data"][0]), "translate", 11.0)
    detected = ow_server.v1_json(jfk_flac, task="detect_language")
    assert detected.status_code == 200, detected.text
    assert_detection(detected.json()["predictions"][0], 11.0)


def test_vad_and_stream(ow_server: AsrClient, jfk_flac: Path) -> None:
    url = f"{ow_server.base}/v1/models/whisper-pt:predict"
    options = {"stream": True, "vad_filter": True, "temperature": 0, "language": "en"}
    headers = {"Content-Type": "audio/flac", "X-VoiceStack-Options": json.dumps(options)}
    with httpx.stream("POST", url, content=jfk_flac.read_bytes(), headers=headers, timeout=60) as response:
        assert response.status_code == 200
        events = [json.loads(line) for line in response.iter_lines() if line.strip()]
    assert events[-1]["type"] == "done"
    assert_transcription(events[-1]["result"], "transcribe", 11.0)
    assert [e["segment"] for e in events[:-1]] == events[-1]["result"]["segments"]


def test_logprobs_are_refused_with_keywords_and_vad_settings_used(
    ow_server: AsrClient, jfk_flac: Path
) -> None:
    """openai-whisper keeps no token probabilities: a 400 naming the engine, before any work. Keywords
    (joined to the prompt) and Silero VAD settings work as on faster-whisper."""
    refused = ow_server.raw(jfk_flac, logprobs=True, language="en")
    assert refused.status_code == 400
    assert "the whisper engine cannot give token log probabilities" in refused.json()["error"]
    options = {"keywords": ["Kennedy"], "vad_parameters": {"threshold": 0.6, "speech_pad_ms": 100}}
    answered = ow_server.raw(jfk_flac, language="en", temperature=0, **options)
    assert answered.status_code == 200, answered.text
    assert_transcription(answered.json(), "transcribe", 11.0)
