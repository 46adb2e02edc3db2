"""``CountingAsrPredictorStub``: a tiny real HTTP server on loopback that speaks the ASR predictor's raw-body
route but only counts the bytes it receives (no decoding, no model).

Used where what is measured is the router, not the predictor: relaying a 200 MB ``encode=false`` body while
watching the router's memory. Run as ``python -m tests.router.predictor_stub --port P``.
"""

from __future__ import annotations

import argparse
import json

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


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


app = Starlette(
    routes=[
        Route("/v2/health/live", live),
        Route("/v2/health/ready", live),
        Route("/v1/models/{name}:predict", predict, methods=["POST"]),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
