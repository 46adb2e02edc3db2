"""Chunk-by-chunk synthesis: several chunks in flight across replicas, audio delivered in order.

The TTS predictor plans the whole text once (``/plan``: its language, its voice, its chunks and which of
them to generate incrementally); each chunk is then one streamed ``/synthesize`` call with that language and
voice, so every chunk of a request speaks the same language. Up to ``parallel`` calls run at once, each
filling its own queue, and the consumer drains queue 0, then queue 1, … so the first bytes leave as soon as
the first chunk starts arriving while later chunks are already being made on other replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from voicestack_router.backends import BackendError, BackendPool

_END = object()


@dataclass(frozen=True)
class PlannedChunk:
    text: str
    stream: bool  # generate it incrementally: the predictor says which chunks are worth it


@dataclass(frozen=True)
class SpeechPlan:
    """The predictor's ``/plan`` answer: decided once for the whole text."""

    language: str
    voice: str
    chunks: list[PlannedChunk]

    @classmethod
    def parse(cls, body: Any) -> SpeechPlan:
        try:
            chunks = [PlannedChunk(str(chunk["text"]), bool(chunk["stream"])) for chunk in body["chunks"]]
            return cls(str(body["language"]), str(body["voice"]), chunks)
        except (KeyError, TypeError) as exc:
            raise BackendError(502, f"the TTS backend answered an unexpected plan ({exc!r})") from exc


async def plan_speech(
    pool: BackendPool, model_name: str, fields: dict[str, Any], http_timeout: httpx.Timeout
) -> SpeechPlan:
    """Ask the predictor how it will speak the text (errors: ``BackendError`` with a typed code)."""
    path = f"/v1/models/{model_name}/plan"
    return SpeechPlan.parse(
        await pool.request_json("POST", path, json_body=fields, http_timeout=http_timeout)
    )


@dataclass
class SpeechRequest:
    plan: SpeechPlan
    speed: float
    model_name: str
    http_timeout: httpx.Timeout


@dataclass
class _Sentence:
    text: str
    stream: bool
    chunks: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    started: asyncio.Future[int] | None = None


class SpeechStream:
    """Start with ``await open()`` (errors before any audio raise there), then iterate ``(pcm, rate)``."""

    def __init__(self, pool: BackendPool, request: SpeechRequest, parallel: int) -> None:
        self.pool = pool
        self.request = request
        self.parallel = max(1, parallel)
        self._sentences = [_Sentence(chunk.text, chunk.stream) for chunk in request.plan.chunks]
        self._limit = asyncio.Semaphore(self.parallel)
        self._tasks: list[asyncio.Task[None]] = []

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        for index, sentence in enumerate(self._sentences):
            sentence.started = loop.create_future()
            self._tasks.append(asyncio.create_task(self._produce(index, sentence)))
        if self._sentences:
            assert self._sentences[0].started is not None
            try:
                await self._sentences[0].started
            except BaseException:
                await self.aclose()
                raise

    async def _produce(self, index: int, sentence: _Sentence) -> None:
        assert sentence.started is not None
        body = {
            "text": sentence.text,
            "voice": self.request.plan.voice,
            "language": self.request.plan.language,
            "speed": self.request.speed,
            "stream": sentence.stream,
        }
        try:
            async with (
                self._limit,
                self.pool.stream(
                    "POST",
                    f"/v1/models/{self.request.model_name}/synthesize",
                    json_body=body,
                    http_timeout=self.request.http_timeout,
                    wait=index > 0,  # the request was admitted with its first sentence
                    input_chars=len(sentence.text),
                ) as response,
            ):
                rate = int(response.headers.get("x-sample-rate", "24000"))
                if not sentence.started.done():
                    sentence.started.set_result(rate)
                async for chunk in response.aiter_bytes():
                    if chunk:
                        sentence.chunks.put_nowait((chunk, rate))
            sentence.chunks.put_nowait(_END)
        except BaseException as exc:
            if not sentence.started.done():
                sentence.started.set_exception(exc)
                sentence.started.exception()  # mark retrieved: later sentences' errors surface via the queue
            sentence.chunks.put_nowait(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise

    async def __aiter__(self) -> AsyncIterator[tuple[bytes, int]]:
        try:
            for sentence in self._sentences:
                while True:
                    item = await sentence.chunks.get()
                    if item is _END:
                        break
                    if isinstance(item, BaseException):
                        if isinstance(item, httpx.HTTPError):
                            raise SpeechBrokenOff(f"the TTS backend stream broke off ({type(item).__name__})")
                        raise item
                    yield item
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        for task in self._tasks:
            if not task.done():
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task


class SpeechBrokenOff(Exception):
    """The predictor's audio stream stopped part-way (it aborted, or went away)."""
