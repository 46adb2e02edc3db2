"""Multipart uploads through Starlette's parser: the limits and their OpenAI-shaped errors.

In process: the router app under ``TestClient`` (no predictor is reached: the form is refused first), and
``read_multipart`` on a real Starlette ``Request`` fed by an ASGI ``receive`` for what a client library will
not send (a body that never ends).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.types import Message

from voicestack_router.app import create_app
from voicestack_router.errors import ApiError
from voicestack_router.multipart_stream import (
    DRAIN_LIMIT_BYTES,
    FORM_OVERHEAD_BYTES,
    MAX_FIELD_BYTES,
    MAX_FIELDS,
    MAX_FILES,
    read_multipart,
)
from voicestack_router.settings import RouterSettings

NOWHERE = "http://127.0.0.1:9"
BOUNDARY = "voicestack-test-boundary"
CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    settings = RouterSettings(asr_urls=[NOWHERE], max_upload_mb=1, health_interval_seconds=60)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    error: dict[str, object] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def _transcribe(
    client: TestClient, data: dict[str, object], files: list[tuple[str, object]]
) -> httpx.Response:
    return client.post("/v1/audio/transcriptions", data={"model": "whisper-1", **data}, files=files)


def test_file_over_the_limit_is_413_naming_the_field(client: TestClient) -> None:
    response = _transcribe(client, {}, [("file", ("a.wav", b"\0" * (1024 * 1024 + 1), "audio/wav"))])
    error = _error(response, 413)
    assert error["code"] == "request_too_large" and error["param"] == "file"
    assert "limit is 1 MiB" in str(error["message"])


def test_declared_body_over_the_limit_is_413(client: TestClient) -> None:
    response = _transcribe(client, {}, [("file", ("a.wav", b"\0" * (3 * 1024 * 1024), "audio/wav"))])
    assert _error(response, 413)["code"] == "request_too_large"


def test_text_field_over_its_cap_is_413(client: TestClient) -> None:
    response = _transcribe(client, {"prompt": "a" * (MAX_FIELD_BYTES + 1)}, [("file", ("a.wav", b"RIFF"))])
    error = _error(response, 413)
    assert error["code"] == "request_too_large" and "form field is too large" in str(error["message"])


def test_too_many_fields_or_files_is_400(client: TestClient) -> None:
    many = client.post(
        "/v1/audio/transcriptions",
        data={f"f{index}": "x" for index in range(MAX_FIELDS + 1)},
        files=[("file", ("a.wav", b"RIFF"))],
    )
    error = _error(many, 400)
    assert error["code"] == "invalid_multipart" and "Too many fields" in str(error["message"])
    files = [(f"extra{index}", ("a.wav", b"RIFF")) for index in range(MAX_FILES + 1)]
    error = _error(_transcribe(client, {}, files), 400)
    assert error["code"] == "invalid_multipart" and "Too many files" in str(error["message"])


def test_broken_body_is_400_and_other_types_415(client: TestClient) -> None:
    broken = client.post(
        "/v1/audio/transcriptions",
        content=b"no multipart here",
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert _error(broken, 400)["code"] == "invalid_multipart"
    json_body = client.post("/v1/audio/transcriptions", json={"model": "whisper-1"})
    assert _error(json_body, 415)["code"] == "unsupported_media_type"


def _request(receive: object) -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())],
    }
    return Request(scope, receive)  # type: ignore[arg-type]


async def test_endless_body_is_refused_at_the_limit() -> None:
    """A chunked body that never ends: refused with 413 after the limit (plus the bounded drain)."""
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n').encode()
    pulled = 0

    async def receive() -> Message:
        nonlocal pulled
        body = head if pulled == 0 else b"\0" * CHUNK
        pulled += len(body)
        return {"type": "http.request", "body": body, "more_body": True}

    limit = 1024 * 1024
    with pytest.raises(ApiError) as refused:
        await read_multipart(_request(receive), max_file_bytes=limit)
    assert refused.value.status == 413 and refused.value.code == "request_too_large"
    assert pulled <= limit + FORM_OVERHEAD_BYTES + DRAIN_LIMIT_BYTES + 2 * CHUNK


async def test_repeated_file_field_keeps_the_last_part() -> None:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n{data}\r\n'
        for name, data in (("first.wav", "one"), ("second.wav", "two"))
    ]
    language = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="language"\r\n\r\nde\r\n'
    body = ("".join(parts) + language + f"--{BOUNDARY}--\r\n").encode()
    sent = False

    async def receive() -> Message:
        nonlocal sent
        message = {"type": "http.request", "body": b"" if sent else body, "more_body": False}
        sent = True
        return message

    form = await read_multipart(_request(receive), max_file_bytes=1024)
    try:
        upload = form.files["file"]
        assert (upload.filename, upload.read_bytes(), upload.size) == ("second.wav", b"two", 3)
        assert b"".join([chunk async for chunk in upload.chunks()]) == b"two"  # re-read for a retry
        assert form.get("language") == "de"
    finally:
        form.close()
    assert upload.file.closed
