"""Cross-request batching: 30 s windows of several concurrent requests decoded in one batched pass.

Each request still runs faster-whisper's ``BatchedInferencePipeline`` (VAD, features, segment splitting, word
timings) in its own thread; only the encoder + ``generate`` step (``generate_segment_batched``) goes through
the shared ``WindowBatcher``. Whichever waiting request finds no pass running leads the next one: it takes
up to ``batch_size`` queued windows, oldest first, from the requests whose decoding options match its
oldest job's (a request's windows may be split across passes), runs them as one batch and hands each
request its rows. Memory stays bounded by ``batch_size`` windows per pass, as without the batcher.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper import BatchedInferencePipeline
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import TranscriptionOptions
from prometheus_client import Counter, Histogram

PASS_WINDOWS = Histogram(
    "voicestack_asr_batch_pass_windows",
    "Windows per batched encoder+generate pass of the cross-request batcher",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
PASS_REQUESTS = Histogram(
    "voicestack_asr_batch_pass_requests",
    "Requests served by one batched pass of the cross-request batcher (above 1: a shared pass)",
    buckets=(1, 2, 3, 4, 8, 16),
)
SHARED_PASSES = Counter(
    "voicestack_asr_batch_shared_passes",
    "Batched passes of the cross-request batcher that served more than one request",
)


class WindowsCancelled(Exception):
    """The request's ``stop`` event was set while its windows waited for a pass."""


def options_key(tokenizer: Tokenizer, options: TranscriptionOptions) -> tuple[Any, ...]:
    """What ``generate_segment_batched`` reads: windows with equal keys can share one pass."""
    prompt = options.initial_prompt
    return (
        tokenizer.language_code,
        tokenizer.task,
        prompt if isinstance(prompt, str | None) else tuple(prompt),
        options.hotwords,
        options.without_timestamps,
        options.max_new_tokens,
        options.beam_size,
        options.patience,
        options.length_penalty,
        options.suppress_blank,
        tuple(options.suppress_tokens or ()),
        options.temperatures[0],
        options.repetition_penalty,
        options.no_repeat_ngram_size,
        options.multilingual,
    )


@dataclass(eq=False)
class Job:
    """One ``generate_segment_batched`` call of one request: its windows and, once decoded, their rows."""

    key: tuple[Any, ...]
    features: np.ndarray
    tokenizer: Tokenizer
    options: TranscriptionOptions
    taken: int = 0  # windows handed to a pass so far
    outputs: list[dict[str, Any] | None] = field(default_factory=list)
    encoded: list[np.ndarray | None] = field(default_factory=list)
    whole: ctranslate2.StorageView | None = None  # the encoder output when one pass decoded all its windows
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self.outputs = [None] * len(self.features)
        self.encoded = [None] * len(self.features)

    @property
    def done(self) -> bool:
        return self.error is not None or all(output is not None for output in self.outputs)


@dataclass
class Part:
    """Windows ``start:stop`` of ``job`` in a pass."""

    job: Job
    start: int
    stop: int


