"""The options behind OpenAI's newer transcription fields, on faster-whisper: token log probabilities,
language candidates, keywords and VAD settings."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.asr.client import AsrClient
from tests.asr.shapes import assert_transcription


def test_logprobs_spell_the_text(fw_server: AsrClient, jfk_flac: Path) -> None:
    """One entry per text token, in order: their bytes joined are the transcript."""
    response = fw_server.raw(jfk_flac, logprobs=True, language="en", temperature=0)
    assert response.status_code == 200, response.text
    result = response.json()
    assert_transcription(result, "transcribe", 11.0)
    logprobs = result["logprobs"]
    assert logprobs and all(entry["logprob"] <= 0.0 for entry in logprobs)
    assert all(bytes(entry["bytes"]).decode("utf-8", "replace") == entry["token"] for entry in logprobs)
    spelled = b"".join(bytes(entry["bytes"]) for entry in logprobs).decode("utf-8", "replace")
    assert spelled.strip() == result["text"]
    assert logprobs == [entry for segment in result["segments"] for entry in segment["logprobs"]]
    assert "logprobs" not in fw_server.raw(jfk_flac, language="en", temperature=0).json()


def test_streamed_segments_carry_their_logprobs(fw_server: AsrClient, jfk_flac: Path) -> None:
    url = f"{fw_server.base}/v1/models/{fw_server.model}:predict"
    headers = {
        "Content-Type": "audio/flac",
        "X-VoiceStack-Options": json.dumps(
            {"stream": True, "logprobs": True, "language": "en", "temperature": 0}
        ),
    }
    with httpx.stream("POST", url, content=jfk_flac.read_bytes(), headers=headers, timeout=120) as response:
        assert response.status_code == 200
        events = [json.loads(line) for line in response.iter_lines() if line.strip()]
    done = events[-1]["result"]
    assert [entry for event in events[:-1] for entry in event["segment"]["logprobs"]] == done["logprobs"]


def test_language_candidates_limit_detection(fw_server: AsrClient, jfk_flac: Path) -> None:
    """Whatever the model hears, only a candidate can win; one candidate is the language outright."""
    two = fw_server.raw(jfk_flac, language_candidates=["de", "fr"], temperature=0)
    assert two.status_code == 200, two.text
    assert two.json()["language"] in {"de", "fr"}
    one = fw_server.raw(jfk_flac, language_candidates=["ja"], temperature=0).json()
    assert (one["language"], one["language_probability"]) == ("ja", 1.0)


def test_keywords_and_vad_settings_are_accepted(fw_server: AsrClient, jfk_flac: Path) -> None:
    options = {
        "keywords": ["Kennedy", "Americans"],
        "vad_parameters": {"threshold": 0.6, "speech_pad_ms": 100},
    }
    response = fw_server.raw(jfk_flac, language="en", temperature=0, **options)
    assert response.status_code == 200, response.text
    assert_transcription(response.json(), "transcribe", 11.0)
