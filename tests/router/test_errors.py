"""OpenAI-shaped validation errors, in process (no predictor is reached: validation comes first)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from voicestack_router.app import create_app
from voicestack_router.settings import RouterSettings

NOWHERE = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = create_app(RouterSettings(asr_urls=[NOWHERE], tts_urls=[NOWHERE], health_interval_seconds=60))
    with TestClient(app) as test_client:
        yield test_client


def test_invalid_json_is_a_400_without_a_bogus_param(client: TestClient) -> None:
    response = client.post(
        "/v1/audio/speech", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] is None and error["message"].startswith("The body is not valid JSON")


def test_param_is_the_request_field(client: TestClient) -> None:
    body = {"model": "tts-1", "input": "Hi.", "voice": {"name": "x"}}
    response = client.post("/v1/audio/speech", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "voice"
    speed = client.post("/v1/audio/speech", json={"model": "tts-1", "input": "Hi.", "voice": "a", "speed": 9})
    assert speed.json()["error"]["param"] == "speed"


def test_speech_body_must_be_json(client: TestClient) -> None:
    response = client.post("/v1/audio/speech", data={"model": "tts-1", "input": "Hi.", "voice": "alloy"})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_oversized_json_body_is_refused_before_parsing(client: TestClient) -> None:
    huge = b'{"model": "tts-1", "voice": "alloy", "input": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    response = client.post("/v1/audio/speech", content=huge, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_oversized_chunked_json_body_is_refused_while_reading(client: TestClient) -> None:
    def pieces() -> Iterator[bytes]:
        yield b'{"model": "tts-1", "voice": "alloy", "input": "'
        for _ in range(40):
            yield b"a" * 65536  # 2.5 MiB in all, with no Content-Length
        yield b'"}'

    response = client.post("/v1/audio/speech", content=pieces(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
