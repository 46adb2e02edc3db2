"""OpenAI transcriptions and translations through the router to the real ASR predictor, with the SDK."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.router.conftest import API_KEY, Running

SRT_CUE = re.compile(r"^\d+\n\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}\n", re.MULTILINE)


def test_json_and_text(asr_client: openai.OpenAI, short_wav: Path) -> None:
    with short_wav.open("rb") as audio:
        result = asr_client.audio.transcriptions.create(model="whisper-1", file=audio, temperature=0)
    assert isinstance(result.text, str)
    with short_wav.open("rb") as audio:
        text = asr_client.audio.transcriptions.create(
            model="whisper-1", file=audio, response_format="text", temperature=0
        )
    assert isinstance(text, str) and text.endswith("\n")


def test_verbose_json_with_words_and_segments(asr_client: openai.OpenAI, short_wav: Path) -> None:
    with short_wav.open("rb") as audio:
        result = asr_client.audio.transcriptions.create(
            model="whisper-1", file=audio, response_format="verbose_json", language="en", temperature=0,
            timestamp_granularities=["word", "segment"],
        )  # fmt: skip
    assert result.language == "english"  # the full name, like OpenAI
    assert result.duration == pytest.approx(2.5, abs=0.05)
    assert result.segments and all(segment.end >= segment.start for segment in result.segments)
    assert result.words is not None and all(word.end >= word.start for word in result.words)
    assert getattr(result, "task", None) == "transcribe"  # verbose_json's task (an extra to the SDK's model)


def test_verbose_route_and_srt_vtt(asr_client: openai.OpenAI, asr_router: Running, short_wav: Path) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    for response_format, check in (
        ("srt", lambda body: SRT_CUE.match(body) is not None),
        ("vtt", lambda body: body.startswith("WEBVTT\n\n") and " --> " in body),
    ):
        with short_wav.open("rb") as audio:
            body = asr_client.audio.transcriptions.create(
                model="whisper-1", file=audio, response_format=response_format, temperature=0
            )
        assert check(body), body
    with short_wav.open("rb") as audio:
        verbose = httpx.post(
            f"{asr_router.url}/v1/audio/transcriptions/verbose",
            files={"file": ("a.wav", audio)},
            data={"model": "whisper-1", "temperature": "0"},
            headers=headers,
            timeout=120,
        )
    assert verbose.status_code == 200 and verbose.json()["task"] == "transcribe"


def test_translation(asr_client: openai.OpenAI, short_wav: Path) -> None:
    with short_wav.open("rb") as audio:
        result = asr_client.audio.translations.create(
            model="whisper-1", file=audio, response_format="verbose_json", temperature=0
        )
    assert getattr(result, "task", None) == "translate"
    assert isinstance(result.text, str)


def test_streaming_transcription_sse(asr_client: openai.OpenAI, short_wav: Path) -> None:
    with short_wav.open("rb") as audio:
        stream = asr_client.audio.transcriptions.create(
            model="whisper-1", file=audio, stream=True, temperature=0
        )
        events = list(stream)
    assert events and events[-1].type == "transcript.text.done"
    deltas = "".join(event.delta for event in events if event.type == "transcript.text.delta")
    assert deltas.strip() == events[-1].text


def test_errors_are_openai_shaped(asr_client: openai.OpenAI, asr_router: Running, short_wav: Path) -> None:
    with short_wav.open("rb") as audio, pytest.raises(openai.NotFoundError) as unknown_model:
        asr_client.audio.transcriptions.create(model="whisper-9", file=audio)
    assert unknown_model.value.code == "model_not_found"
    with short_wav.open("rb") as audio, pytest.raises(openai.BadRequestError) as bad_format:
        asr_client.audio.transcriptions.create(model="whisper-1", file=audio, response_format="docx")  # type: ignore[arg-type]
    assert bad_format.value.param == "response_format"
    with short_wav.open("rb") as audio, pytest.raises(openai.BadRequestError):
        asr_client.audio.transcriptions.create(model="whisper-1", file=audio, temperature=3)
    with pytest.raises(openai.BadRequestError) as not_audio:
        asr_client.audio.transcriptions.create(model="whisper-1", file=("notes.wav", b"this is not audio"))
    assert "error" in not_audio.value.body or not_audio.value.message
    bad_key = openai.OpenAI(base_url=f"{asr_router.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as auth:
        bad_key.models.list()
    assert auth.value.body["type"] == "authentication_error"  # type: ignore[index]
    missing = httpx.post(f"{asr_router.url}/v1/audio/transcriptions", data={"model": "whisper-1"},
                         headers={"Authorization": f"Bearer {API_KEY}"})  # fmt: skip
    assert missing.status_code == 415 and set(missing.json()["error"]) == {"message", "type", "param", "code"}


def test_upload_limit_is_enforced_while_reading(asr_client: openai.OpenAI) -> None:
    too_big = b"\0" * (25 * 1024 * 1024 + 1)
    with pytest.raises(openai.APIStatusError) as error:
        asr_client.audio.transcriptions.create(model="whisper-1", file=("big.wav", too_big))
    assert error.value.status_code == 413
    assert error.value.body["code"] == "request_too_large"  # type: ignore[index]


def test_models_and_aliases(asr_client: openai.OpenAI) -> None:
    ids = {model.id for model in asr_client.models.list()}
    assert {"whisper", "whisper-1"} <= ids
    assert asr_client.models.retrieve("whisper-1").id == "whisper-1"
    with pytest.raises(openai.NotFoundError):
        asr_client.models.retrieve("tts-1")  # no TTS predictor behind this router


def test_request_id_travels(asr_router: Running, asr_predictor: Running, short_wav: Path) -> None:
    with short_wav.open("rb") as audio:
        response = httpx.post(
            f"{asr_router.url}/v1/audio/transcriptions",
            files={"file": ("a.wav", audio)},
            data={"model": "whisper-1", "temperature": "0"},
            headers={"Authorization": f"Bearer {API_KEY}", "X-Request-ID": "trace-me-42"},
            timeout=120,
        )
    assert response.status_code == 200 and response.headers["x-request-id"] == "trace-me-42"
    # The access line is written once the response has gone out: give the log a moment to receive it.
    deadline = time.monotonic() + 10
    while '"request_id": "trace-me-42"' not in asr_router.server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert '"request_id": "trace-me-42"' in asr_router.server.log()
    assert "trace-me-42" in asr_predictor.server.log()  # carried to the predictor, which logs it too


def test_no_cors_unless_origins_are_configured(asr_router: Running) -> None:
    preflight = {"Origin": "http://app.example", "Access-Control-Request-Method": "POST"}
    for response in (
        httpx.options(f"{asr_router.url}/v1/audio/transcriptions", headers=preflight),
        httpx.get(f"{asr_router.url}/healthz", headers={"Origin": "http://app.example"}),
    ):
        assert not any(name.startswith("access-control-") for name in response.headers), response.headers


def test_health_and_metrics(asr_router: Running, asr_predictor: Running) -> None:
    """With API keys set, probes still get liveness/readiness, but details and metrics need the key."""
    auth = {"Authorization": f"Bearer {API_KEY}"}
    for path in ("/health", "/healthz", "/healthcheck"):
        assert httpx.get(asr_router.url + path).status_code == 200
    open_health = httpx.get(asr_router.url + "/health")
    assert open_health.json() == {"status": "ok"}
    assert asr_predictor.url not in open_health.text  # the predictors' URLs are for key holders only
    assert httpx.get(asr_router.url + "/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
    health = httpx.get(asr_router.url + "/health", headers=auth).json()
    assert health["backends"]["asr"]["replicas"][0]["ready"] is True
    for path in ("/metrics", "/openapi.json", "/docs", "/redoc"):
        refused = httpx.get(asr_router.url + path)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
        assert httpx.get(asr_router.url + path, headers=auth).status_code == 200
    metrics = httpx.get(asr_router.url + "/metrics", headers=auth).text
    assert (
        "voicestack_router_requests_total" in metrics
        and "voicestack_router_backend_requests_total" in metrics
    )
