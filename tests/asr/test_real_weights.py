"""Real Whisper base (``whisper-base`` from the model cache): what the default settings give a user.

Language detection decides from the first window when it is confident and votes over more only when it is
not; long audio goes through the batched pipeline with VAD at the accuracy and memory the docs promise.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from tests.asr.client import AsrClient
from tests.asr.conftest import real_whisper_base
from tests.asr.shapes import assert_transcription
from tests.support.assets import asset
from tests.support.media import watch_rss
from tests.support.servers import ServerProcess, free_port, running
from voicestack_predictors.asr.engines.faster_whisper_engine import FasterWhisperEngine
from voicestack_predictors.asr.protocol import parse_options
from voicestack_predictors.asr.settings import EngineSettings
from voicestack_predictors.asr.transcription import Transcription
from voicestack_predictors.common.audio import DecodedAudio, decode_audio

LONG_DURATION = 234.546
MIB = 2**20


@pytest.fixture(scope="module")
def whisper_base() -> Path:
    return real_whisper_base()


@pytest.fixture(scope="module")
def engine(whisper_base: Path) -> FasterWhisperEngine:
    return FasterWhisperEngine(EngineSettings(model=str(whisper_base), device="cpu"))


def wer(reference: str, hypothesis: str, french: bool = False) -> float:
    """jiwer's WER after Whisper's normaliser (English, or the basic one for other languages)."""
    import jiwer
    from whisper.normalizers import BasicTextNormalizer, EnglishTextNormalizer

    normalise = BasicTextNormalizer() if french else EnglishTextNormalizer()
    # LJSpeech puts spoken asides in parentheses, which the normaliser would delete (benchmarks/compare.py).
    spoken = reference.replace("(", " ").replace(")", " ")
    return float(jiwer.wer(normalise(spoken), normalise(hypothesis)))


def reference(clip: str) -> str:
    return asset(clip).with_suffix(".txt").read_text(encoding="utf-8")


def detect(engine: FasterWhisperEngine, clip: str, **options: Any) -> tuple[dict[str, Any], int]:
    """The predictor's detect_language result for ``clip`` and how many windows the detector looked at."""
    seen: list[int] = []
    real = engine.language_distribution

    def counting(window: np.ndarray) -> dict[str, float]:
        seen.append(len(window))
        return real(window)

    audio = decode_audio(asset(clip).read_bytes())
    job = Transcription(
        "whisper", audio, parse_options({"task": "detect_language", **options}), EngineSettings()
    )
    engine.language_distribution = counting  # type: ignore[method-assign]
    try:
        return job.result(engine), len(seen)
    finally:
        del engine.language_distribution


@pytest.mark.parametrize(
    ("clip", "language"),
    [
        ("audio/en/jfk.wav", "en"),
        ("audio/de/gaenswein15.mp3", "de"),
        ("audio/fr/punctuations.mp3", "fr"),
        ("audio/fr/smartphone.mp3", "fr"),  # 178 s: three windows in range, one looked at
        ("audio/ja/japanese.mp3", "ja"),  # 40 s
        ("audio/long/ljspeech_LJ001-0001_to_0032_16k.flac", "en"),  # 234.5 s
    ],
)
def test_one_language_is_decided_by_the_first_window(
    engine: FasterWhisperEngine, clip: str, language: str
) -> None:
    result, windows = detect(engine, clip)
    assert result["language"] == language
    assert windows == 1
    assert result["language_probability"] >= 0.9


def test_a_language_change_inside_the_first_window_makes_the_windows_vote(
    engine: FasterWhisperEngine,
) -> None:
    """The en→de clip from 15 s: its first window holds both languages, so both windows vote (German wins);
    from 0 s the first window is all English and decides alone."""
    mixed, windows = detect(engine, "audio/multilingual/multilingual_en_de.mp3", detect_lang_offset=15)
    assert (mixed["language"], windows) == ("de", 2)
    assert {"de", "en"} <= set(list(mixed["language_probs"])[:2])
    english_first, windows = detect(engine, "audio/multilingual/multilingual_en_de.mp3")
    assert (english_first["language"], windows) == ("en", 1)


