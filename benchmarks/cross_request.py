"""Concurrent long requests in one faster-whisper engine with cross-request batching off and on.

Runs ``--requests`` transcriptions of the long clip's first ``--seconds`` at once (threads, as the predictor
does with ``--max_concurrency``), per mode, the modes interleaved ``--rounds`` times, and prints each
request's finish time, the batcher's passes and whether every text matched the batcher-off text::

    VOICESTACK_TEST_ASSETS=../shared/assets python benchmarks/cross_request.py \\
        --model ~/.cache/voicestack/models/whisper-base --requests 4 --seconds 120
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from tests.support.assets import asset
from voicestack_predictors.asr.engines.faster_whisper_engine import FasterWhisperEngine
from voicestack_predictors.asr.protocol import parse_options
from voicestack_predictors.asr.settings import EngineSettings
from voicestack_predictors.asr.transcription import Transcription
from voicestack_predictors.common.audio import DecodedAudio, decode_audio

LONG_CLIP = "audio/long/ljspeech_LJ001-0001_to_0032_16k.flac"


def run(engine: FasterWhisperEngine, audio: DecodedAudio, requests: int) -> tuple[list[float], list[str]]:
    """Each request's finish time (s from the common start) and text."""
    options = parse_options({"language": "en"})
    start = time.perf_counter()

    def one(_: int) -> tuple[float, str]:
        text = Transcription("bench", audio, options, EngineSettings()).result(engine)["text"]
        return time.perf_counter() - start, text

    with ThreadPoolExecutor(requests) as pool:
        finished = list(pool.map(one, range(requests)))
    return [seconds for seconds, _ in finished], [text for _, text in finished]


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--model", type=Path, required=True, help="a CTranslate2 Whisper directory")
    parser.add_argument("--requests", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=120.0, help="seconds of the long clip per request")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--cpu-threads", type=int, default=0, help="per inference (0: the engine's default)")
    args = parser.parse_args()
    audio = decode_audio(asset(LONG_CLIP).read_bytes())
    audio = replace(audio, samples=audio.samples[: int(args.seconds * audio.sample_rate)])
    engines = {
        mode: FasterWhisperEngine(
            EngineSettings(
                model=str(args.model),
                device=args.device,
                cross_request_batching=mode,
                cpu_threads=args.cpu_threads,
            ),
            args.requests,
        )
        for mode in ("off", "on")
    }
    for engine in engines.values():  # warm-up: the first pass of an engine pays for its allocations
        run(engine, replace(audio, samples=audio.samples[: 35 * audio.sample_rate]), 1)
    reference: list[str] = []
    for round_ in range(args.rounds):
        for mode, engine in engines.items():
            batcher = engine.window_batcher
            passes = (batcher.passes, batcher.shared_passes) if batcher else (0, 0)
            finishes, texts = run(engine, audio, args.requests)
            reference = reference or texts[:1]
            line = (
                f"round {round_ + 1} batching {mode}: all done {max(finishes):.1f} s, "
                f"mean finish {statistics.mean(finishes):.1f} s, "
                f"finishes {', '.join(f'{s:.1f}' for s in sorted(finishes))}; "
                f"texts equal to batching off: {all(text == reference[0] for text in texts)}"
            )
            if batcher:
                line += f"; passes {batcher.passes - passes[0]}, shared {batcher.shared_passes - passes[1]}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
