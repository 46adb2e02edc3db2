"""A KServe model whose engine is loaded lazily, unloaded when idle, and used through a bounded gate.

``healthy()`` answers "can take work" (``kserve_adapter.KServeModel``) while the readiness endpoints
(registered by ``voicestack_predictors.common.server``) answer "is loaded" through ``readiness()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import threading
import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Generic, TypeVar

from prometheus_client import Gauge

from voicestack_predictors.common.gate import Gate
from voicestack_predictors.common.kserve_adapter import KServeModel
from voicestack_predictors.common.settings import ServingOptions

log = logging.getLogger(__name__)

E = TypeVar("E")
T = TypeVar("T")

MODEL_LOADED = Gauge("voicestack_model_loaded", "1 while the engine is in memory", ["model_name"])
QUEUE_WAITING = Gauge("voicestack_queue_waiting", "Requests waiting for an engine slot", ["model_name"])
ACTIVE_REQUESTS = Gauge("voicestack_active_inferences", "Inferences running now", ["model_name"])

_DONE = object()


class ManagedModel(KServeModel, Generic[E]):
    """Subclasses build the engine in ``create_engine`` and run work with ``run`` or ``stream``."""

    def __init__(self, name: str, serving: ServingOptions) -> None:
        super().__init__(name)
        # Whether the engine is loaded is ``is_loaded``/``readiness()``. (``self.engine`` is KServe's
        # flag for models with their own engine loop, so the engine lives in ``_engine``.)
        self.serving = serving
        self.gate = Gate(serving.max_concurrency, serving.max_queue)
        self._engine: E | None = None
        self._load_lock = threading.Lock()
        self._use_lock = threading.Lock()
        self._in_use = 0
        self._last_used = time.monotonic()
        self._loaded_once = False
        self.load_error: str | None = None
        self.load_seconds: float | None = None
        self._idle_thread: threading.Thread | None = None
        MODEL_LOADED.labels(name).set(0)  # present (as 0) before the first load, not missing
        QUEUE_WAITING.labels(name).set_function(lambda: self.gate.waiting)
        ACTIVE_REQUESTS.labels(name).set_function(lambda: self.gate.active)
        if serving.idle_unload_seconds > 0:
            self._idle_thread = threading.Thread(target=self._idle_watch, name=f"{name}-idle", daemon=True)
            self._idle_thread.start()

    # --- what a subclass provides -------------------------------------------------------------------
    @abstractmethod
    def create_engine(self) -> E:
        """Build the engine (blocking; runs in a worker thread or at start)."""

    def close_engine(self, engine: E) -> None:
        """Release the engine's memory. The default drops it and empties the CUDA cache."""
        del engine
        gc.collect()
        torch = sys.modules.get("torch")  # only if the engine brought it in
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    # --- loading ------------------------------------------------------------------------------------
    @property
    def is_loaded(self) -> bool:
        return self._engine is not None

    def load(self) -> bool:
        """Called by ``serve`` when loading at start; raises if the model cannot be loaded."""
        self.ensure_engine()
        return True

    def ensure_engine(self) -> E:
        with self._load_lock:
            if self._engine is None:
                started = time.perf_counter()
                try:
                    self._engine = self.create_engine()
                except Exception as exc:
                    self.load_error = f"{type(exc).__name__}: {exc}"
                    log.exception("loading model %s failed", self.name)
                    raise
                self.load_seconds = time.perf_counter() - started
                self.load_error = None
                self._loaded_once = True
                MODEL_LOADED.labels(self.name).set(1)
                log.info("model %s loaded in %.2fs", self.name, self.load_seconds)
            return self._engine

    def unload(self) -> bool:
        """Free the engine now if nothing is using it; returns whether it was freed."""
        with self._load_lock, self._use_lock:
            if self._engine is None or self._in_use:
                return False
            engine, self._engine = self._engine, None
        self.close_engine(engine)
        MODEL_LOADED.labels(self.name).set(0)
        log.info("model %s unloaded", self.name)
        return True

    def readiness(self) -> bool:
        """Ready when loaded, or unloaded for idleness after a good load (it reloads on demand)."""
        return self._engine is not None or (self._loaded_once and self.serving.idle_unload_seconds > 0)

    def _idle_watch(self) -> None:
        limit = self.serving.idle_unload_seconds
        interval = max(0.2, min(limit / 4, 10.0))
        while True:
            time.sleep(interval)
            with self._use_lock:
                idle_for = time.monotonic() - self._last_used
                busy = self._in_use > 0
            if self._engine is not None and not busy and idle_for >= limit:
                self.unload()

    @contextlib.contextmanager
    def _using(self) -> Iterator[None]:
        with self._use_lock:
            self._in_use += 1
        try:
            yield
        finally:
            with self._use_lock:
                self._in_use -= 1
                self._last_used = time.monotonic()

    # --- running work -------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the gate's slots (``Busy`` if the queue is full), the engine kept loaded meanwhile.

        ``run`` and ``stream`` take one themselves; a caller that must do work of its own inside the slot
        before the engine's (the ASR predictor decodes the upload there, so queued requests wait without
        using the CPU the running one needs) holds it and calls ``run_in_slot`` or ``stream_in_slot``.
        """
        async with self.gate.slot():
            with self._using():
                yield

    async def run(self, work: Callable[[E], T]) -> T:
        """Run ``work(engine)`` in a worker thread once a slot is free (``Busy`` if the queue is full)."""
        async with self.slot():
            return await self.run_in_slot(work)

    async def run_in_slot(self, work: Callable[[E], T]) -> T:
        """``run`` for a caller already holding ``slot()``."""
        engine = await asyncio.to_thread(self.ensure_engine)
        return await asyncio.to_thread(work, engine)

    async def stream(self, work: Callable[[E, threading.Event], Iterator[T]]) -> AsyncIterator[T]:
        """Relay items of a blocking generator ``work(engine, stop)`` as they are produced.

        The slot is held until the generator finishes; if the consumer goes away, ``stop`` is set so the
        generator can end early, and the slot is released only after the engine is idle again.
        """
        # aclosing: a consumer that goes away closes the relay (stopping the engine) before the slot is freed.
        async with self.slot(), contextlib.aclosing(self.stream_in_slot(work)) as items:
            async for item in items:
                yield item

    async def stream_in_slot(self, work: Callable[[E, threading.Event], Iterator[T]]) -> AsyncIterator[T]:
        """``stream`` for a caller already holding ``slot()`` (close it with ``contextlib.aclosing`` before
        the slot is released)."""
        engine = await asyncio.to_thread(self.ensure_engine)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[object, BaseException | None]] = asyncio.Queue()
        stop = threading.Event()

        def put(item: object, error: BaseException | None = None) -> None:
            with contextlib.suppress(RuntimeError):  # loop already closed at shutdown
                loop.call_soon_threadsafe(queue.put_nowait, (item, error))

        def produce() -> None:
            try:
                for item in work(engine, stop):
                    put(item)
                    if stop.is_set():
                        break
            except BaseException as exc:
                put(_DONE, exc)
            else:
                put(_DONE)

        worker = loop.run_in_executor(None, produce)
        try:
            while True:
                item, error = await queue.get()
                if item is _DONE:
                    if error is not None:
                        raise error
                    break
                yield item  # type: ignore[misc]
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.shield(worker)
