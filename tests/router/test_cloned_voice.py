"""Voice cloning end to end: upload a sample through the router, the XTTS predictor (random weights) picks it
up from the shared directory without a restart, and speech uses it."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import av
import openai
import pytest

from tests.router.conftest import Running, consent_for, start_router
from tests.support.assets import asset
from tests.support.servers import ServerProcess, free_port
from tests.support.xtts_random import build_random_xtts


@pytest.fixture(scope="module")
def xtts_router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Path]]:
    voices = tmp_path_factory.mktemp("xtts-voices")
    port = free_port()
    predictor = ServerProcess.voicestack(
        "tts", "--http_port", str(port), "--enable_grpc", "false",
        "--model", str(build_random_xtts()), "--voices_dir", str(voices),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        predictor.wait_http(f"{url}/v2/health/ready", timeout=240)
        router = start_router({"ROUTER_TTS_URLS": url, "ROUTER_VOICES_DIR": str(voices)})
        yield router, voices
        router.server.stop()
    finally:
        predictor.stop()


def test_upload_then_speak_with_the_cloned_voice(xtts_router: tuple[Running, Path]) -> None:
    router, voices = xtts_router
    client = openai.OpenAI(base_url=f"{router.url}/v1", api_key="x", max_retries=0, timeout=300)
    sample = asset("voice_ref/ljspeech_LJ001-0001.wav")
    consent = consent_for(router.url)
    created = client.audio.voices.create(name="lj", audio_sample=sample.open("rb"), consent=consent)
    assert created.name == "lj" and (voices / "lj.wav").is_file()
    deadline = time.monotonic() + 30
    while True:  # the predictor rescans its directory on change
        listed = client.get("/audio/voices", cast_to=object)
        assert isinstance(listed, dict)
        if "lj" in {voice["id"] for voice in listed["data"]}:
            break
        assert time.monotonic() < deadline, listed
        time.sleep(0.5)
    audio = client.audio.speech.create(model="tts-1", voice="lj", input="Hello there. How are you?",
                                       response_format="opus")  # fmt: skip
    with av.open(io.BytesIO(audio.read())) as container:
        stream = container.streams.audio[0]
        assert (container.format.name, stream.rate, stream.channels) == ("ogg", 48000, 1)
        assert sum(frame.samples for frame in container.decode(stream)) > 0
    assert client.audio.voices.delete("lj").deleted
