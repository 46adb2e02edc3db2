"""faster-whisper (CTranslate2): the default engine; long audio goes through BatchedInferencePipeline."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Any

import ctranslate2
import huggingface_hub.constants
import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper import utils as faster_whisper_utils
from faster_whisper.audio import pad_or_trim
from faster_whisper.transcribe import Segment
from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps
from huggingface_hub.errors import LocalEntryNotFoundError

from voicestack_predictors.asr.engines.base import (
    DEFAULT_BEAM_SIZE,
    SAMPLE_RATE,
    AsrEngine,
    DecodeOptions,
    vad_settings,
)
from voicestack_predictors.asr.engines.cues import split_window
from voicestack_predictors.asr.engines.window_batcher import (
    SharedBatchPipeline,
    WindowBatcher,
    WindowsCancelled,
)
from voicestack_predictors.asr.settings import EngineSettings
from voicestack_predictors.common.devices import ctranslate2_cuda, resolve_device

log = logging.getLogger(__name__)

BATCH_WINDOW_SECONDS = 30.0
# The automatic choices for audio longer than one window, per device, measured on Whisper base
# (docs/asr-predictor.md#performance): the batched pipeline with VAD halves the time of the sequential loop
# on CPU at no loss of accuracy, and greedy decoding there costs no accuracy against the sequential beam.
AUTO_BATCH_SIZE = {"cpu": 8, "cuda": 8}
AUTO_BATCHED_BEAM_SIZE = {"cpu": 1, "cuda": DEFAULT_BEAM_SIZE}
# Windows per encoder call (0: the whole batch). On CPU a batch costs the encoder the same time per window,
# but its attention scores grow with it: a batch of 8 took about 750 MB more at the peak.
ENCODER_BATCH = {"cpu": 1, "cuda": 0}
# Cross-request batching (window_batcher.py): fuller batches should pay on a GPU (unmeasured); on CPU a pass
# costs about the same time per window however many share it, and four long requests at once took up to
# 1.38x the total time with it (docs/asr-predictor.md#cross-request-batching), so it stays off there.
AUTO_CROSS_REQUEST_BATCHING = {"cpu": False, "cuda": True}
# Whisper's fallback thresholds: a window compressing better than this repeats itself; one below this mean
# log probability is unlikely text.
COMPRESSION_RATIO_THRESHOLD = 2.4
LOG_PROB_THRESHOLD = -1.0
FRAMES_PER_SECOND = 100  # Whisper's mel frames: the unit of ``seek``
# Language detection scores the batched pipeline's first window (the first 30 s of speech) to hand it its
# encoder pass; VAD over this much audio finds that window (0.17 s here against 0.65 s for 235 s).
FIRST_CHUNK_SCAN_SECONDS = 60.0


class WindowedEncoderModel(WhisperModel):
    """``WhisperModel`` whose encoder runs at most ``encoder_batch`` windows at a time; the decoder still
    gets the whole batch, which is where batching pays on CPU.

    It also hands language detection's encoder pass on to the transcription. Detection scores the window
    the transcription encodes first (the audio up to 30 s, or the batched pipeline's first VAD window:
    ``first_encoded_window``), from the same features, so that window was encoded twice (0.85 s of the
    2.9 s a jfk request took on two CPU cores). ``encode_for_reuse`` keeps the output under a digest of its
    features; the next encoding of exactly those features, alone or as one window of an encoder batch of
    one, takes it instead of running the encoder. Keyed by content, an entry can never serve other audio;
    at most ``REUSE_ENTRIES`` are kept (3 MB each for Whisper base), each used once.
    """

    encoder_batch = 0
    REUSE_ENTRIES = 4

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reusable: OrderedDict[bytes, ctranslate2.StorageView] = OrderedDict()
        self._reuse_lock = threading.Lock()

    @staticmethod
    def _digest(features: np.ndarray) -> bytes:
        window = np.ascontiguousarray(features, dtype=np.float32)
        return hashlib.blake2b(window.data, digest_size=16, person=str(window.shape).encode()[:16]).digest()

    def encode_for_reuse(self, features: np.ndarray) -> ctranslate2.StorageView:
        """The encoder's output for one padded window, kept for the transcription's own pass over it."""
        output = self.encode(features)
        with self._reuse_lock:
            self._reusable[self._digest(features)] = output
            while len(self._reusable) > self.REUSE_ENTRIES:
                self._reusable.popitem(last=False)
        return output

    def _take_reusable(self, features: np.ndarray) -> ctranslate2.StorageView | None:
        """A kept output for one window (2-D, or a batch of one); batches of several are encoded whole."""
        if not self._reusable or not (features.ndim == 2 or len(features) == 1):
            return None
        with self._reuse_lock:
            return self._reusable.pop(self._digest(features.reshape(features.shape[-2:])), None)

    def _encode_part(self, features: np.ndarray) -> ctranslate2.StorageView:
        reused = self._take_reusable(features)
        return reused if reused is not None else super().encode(features)

    def encode(self, features: np.ndarray) -> ctranslate2.StorageView:
        size, encode = self.encoder_batch, self._encode_part
        if not size or features.ndim == 2 or len(features) <= size:
            return encode(features)
        parts = [np.asarray(encode(features[i : i + size])) for i in range(0, len(features), size)]
        # from_array shares the numpy memory; to_device copies it into storage CTranslate2 owns.
        return ctranslate2.StorageView.from_array(np.concatenate(parts)).to_device(ctranslate2.Device.cpu)


class AlignRecorder:
    """The CTranslate2 Whisper model, keeping what ``align`` scored while this thread records.

    faster-whisper's word-timing pass runs the decoder once over the text it chose and gets every text
    token's probability (``text_token_probs``), but keeps only each word's mean; recording the pass gives
    the per-token log probabilities OpenAI's ``include[]=logprobs`` returns, at the price of word timings.
    """

    def __init__(self, model: Any) -> None:
        self._model = model
        self._local = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def align(
        self, encoder_output: Any, start_sequence: Any, text_tokens: Any, *args: Any, **kwargs: Any
    ) -> Any:
        results = self._model.align(encoder_output, start_sequence, text_tokens, *args, **kwargs)
        record: deque[tuple[int, float]] | None = getattr(self._local, "record", None)
        if record is not None:
            for tokens, result in zip(text_tokens, results, strict=True):
                record.extend(zip(tokens, result.text_token_probs, strict=False))
        return results

    @contextlib.contextmanager
    def recording(self) -> Iterator[deque[tuple[int, float]]]:
        record: deque[tuple[int, float]] = deque()
        self._local.record = record
        try:
            yield record
        finally:
            self._local.record = None


@cache
def byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level BPE alphabet (Whisper's tokenizer): each printable stand-in character → its byte."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    stand_ins = {byte: chr(byte) for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in stand_ins:
            stand_ins[byte] = chr(256 + extra)
            extra += 1
    return {char: byte for byte, char in stand_ins.items()}


def take_tokens(record: deque[tuple[int, float]], tokens: Sequence[int]) -> list[tuple[int, float]]:
    """The recorded ``(token, probability)`` pairs of ``tokens``, the next place they occur in order; what
    lies before them (a window decoded again) is dropped. Empty when they were not recorded."""
    pairs = list(record)
    size = len(tokens)
    for start in range(len(pairs) - size + 1):
        if [token for token, _ in pairs[start : start + size]] == list(tokens):
            for _ in range(start + size):
                record.popleft()
            return pairs[start : start + size]
    return []


def check_model_source(model: str) -> str:
    """A local CTranslate2 directory, or a size name / Hub repo id left to faster-whisper to download."""
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ValueError(f"{path} is not a CTranslate2 Whisper model directory (no model.bin)")
        if not (path / "tokenizer.json").is_file():
            log.warning("%s has no tokenizer.json: faster-whisper will try to download one", path)
        return str(path)
    if path.is_file():
        raise ValueError(
            f"{path} is a file; faster-whisper needs a CTranslate2 model directory "
            "(use --engine whisper for an openai-whisper .pt checkpoint)"
        )
    if model.startswith(("/", "./", "../", "~")):
        raise ValueError(f"model directory not found: {model}")
    return model


def hub_repo(model: str) -> str:
    """The Hugging Face repo faster-whisper fetches for a size name (a repo id is itself)."""
    return str(getattr(faster_whisper_utils, "_MODELS", {}).get(model, model))


def hub_error(model: str, settings: EngineSettings, exc: Exception) -> str:
    """Why a size name or repo id could not be loaded, naming the repo, the cache and the cause."""
    cache = settings.download_root or huggingface_hub.constants.HF_HUB_CACHE
    repo = hub_repo(model)
    what = f"faster-whisper model {model!r}" + (f" (Hugging Face repo {repo})" if repo != model else "")
    if settings.local_files_only:
        return f"{what} is not in the cache {cache} and --local_files_only forbids downloading it"
    reason = " ".join(str(exc).split())
    return f"{what} is not in the cache {cache} and could not be downloaded: {reason}"


class FasterWhisperEngine(AsrEngine):
    name = "faster-whisper"
    token_logprobs = True

    def __init__(self, settings: EngineSettings, parallel: int = 1) -> None:
        device = resolve_device(settings.device, ctranslate2_cuda)
        compute_type = settings.compute_type or ("float16" if device == "cuda" else "int8")
        source = check_model_source(settings.model)
        log.info("loading faster-whisper model %s on %s (%s)", source, device, compute_type)
        try:
            self.model = WindowedEncoderModel(
                source,
                device=device,
                compute_type=compute_type,
                cpu_threads=settings.cpu_threads or default_cpu_threads(parallel),
                num_workers=max(1, parallel),
                download_root=settings.download_root,
                local_files_only=settings.local_files_only,
            )
        except LocalEntryNotFoundError as exc:  # not cached, and not downloadable (offline, or forbidden)
            raise RuntimeError(hub_error(source, settings, exc)) from exc
        self.model.encoder_batch = ENCODER_BATCH[device]
        self.recorder = AlignRecorder(self.model.model)
        self.model.model = self.recorder
        self.end_of_text = int(self.model.hf_tokenizer.token_to_id("<|endoftext|>"))
        self.batch_size = settings.batch_size or AUTO_BATCH_SIZE[device]
        cross_request = settings.cross_request_batching
        self.window_batcher: WindowBatcher | None = None
        if cross_request == "on" or (cross_request == "auto" and AUTO_CROSS_REQUEST_BATCHING[device]):
            self.window_batcher = WindowBatcher(
                BatchedInferencePipeline(self.model), self.batch_size, settings.cross_request_wait_ms / 1000
            )
        self.batched_beam_size = AUTO_BATCHED_BEAM_SIZE[device]
        self.device = device
        self.compute_type = compute_type

    @property
    def multilingual(self) -> bool:
        return bool(self.model.model.is_multilingual)

    def language_distribution(self, window: np.ndarray) -> dict[str, float]:
        if not self.multilingual:
            return {"en": 1.0}
        # Without the extractor's padding frame, as faster-whisper's loop cuts its first window: audio of
        # up to 30 s then gives the same features here and there, and the loop reuses this encoder pass.
        features = self.model.feature_extractor(window)[..., :-1]
        encoder_output = self.model.encode_for_reuse(pad_or_trim(features))
        results = self.model.model.detect_language(encoder_output)[0]
        return {token[2:-2]: float(probability) for token, probability in results}

    def _path(self, audio: np.ndarray, options: DecodeOptions) -> tuple[bool, bool]:
        """Whether this audio goes through the batched pipeline, and whether VAD cuts it."""
        # Token log probabilities come from the sequential loop's word-timing pass, one window at a time.
        batched = (
            self.batch_size > 1 and len(audio) / SAMPLE_RATE > BATCH_WINDOW_SECONDS and not options.logprobs
        )
        return batched, batched if options.vad_filter is None else options.vad_filter

    def first_encoded_window(self, audio: np.ndarray, options: DecodeOptions) -> np.ndarray | None:
        """With VAD the batched pipeline's first window is the first ≤ 30 s of speech, joined; found by VAD
        over the audio's first ``FIRST_CHUNK_SCAN_SECONDS`` (a fraction of VAD over all of it). Should that
        differ from what the pipeline finds over the whole audio, detection's pass is simply not reused
        (outputs are kept by their features), never wrong."""
        batched, vad_filter = self._path(audio, options)
        if not (batched and vad_filter):
            return None  # fixed 30 s windows or the sequential loop: the first window is the first 30 s
        prefix = audio[: int(FIRST_CHUNK_SCAN_SECONDS * SAMPLE_RATE)]
        speech = get_speech_timestamps(prefix, pipeline_vad_options(options.vad_parameters))
        chunks, _ = collect_chunks(prefix, speech, max_duration=BATCH_WINDOW_SECONDS)
        return chunks[0] if chunks else None

    def segments(
        self, audio: np.ndarray, options: DecodeOptions, stop: threading.Event
    ) -> Iterator[dict[str, Any]]:
        batched, vad_filter = self._path(audio, options)
        kwargs: dict[str, Any] = {
            "language": options.language,
            "task": options.task,
            "beam_size": options.beam_size or (self.batched_beam_size if batched else DEFAULT_BEAM_SIZE),
            "temperature": list(options.temperatures),
            "initial_prompt": options.initial_prompt,
            "word_timestamps": options.word_timestamps,
            "vad_filter": vad_filter,
            "max_new_tokens": options.max_new_tokens,
            "hotwords": ", ".join(options.keywords) or None,
            "vad_parameters": vad_settings(options.vad_parameters) or None,
        }
        if options.logprobs:
            yield from self._with_logprobs(audio, kwargs, options.word_timestamps, stop)
            return
        if not batched:
            yield from self._sequential(audio, kwargs, stop)
            return
        # The pipeline decodes each window once, at the first temperature, without the previous window's
        # text. A window that fails Whisper's fallback test (a repetition loop, or very unlikely text) is
        # decoded again by the sequential loop: beam search and the temperature fallback.
        # Word timings cut each window into subtitle-sized segments (cues.py).
        retry = {**kwargs, "beam_size": options.beam_size or DEFAULT_BEAM_SIZE}
        batch_kwargs = {**kwargs, "word_timestamps": True}
        if not vad_filter:
            batch_kwargs["clip_timestamps"] = fixed_windows(len(audio) / SAMPLE_RATE)
        if self.window_batcher is None:
            segments, _ = BatchedInferencePipeline(self.model).transcribe(
                audio, batch_size=self.batch_size, **batch_kwargs
            )
            yield from self._windows(audio, segments, retry, options.word_timestamps, stop)
            return
        with self.window_batcher.active():
            pipeline = SharedBatchPipeline(self.model, self.window_batcher, stop)
            segments, _ = pipeline.transcribe(audio, batch_size=self.batch_size, **batch_kwargs)
            with contextlib.suppress(WindowsCancelled):
                yield from self._windows(audio, segments, retry, options.word_timestamps, stop)

    def _windows(
        self,
        audio: np.ndarray,
        segments: Iterable[Segment],
        retry: dict[str, Any],
        word_timestamps: bool,
        stop: threading.Event,
    ) -> Iterator[dict[str, Any]]:
        """The batched pipeline's windows as segments; one failing the fallback test is decoded again."""
        for segment in segments:
            if needs_fallback(segment):
                yield from self._redecode(audio, segment, retry, stop)
            else:
                yield from split_window(segment_fields(segment), self._tokens, word_timestamps)
            if stop.is_set():
                return

    def _sequential(
        self, audio: np.ndarray, kwargs: dict[str, Any], stop: threading.Event
    ) -> Iterator[dict[str, Any]]:
        """faster-whisper's own loop. Its word alignment can fail on a window of almost no audio (an
        IndexError inside ``find_alignment``, found by the reliability suite's fuzzing): the rest is then
        decoded again without word timings (those segments carry no words) instead of failing the request."""
        done_until = 0.0
        try:
            for segment in self.model.transcribe(audio, **kwargs)[0]:
                yield segment_fields(segment)
                done_until = segment.end
                if stop.is_set():
                    return
        except IndexError as exc:
            if not kwargs["word_timestamps"]:
                raise
            log.warning(
                "word alignment failed after %.2f s (%s): decoding again without word timings",
                done_until,
                exc,
            )
            for segment in self.model.transcribe(audio, **{**kwargs, "word_timestamps": False})[0]:
                if segment.end <= done_until:
                    continue
                yield {**segment_fields(segment), "words": []}
                if stop.is_set():
                    return

    def _with_logprobs(
        self, audio: np.ndarray, kwargs: dict[str, Any], word_timestamps: bool, stop: threading.Event
    ) -> Iterator[dict[str, Any]]:
        with self.recorder.recording() as record:
            segments, _ = self.model.transcribe(audio, **{**kwargs, "word_timestamps": True})
            for segment in segments:
                fields = segment_fields(segment)
                if not word_timestamps:
                    fields["words"] = None
                text_tokens = [token for token in segment.tokens if token < self.end_of_text]
                fields["logprobs"] = [
                    self._logprob(token, p) for token, p in take_tokens(record, text_tokens)
                ]
                yield fields
                if stop.is_set():
                    return

    def _logprob(self, token: int, probability: float) -> dict[str, Any]:
        """OpenAI's logprob entry: the token's text, its UTF-8 bytes and its natural log probability."""
        piece = self.model.hf_tokenizer.id_to_token(token) or ""
        decoder = byte_decoder()
        raw = bytes(decoder[char] for char in piece if char in decoder)
        return {
            "token": raw.decode("utf-8", errors="replace"),
            "bytes": list(raw),
            "logprob": round(math.log(max(float(probability), 1e-12)), 6),
        }

    def _tokens(self, text: str) -> list[int]:
        return list(self.model.hf_tokenizer.encode(text, add_special_tokens=False).ids)

    def _redecode(
        self, audio: np.ndarray, window: Segment, kwargs: dict[str, Any], stop: threading.Event
    ) -> Iterator[dict[str, Any]]:
        start, end = int(window.start * SAMPLE_RATE), int(np.ceil(window.end * SAMPLE_RATE))
        log.info(
            "window %.1f-%.1f s failed the fallback test (compression ratio %.2f, avg logprob %.2f): "
            "decoding it again sequentially",
            window.start,
            window.end,
            window.compression_ratio,
            window.avg_logprob,
        )
        segments, _ = self.model.transcribe(audio[start:end], **kwargs)
        for segment in segments:
            yield segment_fields(segment, offset=start / SAMPLE_RATE)
            if stop.is_set():
                return

    def close(self) -> None:
        self.model.model.unload_model()


