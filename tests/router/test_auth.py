"""Bearer keys, in process: every configured key is compared in constant time; Bazarr routes stay open."""

from __future__ import annotations

import hmac
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from voicestack_router import auth
from voicestack_router.app import create_app
from voicestack_router.settings import RouterSettings

NOWHERE = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    settings = RouterSettings(
        asr_urls=[NOWHERE],
        tts_urls=[NOWHERE],
        api_keys=["first-key", "second-key"],
        health_interval_seconds=60,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_any_configured_key_works(client: TestClient) -> None:
    for header in ("Bearer first-key", "Bearer second-key", "bearer second-key"):
        assert client.get("/v1/models", headers={"Authorization": header}).status_code == 200


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Basic first-key", "Bearer first-ke", "Bearer first-key2"]
)
def test_bad_or_missing_key_is_401(client: TestClient, header: str | None) -> None:
    response = client.get("/v1/models", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_every_key_compared_in_constant_time(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", recording)
    assert client.get("/v1/models", headers={"Authorization": "Bearer first-key"}).status_code == 200
    # all keys, even after the first matched, so the time does not tell which key (or how many) matched
    assert compared == [(b"first-key", b"first-key"), (b"first-key", b"second-key")]


def test_bazarr_and_health_need_no_key(client: TestClient) -> None:
    assert client.get("/status").status_code == 200
    assert client.get("/healthz").status_code == 200
    readiness = client.get("/health")  # the probe's answer: status only, no predictor URLs
    assert readiness.status_code == 503 and readiness.json() == {"status": "unavailable"}
    assert client.get("/metrics").status_code == 401
    detailed = client.get("/health", headers={"Authorization": "Bearer first-key"}).json()
    assert detailed["backends"]["asr"]["replicas"][0]["url"] == NOWHERE


@pytest.mark.parametrize(
    ("api_docs", "keys", "without_key"),
    [("key", ["k"], 401), ("key", [], 200), ("open", ["k"], 200), ("off", ["k"], 404), ("off", [], 404)],
)
def test_api_docs_setting(api_docs: str, keys: list[str], without_key: int) -> None:
    settings = RouterSettings(
        asr_urls=[NOWHERE], api_keys=keys, api_docs=api_docs, health_interval_seconds=60
    )
    with TestClient(create_app(settings)) as test_client:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert test_client.get(path).status_code == without_key, path
            if keys and without_key != 404:
                assert test_client.get(path, headers={"Authorization": "Bearer k"}).status_code == 200
