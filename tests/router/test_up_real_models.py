"""The README's promise on real weights: ``voicestack up`` with no model flags, even with
``HF_HUB_OFFLINE=1``, serves Whisper base and the Piper voice from the model cache, and the README's OpenAI
snippet gives the right words for jfk.wav and an mp3 that says "Hello there." (transcribed back)."""

from __future__ import annotations

import re
from pathlib import Path

import av
import openai

from tests.support.assets import asset
from tests.support.servers import ServerProcess, free_port

JFK = (
    "and so my fellow americans ask not what your country can do for you ask what you can do for your country"
)


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower()).split())


def test_up_with_no_flags_hears_and_speaks(tmp_path: Path, real_models: dict[str, Path]) -> None:
    port = free_port()
    up = ServerProcess.voicestack(
        "up", "--port", str(port), "--voices-dir", str(tmp_path / "voices"),
        env={"HF_HUB_OFFLINE": "1", "ASR_MODEL": "", "TTS_MODEL": ""},
    )  # fmt: skip
    try:
        up.wait_http(f"http://127.0.0.1:{port}/health", timeout=300)
        log = up.log()
        assert "--model whisper-base" in log and "--model piper-en_US-joe-medium" in log, log[-3000:]
        # The README's snippet, as written there.
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", timeout=120)
        with asset("audio/en/jfk.wav").open("rb") as jfk:
            text = client.audio.transcriptions.create(model="whisper-1", file=jfk)
        assert words(text.text) == JFK
        hello = tmp_path / "hello.mp3"
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hello there.").write_to_file(hello)
        with av.open(str(hello)) as container:
            assert container.format.name == "mp3"
            assert 0.4 < float(container.duration or 0) / av.time_base < 3.0
        with hello.open("rb") as spoken:
            back = client.audio.transcriptions.create(model="whisper-1", file=spoken, language="en")
        assert words(back.text) == "hello there", back.text
    finally:
        assert up.stop(timeout=60) == 0, up.log()[-3000:]
