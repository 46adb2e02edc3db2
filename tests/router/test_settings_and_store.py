"""Router settings sources, model aliases, and the voice stores (ConfigMap manifests as pure functions)."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from voicestack.contracts.voices import voice_configmap_name as configmap_name
from voicestack.contracts.voices import voice_selector
from voicestack_router.errors import ApiError
from voicestack_router.models_registry import resolve_model
from voicestack_router.settings import load_settings
from voicestack_router.voice_store import DirectoryVoiceStore, VoiceStoreError, voice_configmap


def test_env_lists_and_yaml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "router.yaml"
    config.write_text("asr_urls: [http://asr-a/, http://asr-b]\ntts_urls: http://tts\napi_keys: [k1]\n"
                      "max_upload_mb: 10\ncors_origins: []\n")  # fmt: skip
    monkeypatch.setenv("ROUTER_CONFIG_FILE", str(config))
    monkeypatch.setenv("ROUTER_API_KEYS", "k2,k3")
    monkeypatch.setenv("ROUTER_TTS_ALIASES", '["speak"]')
    settings = load_settings()
    assert settings.asr_urls == ["http://asr-a", "http://asr-b"]
    assert settings.tts_urls == ["http://tts"]
    assert settings.api_keys == ["k2", "k3"]  # the environment wins over the file
    assert settings.tts_aliases == ["speak"]
    assert settings.max_upload_bytes == 10 * 1024 * 1024
    explicit = load_settings(config)
    assert explicit.api_keys == ["k2", "k3"] and explicit.max_upload_mb == 10


def test_model_aliases() -> None:
    settings = load_settings(asr_urls=["http://a"], tts_urls=["http://t"])
    assert resolve_model(settings, "whisper-1", kind="asr") == "whisper"
    assert resolve_model(settings, "gpt-4o-mini-tts", kind="tts") == "xtts"
    with pytest.raises(ApiError) as missing:
        resolve_model(settings, "dall-e-3", kind="tts")
    assert missing.value.status == 404 and missing.value.code == "model_not_found"
    with pytest.raises(ApiError) as wrong_kind:
        resolve_model(settings, "tts-1", kind="asr")
    assert wrong_kind.value.status == 400


def test_voice_configmap_manifest() -> None:
    manifest = voice_configmap("demo", "speech", "narrator", "sample.mp3", b"ID3abc")
    assert manifest["metadata"] == {
        "name": "demo-voice-narrator",
        "namespace": "speech",
        "labels": {"voicestack.io/stack": "demo", "voicestack.io/voice": "narrator",
                   "app.kubernetes.io/part-of": "voice-stack"},
        "annotations": {"voicestack.io/source": "router"},
    }  # fmt: skip
    assert manifest["binaryData"] == {"narrator.mp3": base64.b64encode(b"ID3abc").decode()}
    assert "data" not in manifest
    assert voice_selector("demo", "narrator") == (
        "voicestack.io/stack=demo,app.kubernetes.io/part-of=voice-stack,voicestack.io/voice=narrator"
    )


def test_configmap_names_are_dns_safe_and_distinct() -> None:
    upper, lower = configmap_name("demo", "Anna_V2"), configmap_name("demo", "anna-v2")
    assert upper != lower
    for name in (upper, lower):
        assert len(name) <= 253 and name == name.lower() and "_" not in name


@pytest.mark.parametrize("bad", ["", "../x", "a b", "-lead", "x" * 64, "trail."])
def test_bad_voice_names(bad: str) -> None:
    with pytest.raises(VoiceStoreError):
        voice_configmap("demo", "ns", bad, "a.wav", b"x")


def test_too_large_for_a_configmap() -> None:
    with pytest.raises(VoiceStoreError) as error:
        voice_configmap("demo", "ns", "big", "a.wav", b"x" * 1_000_001)
    assert error.value.status == 413


def test_directory_store(tmp_path: Path) -> None:
    store = DirectoryVoiceStore(tmp_path / "voices")
    asyncio.run(store.add("anna", "ref.flac", b"fLaC"))
    assert sorted(path.name for path in (tmp_path / "voices").iterdir()) == ["anna.flac"]
    asyncio.run(store.add("anna", "ref.wav", b"RIFF"))  # replacing a voice drops the old sample
    assert sorted(path.name for path in (tmp_path / "voices").iterdir()) == ["anna.wav"]
    assert asyncio.run(store.delete("anna")) is True
    assert asyncio.run(store.delete("anna")) is False


def test_directory_store_lists_voices_by_name(tmp_path: Path) -> None:
    store = DirectoryVoiceStore(tmp_path)
    for name, filename in (("zoe", "z.mp3"), ("anna", "a.wav"), ("bob", "b.flac")):
        asyncio.run(store.add(name, filename, b"sample"))
    listed = asyncio.run(store.list())
    assert [(voice.name, voice.filename) for voice in listed] == [
        ("anna", "anna.wav"), ("bob", "bob.flac"), ("zoe", "zoe.mp3"),
    ]  # fmt: skip
