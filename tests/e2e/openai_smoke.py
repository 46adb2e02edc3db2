"""The e2e smoke check (tests/e2e/kind-e2e.sh): speech with the openai SDK, then the same audio transcribed.

Not a pytest module (it needs a running stack): ``python tests/e2e/openai_smoke.py http://127.0.0.1:18000/v1``.
"""

from __future__ import annotations

import io
import os
import sys
import time

from openai import OpenAI

SENTENCE = "Hello from Voice Stack. The quick brown fox jumps over the lazy dog."


def main(argv: list[str]) -> int:
    base_url = argv[0] if argv else "http://127.0.0.1:18000/v1"
    client = OpenAI(base_url=base_url, api_key=os.environ.get("VOICESTACK_API_KEY", "unused"), timeout=600)

    models = sorted(model.id for model in client.models.list())
    print("models:", ", ".join(models))

    started = time.monotonic()
    speech = client.audio.speech.create(model="tts-1", voice="alloy", input=SENTENCE, response_format="wav")
    audio = speech.read()
    print(f"speech: {len(audio)} bytes of WAV in {time.monotonic() - started:.1f} s")
    if len(audio) < 1000:
        print("speech: too short", file=sys.stderr)
        return 1

    started = time.monotonic()
    upload = io.BytesIO(audio)
    upload.name = "speech.wav"
    text = client.audio.transcriptions.create(model="whisper-1", file=upload).text
    print(f"transcription in {time.monotonic() - started:.1f} s: {text!r}")
    words = {word.strip(".,!").lower() for word in text.split()}
    if not words & {"hello", "voice", "stack", "quick", "brown", "fox", "lazy", "dog"}:
        print("transcription: none of the spoken words came back", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
