"""One request's work on a loaded engine: detect the language, then transcribe or translate.

``events`` yields ``{"type": "segment", …}`` as segments complete and ends with ``{"type": "done", …}``;
the non-streaming path simply keeps the last event.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from voicestack.contracts.asr_options import AsrOptions
from voicestack_predictors.asr import metrics
from voicestack_predictors.asr.engines.base import (
    FALLBACK_TEMPERATURES,
    SAMPLE_RATE,
    AsrEngine,
    DecodeOptions,
)
from voicestack_predictors.asr.engines.memory import release_freed_memory
from voicestack_predictors.asr.language_vote import LanguageVote, vote
from voicestack_predictors.asr.result_shape import detection_result, shape_segment, transcription_result
from voicestack_predictors.asr.settings import EngineSettings
from voicestack_predictors.common.audio import DecodedAudio

# Longer audio frees hundreds of MB (VAD, batches): handed back before answering, so the memory is back
# when the caller sees the result. After audio up to one Whisper window ``malloc_trim`` took 5-47 ms on the
# shared 2-core machine, time the caller would wait for: the model hands that back after answering
# (``AsrModel._release_memory_when_idle``).
TRIM_AFTER_SECONDS = 30.0


class Transcription:
    def __init__(
        self, model_name: str, audio: DecodedAudio, options: AsrOptions, settings: EngineSettings
    ) -> None:
        if audio.sample_rate != SAMPLE_RATE:
            raise ValueError(f"the engine needs {SAMPLE_RATE} Hz audio, got {audio.sample_rate} Hz")
        self.model_name = model_name
        self.audio = audio
        self.options = options
        self.settings = settings

    def events(self, engine: AsrEngine, stop: threading.Event) -> Iterator[dict[str, Any]]:
        started = time.perf_counter()
        try:
            if self.options.task == "detect_language":
                detected = self._detect(engine)
                result = detection_result(
                    detected.language, detected.probability, self.audio.duration, detected.top
                )
            else:
                result = yield from self._transcribe(engine, stop)
        finally:
            if self.audio.duration > TRIM_AFTER_SECONDS:
                release_freed_memory()  # idle memory returns to what it was before the request
        if stop.is_set():
            return
        metrics.record_processing(
            self.model_name,
            engine.name,
            self.options.task,
            self.audio.duration,
            time.perf_counter() - started,
        )
        yield {"type": "done", "result": result}

    def result(self, engine: AsrEngine) -> dict[str, Any]:
        last: dict[str, Any] = {}
        for last in self.events(engine, threading.Event()):  # noqa: B007 - only the final event matters
            pass
        return last["result"]

    def _detect(self, engine: AsrEngine, first_window: np.ndarray | None = None) -> LanguageVote:
        distribution = engine.language_distribution
        candidates = self.options.language_candidates
        if candidates:

            def distribution(window: np.ndarray) -> dict[str, float]:
                """Only the candidates, renormalised: the likeliest of them wins."""
                probabilities = engine.language_distribution(window)
                kept = {code: probabilities.get(code, 0.0) for code in candidates}
                total = sum(kept.values())
                return {code: (p / total if total > 0 else 1 / len(kept)) for code, p in kept.items()}

        return vote(
            self.audio.samples,
            SAMPLE_RATE,
            self.options.detect_lang_offset,
            self.options.detect_lang_length,
            distribution,
            first_window=first_window,
        )

    def _transcribe(self, engine: AsrEngine, stop: threading.Event) -> Iterator[dict[str, Any]]:
        options = self.options
        if options.logprobs and not engine.token_logprobs:
            raise ValueError(f"the {engine.name} engine cannot give token log probabilities")
        decode = DecodeOptions(
            task=options.task,
            language=options.language,
            initial_prompt=options.initial_prompt,
            temperatures=FALLBACK_TEMPERATURES if options.temperature is None else (options.temperature,),
            beam_size=options.beam_size or self.settings.beam_size or None,
            word_timestamps=options.word_timestamps,
            vad_filter=self.settings.vad if options.vad_filter is None else options.vad_filter,
            max_new_tokens=self.settings.max_new_tokens,
            keywords=options.keywords,
            logprobs=options.logprobs,
            vad_parameters=options.vad_parameters,
        )
        language, probability = options.language, 1.0
        if language is None and len(options.language_candidates) == 1:
            language = options.language_candidates[0]
        elif language is None:
            # From the default offset, detection scores the window the transcription encodes first, and
            # the engine keeps that encoder pass for it.
            first = engine.first_encoded_window(self.audio.samples, decode)
            detected = self._detect(engine, first if options.detect_lang_offset == 0 else None)
            language, probability = detected.language, detected.probability
        decode = replace(decode, language=language)
        segments: list[dict[str, Any]] = []
        for raw in engine.segments(self.audio.samples, decode, stop):
            segment = shape_segment(raw, len(segments), self.audio.duration)
            segments.append(segment)
            yield {"type": "segment", "segment": segment}
            if stop.is_set():
                break
        result = transcription_result(options.task, language, probability, self.audio.duration, segments)
        if options.logprobs:
            result["logprobs"] = [entry for segment in segments for entry in segment.get("logprobs", [])]
        return result
