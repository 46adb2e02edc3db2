"""Piper voices (VITS exported to ONNX, run by ONNX Runtime through the ``piper-tts`` package; no torch).

A voice is ``<name>.onnx`` plus ``<name>.onnx.json``. Piper phonemizes with its bundled espeak-ng, splits a
text into sentences and yields one audio chunk per sentence, which is what the predictor streams. Its
speakers are the built-in voices (the file's name for a one-speaker voice); Piper cannot clone.

Speed is the voice's own ``length_scale`` (phoneme durations: same pitch, same rate), but a duration is not
proportional to it: every phoneme and the pause symbol between phonemes last at least one frame whatever
the scale, so ``length_scale`` 0.5 left en_US-joe-medium at 0.62 of its duration, not 0.5. The engine
measures that unscaled fraction once at load (one sentence at ``length_scale`` 1 and 0.5; duration ≈
fixed + proportional × scale) and picks the scale that gives ``1 / speed`` of the duration, down to the
shortest the voice can say (a quarter of its own scale).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from voicestack_predictors.common.devices import onnx_cuda, resolve_device
from voicestack_predictors.tts.engines.base import TtsEngine, VoiceChoice
from voicestack_predictors.tts.language import normalize_code

log = logging.getLogger(__name__)

CONFIG_SUFFIX = ".json"  # beside the model: <name>.onnx.json
CALIBRATION_TEXT = "The quick brown fox jumps over the lazy dog, and a calm voice reads the morning news."
MAX_FIXED_FRACTION = 0.6  # a measurement beyond this is not trusted (a random-weight voice, noise)
MIN_LENGTH_FACTOR = 0.25  # shorter, every phoneme is one frame already: no faster speech, only worse


def voice_files(path: Path) -> tuple[Path, Path] | None:
    """``(model.onnx, model.onnx.json)`` when ``path`` is a Piper voice, else None.

    ``path`` may be the ``.onnx`` file, its ``.onnx.json``, or a directory holding exactly one voice.
    Raises FileNotFoundError / ValueError when it looks like a Piper voice but is incomplete or ambiguous.
    """
    if path.is_dir():
        models = sorted(path.glob("*.onnx"))
        if not models:
            return None
        if len(models) > 1:
            names = ", ".join(model.name for model in models)
            raise ValueError(f"{path} holds several Piper voices ({names}); pass the .onnx file of one")
        path = models[0]
    elif path.name.endswith(".onnx.json"):
        path = path.with_name(path.name[: -len(CONFIG_SUFFIX)])
    elif path.suffix != ".onnx":
        return None
    config = path.with_name(path.name + CONFIG_SUFFIX)
    if not path.is_file():
        raise FileNotFoundError(f"Piper voice model {path} not found")
    if not config.is_file():
        raise FileNotFoundError(f"Piper voice {path.name} has no {config.name} beside it")
    return path, config


def onnx_device(device: str) -> str:
    """The device ONNX Runtime runs a Piper voice on."""
    hint = " (ONNX Runtime has no CUDA provider: install onnxruntime-gpu; Piper runs well on CPU)"
    return resolve_device(device, onnx_cuda, hint)


class PiperEngine(TtsEngine):
    kind = "piper"

    def __init__(self, model: Path, config: Path, device: str) -> None:
        from piper import PiperVoice

        try:
            raw = json.loads(config.read_text(encoding="utf-8"))
            self.voice = PiperVoice.load(model, config_path=config, use_cuda=device == "cuda")
        except (KeyError, ValueError) as exc:  # a config without the fields Piper needs
            raise ValueError(f"{config} is not a Piper voice config: {type(exc).__name__}: {exc}") from exc
        self.device = device
        settings = self.voice.config
        self.sample_rate = int(settings.sample_rate)
        if settings.num_speakers > 1:
            speakers = dict(settings.speaker_id_map) or {str(i): i for i in range(settings.num_speakers)}
        else:
            speakers = {}
        self._speaker_ids: dict[str, int] = speakers
        self.builtin_voices = sorted(speakers) or [model.name[: -len(".onnx")]]
        code = (raw.get("language") or {}).get("code") or settings.espeak_voice
        self.languages = [normalize_code(code)]
        self._length_scale = float(settings.length_scale)
        self.fixed_fraction = self._measure_fixed_fraction()
        log.info(
            "Piper voice %s: %d Hz, voices %s, %s; %.2f of a duration does not scale with length_scale",
            model.name,
            self.sample_rate,
            ", ".join(self.builtin_voices),
            ", ".join(self.languages),
            self.fixed_fraction,
        )

    def _duration(self, factor: float) -> int:
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=self._length_scale * factor)
        return sum(len(chunk.audio_float_array) for chunk in self.voice.synthesize(CALIBRATION_TEXT, config))

    def _measure_fixed_fraction(self) -> float:
        """The share of a duration that ``length_scale`` does not scale (see the module docstring)."""
        whole, half = self._duration(1.0), self._duration(0.5)
        if whole <= 0:
            return 0.0
        return min(max((2 * half - whole) / whole, 0.0), MAX_FIXED_FRACTION)

    def length_scale(self, speed: float) -> float:
        """The ``length_scale`` that makes speech last ``1 / speed`` of its duration at speed 1."""
        fixed = self.fixed_fraction
        factor = (1.0 / speed - fixed) / (1.0 - fixed)
        return self._length_scale * max(factor, MIN_LENGTH_FACTOR)

    def synthesize(
        self,
        chunks: list[str],
        language: str,
        voice: VoiceChoice,
        speed: float,
        streaming: bool,
        stop: threading.Event,
    ) -> Iterator[np.ndarray]:
        """One piece per sentence, as Piper makes them (ONNX Runtime sessions may run concurrently)."""
        from piper import SynthesisConfig

        if not isinstance(voice, str):
            raise ValueError("Piper cannot clone a voice from samples")
        config = SynthesisConfig(
            speaker_id=self._speaker_ids.get(voice), length_scale=self.length_scale(speed)
        )
        for chunk in chunks:
            for sentence in self.voice.synthesize(chunk, config):
                if stop.is_set():
                    return
                yield np.asarray(sentence.audio_float_array, dtype=np.float32).reshape(-1)
