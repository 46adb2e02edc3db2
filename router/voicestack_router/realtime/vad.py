"""Silero VAD (ONNX) on a live 16 kHz stream, and OpenAI's ``server_vad`` turn rules on top of it.

The model (``silero_vad_v6.onnx``, the file faster-whisper ships) scores 512-sample windows (32 ms), each
with the 64 samples before it as context; its recurrent state is carried from call to call, so a session can
feed any chunk size. One ``onnxruntime`` session is shared by all WebSocket sessions (``run`` is
thread-safe); each stream keeps its own state.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WINDOW = 512
CONTEXT = 64
SAMPLES_PER_MS = 16


def bundled_model() -> Path | None:
    """faster-whisper's copy of the Silero model, if that package is installed (without importing it)."""
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "assets" / "silero_vad_v6.onnx"
        if candidate.is_file():
            return candidate
    return None


class SileroModel:
    def __init__(self, path: Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        self.session = onnxruntime.InferenceSession(
            str(path), providers=["CPUExecutionProvider"], sess_options=options
        )

    def stream(self) -> VadStream:
        return VadStream(self)


class VadStream:
    """Speech probabilities for consecutive 512-sample windows of one session's audio."""

    def __init__(self, model: SileroModel) -> None:
        self.model = model
        self.h = np.zeros((1, 1, 128), dtype=np.float32)
        self.c = np.zeros((1, 1, 128), dtype=np.float32)
        self.context = np.zeros(CONTEXT, dtype=np.float32)
        self.pending = np.zeros(0, dtype=np.float32)

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Probabilities of the whole windows completed by ``samples`` (int16); the rest waits for more."""
        audio = np.concatenate([self.pending, samples.astype(np.float32) / 32768.0])
        count = audio.size // WINDOW
        self.pending = audio[count * WINDOW :]
        if count == 0:
            return np.zeros(0, dtype=np.float32)
        windows = audio[: count * WINDOW].reshape(count, WINDOW)
        contexts = np.concatenate([self.context[None, :], windows[:-1, -CONTEXT:]], axis=0)
        self.context = windows[-1, -CONTEXT:].copy()
        batch = np.concatenate([contexts, windows], axis=1)
        probs, self.h, self.c = self.model.session.run(None, {"input": batch, "h": self.h, "c": self.c})
        return np.asarray(probs, dtype=np.float32).reshape(-1)


@dataclass
class TurnRules:
    """``server_vad`` settings in samples (16 kHz); OpenAI's defaults."""

    threshold: float = 0.5
    prefix_padding: int = 300 * SAMPLES_PER_MS
    silence: int = 500 * SAMPLES_PER_MS
    idle_timeout: int | None = None


@dataclass
class TurnEvent:
    kind: str  # "started", "stopped" or "idle"
    sample: int  # where speech (with its padding) started, where it stopped, or where the idle timeout hit
    since: int = 0  # "idle": where the silence began


class TurnDetector:
    """Start: a window at or over ``threshold``; stop: ``silence`` samples under ``threshold - 0.15``."""

    def __init__(self, rules: TurnRules, position: int = 0) -> None:
        self.rules = rules
        self.position = position  # session sample index of the next window
        self.speaking = False
        self.silence_since: int | None = None
        self.idle_since = position

    def windows(self, probs: np.ndarray, floor: int) -> list[TurnEvent]:
        """Events for consecutive windows; ``floor``: the earliest sample a turn may start at."""
        events: list[TurnEvent] = []
        low = max(self.rules.threshold - 0.15, 0.01)
        for prob in probs:
            start, end = self.position, self.position + WINDOW
            self.position = end
            if not self.speaking:
                if prob >= self.rules.threshold:
                    self.speaking = True
                    self.silence_since = None
                    events.append(TurnEvent("started", max(start - self.rules.prefix_padding, floor)))
                elif self.rules.idle_timeout and end - self.idle_since >= self.rules.idle_timeout:
                    events.append(TurnEvent("idle", end, self.idle_since))
                    self.idle_since = end
                continue
            if prob >= self.rules.threshold:
                self.silence_since = None
            elif prob < low:
                self.silence_since = start if self.silence_since is None else self.silence_since
                if end - self.silence_since >= self.rules.silence:
                    events.append(TurnEvent("stopped", end))
                    self.speaking = False
                    self.idle_since = end
        return events

    def cut(self) -> None:
        """The turn was committed by other means (a manual commit, the buffer limit): start afresh."""
        self.speaking = False
        self.silence_since = None
        self.idle_since = self.position
