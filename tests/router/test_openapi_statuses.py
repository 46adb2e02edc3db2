"""The OpenAPI description lists the statuses the real router answers (it listed 200 and a never-sent 422)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.router.conftest import API_KEY, Running

AUTH = {"Authorization": f"Bearer {API_KEY}"}
WAV = ("a.wav", b"RIFF....WAVEfmt ", "audio/wav")


@pytest.fixture(scope="module")
def schema(router: Running) -> dict[str, Any]:
    response = httpx.get(f"{router.url}/openapi.json", headers=AUTH, timeout=30)
    assert response.status_code == 200
    return response.json()


def _observe(router: Running, short_wav: Path) -> list[tuple[str, str, int]]:
    """(method, documented path, status) for requests a client can make, good and bad."""
    url = router.url
    speech = {"model": "tts-1", "voice": "alloy", "input": "Hello there.", "response_format": "pcm"}
    audio = ("jfk.wav", short_wav.read_bytes(), "audio/wav")
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("post", "/v1/audio/speech", {"json": speech}),
        ("post", "/v1/audio/speech", {"json": {**speech, "input": ""}}),
        ("post", "/v1/audio/speech", {"json": {**speech, "model": "tts-9"}}),
        ("post", "/v1/audio/speech", {"json": speech, "headers": {}}),
        ("post", "/v1/audio/speech", {"data": {"model": "tts-1"}}),
        ("post", "/v1/audio/speech", {"content": b'{"input": "' + b"a" * (2 << 20) + b'"}',
                                      "headers": {**AUTH, "Content-Type": "application/json"}}),
        ("post", "/v1/audio/transcriptions", {"data": {"model": "whisper-1"}, "files": {"file": audio}}),
        ("post", "/v1/audio/transcriptions", {"data": {"model": "whisper-1"}}),
        ("post", "/v1/audio/transcriptions", {"data": {"model": "nope"}, "files": {"file": audio}}),
        ("post", "/v1/audio/transcriptions", {"json": {"model": "whisper-1"}}),
        ("post", "/v1/audio/translations", {"data": {"model": "whisper-1"}, "files": {"file": WAV}}),
        ("get", "/v1/audio/voices", {}),
        ("get", "/v1/audio/voices", {"params": {"model": "nope"}}),
        ("post", "/v1/audio/voices", {"data": {"name": "alloy"}, "files": {"audio_sample": audio}}),
        ("post", "/v1/audio/voices", {"data": {"name": "x"}}),
        ("delete", "/v1/audio/voices/{voice_id}", {"path": "/v1/audio/voices/nobody"}),
        ("delete", "/v1/audio/voices/{voice_id}", {"path": "/v1/audio/voices/bad name!"}),
        ("get", "/v1/models", {}),
        ("get", "/v1/models", {"headers": {"Authorization": "Bearer wrong"}}),
        ("get", "/v1/models/{model_id}", {"path": "/v1/models/whisper-1"}),
        ("get", "/v1/models/{model_id}", {"path": "/v1/models/nope"}),
        ("post", "/asr", {"params": {"encode": "false"}, "files": {"audio_file": ("a", b"\0\0" * 8000)}}),
        ("post", "/asr", {"params": {"language": "klingon"}, "files": {"audio_file": audio}}),
        ("post", "/detect-language", {"files": {"audio_file": WAV}}),
        ("get", "/status", {}),
        ("get", "/healthz", {}),
        ("get", "/health", {}),
        ("get", "/health", {"headers": {"Authorization": "Bearer wrong"}}),
    ]  # fmt: skip
    observed = []
    for method, path, options in calls:
        options = {"headers": AUTH, "timeout": 120, **options}
        target = url + options.pop("path", path)
        status = httpx.request(method.upper(), target, **options).status_code
        observed.append((method, path, status))
    return observed


def test_every_observed_status_is_documented(
    router: Running, short_wav: Path, schema: dict[str, Any]
) -> None:
    observed = _observe(router, short_wav)
    statuses = {status for _, _, status in observed}
    assert {200, 400, 401, 404, 409, 413, 415} <= statuses, sorted(statuses)  # the requests do their job
    missing = [
        (method, path, status)
        for method, path, status in observed
        if str(status) not in schema["paths"][path][method]["responses"]
    ]
    assert not missing, missing


def test_no_422_and_errors_use_the_error_schema(schema: dict[str, Any]) -> None:
    assert schema["components"]["schemas"]["Error"]["properties"]["error"]["required"] == [
        "message", "type", "param", "code",
    ]  # fmt: skip
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)
            assert "500" in responses, (method, path)
            if path.startswith("/v1/"):
                assert "401" in responses, (method, path)
                error = responses["400" if "400" in responses else "401"]["content"]["application/json"]
                assert error["schema"] == {"$ref": "#/components/schemas/Error"}
    assert set(schema["paths"]["/asr"]["post"]["responses"]["200"]["content"]) == {"text/plain"}
    assert "401" not in schema["paths"]["/asr"]["post"]["responses"]  # Bazarr's routes need no key
