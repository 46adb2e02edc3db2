"""openai-whisper (PyTorch): the reference implementation, selected with ``--engine whisper``.

It has no VAD of its own, so ``vad_filter`` uses faster-whisper's Silero VAD (installed beside it) to
cut silence out and maps the times back. Its ``transcribe`` has no per-segment callback: segments are
yielded when the whole file is done, so a stream from this engine arrives at the end.
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import whisper

from voicestack_predictors.asr.engines.base import DEFAULT_BEAM_SIZE, SAMPLE_RATE, AsrEngine, DecodeOptions
from voicestack_predictors.asr.settings import EngineSettings
from voicestack_predictors.common.devices import resolve_device, torch_cuda

log = logging.getLogger(__name__)


def cache_dir(download_root: str | None) -> Path:
    """Where openai-whisper keeps downloaded checkpoints (its own default unless ``download_root``)."""
    if download_root:
        return Path(download_root).expanduser()
    return Path(os.getenv("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "whisper"


def check_model_source(model: str, download_root: str | None = None, local_files_only: bool = False) -> str:
    """A size name whisper knows, or a local ``.pt`` checkpoint (or a directory holding exactly one).

    With ``local_files_only`` a size name must already be in the cache (openai-whisper has no such option
    of its own and would download it).
    """
    path = Path(model).expanduser()
    if path.is_dir():
        checkpoints = sorted(path.glob("*.pt"))
        if len(checkpoints) != 1:
            raise ValueError(
                f"{path} must hold exactly one openai-whisper .pt checkpoint, found {len(checkpoints)}"
            )
        return str(checkpoints[0])
    if path.is_file():
        return str(path)
    if model in whisper.available_models():
        cached = cache_dir(download_root) / os.path.basename(whisper._MODELS[model])
        if local_files_only and not cached.is_file():
            raise ValueError(
                f"openai-whisper model {model!r} is not in the cache ({cached}) and --local_files_only "
                "forbids downloading it"
            )
        return model
    raise ValueError(
        f"openai-whisper cannot load {model!r}: use a size ({', '.join(whisper.available_models())}) or a "
        ".pt checkpoint path (Hugging Face repos are for --engine faster-whisper)"
    )


class OpenAIWhisperEngine(AsrEngine):
    name = "whisper"

    def __init__(self, settings: EngineSettings) -> None:
        device = resolve_device(settings.device, torch_cuda)
        source = check_model_source(settings.model, settings.download_root, settings.local_files_only)
        compute_type = settings.compute_type or ("float16" if device == "cuda" else "float32")
        if compute_type not in {"float16", "float32"}:
            raise ValueError(
                f"openai-whisper supports compute types float16 and float32, not {compute_type!r}"
            )
        if compute_type == "float16" and device == "cpu":
            raise ValueError("openai-whisper cannot run float16 on the CPU; use --compute_type float32")
        if settings.cpu_threads:
            torch.set_num_threads(settings.cpu_threads)
        log.info("loading openai-whisper model %s on %s (%s)", source, device, compute_type)
        try:
            self.model = whisper.load_model(source, device=device, download_root=settings.download_root)
        except urllib.error.URLError as exc:  # a size name not in the cache, and no way to download it
            raise RuntimeError(
                f"openai-whisper model {source!r} is not in the cache {cache_dir(settings.download_root)} "
                f"and could not be downloaded: {exc.reason}"
            ) from exc
        self.device = device
        self.fp16 = compute_type == "float16"

    @property
    def multilingual(self) -> bool:
        return bool(self.model.is_multilingual)

    def language_distribution(self, window: np.ndarray) -> dict[str, float]:
        if not self.multilingual:
            return {"en": 1.0}
        samples = whisper.pad_or_trim(torch.from_numpy(np.ascontiguousarray(window)))
        mel = whisper.log_mel_spectrogram(samples, self.model.dims.n_mels).to(self.model.device)
        if self.fp16:
            mel = mel.half()
        _, probabilities = self.model.detect_language(mel)
        return {language: float(p) for language, p in probabilities.items()}

    def segments(
        self, audio: np.ndarray, options: DecodeOptions, stop: threading.Event
    ) -> Iterator[dict[str, Any]]:
        speech, timeline = (audio, None) if not options.vad_filter else speech_only(audio)
        if len(speech) == 0:
            return
        beam_size = options.beam_size or DEFAULT_BEAM_SIZE
        decode_options: dict[str, Any] = {"beam_size": beam_size, "fp16": self.fp16}
        if options.max_new_tokens:
            decode_options["sample_len"] = options.max_new_tokens
        result = self.model.transcribe(
            speech,
            verbose=None,
            task=options.task,
            language=options.language,
            temperature=options.temperatures,
            initial_prompt=options.initial_prompt,
            word_timestamps=options.word_timestamps,
            **decode_options,
        )
        for segment in result["segments"]:
            if stop.is_set():
                return
            yield segment if timeline is None else timeline.restore(segment)


class SpeechTimeline:
    """Maps times in the speech-only audio back to the original (faster-whisper's VAD bookkeeping)."""

    def __init__(self, chunks: list[dict[str, int]]) -> None:
        from faster_whisper.vad import SpeechTimestampsMap

        self._map = SpeechTimestampsMap(chunks, SAMPLE_RATE)

    def restore(self, segment: dict[str, Any]) -> dict[str, Any]:
        restored = dict(segment)
        words = segment.get("words")
        if words:
            restored["words"] = []
            for word in words:
                chunk = self._map.get_chunk_index((word["start"] + word["end"]) / 2)
                restored["words"].append(
                    {
                        **word,
                        "start": self._map.get_original_time(word["start"], chunk),
                        "end": self._map.get_original_time(word["end"], chunk),
                    }
                )
            restored["start"] = restored["words"][0]["start"]
            restored["end"] = restored["words"][-1]["end"]
        else:
            restored["start"] = self._map.get_original_time(segment["start"])
            restored["end"] = self._map.get_original_time(segment["end"], is_end=True)
        return restored


def speech_only(audio: np.ndarray) -> tuple[np.ndarray, SpeechTimeline | None]:
    """The speech parts of ``audio`` joined, and how to map times back (Silero VAD)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    chunks = get_speech_timestamps(audio, VadOptions())
    if not chunks:
        return np.zeros(0, dtype=np.float32), None
    speech = np.concatenate([audio[chunk["start"] : chunk["end"]] for chunk in chunks])
    return speech, SpeechTimeline(chunks)
