"""Loopback stub predictors for what measures the router, not a model.

``CountingAsrPredictorStub``: a real HTTP server that speaks the ASR predictor's raw-body route but only
counts the bytes it receives (no decoding, no model); used to relay a 200 MB ``encode=false`` body while
watching the router's memory (200 MB of PCM is 100 minutes of audio). It also answers the TTS routes with a
tone (``ToneTtsPredictorStub`` behaviour) for the router benchmark's overhead figures.
Run as ``python -m tests.router.predictor_stub --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from voicestack.contracts.errors import ErrorCode, error_body
from voicestack.text import normalize_text, split_sentences


async def live(_: Request) -> JSONResponse:
    return JSONResponse({"live": True})


async def predict(request: Request) -> JSONResponse:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
    options = json.loads(request.headers.get("x-voicestack-options", "{}"))
    seconds = received / 32000 if request.headers.get("content-type") == "audio/pcm" else 0.0
    text = f" received {received} bytes"
    segment = {"id": 0, "seek": 0, "start": 0.0, "end": round(seconds, 3), "text": text,
               "tokens": [], "temperature": 0.0, "avg_logprob": 0.0, "compression_ratio": 1.0,
               "no_speech_prob": 0.0}  # fmt: skip
    return JSONResponse({"task": options.get("task", "transcribe"), "text": segment["text"], "language": "en",
                         "language_probability": 1.0, "duration": seconds, "segments": [segment],
                         "received_bytes": received, "content_type": request.headers.get("content-type"),
                         "request_id": request.headers.get("x-request-id")})  # fmt: skip


def stub_plan(body: dict[str, Any], sample_rate: int) -> dict[str, Any]:
    """A ``/plan`` answer as the TTS predictor gives it: the text in sentences, one language for all."""
    language = body.get("language") or "auto"
    chunks = split_sentences(normalize_text(body["text"]))
    return {
        "language": "en" if language == "auto" else language,
        "voice": body["voice"],
        "sample_rate": sample_rate,
        "chunks": [{"text": chunk, "stream": index == 0} for index, chunk in enumerate(chunks)],
    }


def _unknown_voice(body: dict[str, Any]) -> JSONResponse | None:
    if body.get("voice") in VOICES:
        return None
    message = f"unknown voice {body.get('voice')!r}; available: {VOICES}"
    return JSONResponse(error_body(message, ErrorCode.VOICE_NOT_FOUND), 400)


async def plan(request: Request) -> JSONResponse:
    body = await request.json()
    return _unknown_voice(body) or JSONResponse(stub_plan(body, 22050))


async def synthesize(request: Request) -> StreamingResponse | JSONResponse:
    """A tone, 0.05 s per character, at 22.05 kHz, in 0.1 s chunks (counts as the TTS route's shape)."""
    body = await request.json()
    if refused := _unknown_voice(body):
        return refused
    samples = int(len(body["text"]) * 0.05 * 22050)
    tone = (np.sin(np.arange(samples) / 8) * 6000).astype("<i2").tobytes()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(tone), 4410):
            yield tone[start : start + 4410]
            await asyncio.sleep(0.01)

    headers = {"X-Sample-Rate": "22050", "X-Channels": "1", "X-Sample-Format": "s16le", "X-Language": "en",
               "X-Voice": body["voice"]}  # fmt: skip
    return StreamingResponse(chunks(), media_type="audio/pcm", headers=headers)


async def voices(_: Request) -> JSONResponse:
    listed = [
        {"name": name, "source": "builtin", "duration": None, "language": None, "samples": 0}
        for name in VOICES
    ]
    return JSONResponse({"voices": listed, "aliases": {"alloy": "stub"}, "default": "stub"})


VOICES = ["stub", "alloy"]

app = Starlette(
    routes=[
        Route("/v2/health/live", live),
        Route("/v2/health/ready", live),
        Route("/v1/models/{name}:predict", predict, methods=["POST"]),
        Route("/v1/models/{name}/plan", plan, methods=["POST"]),
        Route("/v1/models/{name}/synthesize", synthesize, methods=["POST"]),
        Route("/v1/models/{name}/voices", voices),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
