"""A non-cloning coqui model (random VITS, lazily loaded) and the predictor's pure helpers."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tests.support.assets import asset
from tests.tts.client import TtsClient
from tests.tts.conftest import _server
from voicestack_predictors.tts.language import detect_language, normalize_code, script_language
from voicestack_predictors.tts.pcm import time_stretch, to_pcm16
from voicestack_predictors.tts.settings import parse_aliases


@pytest.fixture(scope="module")
def vits() -> Iterator[TtsClient]:
    model = asset("models-random/coqui-vits-micro-random")
    args = ["--model", str(model), "--model_name", "vits", "--no-load_at_start", "--device", "cpu"]
    args += ["--idle_unload_seconds", "2"]
    for client in _server(args):
        client.model = "vits"
        yield client


def test_vits_lazy_load_then_builtin_voice(vits: TtsClient) -> None:
    assert httpx.get(vits.url("/v2/health/ready")).status_code == 503  # not loaded yet
    result = vits.stream({"text": "Hello there. This is a test.", "voice": "alloy"})
    assert result.status == 200, result.body[:300]
    assert result.headers["x-sample-rate"] == "22050"
    assert result.headers["x-voice"] == "default" and result.headers["x-language"] == "en"
    assert result.duration > 0.1
    assert httpx.get(vits.url("/v2/health/ready")).status_code == 200
    listing = vits.voices()
    assert listing["voices"] == [
        {"name": "default", "source": "builtin", "duration": None, "language": None, "samples": 0}
    ]
    assert listing["aliases"]["alloy"] == "default"


def test_vits_speed_and_v1(vits: TtsClient) -> None:
    response = vits.v1([{"text": "Quick.", "speed": 2.0}])
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0]["sample_rate"] == 22050


def test_vits_rejects_other_languages(vits: TtsClient) -> None:
    result = vits.stream({"text": "Hallo Welt.", "language": "de"})
    assert result.status == 400 and "supported: en" in result.json()["error"]


def test_vits_refuses_text_outside_its_alphabet(vits: TtsClient) -> None:
    """CJK for an English character set left no tokens: the model crashed (IndexError, a 500)."""
    cjk = "中文" * 2000
    result = vits.stream({"text": cjk})
    assert result.status == 400, result.body[:300]
    assert "nothing to speak" in result.json()["error"]
    v1 = vits.v1([{"text": cjk}])
    assert v1.status_code == 400 and "nothing to speak" in v1.json()["error"]
    mixed = vits.stream({"text": "Hello there. 中文。"})  # the unsayable sentence is skipped
    assert mixed.status == 200 and mixed.duration > 0.1


def test_vits_idle_unload_and_reload(vits: TtsClient) -> None:
    assert vits.stream({"text": "Load me."}).status == 200
    deadline = time.monotonic() + 20
    loaded = 'voicestack_model_loaded{model_name="vits"}'
    while time.monotonic() < deadline and f"{loaded} 0.0" not in httpx.get(vits.url("/metrics")).text:
        time.sleep(0.5)
    assert f"{loaded} 0.0" in httpx.get(vits.url("/metrics")).text
    assert httpx.get(vits.url("/v2/health/ready")).status_code == 200  # reloads on demand
    assert vits.voices()["voices"][0]["name"] == "default"  # listing needs no reload
    assert f"{loaded} 0.0" in httpx.get(vits.url("/metrics")).text
    assert vits.stream({"text": "Reload me."}).status == 200


def test_alias_parsing() -> None:
    assert parse_aliases("alloy=lj, echo = duo") == {"alloy": "lj", "echo": "duo"}
    assert parse_aliases('{"alloy": "lj"}') == {"alloy": "lj"}
    assert parse_aliases("") == {}
    with pytest.raises(ValueError, match="not of the form alias=voice"):
        parse_aliases("alloy")


def test_language_helpers() -> None:
    assert normalize_code("EN-us") == "en"
    assert normalize_code("zh") == normalize_code("zh-TW") == "zh-cn"
    assert script_language("Привет") == "ru"
    assert script_language("你好") == "zh-cn"
    assert script_language("こんにちは") == "ja"
    assert script_language("안녕하세요") == "ko"
    assert script_language("مرحبا") == "ar"
    assert script_language("Hello") is None
    supported = ["en", "de", "fr", "ru"]
    assert detect_language("Hi", supported, "en") == "en"  # too short to guess: the fallback
    assert detect_language("Bonjour tout le monde, comment allez-vous aujourd'hui ?", supported, "en") == "fr"
    assert detect_language("Hej, hur mår du idag min vän?", supported, "en") in supported


def test_pcm_and_stretch() -> None:
    pcm = to_pcm16(np.array([0.0, 1.0, -1.0, 2.0, np.nan], dtype=np.float32))
    assert np.frombuffer(pcm, "<i2").tolist() == [0, 32767, -32767, 32767, 0]
    tone = np.sin(np.arange(22050) / 22050 * 2 * np.pi * 440).astype(np.float32)
    assert len(time_stretch(tone, 2.0)) == 11025
    assert len(time_stretch(tone, 0.5)) == 44100
