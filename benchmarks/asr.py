"""ASR benchmark (prints numbers; not a test).

1. Decoding the 234.5 s long-form FLAC to 16 kHz mono float32: PyAV in-process (what the predictors use)
   against ffmpeg-python (an ``ffmpeg`` subprocess fed through pipes).
2. Transcribing it with faster-whisper's sequential loop against BatchedInferencePipeline, with the
   tiny-dimension random model (Whisper tiny's real sizes, random weights). Random weights emit
   arbitrary tokens, so the work is fixed: the same eight 30 s windows in both modes, no timestamps,
   greedy decoding at temperature 0 and at most ``--max_new_tokens`` tokens per window.

Run: ``python benchmarks/asr.py [--repeats 5] [--device cpu] [--max_new_tokens 32] [--batch_size 8]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import ffmpeg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from predictors.asr.engines.faster_whisper_engine import fixed_windows
from predictors.common.audio import decode_audio
from tests.support.assets import assets_root

CLIP = "audio/long/ljspeech_LJ001-0001_to_0032_16k.flac"
MODEL = "models-random/faster-whisper-ct2-tiny-random"


def decode_with_ffmpeg_python(data: bytes, sample_rate: int = 16000) -> np.ndarray:
    out, _ = (
        ffmpeg.input("pipe:0")
        .output("pipe:1", format="f32le", acodec="pcm_f32le", ac=1, ar=sample_rate)
        .run(input=data, capture_stdout=True, capture_stderr=True)
    )
    return np.frombuffer(out, dtype=np.float32)


def timed(function: Callable[[], object], repeats: int) -> tuple[float, list[float], object]:
    """Median wall time, all times, and the last result. On a shared machine also read the minimum."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times, result


def bench_decoding(data: bytes, duration: float, repeats: int) -> None:
    print(f"\n## Decoding {CLIP} ({len(data) / 1e6:.1f} MB, {duration:.1f} s) to 16 kHz mono float32")
    print(f"median of {repeats} runs after one warm-up; wall time (RTF = time / audio duration)")
    rows = {}
    for name, function in {
        "PyAV (in-process)": lambda: decode_audio(data).samples,
        "ffmpeg-python (subprocess)": lambda: decode_with_ffmpeg_python(data),
    }.items():
        function()
        median, times, samples = timed(function, repeats)
        rows[name] = median
        print(
            f"  {name:<28} {median * 1000:7.1f} ms  RTF {median / duration:.5f}  "
            f"({len(samples) / 16000:.2f} s decoded; runs {', '.join(f'{t * 1000:.0f}' for t in times)} ms)"
        )
    pyav, ffm = rows["PyAV (in-process)"], rows["ffmpeg-python (subprocess)"]
    print(f"  ffmpeg-python / PyAV time ratio: {ffm / pyav:.2f}")


def bench_transcription(audio: np.ndarray, args: argparse.Namespace) -> None:
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    duration = len(audio) / 16000
    model_dir = assets_root() / MODEL
    compute_type = args.compute_type or ("float16" if args.device == "cuda" else "int8")
    print(f"\n## Transcribing {duration:.1f} s with {MODEL} on {args.device} ({compute_type})")
    threads = args.cpu_threads or os.cpu_count() or 1
    started = time.perf_counter()
    model = WhisperModel(str(model_dir), device=args.device, compute_type=compute_type, cpu_threads=threads)
    print(f"  model load {time.perf_counter() - started:.2f} s; cpu_threads {threads}")
    batched = BatchedInferencePipeline(model)
    common = {
        "language": "en",
        "beam_size": 1,
        "temperature": 0.0,
        "max_new_tokens": args.max_new_tokens,
        "without_timestamps": True,  # fixed 30 s seeks: the same windows in both modes
        "condition_on_previous_text": False,
        "vad_filter": False,
    }
    windows = fixed_windows(duration)

    def sequential() -> tuple[int, int]:
        segments, _ = model.transcribe(audio, **common)
        segments = list(segments)
        return len(segments), sum(len(s.tokens) for s in segments)

    def batched_run() -> tuple[int, int]:
        options = {k: v for k, v in common.items() if k != "condition_on_previous_text"}
        segments, _ = batched.transcribe(
            audio, batch_size=args.batch_size, clip_timestamps=windows, **options
        )
        segments = list(segments)
        return len(segments), sum(len(s.tokens) for s in segments)

    print(f"  {len(windows)} windows of ≤30 s, ≤{args.max_new_tokens} new tokens each, greedy, temperature 0")
    results = {}
    for name, function in {
        "sequential (WhisperModel)": sequential,
        f"batched (BatchedInferencePipeline, batch {args.batch_size})": batched_run,
    }.items():
        function()
        median, times, (n_segments, n_tokens) = timed(function, args.repeats)
        results[name] = (median, min(times))
        print(
            f"  {name:<50} median {median:6.2f} s (RTF {median / duration:.4f}), best {min(times):6.2f} s "
            f"(RTF {min(times) / duration:.4f})  "
            f"({n_segments} segments, {n_tokens} tokens; runs {', '.join(f'{t:.2f}' for t in times)} s)"
        )
    (seq_median, seq_best), (bat_median, bat_best) = results.values()
    print(
        f"  sequential / batched time ratio: median {seq_median / bat_median:.2f}, "
        f"best {seq_best / bat_best:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--compute_type", default=None)
    parser.add_argument("--cpu_threads", type=int, default=0)
    parser.add_argument("--max_new_tokens", type=int, default=32)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--skip_decoding", action="store_true")
    args = parser.parse_args()

    path = assets_root() / CLIP
    if not path.is_file():
        print(f"missing asset {path} (set VOICESTACK_TEST_ASSETS)", file=sys.stderr)
        return 1
    data = path.read_bytes()
    audio = decode_audio(data).samples
    print(f"machine: {os.cpu_count()} CPU cores; python {sys.version.split()[0]}")
    if not args.skip_decoding:
        bench_decoding(data, len(audio) / 16000, args.repeats)
    bench_transcription(audio, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
