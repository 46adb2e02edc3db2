"""Cross-request batching on CPU with real Whisper base: concurrent long requests share batched passes and
get the words each would get alone; a cancelled request leaves the others untouched."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from prometheus_client import REGISTRY

from tests.asr.conftest import real_whisper_base
from tests.support.assets import asset
from voicestack_predictors.asr.engines.faster_whisper_engine import FasterWhisperEngine
from voicestack_predictors.asr.engines.window_batcher import (
    Job,
    WindowBatcher,
    WindowsCancelled,
    options_key,
)
from voicestack_predictors.asr.protocol import parse_options
from voicestack_predictors.asr.settings import EngineSettings
from voicestack_predictors.asr.transcription import Transcription
from voicestack_predictors.common.audio import DecodedAudio, decode_audio

HALF = 65.0  # seconds per request: three 30 s windows each


@pytest.fixture(scope="module")
def whisper_base() -> Path:
    return real_whisper_base()


@pytest.fixture(scope="module")
def engine(whisper_base: Path) -> FasterWhisperEngine:
    # A long gathering wait (it ends as soon as both requests have windows queued) makes the shared pass
    # certain however long the other request's VAD takes on a loaded machine.
    settings = EngineSettings(
        model=str(whisper_base), device="cpu", cross_request_batching="on", cross_request_wait_ms=5000
    )
    return FasterWhisperEngine(settings, parallel=2)


@pytest.fixture(scope="module")
def halves() -> list[DecodedAudio]:
    audio = decode_audio(asset("audio/long/ljspeech_LJ001-0001_to_0032_16k.flac").read_bytes())
    size = int(HALF * audio.sample_rate)
    return [replace(audio, samples=audio.samples[i * size : (i + 1) * size]) for i in range(2)]


@pytest.fixture(scope="module")
def alone(engine: FasterWhisperEngine, halves: list[DecodedAudio]) -> list[dict[str, Any]]:
    return [transcribe(engine, audio) for audio in halves]


def transcribe(engine: FasterWhisperEngine, audio: DecodedAudio) -> dict[str, Any]:
    options = parse_options({"language": "en", "word_timestamps": True})
    return Transcription("whisper", audio, options, EngineSettings()).result(engine)


def words(result: dict[str, Any]) -> list[tuple[str, float, float]]:
    return [(w["word"], w["start"], w["end"]) for s in result["segments"] for w in s["words"]]


def shared_passes() -> float:
    return REGISTRY.get_sample_value("voicestack_asr_batch_shared_passes_total") or 0.0


def test_by_default_a_cpu_engine_batches_each_request_alone(whisper_base: Path) -> None:
    """Measured on CPU (docs/asr-predictor.md, "Cross-request batching"): shared passes made 4 concurrent
    long requests finish up to 1.38x later, so ``auto`` leaves them off there."""
    default = FasterWhisperEngine(EngineSettings(model=str(whisper_base), device="cpu"), parallel=2)
    assert default.window_batcher is None


def test_concurrent_requests_share_passes_and_get_their_own_words(
    engine: FasterWhisperEngine, halves: list[DecodedAudio], alone: list[dict[str, Any]]
) -> None:
    batcher = engine.window_batcher
    assert batcher is not None
    assert batcher.shared_passes == 0  # alone, every pass served one request
    assert all(len(result["text"].split()) > 120 for result in alone)
    before = shared_passes()
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(lambda audio: transcribe(engine, audio), halves))
    assert batcher.shared_passes >= 1 and shared_passes() >= before + 1
    for mine, theirs in zip(together, alone, strict=True):
        assert mine["text"] == theirs["text"]
        assert [w for w, _, _ in words(mine)] == [w for w, _, _ in words(theirs)]
        starts = np.array([start for _, start, _ in words(mine)])
        assert np.abs(starts - [start for _, start, _ in words(theirs)]).max() <= 0.1
    assert together[1]["segments"][-1]["end"] <= HALF


def test_a_cancelled_request_leaves_the_other_untouched(
    engine: FasterWhisperEngine, halves: list[DecodedAudio], alone: list[dict[str, Any]]
) -> None:
    stop = threading.Event()
    options = parse_options({"language": "en"})
    cancelled = Transcription("whisper", halves[0], options, EngineSettings())

    def run_cancelled() -> list[dict[str, Any]]:
        threading.Timer(0.2, stop.set).start()
        return list(cancelled.events(engine, stop))

    with ThreadPoolExecutor(2) as pool:
        events = pool.submit(run_cancelled)
        other = pool.submit(transcribe, engine, halves[1])
        assert other.result()["text"] == alone[1]["text"]
        assert not any(event["type"] == "done" for event in events.result())
    batcher = engine.window_batcher
    assert batcher is not None and not batcher._queue and batcher._active == 0


def fake_options(**changes: Any) -> Any:
    """The fields of faster-whisper's TranscriptionOptions that decide whether windows may share a pass."""
    fields: dict[str, Any] = {
        "initial_prompt": None,
        "hotwords": None,
        "without_timestamps": True,
        "max_new_tokens": None,
        "beam_size": 1,
        "patience": 1,
        "length_penalty": 1,
        "suppress_blank": True,
        "suppress_tokens": [-1],
        "temperatures": [0.0],
        "repetition_penalty": 1,
        "no_repeat_ngram_size": 0,
        "multilingual": False,
    }
    return SimpleNamespace(**{**fields, **changes})


ENGLISH: Any = SimpleNamespace(language_code="en", task=1)


def windows(count: int) -> np.ndarray:
    return np.zeros((count, 80, 3000), dtype=np.float32)


def test_a_pass_takes_the_oldest_windows_with_the_oldest_options() -> None:
    """Batch 4: the oldest job's 3 windows and 1 of the next compatible job's; a job with another beam size
    waits for a pass of its own."""
    batcher = WindowBatcher(pipeline=None, batch_size=4)  # type: ignore[arg-type]  # no pass runs here
    first, beam5, second = (
        Job(options_key(ENGLISH, options), windows(3), ENGLISH, options)
        for options in (fake_options(), fake_options(beam_size=5), fake_options())
    )
    batcher._queue = [first, beam5, second]
    taken = [(part.job, part.start, part.stop) for part in batcher._take()]
    assert taken == [(first, 0, 3), (second, 0, 1)]
    assert [(part.job, part.start, part.stop) for part in batcher._take()] == [(beam5, 0, 3)]
    assert [(part.job, part.start, part.stop) for part in batcher._take()] == [(second, 1, 3)]
    assert not batcher._queue


def test_a_request_stopped_while_its_windows_wait_leaves_the_queue() -> None:
    """Its windows wait behind a running pass; ``stop`` takes them out and raises WindowsCancelled."""
    batcher = WindowBatcher(pipeline=None, batch_size=8)  # type: ignore[arg-type]  # no pass runs here
    batcher._running = True  # another request's pass
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(WindowsCancelled):
        batcher.generate(windows(2), ENGLISH, fake_options(), stop)
    assert not batcher._queue and batcher.passes == 0
