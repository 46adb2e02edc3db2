"""Piper with a real voice (en_US-joe-medium) in a real ``voicestack tts`` process, checked by ear: the speech
is transcribed back with real Whisper base (faster-whisper) and compared word by word. Also speed, streaming,
every OpenAI output format through a real router, and the refusal of cloned voices.

Real weights come from the model cache (``piper-en_US-joe-medium``, ``whisper-base``; pulled on first use).
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import numpy as np
import openai
import pytest

from tests.router.conftest import Running, start_router
from tests.support.media import pcm16_wav
from tests.support.models_dir import real_model
from tests.support.wer import word_error_rate
from tests.tts.client import TtsClient
from tests.tts.conftest import _server

VOICE = "en_US-joe-medium"
# Harvard sentences (list 1) and LJ Speech's first sentence, plus a forecast: about 90 words, no digits.
PASSAGE = (
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
    "It is easy to tell the depth of a well. These days a chicken leg is a rare dish. "
    "Printing, in the only sense with which we are at present concerned, differs from most if not from all "
    "the arts and crafts represented in the Exhibition. "
    "The weather will be sunny this morning, with clouds moving in from the west by the evening."
)
FORECAST = (
    "The weather will be sunny this morning, with clouds moving in from the west by the evening. "
    "Remember to bring an umbrella if you are going out late."
)
MAX_WER = 0.15  # measured 0.00-0.14 per sentence group, about 0.07 over the passage (docs/tts-predictor.md)


@pytest.fixture(scope="module")
def piper(tmp_path_factory: pytest.TempPathFactory, voice_ref: Path) -> Iterator[TtsClient]:
    """The real voice, found from its directory (engine auto), with a cloning sample in its voice folder."""
    voices = tmp_path_factory.mktemp("piper-real-voices")
    shutil.copy(voice_ref, voices / "lj.wav")
    args = [
        "--model",
        str(real_model(f"piper-{VOICE}")),
        "--model_name",
        "piper",
        "--voices_dir",
        str(voices),
    ]
    for client in _server(args):
        client.model = "piper"
        client.server.wait_http(f"{client.base}/v2/health/ready", timeout=180)
        yield client


@pytest.fixture(scope="module")
def whisper() -> object:
    from faster_whisper import WhisperModel

    return WhisperModel(str(real_model("whisper-base")), device="cpu", compute_type="int8")


def transcribe(whisper: object, audio: bytes) -> str:
    """What Whisper base hears in an audio file (any container ffmpeg reads)."""
    segments, _ = whisper.transcribe(io.BytesIO(audio), language="en", beam_size=5)  # type: ignore[attr-defined]
    return " ".join(segment.text for segment in segments)


def test_the_passage_is_heard_back(piper: TtsClient, whisper: object) -> None:
    streamed = piper.stream({"text": PASSAGE, "voice": "alloy"})
    assert streamed.status == 200, streamed.body[:300]
    assert (streamed.sample_rate, streamed.headers["x-voice"]) == (22050, VOICE)
    heard = transcribe(whisper, pcm16_wav(streamed.body, streamed.sample_rate))
    wer = word_error_rate(PASSAGE, heard)
    assert wer <= MAX_WER, f"WER {wer:.3f}: {heard!r}"
    # Streaming: each sentence leaves as soon as it is made, long before the last one.
    first_arrival, _ = streamed.arrivals[0]
    assert len(streamed.arrivals) >= 4, streamed.arrivals
    assert first_arrival < 0.5 * streamed.total_seconds, (first_arrival, streamed.total_seconds)


def test_speed_scales_the_duration(piper: TtsClient) -> None:
    durations = {}
    for speed in (0.5, 1.0, 2.0):
        streamed = piper.stream({"text": FORECAST, "speed": speed})
        assert streamed.status == 200, streamed.body[:300]
        durations[speed] = streamed.duration
    # Measured: 1.96x and 0.52x of the 7.2 s at speed 1 (the noise in Piper's durations is a few percent).
    assert durations[0.5] / durations[1.0] == pytest.approx(2.0, abs=0.3), durations
    assert durations[2.0] / durations[1.0] == pytest.approx(0.5, abs=0.08), durations


def test_cloned_voice_is_refused_naming_xtts(piper: TtsClient) -> None:
    refused = piper.stream({"text": "Hello.", "voice": "lj"})
    assert refused.status == 400
    assert "the piper engine cannot clone voices" in refused.json()["error"]
    assert "XTTS-v2" in refused.json()["error"]


@pytest.fixture(scope="module")
def router(piper: TtsClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A router in front of the Piper predictor only (what examples/cpu.yaml deploys), with a voice store."""
    running = start_router(
        {
            "ROUTER_TTS_URLS": piper.base,
            "ROUTER_TTS_MODEL_NAME": "piper",
            "ROUTER_VOICE_STORE": "directory",
            "ROUTER_VOICES_DIR": str(tmp_path_factory.mktemp("router-voices")),
        }
    )
    running.server.wait_http(f"{running.url}/health", timeout=60)
    yield running
    running.server.stop()


