"""The KServe model. preprocess: parse V1/V2 and plan each text (text, language, voice: 400s before any
audio); predict: the engine through the bounded gate; postprocess: the V1 or V2 response.

The pieces live beside it: ``request`` (parsing), ``plan`` (checks and chunks), ``language``,
``voice_choice`` (voices, aliases, listing) and ``encoding`` (V1/V2 responses).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from kserve.errors import InferenceError, InvalidInput
from kserve.protocol.infer_type import InferRequest, InferResponse

from voicestack_predictors.common.gate import Busy
from voicestack_predictors.common.managed_model import ManagedModel
from voicestack_predictors.common.settings import ServingOptions
from voicestack_predictors.tts import metrics
from voicestack_predictors.tts.encoding import Results, v1_response, v2_response
from voicestack_predictors.tts.engines import TtsEngine, UnspeakableText, create_engine
from voicestack_predictors.tts.engines.base import EngineInfo
from voicestack_predictors.tts.plan import Plan, check_text, make_plan
from voicestack_predictors.tts.request import SpeechRequest, parse_v1, parse_v2
from voicestack_predictors.tts.settings import EngineSettings
from voicestack_predictors.tts.voice_choice import VoiceChooser

log = logging.getLogger(__name__)

__all__ = ["EngineInfo", "Plan", "SpeechJob", "Spoken", "TtsModel"]


@dataclass(frozen=True)
class SpeechJob:
    """What ``preprocess`` hands ``predict``: the planned texts and how the answer must be shaped."""

    protocol: str  # v1 | v2
    plans: list[Plan]
    request_id: str | None
    response_id: str | None = None  # V2: the request's id, echoed


@dataclass(frozen=True)
class Spoken:
    """What ``predict`` hands ``postprocess``."""

    job: SpeechJob
    results: Results


class TtsModel(ManagedModel[TtsEngine]):
    def __init__(self, name: str, serving: ServingOptions, settings: EngineSettings) -> None:
        super().__init__(name, serving)
        self.settings = settings
        self.chooser = VoiceChooser(settings)
        self.info: EngineInfo | None = None

    # --- engine ----------------------------------------------------------------------------------
    def create_engine(self) -> TtsEngine:
        engine = create_engine(self.settings)
        self.info = EngineInfo.of(engine)
        return engine

    def close_engine(self, engine: TtsEngine) -> None:
        engine.close()
        super().close_engine(engine)

    async def _engine_info(self) -> EngineInfo:
        if self.info is None or not self.is_loaded:
            try:
                await asyncio.to_thread(self.ensure_engine)
            except Exception as exc:
                raise InferenceError(f"the model could not be loaded: {self.load_error or exc}") from exc
        assert self.info is not None
        return self.info

    async def list_voices(self) -> dict[str, Any]:
        return await self.chooser.listing(self.info)

    # --- planning and running --------------------------------------------------------------------
    async def plan(self, request: SpeechRequest) -> Plan:
        """Validate everything a request can get wrong before any audio is produced (InvalidInput)."""
        text = check_text(request, self.settings)
        return await make_plan(request, text, await self._engine_info(), self.settings, self.chooser)

    async def audio(self, plan: Plan, streaming: bool) -> AsyncIterator[np.ndarray]:
        """Audio pieces as the engine produces them (Busy when the queue is full)."""
        started = time.perf_counter()
        produced = 0

        def work(engine: TtsEngine, stop: Any) -> Any:
            return engine.synthesize(plan.chunks, plan.language, plan.voice, plan.speed, streaming, stop)

        try:
            async for piece in self.stream(work):
                produced += len(piece)
                yield piece
        finally:
            metrics.AUDIO_SECONDS.labels(self.name).inc(produced / plan.sample_rate)
            metrics.SYNTHESIS_SECONDS.labels(self.name).inc(time.perf_counter() - started)
        metrics.CHARACTERS.labels(self.name, plan.language).inc(len(plan.text))

    async def synthesize_all(self, plan: Plan) -> np.ndarray:
        pieces = [piece async for piece in self.audio(plan, streaming=False)]
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)

    # --- KServe's three steps (V1 / V2) ------------------------------------------------------------
    async def preprocess(self, payload: Any, headers: dict[str, str] | None = None) -> SpeechJob:
        """Parse the body and plan every text in it (``InvalidInput`` → 400 before any synthesis)."""
        protocol = "v2" if isinstance(payload, InferRequest) else "v1"
        request_id = (headers or {}).get("x-request-id")
        try:
            if isinstance(payload, InferRequest):
                requests = parse_v2(payload)
            elif isinstance(payload, dict):
                requests = parse_v1(payload)
            elif isinstance(payload, bytes | bytearray):
                requests = parse_v1(_json_body(payload))
            else:
                raise InvalidInput(f"unsupported request body ({type(payload).__name__}); send JSON")
            plans = [await self.plan(r) for r in requests]
        except InvalidInput:
            metrics.REQUESTS.labels(self.name, protocol, "invalid").inc()
            raise
        response_id = payload.id if isinstance(payload, InferRequest) else None
        return SpeechJob(protocol, plans, request_id, response_id)

    async def predict(
        self,
        payload: SpeechJob,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> Spoken:
        job = payload
        log.info("request %s: %s, %d text(s)", job.request_id or "-", job.protocol, len(job.plans))
        results: Results = []
        try:
            for plan in job.plans:
                results.append((plan, await self.synthesize_all(plan)))
        except Busy:
            metrics.REQUESTS.labels(self.name, job.protocol, "busy").inc()
            raise
        except UnspeakableText as exc:
            metrics.REQUESTS.labels(self.name, job.protocol, "invalid").inc()
            raise InvalidInput(str(exc)) from exc
        except Exception as exc:
            metrics.REQUESTS.labels(self.name, job.protocol, "error").inc()
            log.exception("request %s failed", job.request_id or "-")
            raise InferenceError(f"synthesis failed: {type(exc).__name__}: {exc}") from exc
        metrics.REQUESTS.labels(self.name, job.protocol, "ok").inc()
        return Spoken(job, results)

    async def postprocess(
        self,
        result: Spoken,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict[str, Any] | InferResponse:
        if result.job.protocol == "v1":
            return v1_response(result.results)
        return v2_response(result.results, self.name, result.job.response_id)


def _json_body(body: bytes | bytearray) -> dict[str, Any]:
    """A JSON body KServe left as bytes (a client that did not say ``application/json``)."""
    try:
        loaded = json.loads(body)
    except ValueError as exc:
        raise InvalidInput(f"the body must be JSON ({exc})") from exc
    if not isinstance(loaded, dict):
        raise InvalidInput("the body must be a JSON object")
    return loaded
