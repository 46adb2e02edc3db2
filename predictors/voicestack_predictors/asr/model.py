"""The KServe model. preprocess: parse the request and check the media's header (worker thread); predict:
through the bounded gate, decode the media (worker thread), validate it and run the engine; postprocess:
the protocol's response (or NDJSON lines when streaming).

The upload is decoded inside the gate's slot, not in preprocess: a request waiting in the queue holds only
its compressed bytes and takes no CPU from the transcription running (docs/asr-predictor.md#performance).
Most bad media (not an accepted container, no audio track, a declared duration past the limit) is still
refused before the request queues, by the header check.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from kserve.errors import InferenceError, InvalidInput
from kserve.protocol.infer_type import InferResponse

from voicestack_predictors.asr import metrics
from voicestack_predictors.asr.engines import TOKEN_LOGPROB_ENGINES, AsrEngine, create_engine
from voicestack_predictors.asr.engines.memory import release_freed_memory
from voicestack_predictors.asr.language_vote import detection_windows
from voicestack_predictors.asr.protocol import AudioRequest, parse_request, respond
from voicestack_predictors.asr.settings import EngineSettings
from voicestack_predictors.asr.transcription import Transcription
from voicestack_predictors.common.audio import DecodedAudio
from voicestack_predictors.common.gate import Busy
from voicestack_predictors.common.managed_model import ManagedModel
from voicestack_predictors.common.settings import ServingOptions

log = logging.getLogger(__name__)


class AsrModel(ManagedModel[AsrEngine]):
    def __init__(self, name: str, serving: ServingOptions, settings: EngineSettings) -> None:
        super().__init__(name, serving)
        self.settings = settings

    def create_engine(self) -> AsrEngine:
        return create_engine(self.settings, self.serving.max_concurrency)

    def close_engine(self, engine: AsrEngine) -> None:
        engine.close()
        super().close_engine(engine)

    # --- KServe's three steps ----------------------------------------------------------------------
    async def preprocess(self, payload: Any, headers: dict[str, str] | None = None) -> AudioRequest:
        """Parse the request and check its media's header (worker thread); the media is decoded in
        ``predict``, inside the gate."""
        task = "unknown"
        try:
            request = parse_request(payload, headers)
            task = request.options.task
            log.info(
                "request %s: %s %s (%d bytes)",
                request.request_id or "-",
                request.protocol,
                task,
                len(request.data),
            )
            await asyncio.to_thread(request.check, self.settings.max_audio_seconds)
        except InvalidInput:
            metrics.REQUESTS.labels(self.name, task, "invalid").inc()
            raise
        return request

    async def predict(
        self,
        payload: AudioRequest,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> Transcribed:
        """Decode and run the request through the gate: the whole result, or the started event stream."""
        request, task = payload, payload.options.task
        if request.options.stream:
            return Transcribed(request, await self._stream(request))
        started = time.perf_counter()
        try:
            async with self.slot():
                job = await self._prepare(request)
                result = await self.run_in_slot(job.result)
        except Exception as exc:
            error = self._counted(request, exc)
            if error is exc:
                raise
            raise error from exc
        finally:
            self._release_memory_when_idle()
        metrics.REQUESTS.labels(self.name, task, "ok").inc()
        log.info(
            "request %s: %.1f s of audio done in %.2f s (queue included)",
            request.request_id or "-",
            job.audio.duration,
            time.perf_counter() - started,
        )
        return Transcribed(request, result)

    async def postprocess(
        self,
        result: Transcribed,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict[str, Any] | InferResponse | AsyncIterator[bytes]:
        """The protocol's response shape, or NDJSON lines for a streamed transcription."""
        if isinstance(result.output, dict):
            return respond(result.request, result.output, self.name)
        return self._ndjson(result.output, result.request.options.task)

    async def _prepare(self, request: AudioRequest) -> Transcription:
        """Decode the upload (worker thread) and check it against the options: called holding a slot."""
        started = time.perf_counter()
        audio = await asyncio.to_thread(request.decode, self.settings.max_audio_seconds)
        metrics.DECODE_SECONDS.labels(self.name).observe(time.perf_counter() - started)
        return self._transcription(request, audio)

    def _transcription(self, request: AudioRequest, audio: DecodedAudio) -> Transcription:
        options = request.options
        if audio.duration == 0:
            raise InvalidInput("the audio contains no samples")
        if options.logprobs and self.settings.engine not in TOKEN_LOGPROB_ENGINES:
            raise InvalidInput(
                f"logprobs: the {self.settings.engine} engine cannot give token log probabilities "
                f"(engines that can: {', '.join(TOKEN_LOGPROB_ENGINES)})"
            )
        detects = options.task == "detect_language" or options.language is None
        if detects and options.detect_lang_offset >= audio.duration:
            raise InvalidInput(
                f"detect_lang_offset ({options.detect_lang_offset:g} s) is past the end of the audio "
                f"({audio.duration:.2f} s)"
            )
        if detects and not detection_windows(
            len(audio.samples), audio.sample_rate, options.detect_lang_offset, options.detect_lang_length
        ):  # e.g. detect_lang_length=1e-300: not one sample to listen to
            raise InvalidInput(
                f"detect_lang_length ({options.detect_lang_length:g} s) holds no audio to detect a language"
            )
        return Transcription(self.name, audio, options, self.settings)

    async def _stream(self, request: AudioRequest) -> Started:
        """Start the work before answering, so a full queue, bad media or a failed load is still a plain
        HTTP error."""
        events = self._events(request)
        try:
            first = await anext(events)
        except Exception as exc:
            await events.aclose()
            error = self._counted(request, exc)
            if error is exc:
                raise
            raise error from exc
        return Started(first, events)

    async def _events(self, request: AudioRequest) -> AsyncIterator[dict[str, Any]]:
        try:
            async with self.slot():
                job = await self._prepare(request)
                async with contextlib.aclosing(self.stream_in_slot(job.events)) as events:
                    async for event in events:
                        yield event
        finally:
            self._release_memory_when_idle()

    def _release_memory_when_idle(self) -> None:
        """Hand freed heap memory back (``malloc_trim``) in a worker thread while the answer goes out, when
        no other request is running or waiting (they would reuse it). Long audio already did it before
        answering (``transcription.TRIM_AFTER_SECONDS``)."""
        if self.gate.active == 0 and self.gate.waiting == 0:
            with contextlib.suppress(RuntimeError):  # no running loop: a stream closed at shutdown
                asyncio.get_running_loop().run_in_executor(None, release_freed_memory)

    def _counted(self, request: AudioRequest, exc: Exception) -> Exception:
        """``exc`` counted in the requests metric, as the error to raise: busy and bad input as they are,
        anything else a 500 naming the failure."""
        task = request.options.task
        if isinstance(exc, Busy):
            metrics.REQUESTS.labels(self.name, task, "busy").inc()
            return exc
        if isinstance(exc, InvalidInput):
            metrics.REQUESTS.labels(self.name, task, "invalid").inc()
            return exc
        metrics.REQUESTS.labels(self.name, task, "error").inc()
        return self._failure(request, exc)

    async def _ndjson(self, started: Started, task: str) -> AsyncIterator[bytes]:
        outcome = "ok"
        events = started.events
        try:
            yield _line(started.first)
            async for event in events:
                yield _line(event)
        except Exception as exc:
            outcome = "error"
            log.exception("streamed transcription failed")
            yield _line({"type": "error", "error": f"transcription failed: {type(exc).__name__}: {exc}"})
        finally:
            await events.aclose()  # type: ignore[attr-defined]
            metrics.REQUESTS.labels(self.name, task, outcome).inc()

    def _failure(self, request: AudioRequest, exc: Exception) -> InferenceError:
        log.error("request %s failed", request.request_id or "-", exc_info=exc)
        if not self.is_loaded and self.load_error:
            return InferenceError(f"the model could not be loaded: {self.load_error}")
        return InferenceError(f"transcription failed: {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class Transcribed:
    """What ``predict`` hands ``postprocess``: the request and its result, or its events as they come."""

    request: AudioRequest
    output: dict[str, Any] | Started


@dataclass(frozen=True)
class Started:
    """A streamed transcription whose first event is already there (so failing to start is a plain 500)."""

    first: dict[str, Any]
    events: AsyncIterator[dict[str, Any]]


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode() + b"\n"
