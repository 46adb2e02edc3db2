"""An engine that fails while transcribing: a 500 (InferenceError) with the reason, or an error line when
streaming, and the model keeps serving. A stand-in engine makes the failure happen on demand."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import pytest
from kserve.errors import InferenceError

from tests.support.assets import asset
from voicestack_predictors.asr import model as asr_model
from voicestack_predictors.asr.engines.base import AsrEngine, DecodeOptions
from voicestack_predictors.asr.model import AsrModel
from voicestack_predictors.asr.settings import EngineSettings
from voicestack_predictors.common.settings import ServingOptions


class FailingEngine(AsrEngine):
    name = "failing"

    def __init__(self, good_segments: int) -> None:
        self.good_segments = good_segments

    @property
    def multilingual(self) -> bool:
        return True

    def language_distribution(self, window: np.ndarray) -> dict[str, float]:
        return {"en": 1.0}

    def segments(
        self, audio: np.ndarray, options: DecodeOptions, stop: threading.Event
    ) -> Iterator[dict[str, Any]]:
        for index in range(self.good_segments):
            yield {"start": index, "end": index + 1, "text": " fine", "tokens": [1]}
        raise RuntimeError("the decoder ran out of memory")


def make_model(monkeypatch: pytest.MonkeyPatch, good_segments: int) -> AsrModel:
    monkeypatch.setattr(asr_model, "create_engine", lambda settings, parallel: FailingEngine(good_segments))
    return AsrModel("whisper", ServingOptions(load_at_start=False), EngineSettings())


def headers(**options: Any) -> dict[str, str]:
    return {"content-type": "audio/wav", "x-voicestack-options": json.dumps({"language": "en", **options})}


WAV = asset("audio/en/ljspeech/LJ001-0002.wav").read_bytes()


def test_a_failure_is_an_inference_error_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_model(monkeypatch, good_segments=0)
    for _ in range(2):  # the model is not broken for good: the next request runs (and fails) again
        with pytest.raises(InferenceError, match="transcription failed: RuntimeError: the decoder ran out"):
            asyncio.run(model(WAV, headers()))
        with pytest.raises(InferenceError, match="transcription failed: RuntimeError: the decoder ran out"):
            asyncio.run(model(WAV, headers(stream=True)))  # before the first line: a plain 500
    assert model.is_loaded and model.gate.active == 0 and model.gate.waiting == 0


def test_a_failure_mid_stream_ends_with_an_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_model(monkeypatch, good_segments=2)

    async def lines() -> list[dict[str, Any]]:
        stream, _ = await model(WAV, headers(stream=True))  # preprocess → predict → postprocess
        assert isinstance(stream, AsyncIterator)
        return [json.loads(line) async for line in stream]

    events = asyncio.run(lines())
    assert [event["type"] for event in events] == ["segment", "segment", "error"]
    assert "RuntimeError: the decoder ran out of memory" in events[-1]["error"]
    assert model.gate.active == 0
