"""Routes beside KServe's: ``/plan`` (how a text will be spoken), the streaming ``/synthesize`` (raw s16le
PCM) and the voice listing.

They are added to KServe's app (``common.kserve_adapter.add_route``) before the server starts, like the
readiness routes in ``voicestack_predictors.common.server``. Everything that can be wrong with a request
is checked before the response starts (a 400 JSON error with a ``code``, ``voicestack.contracts.errors``);
an engine failure after that aborts the stream, which the client sees as a truncated body.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import numpy as np
from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from kserve.errors import InferenceError, InvalidInput

from voicestack.contracts.errors import ErrorCode, error_body
from voicestack_predictors.common import kserve_adapter
from voicestack_predictors.common.errors import refusal_code
from voicestack_predictors.common.gate import Busy
from voicestack_predictors.tts import metrics
from voicestack_predictors.tts.engines import UnspeakableText
from voicestack_predictors.tts.model import Plan, TtsModel
from voicestack_predictors.tts.pcm import to_pcm16
from voicestack_predictors.tts.request import SpeechRequest, parse_speech

log = logging.getLogger(__name__)


def _error(status: int, message: str, code: ErrorCode | None = None) -> JSONResponse:
    return JSONResponse(error_body(message, code), status_code=status)


def _header(value: str) -> str:
    return value if value.isascii() else quote(value, safe="")


def install(model: TtsModel) -> None:
    async def planned(request: Request, route: str) -> tuple[SpeechRequest, Plan] | JSONResponse:
        """The request's body checked and planned, or the error response (400 with a code, or 500)."""
        try:
            try:
                body = json.loads(await request.body())
            except ValueError as exc:
                raise InvalidInput(f"the body must be JSON: {exc}") from exc
            speech = parse_speech(body)
            return speech, await model.plan(speech)
        except InvalidInput as exc:
            metrics.REQUESTS.labels(model.name, route, "invalid").inc()
            return _error(400, str(exc), refusal_code(exc))
        except InferenceError as exc:
            metrics.REQUESTS.labels(model.name, route, "error").inc()
            return _error(500, str(exc))

    async def plan(model_name: str, request: Request) -> JSONResponse:
        """How a text will be spoken (language, voice, chunks), decided once for the whole text: the
        router synthesizes each chunk with that language and voice (``docs/tts-predictor.md``)."""
        if model_name != model.name:
            return _error(404, f"Model with name {model_name} does not exist.")
        outcome = await planned(request, "plan")
        if isinstance(outcome, JSONResponse):
            return outcome
        metrics.REQUESTS.labels(model.name, "plan", "ok").inc()
        return JSONResponse(outcome[1].describe())

    async def synthesize(model_name: str, request: Request) -> Response:
        if model_name != model.name:
            return _error(404, f"Model with name {model_name} does not exist.")
        request_id = request.headers.get("x-request-id")
        started = time.perf_counter()
        outcome = await planned(request, "stream")
        if isinstance(outcome, JSONResponse):
            return outcome
        speech, plan = outcome
        log.info(
            "request %s: stream %d chars in %d chunk(s), %s, voice %s",
            request_id or "-",
            len(plan.text),
            len(plan.chunks),
            plan.language,
            plan.voice_name,
        )
        pieces = model.audio(plan, streaming=speech.stream)
        try:
            first = await anext(pieces)  # a full queue or a failed start is still a plain HTTP error
        except Busy:
            metrics.REQUESTS.labels(model.name, "stream", "busy").inc()
            raise
        except UnspeakableText as exc:
            metrics.REQUESTS.labels(model.name, "stream", "invalid").inc()
            await pieces.aclose()
            return _error(400, str(exc), ErrorCode.UNSPEAKABLE_TEXT)
        except StopAsyncIteration:
            first = np.zeros(0, dtype=np.float32)
        except Exception as exc:
            metrics.REQUESTS.labels(model.name, "stream", "error").inc()
            log.exception("request %s failed before streaming", request_id or "-")
            await pieces.aclose()
            return _error(500, f"synthesis failed: {type(exc).__name__}: {exc}")
        metrics.FIRST_AUDIO_SECONDS.labels(model.name).observe(time.perf_counter() - started)

        async def body_bytes() -> AsyncIterator[bytes]:
            outcome = "error"
            try:
                yield to_pcm16(first)
                async for piece in pieces:
                    yield to_pcm16(piece)
                outcome = "ok"
            except Exception:
                log.exception("request %s failed while streaming; aborting the response", request_id or "-")
                raise
            finally:
                await pieces.aclose()
                metrics.REQUESTS.labels(model.name, "stream", outcome).inc()

        headers = {
            "X-Sample-Rate": str(plan.sample_rate),
            "X-Channels": "1",
            "X-Sample-Format": "s16le",
            "X-Language": plan.language,
            "X-Voice": _header(plan.voice_name),
            "Cache-Control": "no-store",
        }
        return StreamingResponse(body_bytes(), media_type="audio/pcm", headers=headers)

    async def voices(model_name: str) -> JSONResponse:
        if model_name != model.name:
            return _error(404, f"Model with name {model_name} does not exist.")
        return JSONResponse(await model.list_voices())

    kserve_adapter.add_route("/v1/models/{model_name}/plan", plan, ["POST"])
    kserve_adapter.add_route("/v1/models/{model_name}/synthesize", synthesize, ["POST"])
    kserve_adapter.add_route("/v1/models/{model_name}/voices", voices, ["GET"])
