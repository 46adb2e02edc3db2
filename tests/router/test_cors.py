"""CORS, in process: explicit origins only, and a browser OpenAI SDK's preflight passes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from voicestack_router.app import create_app
from voicestack_router.settings import RouterSettings

NOWHERE = "http://127.0.0.1:9"
# What the OpenAI JS SDK (dangerouslyAllowBrowser) sends besides the key: its X-Stainless-* telemetry headers.
SDK_HEADERS = (
    "authorization, content-type, x-stainless-arch, x-stainless-lang, x-stainless-os, "
    "x-stainless-package-version, x-stainless-retry-count, x-stainless-runtime, "
    "x-stainless-runtime-version, x-stainless-timeout"
)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    settings = RouterSettings(
        asr_urls=[NOWHERE],
        tts_urls=[NOWHERE],
        cors_origins=["http://app.example"],
        health_interval_seconds=60,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _preflight(client: TestClient, origin: str) -> dict[str, str]:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": SDK_HEADERS,
    }
    return dict(client.options("/v1/audio/speech", headers=headers).headers)


def test_openai_browser_sdk_preflight_passes(client: TestClient) -> None:
    allowed = _preflight(client, "http://app.example")
    assert allowed.get("access-control-allow-origin") == "http://app.example"
    assert "x-stainless-os" in allowed.get("access-control-allow-headers", "").lower()


def test_other_origins_get_nothing(client: TestClient) -> None:
    assert "access-control-allow-origin" not in _preflight(client, "http://evil.example")
    simple = client.get("/healthz", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in simple.headers
    assert (
        client.get("/healthz", headers={"Origin": "http://app.example"}).headers[
            "access-control-allow-origin"
        ]
        == "http://app.example"
    )
