"""Any other coqui-tts model (VITS, Tacotron, …) through its ``Synthesizer``: built-in speakers, no cloning.

Speed uses the model's own duration scale where it has one (VITS ``length_scale``), otherwise a
phase-vocoder time stretch, which changes tempo without changing pitch or sample rate.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from voicestack.contracts.voices import DEFAULT_VOICE
from voicestack_predictors.tts.engines.base import TtsEngine, UnspeakableText, VoiceChoice
from voicestack_predictors.tts.language import normalize_code
from voicestack_predictors.tts.pcm import time_stretch


class CoquiEngine(TtsEngine):
    kind = "coqui"

    def __init__(self, checkpoint: Path, config: Path, device: str) -> None:
        from TTS.utils.synthesizer import Synthesizer

        self.synth = Synthesizer(
            tts_checkpoint=str(checkpoint), tts_config_path=str(config), use_cuda=device == "cuda"
        )
        self.device = device
        self.model = self.synth.tts_model
        self.sample_rate = int(self.synth.output_sample_rate)
        self._lock = threading.Lock()  # length_scale is model state
        speakers = self.model.speaker_manager
        names = list(speakers.speaker_names) if speakers is not None and speakers.num_speakers > 1 else []
        self.builtin_voices = sorted(names) or [DEFAULT_VOICE]
        self._multi_speaker = bool(names)
        languages = getattr(self.model, "language_manager", None)
        codes = list(languages.language_names) if languages is not None else []
        self._multilingual = len(codes) > 1
        if not codes:
            codes = [self.synth.tts_config.get("phoneme_language") or "en"]
        self.languages = [normalize_code(code) for code in codes]
        self._language_names = dict(zip(self.languages, codes, strict=True))

    def _voiceable(self, chunk: str, language_name: str | None) -> bool:
        """Whether the model's tokenizer keeps a character of ``chunk`` (an empty input crashes the model)."""
        tokenizer = getattr(self.model, "tokenizer", None)
        if tokenizer is None:
            return True
        characters = tokenizer.characters
        # Blanks interspersed between characters and BOS/EOS are there even for a text with nothing left.
        filler = {getattr(characters, name, None) for name in ("blank_id", "pad_id", "bos_id", "eos_id")}
        return any(token not in filler for token in tokenizer.text_to_ids(chunk, language=language_name))

    def synthesize(
        self,
        chunks: list[str],
        language: str,
        voice: VoiceChoice,
        speed: float,
        streaming: bool,
        stop: threading.Event,
    ) -> Iterator[np.ndarray]:
        speaker = voice if isinstance(voice, str) and self._multi_speaker else None
        language_name = self._language_names.get(language) if self._multilingual else None
        native_speed = hasattr(self.model, "length_scale")
        # Chunks of characters outside the model's alphabet are skipped; none left is the caller's error.
        chunks = [chunk for chunk in chunks if self._voiceable(chunk, language_name)]
        if not chunks:
            raise UnspeakableText(
                "nothing to speak: the model has no sound for any character of this text (its alphabet "
                "does not cover them; use a model that speaks this language)"
            )
        for chunk in chunks:
            if stop.is_set():
                return
            with self._lock:
                base = getattr(self.model, "length_scale", 1.0)
                if native_speed:
                    self.model.length_scale = base / speed
                try:
                    wav = self.synth.tts(
                        chunk, speaker_name=speaker, language_name=language_name, split_sentences=False
                    )
                finally:
                    if native_speed:
                        self.model.length_scale = base
            audio = np.asarray(wav, dtype=np.float32).reshape(-1)
            if not native_speed and speed != 1.0:
                audio = time_stretch(audio, speed)
            yield audio
