"""A model that cannot be loaded: every route answers 500 with the reason, and the server keeps serving."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.tts.client import TtsClient
from tests.tts.conftest import _server


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TtsClient]:
    model = tmp_path_factory.mktemp("broken-vits")
    (model / "config.json").write_text(json.dumps({"model": "vits"}))
    (model / "model.pth").write_bytes(b"this is not a checkpoint")
    args = ["--model", str(model), "--model_name", "vits", "--no-load_at_start", "--device", "cpu"]
    for client in _server(args):
        client.model = "vits"
        yield client


def test_load_failure_is_a_500_with_the_reason(broken: TtsClient) -> None:
    for _ in range(2):  # each request tries to load again, and fails the same clear way
        streamed = broken.stream({"text": "Hello."})
        assert streamed.status == 500, streamed.body[:300]
        assert "could not be loaded" in streamed.json()["error"]
        v1 = broken.v1([{"text": "Hello."}])
        assert v1.status_code == 500 and "could not be loaded" in v1.json()["error"]
        v2 = broken.v2(["Hello."])
        assert v2.status_code == 500 and "could not be loaded" in v2.json()["error"]
    assert broken.server.process.poll() is None
    assert httpx.get(broken.url("/v2/health/live"), timeout=5).status_code == 200
    ready = httpx.get(broken.url("/v2/models/vits/ready"), timeout=5)
    assert ready.status_code == 503 and ready.json()["error"]


def test_bad_input_is_still_a_400(broken: TtsClient) -> None:
    """Text checks come before loading: a bad request is the caller's fault even when the model is broken."""
    empty = broken.stream({"text": "   "})
    assert empty.status == 400 and "nothing to speak" in empty.json()["error"]
    speed = broken.stream({"text": "Hi.", "speed": 9})
    assert speed.status == 400 and '"speed" must be between' in speed.json()["error"]
