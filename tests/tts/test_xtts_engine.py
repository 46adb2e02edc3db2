"""XttsEngine around a stand-in model: generations never overlap (the GPT keeps its prefix as state)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from voicestack_predictors.tts.engines.xtts import XttsEngine


class OverlapRecorder:
    """Stands in for ``Xtts``: a generation stores its text as the prefix and checks it stays its own."""

    def __init__(self) -> None:
        self.prefix: str | None = None
        self.overlaps = 0
        self.calls = 0
        self._lock = threading.Lock()
        latent = torch.zeros(1)
        self.speaker_manager = SimpleNamespace(
            speakers={"a": {"gpt_cond_latent": latent, "speaker_embedding": latent}}
        )

    def _store(self, text: str) -> None:
        with self._lock:
            self.calls += 1
            self.prefix = text

    def _step(self, text: str) -> None:
        time.sleep(0.02)
        with self._lock:
            if self.prefix != text:
                self.overlaps += 1

    def inference(self, text: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self._store(text)
        self._step(text)
        return {"wav": np.zeros(10, dtype=np.float32)}

    def inference_stream(self, text: str, *args: Any, **kwargs: Any) -> Iterator[torch.Tensor]:
        self._store(text)
        for _ in range(3):
            self._step(text)
            yield torch.zeros(5)


def stand_in_engine(model: OverlapRecorder) -> XttsEngine:
    engine = XttsEngine.__new__(XttsEngine)  # skip loading a checkpoint; the rest of __init__ is state
    config = SimpleNamespace(temperature=0.7, length_penalty=1.0, repetition_penalty=2.0, top_k=50, top_p=0.8)
    engine.model = model  # type: ignore[assignment]
    engine.config = config  # type: ignore[assignment]
    engine.stream_chunk_tokens = 20
    engine._latents_lock = threading.Lock()
    engine._generate_lock = threading.Lock()
    return engine


def test_concurrent_requests_take_turns_per_chunk() -> None:
    model = OverlapRecorder()
    engine = stand_in_engine(model)
    results: list[int] = []

    def request(name: str, streaming: bool) -> None:
        chunks = [f"{name} one.", f"{name} two.", f"{name} three."]
        pieces = list(engine.synthesize(chunks, "en", "a", 1.0, streaming, threading.Event()))
        results.append(len(pieces))

    threads = [threading.Thread(target=request, args=(f"r{i}", i % 2 == 0)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [3, 3, 5, 5]  # streaming: 3 pieces of the first chunk + 2 whole chunks
    assert model.calls == 4 * 3
    assert model.overlaps == 0
