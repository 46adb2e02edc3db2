"""Voice cloning end to end: upload a sample through the router, the XTTS predictor (random weights) picks it
up from the shared directory without a restart, and speech uses it."""

from __future__ import annotations

import io
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import openai
import pytest

from tests.router.conftest import Running, start_router
from tests.support.assets import asset
from tests.support.servers import ServerProcess, free_port
from tests.support.xtts_random import build_random_xtts


@pytest.fixture(scope="module")
def xtts_router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Path, str]]:
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
        yield router, voices, url
        router.server.stop()
    finally:
        predictor.stop()


def test_upload_then_speak_with_the_cloned_voice(xtts_router: tuple[Running, Path, str]) -> None:
    router, voices, _ = xtts_router
    client = openai.OpenAI(base_url=f"{router.url}/v1", api_key="x", max_retries=0, timeout=300)
    sample = asset("voice_ref/ljspeech_LJ001-0001.wav")
    created = client.audio.voices.create(name="lj", audio_sample=sample.open("rb"), consent="cons_test")
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


GERMAN = (
    "Wie geht es Ihnen heute, und haben Sie schon gehört, dass die Bibliothek in der Altstadt ab nächster "
    "Woche wieder jeden Abend bis zehn Uhr geöffnet ist und auch sonntags Bücher an alle Leser verleiht?"
)


def characters_by_language(predictor_url: str) -> dict[str, float]:
    """The predictor's ``voicestack_tts_characters_total`` per language (what it synthesised in each)."""
    text = httpx.get(f"{predictor_url}/metrics", timeout=10).text
    found = re.findall(r"^voicestack_tts_characters_total\{([^}]*)\} (\S+)$", text, re.MULTILINE)
    return {
        re.search(r'language="([^"]*)"', labels).group(1): float(value)  # type: ignore[union-attr]
        for labels, value in found
    }


def test_one_language_for_the_whole_request(xtts_router: tuple[Running, Path, str]) -> None:
    """ "Hallo." alone is too short to detect (it would fall back to English); the whole text is German, so
    every chunk is spoken as German and X-Language says so."""
    router, voices, predictor_url = xtts_router
    shutil.copy(asset("voice_ref/ljspeech_LJ001-0001.wav"), voices / "mixed.wav")
    before = characters_by_language(predictor_url)
    response = httpx.post(
        f"{router.url}/v1/audio/speech",
        json={"model": "tts-1", "voice": "mixed", "input": f"Hallo. {GERMAN}", "response_format": "pcm"},
        timeout=300,
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-language"] == "de"
    assert len(response.content) > 0
    after = characters_by_language(predictor_url)
    grown = {language for language, count in after.items() if count > before.get(language, 0.0)}
    assert grown == {"de"}, (before, after)
