"""Planning a request (validation, language, voice, chunks) with a stand-in engine: no model needed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from voicestack_predictors.common.settings import ServingOptions
from voicestack_predictors.tts import model as tts_model
from voicestack_predictors.tts.engines.base import TtsEngine, VoiceChoice
from voicestack_predictors.tts.engines.xtts import char_limit
from voicestack_predictors.tts.model import EngineInfo, TtsModel
from voicestack_predictors.tts.request import SpeechRequest
from voicestack_predictors.tts.settings import EngineSettings


class StandInEngine(TtsEngine):
    kind = "xtts"
    sample_rate = 24000

    def __init__(self) -> None:
        self.languages = ["en", "ja"]
        self.builtin_voices = ["default"]

    def char_limit(self, language: str) -> int:
        return char_limit(language)

    def synthesize(
        self,
        chunks: list[str],
        language: str,
        voice: VoiceChoice,
        speed: float,
        streaming: bool,
        stop: threading.Event,
    ) -> Iterator[np.ndarray]:
        yield from (np.zeros(100, dtype=np.float32) for _ in chunks)


def test_chunks_keep_the_language_limit_after_an_idle_unload(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan must not fall back to the English limit when the engine was just freed for idleness."""
    monkeypatch.setattr(tts_model, "create_engine", lambda settings: StandInEngine())
    model = TtsModel("plan-test", ServingOptions(load_at_start=False), EngineSettings())
    japanese = SpeechRequest(text="こんにちは、お元気ですか。" * 20, language="ja", voice="default")

    async def plan_after_unload() -> list[str]:
        await model.plan(japanese)  # loads the stand-in engine
        assert model.unload()

        async def info_without_reload() -> EngineInfo:  # the unload landed between loading and planning
            assert model.info is not None
            return model.info

        monkeypatch.setattr(model, "_engine_info", info_without_reload)
        return (await model.plan(japanese)).chunks

    chunks = asyncio.run(plan_after_unload())
    assert len(chunks) > 1
    assert max(len(chunk) for chunk in chunks) <= char_limit("ja") == 71


def test_xtts_char_limits() -> None:
    assert char_limit("en") == 250
    assert char_limit("zh-cn") == 82
    assert char_limit("ja") == 71
    assert char_limit("xx") == 250
    assert char_limit(None) == 250
