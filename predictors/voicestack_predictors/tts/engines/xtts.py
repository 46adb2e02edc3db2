"""Coqui XTTS(-v2): voice cloning from samples (conditioning latents cached by content hash) and
``inference_stream``, which yields audio while a sentence is still being generated."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from voicestack.text import DEFAULT_CHAR_LIMIT
from voicestack_predictors.tts.engines.base import TtsEngine, VoiceChoice
from voicestack_predictors.tts.language import normalize_code
from voicestack_predictors.tts.voices import Voice

log = logging.getLogger(__name__)

LATENT_CACHE_SIZE = 64
CONDITIONING_RATE = 22050  # XTTS computes its conditioning from 22.05 kHz audio
# XTTS-v2's per-language character limits (``TTS.tts.layers.xtts.tokenizer.VoiceBpeTokenizer``).
XTTS_CHAR_LIMITS: dict[str, int] = {
    "en": 250,
    "de": 253,
    "fr": 273,
    "es": 239,
    "it": 213,
    "pt": 203,
    "pl": 224,
    "zh": 82,
    "zh-cn": 82,
    "ar": 166,
    "cs": 186,
    "ru": 182,
    "nl": 251,
    "tr": 226,
    "ja": 71,
    "hu": 224,
    "ko": 95,
    "hi": 150,
}


def char_limit(language: str | None) -> int:
    """XTTS's character limit for a language code such as ``en`` or ``zh-cn``."""
    if not language:
        return DEFAULT_CHAR_LIMIT
    code = language.lower()
    return XTTS_CHAR_LIMITS.get(code, XTTS_CHAR_LIMITS.get(code.split("-")[0], DEFAULT_CHAR_LIMIT))


class XttsEngine(TtsEngine):
    kind = "xtts"
    supports_cloning = True
    incremental = True

    def __init__(self, directory: Path, device: str, stream_chunk_tokens: int = 20) -> None:
        from TTS.tts.configs.xtts_config import XttsConfig
        from TTS.tts.models.xtts import Xtts

        config = XttsConfig()
        config.load_json(str(directory / "config.json"))
        model = Xtts(config)
        model.load_checkpoint(config, checkpoint_dir=str(directory), eval=True)
        self.model = model.to(device)
        self.config = config
        self.device = device
        self.stream_chunk_tokens = stream_chunk_tokens
        self.sample_rate = int(config.model_args.output_sample_rate)
        self.languages = [normalize_code(code) for code in config.languages]
        manager = model.speaker_manager
        self.builtin_voices = sorted(manager.speakers) if manager is not None else []
        self._latents: OrderedDict[str, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        self._latents_lock = threading.Lock()
        # The GPT keeps the current text and voice prefix as model state (``store_prefix_emb``), so two
        # generations at once would mix them: with --max_concurrency > 1, chunks take turns.
        self._generate_lock = threading.Lock()

    def char_limit(self, language: str) -> int:
        return char_limit(language)

    def _settings(self, speed: float) -> dict[str, Any]:
        config = self.config
        return {
            "temperature": config.temperature,
            "length_penalty": config.length_penalty,
            "repetition_penalty": config.repetition_penalty,
            "top_k": config.top_k,
            "top_p": config.top_p,
            "speed": speed,
            "enable_text_splitting": False,  # the predictor splits (voicestack.text), spaCy is not needed
        }

    def _conditioning(self, voice: VoiceChoice) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(voice, str):
            speaker = self.model.speaker_manager.speakers[voice]
            return speaker["gpt_cond_latent"], speaker["speaker_embedding"]
        with self._latents_lock:
            cached = self._latents.get(voice.fingerprint)
            if cached is not None:
                self._latents.move_to_end(voice.fingerprint)
                return cached
        started = time.perf_counter()
        latents = self._compute_latents(voice)
        log.info("voice %s: conditioning latents in %.2fs", voice.name, time.perf_counter() - started)
        with self._latents_lock:
            self._latents[voice.fingerprint] = latents
            while len(self._latents) > LATENT_CACHE_SIZE:
                self._latents.popitem(last=False)
        return latents

    @torch.inference_mode()
    def _compute_latents(self, voice: Voice) -> tuple[torch.Tensor, torch.Tensor]:
        """``Xtts.get_conditioning_latents`` on already decoded samples (any container, checked)."""
        config = self.config
        max_samples = CONDITIONING_RATE * int(config.max_ref_len)
        audios: list[torch.Tensor] = []
        embeddings: list[torch.Tensor] = []
        for sample in voice.samples:
            audio = torch.from_numpy(np.ascontiguousarray(sample.audio))[None, :max_samples].to(self.device)
            if config.sound_norm_refs:
                audio = (audio / torch.abs(audio).max()) * 0.75
            embeddings.append(self.model.get_speaker_embedding(audio, CONDITIONING_RATE))
            audios.append(audio)
        gpt_latents = self.model.get_gpt_cond_latents(
            torch.cat(audios, dim=-1),
            CONDITIONING_RATE,
            length=config.gpt_cond_len,
            chunk_length=config.gpt_cond_chunk_len,
        )
        speaker_embedding = torch.stack(embeddings).mean(dim=0)
        return gpt_latents, speaker_embedding

    def synthesize(
        self,
        chunks: list[str],
        language: str,
        voice: VoiceChoice,
        speed: float,
        streaming: bool,
        stop: threading.Event,
    ) -> Iterator[np.ndarray]:
        gpt_latents, speaker_embedding = self._conditioning(voice)
        settings = self._settings(speed)
        with torch.inference_mode():
            for index, chunk in enumerate(chunks):
                if stop.is_set():
                    return
                # inference_stream vocodes all latents so far at every step, so its work grows with the
                # square of a chunk's length (2x the whole-chunk time measured on CPU, benchmarks/tts.py).
                # Only the first chunk needs early audio; later ones are made while it plays.
                incremental = streaming and index == 0
                with self._generate_lock:
                    yield from self._chunk(
                        chunk, language, gpt_latents, speaker_embedding, settings, incremental, stop
                    )

    def _chunk(
        self,
        chunk: str,
        language: str,
        gpt_latents: torch.Tensor,
        speaker_embedding: torch.Tensor,
        settings: dict[str, Any],
        incremental: bool,
        stop: threading.Event,
    ) -> Iterator[np.ndarray]:
        """One chunk, in pieces as generated (``incremental``) or whole; the caller holds the lock."""
        if not incremental:
            out = self.model.inference(chunk, language, gpt_latents, speaker_embedding, **settings)
            yield np.asarray(out["wav"], dtype=np.float32).reshape(-1)
            return
        pieces = self.model.inference_stream(
            chunk,
            language,
            gpt_latents,
            speaker_embedding,
            stream_chunk_size=self.stream_chunk_tokens,
            **settings,
        )
        for piece in pieces:
            yield piece.detach().float().cpu().numpy().reshape(-1)
            if stop.is_set():
                return

    def close(self) -> None:
        self._latents.clear()
        self.model.cpu()