def pipeline_vad_options(parameters: Mapping[str, float] | None) -> VadOptions:
    """The VAD options faster-whisper's batched pipeline builds from a request's parameters: its own
    defaults when there are none, and speech cut at one window either way."""
    if not parameters:
        return VadOptions(max_speech_duration_s=BATCH_WINDOW_SECONDS, min_silence_duration_ms=160)
    given = {key: value for key, value in vad_settings(parameters).items() if key != "max_speech_duration_s"}
    return VadOptions(**given, max_speech_duration_s=BATCH_WINDOW_SECONDS)


def needs_fallback(segment: Segment) -> bool:
    """Whisper's test for retrying a window (openai-whisper's and faster-whisper's default thresholds)."""
    return bool(
        segment.compression_ratio > COMPRESSION_RATIO_THRESHOLD or segment.avg_logprob < LOG_PROB_THRESHOLD
    )


def segment_fields(segment: Segment, offset: float = 0.0) -> dict[str, Any]:
    """The engine-neutral segment dict; ``offset`` seconds are added to every time (a re-decoded window)."""
    words = None
    if segment.words is not None:
        words = [
            {**asdict(word), "start": word.start + offset, "end": word.end + offset} for word in segment.words
        ]
    return {
        "seek": segment.seek + round(offset * FRAMES_PER_SECOND),
        "start": segment.start + offset,
        "end": segment.end + offset,
        "text": segment.text,
        "tokens": segment.tokens,
        "temperature": segment.temperature,
        "avg_logprob": segment.avg_logprob,
        "compression_ratio": segment.compression_ratio,
        "no_speech_prob": segment.no_speech_prob,
        "words": words,
    }


def default_cpu_threads(parallel: int) -> int:
    """CTranslate2's own default is 4 threads per worker; never more than the cores this process may use
    (oversubscribed OpenMP threads starve the event loop, and with it the health checks)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(4, cores // max(1, parallel)))


def fixed_windows(duration: float) -> list[dict[str, float]]:
    """30 s clips for the batched pipeline when VAD is off (it would otherwise refuse long audio)."""
    starts = np.arange(0.0, duration, BATCH_WINDOW_SECONDS)
    return [{"start": float(s), "end": float(min(s + BATCH_WINDOW_SECONDS, duration))} for s in starts]
