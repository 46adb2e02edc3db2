"""faster-whisper (CTranslate2): the default engine; long audio goes through BatchedInferencePipeline."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import ctranslate2
import huggingface_hub.constants
import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper import utils as faster_whisper_utils
from faster_whisper.audio import pad_or_trim
from faster_whisper.transcribe import Segment
from huggingface_hub.errors import LocalEntryNotFoundError

from voicestack_predictors.asr.engines.base import DEFAULT_BEAM_SIZE, SAMPLE_RATE, AsrEngine, DecodeOptions
from voicestack_predictors.asr.engines.cues import split_window
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
# Whisper's fallback thresholds: a window compressing better than this repeats itself; one below this mean
# log probability is unlikely text.
COMPRESSION_RATIO_THRESHOLD = 2.4
LOG_PROB_THRESHOLD = -1.0
FRAMES_PER_SECOND = 100  # Whisper's mel frames: the unit of ``seek``


class WindowedEncoderModel(WhisperModel):
    """``WhisperModel`` whose encoder runs at most ``encoder_batch`` windows at a time; the decoder still
    gets the whole batch, which is where batching pays on CPU."""

    encoder_batch = 0

    def encode(self, features: np.ndarray) -> ctranslate2.StorageView:
        size, encode = self.encoder_batch, super().encode
        if not size or features.ndim == 2 or len(features) <= size:
            return encode(features)
        parts = [np.asarray(encode(features[i : i + size])) for i in range(0, len(features), size)]
        # from_array shares the numpy memory; to_device copies it into storage CTranslate2 owns.
        return ctranslate2.StorageView.from_array(np.concatenate(parts)).to_device(ctranslate2.Device.cpu)


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
        self.batched = BatchedInferencePipeline(self.model)
        self.batch_size = settings.batch_size or AUTO_BATCH_SIZE[device]
        self.batched_beam_size = AUTO_BATCHED_BEAM_SIZE[device]
        self.device = device
        self.compute_type = compute_type

    @property
    def multilingual(self) -> bool:
        return bool(self.model.model.is_multilingual)

    def language_distribution(self, window: np.ndarray) -> dict[str, float]:
        if not self.multilingual:
            return {"en": 1.0}
        features = self.model.feature_extractor(window)
        encoder_output = self.model.encode(pad_or_trim(features))
        results = self.model.model.detect_language(encoder_output)[0]
        return {token[2:-2]: float(probability) for token, probability in results}

    def segments(
        self, audio: np.ndarray, options: DecodeOptions, stop: threading.Event
    ) -> Iterator[dict[str, Any]]:
        batched = self.batch_size > 1 and len(audio) / SAMPLE_RATE > BATCH_WINDOW_SECONDS
        vad_filter = batched if options.vad_filter is None else options.vad_filter
        kwargs: dict[str, Any] = {
            "language": options.language,
            "task": options.task,
            "beam_size": options.beam_size or (self.batched_beam_size if batched else DEFAULT_BEAM_SIZE),
            "temperature": list(options.temperatures),
            "initial_prompt": options.initial_prompt,
            "word_timestamps": options.word_timestamps,
            "vad_filter": vad_filter,
            "max_new_tokens": options.max_new_tokens,
        }
        if not batched:
            segments, _ = self.model.transcribe(audio, **kwargs)
            for segment in segments:
                yield segment_fields(segment)
                if stop.is_set():
                    return
            return
        # The pipeline decodes each window once, at the first temperature, without the previous window's
        # text. A window that fails Whisper's fallback test (a repetition loop, or very unlikely text) is
        # decoded again by the sequential loop: beam search and the temperature fallback.
        # Word timings cut each window into subtitle-sized segments (cues.py).
        retry = {**kwargs, "beam_size": options.beam_size or DEFAULT_BEAM_SIZE}
        batch_kwargs = {**kwargs, "word_timestamps": True}
        if not vad_filter:
            batch_kwargs["clip_timestamps"] = fixed_windows(len(audio) / SAMPLE_RATE)
        segments, _ = self.batched.transcribe(audio, batch_size=self.batch_size, **batch_kwargs)
        for segment in segments:
            if needs_fallback(segment):
                yield from self._redecode(audio, segment, retry, stop)
            else:
                yield from split_window(segment_fields(segment), self._tokens, options.word_timestamps)
            if stop.is_set():
                return

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
