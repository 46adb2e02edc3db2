"""Voice uploads through the real router: sample length limits, reserved names, bounded error messages."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.router.conftest import API_KEY, Running, consent_for, pcm16k
from tests.support.assets import asset
from tests.support.media import pcm16_wav

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def jfk_pcm() -> np.ndarray:
    return pcm16k(asset("audio/en/jfk.wav"))


def _upload(router: Running, name: str, sample: bytes, **fields: str) -> httpx.Response:
    return httpx.post(
        f"{router.url}/v1/audio/voices",
        headers=AUTH,
        data={"name": name, "consent": consent_for(router.url), **fields},
        files={"audio_sample": ("sample.wav", sample, "audio/wav")},
        timeout=60,
    )


@pytest.mark.parametrize("seconds", [1.0, 2.5])
def test_a_sample_under_three_seconds_is_refused(
    router: Running, voices_dir: Path, jfk_pcm: np.ndarray, seconds: float
) -> None:
    short = pcm16_wav(jfk_pcm[: int(16000 * seconds)].tobytes())
    response = _upload(router, "tiny", short)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_audio_duration" and error["param"] == "audio_sample"
    assert f"{seconds:.1f} s long" in error["message"] and "3-30 s" in error["message"]
    assert not list(voices_dir.glob("tiny.*"))


def test_a_sample_over_thirty_seconds_is_refused(router: Running, jfk_pcm: np.ndarray) -> None:
    long = pcm16_wav(np.tile(jfk_pcm, 4).tobytes())  # 44 s
    response = _upload(router, "endless", long)
    assert response.status_code == 400, response.text
    assert "over 30 s long" in response.json()["error"]["message"]


def test_a_sample_of_four_seconds_is_stored(router: Running, voices_dir: Path, jfk_pcm: np.ndarray) -> None:
    response = _upload(router, "four", pcm16_wav(jfk_pcm[: 16000 * 4].tobytes()))
    assert response.status_code == 200, response.text
    assert (voices_dir / "four.wav").exists()
    assert httpx.delete(f"{router.url}/v1/audio/voices/four", headers=AUTH).status_code == 200


@pytest.mark.parametrize("name", ["default", "alloy", "Echo", "cedar"])
def test_a_reserved_name_needs_replace(
    router: Running, voices_dir: Path, jfk_pcm: np.ndarray, name: str
) -> None:
    sample = pcm16_wav(jfk_pcm[: 16000 * 4].tobytes())
    refused = _upload(router, name, sample)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "voice_name_reserved" and error["param"] == "name"
    assert "replace=true" in error["message"]
    assert not list(voices_dir.glob(f"{name}.*"))
    assert _upload(router, name, sample, replace="maybe").status_code == 400
    replaced = _upload(router, name, sample, replace="true")
    assert replaced.status_code == 200, replaced.text
    assert (voices_dir / f"{name}.wav").exists()
    assert httpx.delete(f"{router.url}/v1/audio/voices/{name}", headers=AUTH).status_code == 200


def test_a_long_name_is_cut_in_every_error(router: Running, jfk_pcm: np.ndarray) -> None:
    """A 10,000-character voice name was echoed whole, twice, into the speech error."""
    name = "v" * 10_000
    speech = httpx.post(
        f"{router.url}/v1/audio/speech",
        json={"model": "tts-1", "input": "Hello.", "voice": name},
        headers=AUTH,
        timeout=60,
    )
    upload = _upload(router, name, pcm16_wav(jfk_pcm[: 16000 * 4].tobytes()))
    delete = httpx.delete(f"{router.url}/v1/audio/voices/{name}", headers=AUTH, timeout=30)
    model = httpx.post(
        f"{router.url}/v1/audio/speech",
        json={"model": "m" * 10_000, "input": "Hello.", "voice": "alloy"},
        headers=AUTH,
        timeout=60,
    )
    for response, status in ((speech, 404), (upload, 400), (delete, 400), (model, 404)):
        assert response.status_code == status, response.text[:300]
        message = response.json()["error"]["message"]
        assert len(message) < 1000, message[:300]
        assert "v" * 64 + "…" in message or "m" * 64 + "…" in message