@contextmanager
def encoder_runs(engine: FasterWhisperEngine) -> Iterator[list[int]]:
    """Counts the real encoder passes (CTranslate2's ``encode``) while the block runs."""
    runs: list[int] = []
    encode = engine.recorder._model.encode

    def counting(features: Any, *args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return encode(features, *args, **kwargs)

    engine.recorder.encode = counting  # type: ignore[attr-defined]
    try:
        yield runs
    finally:
        del engine.recorder.encode  # type: ignore[attr-defined]


def transcribe_counting(
    engine: FasterWhisperEngine, audio: DecodedAudio, **options: Any
) -> tuple[dict[str, Any], int]:
    """The result of one request and how many encoder passes it took."""
    with encoder_runs(engine) as runs:
        result = Transcription("whisper", audio, parse_options(options), EngineSettings()).result(engine)
    return result, len(runs)


@pytest.mark.parametrize(
    "clip",
    [
        "audio/en/jfk.wav",  # 11 s: the sequential loop's one window
        "audio/long/ljspeech_LJ001-0001_to_0032_16k.flac",  # 234.5 s: the batched pipeline's first VAD window
    ],
)
def test_detection_hands_its_encoder_pass_to_the_transcription(
    engine: FasterWhisperEngine, clip: str
) -> None:
    """Without a language, detection scores the window the transcription encodes first and hands its
    encoder pass on: the request costs the encoder passes of one given the language, for the same words."""
    audio = decode_audio(asset(clip).read_bytes())
    given, given_runs = transcribe_counting(engine, audio, language="en")
    detected, detected_runs = transcribe_counting(engine, audio)
    assert detected["language"] == "en" and detected["language_probability"] >= 0.9
    assert detected["text"] == given["text"]
    assert detected_runs == given_runs


def test_a_kept_encoder_pass_serves_only_its_own_audio(engine: FasterWhisperEngine) -> None:
    """A pass kept by one request's detection is never used for other audio."""
    jfk = decode_audio(asset("audio/en/jfk.wav").read_bytes())
    german = decode_audio(asset("audio/de/gaenswein15.mp3").read_bytes())
    transcribe_counting(engine, german, task="detect_language")  # keeps the German window's pass
    english, runs = transcribe_counting(engine, jfk, language="en")
    assert runs == 1 and "ask not what your country" in english["text"]


@pytest.fixture(scope="module")
def real_server(whisper_base: Path) -> Iterator[AsrClient]:
    """The predictor with every engine setting at its default (only the model is given)."""
    port = free_port()
    server = ServerProcess.voicestack(
        "asr", "--http_port", str(port), "--enable_grpc", "false", "--model", str(whisper_base)
    )
    base = f"http://127.0.0.1:{port}"
    with running(server, f"{base}/v2/health/ready", timeout=120):
        yield AsrClient(base, server)


def test_short_audio_words(real_server: AsrClient) -> None:
    response = real_server.raw(asset("audio/en/jfk.wav"), "audio/wav", language="en")
    assert response.status_code == 200, response.text
    assert wer(reference("audio/en/jfk.wav"), response.json()["text"]) == 0.0


@pytest.mark.slow
def test_long_audio_with_the_defaults_is_accurate_in_bounded_memory(real_server: AsrClient) -> None:
    """Batched pipeline + VAD for the 234.5 s clip, language detected: WER ≤ 6 %, subtitle-sized segments,
    RSS ≤ 0.6 GiB idle after a long request and ≤ 1.2 GiB at its peak (docs/asr-predictor.md#performance)."""
    assert real_server.server is not None
    clip = "audio/long/ljspeech_LJ001-0001_to_0032_16k.flac"
    with watch_rss(real_server.server.process.pid) as rss:
        response = real_server.raw(asset(clip))
    assert response.status_code == 200, response.text
    result = response.json()
    assert_transcription(result, "transcribe", LONG_DURATION)
    assert result["language"] == "en"
    assert wer(reference(clip), result["text"]) <= 0.06
    # Subtitle-sized segments, not one per 30 s window (cues.py).
    assert max(s["end"] - s["start"] for s in result["segments"]) <= 10.0
    assert len(result["segments"]) >= 30
    assert rss.peak <= 1.2 * 1024 * MIB, f"peak RSS {rss.peak / MIB:.0f} MiB"
    idle = psutil.Process(real_server.server.process.pid).memory_info().rss  # handed back afterwards
    assert idle <= 0.6 * 1024 * MIB, f"idle RSS {idle / MIB:.0f} MiB"


def test_the_8khz_clip_through_the_batched_path(real_server: AsrClient) -> None:
    clip = "audio/en/OSR_us_000_0034_8k.wav"
    response = real_server.raw(asset(clip), "audio/wav", language="en")
    assert response.status_code == 200, response.text
    assert wer(reference(clip), response.json()["text"]) <= 0.03


@pytest.mark.slow
def test_a_window_that_loops_is_decoded_again(engine: FasterWhisperEngine) -> None:
    """178 s of French: greedy batched decoding loops on one window (compression ratio 7.7, half the words
    wrong); that window fails Whisper's fallback test and the sequential loop decodes it again."""
    clip = "audio/fr/smartphone.mp3"  # its reference is whisper-medium's output, hence the loose bound
    audio = decode_audio(asset(clip).read_bytes())
    result = Transcription("whisper", audio, parse_options({"language": "fr"}), EngineSettings()).result(
        engine
    )
    assert max(segment["compression_ratio"] for segment in result["segments"]) <= 2.4
    starts = [segment["start"] for segment in result["segments"]]
    assert starts == sorted(starts) and result["segments"][-1]["end"] <= audio.duration
    assert wer(reference(clip), result["text"], french=True) <= 0.2