class WindowBatcher:
    """Decodes the windows of concurrent requests in shared passes of up to ``batch_size`` windows.

    ``wait`` seconds: how long a pass that is not full waits for windows from another request that is
    registered (``active``) but has none queued yet; 0 never waits.
    """

    def __init__(self, pipeline: BatchedInferencePipeline, batch_size: int, wait: float = 0.0) -> None:
        self.pipeline = pipeline
        self.batch_size = max(1, batch_size)
        self.wait = wait
        self._cond = threading.Condition()
        self._queue: list[Job] = []
        self._running = False
        self._active = 0
        self.passes = 0
        self.shared_passes = 0

    def active(self) -> _Active:
        """A request's batched transcription, registered so that a pass may wait for its windows."""
        return _Active(self)

    def generate(
        self,
        features: np.ndarray,
        tokenizer: Tokenizer,
        options: TranscriptionOptions,
        stop: threading.Event,
    ) -> tuple[ctranslate2.StorageView, list[dict[str, Any]]]:
        """``BatchedInferencePipeline.generate_segment_batched`` for these windows, in shared passes."""
        job = Job(options_key(tokenizer, options), features, tokenizer, options)
        with self._cond:
            self._queue.append(job)
            self._cond.notify_all()
            while not job.done:
                if stop.is_set():
                    if job in self._queue:
                        self._queue.remove(job)
                    raise WindowsCancelled
                if not self._running and self._queue:
                    self._running = True
                    parts = self._take()
                    self._cond.release()
                    try:
                        self._run(parts)
                    finally:
                        self._cond.acquire()
                        self._running = False
                        self._cond.notify_all()
                else:
                    self._cond.wait(0.05)
        if job.error is not None:
            raise job.error
        outputs = [output for output in job.outputs if output is not None]
        if job.whole is not None:
            return job.whole, outputs
        rows = np.stack([row for row in job.encoded if row is not None])
        # from_array shares the numpy memory; to_device copies it into storage CTranslate2 owns.
        return ctranslate2.StorageView.from_array(rows).to_device(ctranslate2.Device.cpu), outputs

    def _take(self) -> list[Part]:
        """Up to ``batch_size`` queued windows, oldest first, with the options of the oldest job (lock
        held); waits up to ``wait`` for more while the pass is not full and an active request has none
        queued."""
        deadline = time.monotonic() + self.wait
        while True:
            key = self._queue[0].key
            compatible = [job for job in self._queue if job.key == key]
            queued = sum(len(job.features) - job.taken for job in compatible)
            remaining = deadline - time.monotonic()
            if queued >= self.batch_size or len(self._queue) >= self._active or remaining <= 0:
                break
            self._cond.wait(remaining)
        parts: list[Part] = []
        room = self.batch_size
        for job in compatible:
            count = min(room, len(job.features) - job.taken)
            parts.append(Part(job, job.taken, job.taken + count))
            job.taken += count
            room -= count
            if job.taken == len(job.features):
                self._queue.remove(job)
            if not room:
                break
        return parts

    def _run(self, parts: list[Part]) -> None:
        """One encoder + generate pass over ``parts`` (lock released); each job gets its rows."""
        first = parts[0].job
        features = np.concatenate([part.job.features[part.start : part.stop] for part in parts])
        PASS_WINDOWS.observe(len(features))
        PASS_REQUESTS.observe(len(parts))
        self.passes += 1
        if len(parts) > 1:
            SHARED_PASSES.inc()
            self.shared_passes += 1
        try:
            encoder_output, outputs = BatchedInferencePipeline.generate_segment_batched(
                self.pipeline, features, first.tokenizer, first.options
            )
        except Exception as exc:  # every request in the pass fails with the engine's error
            for part in parts:
                part.job.error = exc
            return
        whole = len(parts) == 1 and parts[0].start == 0 and parts[0].stop == len(first.features)
        if whole:
            first.whole = encoder_output
        else:
            encoded = np.asarray(encoder_output.to_device(ctranslate2.Device.cpu))
        row = 0
        for part in parts:
            for index in range(part.start, part.stop):
                part.job.outputs[index] = outputs[row]
                if not whole:
                    part.job.encoded[index] = encoded[row]
                row += 1


class _Active:
    def __init__(self, batcher: WindowBatcher) -> None:
        self.batcher = batcher

    def __enter__(self) -> None:
        with self.batcher._cond:
            self.batcher._active += 1

    def __exit__(self, *exc: object) -> None:
        with self.batcher._cond:
            self.batcher._active -= 1
            self.batcher._cond.notify_all()


class SharedBatchPipeline(BatchedInferencePipeline):
    """One request's ``BatchedInferencePipeline`` whose encoder + generate step goes through the batcher;
    everything else (VAD, segment splitting, word timings and their ``last_speech_timestamp``) is its own."""

    def __init__(self, model: Any, batcher: WindowBatcher, stop: threading.Event) -> None:
        super().__init__(model)
        self.batcher = batcher
        self.stop = stop

    def generate_segment_batched(
        self, features: np.ndarray, tokenizer: Tokenizer, options: TranscriptionOptions
    ) -> tuple[ctranslate2.StorageView, list[dict[str, Any]]]:
        return self.batcher.generate(features, tokenizer, options, self.stop)