@pytest.fixture(scope="module")
def client(router: Running) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{router.url}/v1", api_key="unused", max_retries=0, timeout=120)


def decode(data: bytes) -> tuple[str, int, int, np.ndarray]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = np.concatenate([frame.to_ndarray().reshape(-1) for frame in container.decode(stream)])
        return container.format.name.split(",")[0], stream.rate, stream.channels, samples


EXPECTED = {
    "mp3": ("mp3", 24000),
    "opus": ("ogg", 48000),
    "aac": ("aac", 24000),
    "flac": ("flac", 24000),
    "wav": ("wav", 24000),
}


def test_every_format_through_the_router(client: openai.OpenAI, whisper: object) -> None:
    pcm = client.audio.speech.create(
        model="tts-1", voice="alloy", input=FORECAST, response_format="pcm"
    ).read()
    seconds = len(pcm) / 2 / 24000  # pcm is s16le mono at 24 kHz: the 22.05 kHz voice resampled
    assert 6 < seconds < 14, seconds
    for response_format, (container, rate) in EXPECTED.items():
        data = client.audio.speech.create(
            model="tts-1-hd",  # one TTS backend answers every TTS model id
            voice="alloy",
            input=FORECAST,
            response_format=response_format,  # type: ignore[arg-type]
        ).read()
        found, found_rate, channels, samples = decode(data)
        assert (found, found_rate, channels) == (container, rate, 1), response_format
        # Piper's durations vary a little from run to run; encoder padding is far smaller than this.
        assert len(samples) / found_rate == pytest.approx(seconds, rel=0.1), response_format
        if response_format == "mp3":
            heard = transcribe(whisper, data)
            assert word_error_rate(FORECAST, heard) <= MAX_WER, heard


def test_router_lists_the_voice_and_refuses_cloning(router: Running, client: openai.OpenAI) -> None:
    listed = client.get("/audio/voices", cast_to=object)
    assert isinstance(listed, dict)
    assert VOICE in {voice["id"] for voice in listed["data"]}
    assert listed["aliases"]["alloy"] == VOICE and listed["default"] == VOICE
    cloned = httpx.post(
        f"{router.url}/v1/audio/speech",
        json={"model": "tts-1", "voice": "lj", "input": "Hello."},
        timeout=30,
    )
    assert cloned.status_code == 400, cloned.text  # a 400 with the reason, not 404 "voice not found"
    assert "cannot clone voices" in cloned.json()["error"]["message"]
    upload = httpx.post(
        f"{router.url}/v1/audio/voices",
        data={"name": "anna", "consent": "yes"},
        files={"audio_sample": ("anna.wav", pcm16_wav(b"\0\0" * 16000), "audio/wav")},
        timeout=30,
    )
    assert upload.status_code == 400, upload.text
    error = upload.json()["error"]
    assert error["code"] == "voice_cloning_unsupported" and "XTTS-v2" in error["message"]
