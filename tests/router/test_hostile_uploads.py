"""Hostile uploads through the router to the real ASR predictor, on both APIs: the refusal's status and
shape, per-API duration limits, and a predictor that keeps serving (docs/audio-decoding.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.router.conftest import API_KEY, Running, start_router
from tests.support.assets import asset
from tests.support.hostile import low_rate_bomb, sdp, udp_sockets
from tests.support.media import watch_rss

AUTH = {"Authorization": f"Bearer {API_KEY}"}
OPENAI_LIMIT, BAZARR_LIMIT = 2, 3  # seconds: a 2.5 s clip is too long for one API and not the other


@pytest.fixture(scope="module")
def limited_router(asr_predictor: Running) -> Iterator[Running]:
    running = start_router(
        {
            "ROUTER_ASR_URLS": asr_predictor.url,
            "ROUTER_API_KEYS": API_KEY,
            "ROUTER_MAX_AUDIO_SECONDS": str(OPENAI_LIMIT),
            "ROUTER_MAX_BAZARR_AUDIO_SECONDS": str(BAZARR_LIMIT),
        }
    )
    running.server.wait_http(f"{running.url}/health", timeout=30)
    yield running
    running.server.stop()


def _openai(url: str, data: bytes, filename: str = "clip.wav") -> httpx.Response:
    return httpx.post(
        f"{url}/v1/audio/transcriptions",
        headers=AUTH,
        files={"file": (filename, data)},
        data={"model": "whisper-1", "temperature": "0"},
        timeout=120,
    )


def _bazarr(url: str, data: bytes, *, encode: bool = True) -> httpx.Response:
    return httpx.post(
        f"{url}/asr",
        params={"encode": str(encode).lower(), "language": "en", "output": "txt"},
        files={"audio_file": ("audio_file", data)},
        timeout=120,
    )


def _error(response: httpx.Response, status: int) -> dict[str, object]:
    """The OpenAI error shape both APIs answer with."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    return error


def _serves(router: Running, predictor: Running, clip: Path) -> None:
    assert predictor.server.process.poll() is None, "the ASR predictor died"
    assert _openai(router.url, clip.read_bytes()).status_code == 200


def test_a_1_hz_wav_bomb_is_a_fast_400_on_both_apis(
    asr_router: Running, asr_predictor: Running, short_wav: Path
) -> None:
    """The reported attack: 20 KB, no key, POST /asr?encode=true; the predictor went past 6 GB in 12 s."""
    bomb = low_rate_bomb(20_000)
    with watch_rss(asr_predictor.pid) as rss:
        started = time.perf_counter()
        responses = (_bazarr(asr_router.url, bomb), _openai(asr_router.url, bomb))
        elapsed = time.perf_counter() - started
    for response in responses:
        assert "sample rate is 1 Hz" in str(_error(response, 400)["message"])
    assert elapsed < 10 and rss.grew_mib < 100, (elapsed, rss.grew_mib)
    _serves(asr_router, asr_predictor, short_wav)


def test_an_sdp_upload_opens_no_socket(asr_router: Running, asr_predictor: Running, short_wav: Path) -> None:
    before = udp_sockets(asr_predictor.pid)
    started = time.perf_counter()
    for response in (_bazarr(asr_router.url, sdp()), _openai(asr_router.url, sdp(), "stream.sdp")):
        assert "format is not one this server accepts" in str(_error(response, 400)["message"])
    assert time.perf_counter() - started < 10  # was 20 s each: the SDP demuxer waiting for RTP
    assert udp_sockets(asr_predictor.pid) == before
    _serves(asr_router, asr_predictor, short_wav)


def test_each_api_has_its_own_duration_limit(
    limited_router: Running, asr_predictor: Running, short_wav: Path, short_pcm: bytes
) -> None:
    clip = short_wav.read_bytes()  # 2.5 s
    error = _error(_openai(limited_router.url, clip), 413)
    assert error["code"] == "audio_too_long"
    assert f"at most {OPENAI_LIMIT} s" in str(error["message"])
    assert _bazarr(limited_router.url, clip).status_code == 200  # within Bazarr's 3 s

    film = asset("audio/en/jfk.wav").read_bytes()  # 11 s
    error = _error(_bazarr(limited_router.url, film), 413)
    assert error["code"] == "audio_too_long" and f"at most {BAZARR_LIMIT} s" in str(error["message"])
    # Raw PCM (Bazarr's encode=false) is refused by the router from its byte count.
    error = _error(_bazarr(limited_router.url, short_pcm * 2, encode=False), 413)
    assert "bytes of 16 kHz PCM are 5.0 s" in str(error["message"]) and error["param"] == "audio_file"
    assert _bazarr(limited_router.url, short_pcm, encode=False).status_code == 200
    assert asr_predictor.server.process.poll() is None
