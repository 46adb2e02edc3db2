"""Two TTS backends behind one router: a fast one (Piper, random voice) and the first one (random VITS
standing in for XTTS-v2), chosen by the OpenAI model id; and a router that serves only the fast one."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from tests.router.conftest import Running, start_router
from tests.support.assets import asset
from tests.support.servers import ServerProcess, free_port
from voicestack_router.models_registry import resolve_model
from voicestack_router.settings import RouterSettings

PIPER_VOICE = "en_US-random-micro"
VITS_VOICE = "default"


@pytest.fixture(scope="module")
def piper_predictor() -> Iterator[Running]:
    port = free_port()
    server = ServerProcess.voicestack(
        "tts", "--http_port", str(port), "--enable_grpc", "false", "--model_name", "piper",
        "--model", str(asset("models-random/piper-micro-random")),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    server.wait_http(f"{url}/v2/health/ready", timeout=120)
    yield Running(server, url)
    server.stop()


@pytest.fixture(scope="module")
def both(piper_predictor: Running, tts_predictor: Running) -> Iterator[Running]:
    running = start_router(
        {"ROUTER_TTS_URLS": tts_predictor.url, "ROUTER_TTS_FAST_URLS": piper_predictor.url}
    )
    running.server.wait_http(f"{running.url}/health", timeout=30)
    yield running
    running.server.stop()


@pytest.fixture(scope="module")
def fast_only(piper_predictor: Running) -> Iterator[Running]:
    running = start_router({"ROUTER_TTS_FAST_URLS": piper_predictor.url})
    running.server.wait_http(f"{running.url}/health", timeout=30)
    yield running
    running.server.stop()


def speak(router: Running, model: str, **extra: str) -> httpx.Response:
    body = {"model": model, "voice": "alloy", "input": "Hello there.", "response_format": "wav", **extra}
    return httpx.post(f"{router.url}/v1/audio/speech", json=body, timeout=60)


@pytest.mark.parametrize(
    ("model", "voice"),
    [
        ("tts-1", PIPER_VOICE),
        ("piper", PIPER_VOICE),
        ("tts-1-hd", VITS_VOICE),
        ("gpt-4o-mini-tts", VITS_VOICE),
        ("xtts", VITS_VOICE),
    ],
)
def test_the_model_id_picks_the_backend(both: Running, model: str, voice: str) -> None:
    response = speak(both, model)
    assert response.status_code == 200, response.text
    assert response.headers["x-voice"] == voice
    assert response.content[:4] == b"RIFF" and len(response.content) > 1000


def test_models_list_what_each_backend_serves(both: Running) -> None:
    cards = httpx.get(f"{both.url}/v1/models", timeout=10).json()["data"]
    roots = {card["id"]: card["root"] for card in cards}
    assert roots == {
        "piper": "piper",
        "tts-1": "piper",
        "xtts": "xtts",
        "tts-1-hd": "xtts",
        "gpt-4o-mini-tts": "xtts",
    }
    assert httpx.get(f"{both.url}/v1/models/tts-1", timeout=10).json()["root"] == "piper"


def test_voices_of_both_backends_and_of_one(both: Running) -> None:
    listed = httpx.get(f"{both.url}/v1/audio/voices", timeout=10).json()
    models = {voice["id"]: voice["model"] for voice in listed["data"]}
    assert models == {PIPER_VOICE: "piper", VITS_VOICE: "xtts"}
    assert listed["aliases"]["alloy"] == PIPER_VOICE, "the aliases of the backend serving tts-1"
    hd = httpx.get(f"{both.url}/v1/audio/voices", params={"model": "tts-1-hd"}, timeout=10).json()
    assert [voice["id"] for voice in hd["data"]] == [VITS_VOICE] and hd["aliases"]["alloy"] == VITS_VOICE
    unknown = httpx.get(f"{both.url}/v1/audio/voices", params={"model": "tts-2"}, timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"


def test_health_covers_both_backends(both: Running) -> None:
    health = httpx.get(f"{both.url}/health", timeout=10).json()
    assert set(health["backends"]) == {"tts", "tts-fast"}
    assert all(backend["ready_replicas"] == 1 for backend in health["backends"].values())


def test_a_model_no_backend_serves_is_a_404(fast_only: Running) -> None:
    assert speak(fast_only, "tts-1").headers["x-voice"] == PIPER_VOICE
    refused = speak(fast_only, "tts-1-hd")
    assert refused.status_code == 404
    error = refused.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["code"], error["param"]) == ("model_not_found", "model")
    assert "available: piper, tts-1" in error["message"]
    ids = {card["id"] for card in httpx.get(f"{fast_only.url}/v1/models", timeout=10).json()["data"]}
    assert ids == {"piper", "tts-1"}


def test_settings_resolve_ids_and_need_distinct_names() -> None:
    settings = RouterSettings(tts_urls=["http://hd"], tts_fast_urls=["http://fast"])
    assert resolve_model(settings, "tts-1", kind="tts") == "piper"
    assert resolve_model(settings, "tts-1-hd", kind="tts") == "xtts"
    single = RouterSettings(tts_urls=["http://one"])
    assert (
        resolve_model(single, "tts-1", kind="tts") == resolve_model(single, "tts-1-hd", kind="tts") == "xtts"
    )
    with pytest.raises(ValidationError, match="need different model names"):
        RouterSettings(tts_urls=["http://a"], tts_fast_urls=["http://b"], tts_fast_model_name="xtts")
