"""ASR benchmark on real Whisper weights (prints numbers; not a test).

1. Decoding the 234.5 s long-form FLAC to 16 kHz mono float32: PyAV in-process (what the predictors use)
   against ffmpeg-python (an ``ffmpeg`` subprocess fed through pipes).
2. Transcription modes: the predictor's own request path (``Transcription`` on ``FasterWhisperEngine``)
   under the default settings and any others (``--mode``), against the reference, a direct sequential
   faster-whisper call (``WhisperModel.transcribe``, beam 5, language given). Modes run interleaved, round
   by round, so other work on the machine slows them alike; the report gives wall and CPU time (median),
   each as a multiple of the reference, and WER on the long clip, the 8 kHz OSR clip and the 32 LJSpeech
   clips (jiwer after openai-whisper's English normaliser, see benchmarks/compare.py).
3. Language detection: each clip's first-window top language and probability, whether that window decided
   alone (``EARLY_STOP_PROBABILITY``), the windows that voted and the time, against every window voting.

Run: ``python benchmarks/asr.py [--model DIR] [--repeats 3] [--sets long,osr,ljspeech]
[--mode NAME:batch=16,beam=5,vad=on] [--skip_decoding] [--skip_language]``. The model defaults to
whisper-base from the model cache (pulled on first use, ``docs/models.md``) unless ``--model`` names one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import ffmpeg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # a site-packages "benchmarks" may shadow ours

from compare import build_cases, default_assets, normaliser, word_error_rate

from voicestack.contracts.asr_options import DEFAULT_DETECT_LANG_LENGTH
from voicestack.models import ModelCache
from voicestack_predictors.asr.engines.base import SAMPLE_RATE
from voicestack_predictors.asr.engines.faster_whisper_engine import FasterWhisperEngine
from voicestack_predictors.asr.language_vote import EARLY_STOP_PROBABILITY, vote
from voicestack_predictors.asr.protocol import parse_options
from voicestack_predictors.asr.settings import EngineSettings
from voicestack_predictors.asr.transcription import Transcription
from voicestack_predictors.common.audio import DecodedAudio, decode_audio

SETS = {"long": "long", "osr": "osr", "ljspeech": "ljspeech"}  # benchmarks/compare.py's case keys
LANGUAGE_CLIPS = (
    "audio/en/jfk.wav",
    "audio/en/OSR_us_000_0034_8k.wav",
    "audio/long/ljspeech_LJ001-0001_to_0032_16k.flac",
    "audio/de/gaenswein15.mp3",
    "audio/fr/punctuations.mp3",
    "audio/fr/smartphone.mp3",
    "audio/fr/bonjour_vous_allez_bien.mp3",
    "audio/ja/japanese.mp3",
    "audio/multilingual/multilingual_en_de.mp3",
)
# The en→de clip switches language in its first half minute: these offsets put the switch inside the first
# window (mixed audio that must vote) or before it.
MULTILINGUAL_OFFSETS = (0.0, 10.0, 15.0, 20.0, 25.0)


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


def bench_decoding(path: Path, repeats: int) -> None:
    data = path.read_bytes()
    duration = len(decode_audio(data).samples) / SAMPLE_RATE
    print(f"\n## Decoding {path.name} ({len(data) / 1e6:.1f} MB, {duration:.1f} s) to 16 kHz mono float32")
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


# --- transcription modes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mode:
    """The predictor's request path under these settings and request options, or the reference."""

    name: str
    batch_size: int = 0  # EngineSettings.batch_size (0: automatic)
    options: tuple[tuple[str, Any], ...] = ()  # request options (beam_size, vad_filter, temperature)
    reference: bool = False


def parse_mode(spec: str) -> Mode:
    """``NAME:batch=16,beam=5,vad=on,temperature=0`` (each key optional)."""
    name, _, rest = spec.partition(":")
    mode = Mode(name)
    options: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        if key == "batch":
            mode = replace(mode, batch_size=int(value))
        elif key == "beam":
            options["beam_size"] = int(value)
        elif key == "vad":
            options["vad_filter"] = {"on": True, "off": False}[value]
        elif key == "temperature":
            options["temperature"] = float(value)
        else:
            raise SystemExit(f"--mode {spec!r}: unknown key {key!r} (batch, beam, vad, temperature)")
    return replace(mode, options=tuple(options.items()))


class Runner:
    """One engine per batch size (a model each), built on first use."""

    def __init__(self, model: str, device: str, cpu_threads: int) -> None:
        self.settings = EngineSettings(model=model, device=device, cpu_threads=cpu_threads)
        self.engines: dict[int, FasterWhisperEngine] = {}

    def engine(self, batch_size: int) -> FasterWhisperEngine:
        if batch_size not in self.engines:
            self.engines[batch_size] = FasterWhisperEngine(
                self.settings.model_copy(update={"batch_size": batch_size})
            )
        return self.engines[batch_size]

    def transcribe(self, mode: Mode, audio: DecodedAudio) -> str:
        if mode.reference:
            segments, _ = self.engine(1).model.transcribe(audio.samples, language="en", beam_size=5)
            return "".join(segment.text for segment in segments)
        options = parse_options({"language": "en", **dict(mode.options)})
        engine = self.engine(mode.batch_size)
        settings = self.settings.model_copy(update={"batch_size": mode.batch_size})
        return str(Transcription("bench", audio, options, settings).result(engine)["text"])


def bench_modes(args: argparse.Namespace, modes: list[Mode]) -> None:
    runner = Runner(args.model, args.device, args.cpu_threads)
    cases = build_cases(args.assets)
    sets = {key: cases[SETS[key]].clips for key in args.sets.split(",")}
    audio = {clip.path: decode_audio(clip.path.read_bytes()) for clips in sets.values() for clip in clips}
    norm_name, normalise = normaliser()
    wall: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    texts: dict[tuple[str, str], list[str]] = {}
    print(f"\n## Transcription modes on {Path(args.model).name} ({args.device}), language given")
    print(f"  modes: {', '.join(describe(mode) for mode in modes)}")
    warm = audio[next(iter(sets.values()))[0].path]
    for mode in modes:  # load and warm up every engine before timing
        runner.transcribe(mode, warm)
    for round_number in range(args.repeats):
        for set_name, clips in sets.items():
            for mode in modes:
                started, cpu_started = time.perf_counter(), time.process_time()
                out = [runner.transcribe(mode, audio[clip.path]) for clip in clips]
                wall.setdefault((set_name, mode.name), []).append(time.perf_counter() - started)
                cpu.setdefault((set_name, mode.name), []).append(time.process_time() - cpu_started)
                texts[(set_name, mode.name)] = out
            print(f"  round {round_number + 1}: {set_name} done", file=sys.stderr, flush=True)
    print(f"  {args.repeats} interleaved rounds; WER after the {norm_name}\n")
    print("| set | mode | wall median (× reference) | CPU median (× reference) | WER |")
    print("|---|---|---|---|---|")
    for set_name, clips in sets.items():
        reference = modes[0].name
        base_wall = statistics.median(wall[(set_name, reference)])
        base_cpu = statistics.median(cpu[(set_name, reference)])
        for mode in modes:
            w = statistics.median(wall[(set_name, mode.name)])
            c = statistics.median(cpu[(set_name, mode.name)])
            wer = word_error_rate([clip.reference for clip in clips], texts[(set_name, mode.name)], normalise)
            print(
                f"| {set_name} | {mode.name} | {w:.2f} s ({w / base_wall:.2f}×) | "
                f"{c:.2f} s ({c / base_cpu:.2f}×) | {wer * 100:.2f} % |"
            )


def describe(mode: Mode) -> str:
    if mode.reference:
        return f"{mode.name} (WhisperModel.transcribe, beam 5)"
    settings = [f"batch_size {mode.batch_size or 'auto'}"] + [f"{k} {v}" for k, v in mode.options]
    return f"{mode.name} ({', '.join(settings)})"


# --- language detection ----------------------------------------------------------------------------------


def bench_language(args: argparse.Namespace) -> None:
    engine = FasterWhisperEngine(
        EngineSettings(model=args.model, device=args.device, cpu_threads=args.cpu_threads)
    )
    print(f"\n## Language detection (first window decides alone at ≥ {EARLY_STOP_PROBABILITY})\n")
    print("| clip | offset | first window | early stop: language, windows, time | every window votes |")
    print("|---|---|---|---|---|")
    lock = threading.Lock()
    for relative in LANGUAGE_CLIPS:
        path = args.assets / relative
        samples = decode_audio(path.read_bytes()).samples
        offsets = MULTILINGUAL_OFFSETS if "multilingual" in relative else (0.0,)
        for offset in offsets:
            firsts: list[dict[str, float]] = []

            def distribution(window: np.ndarray, seen: list[dict[str, float]] = firsts) -> dict[str, float]:
                probabilities = engine.language_distribution(window)
                with lock:
                    seen.append(probabilities)
                return probabilities

            started = time.perf_counter()
            early = vote(samples, SAMPLE_RATE, offset, DEFAULT_DETECT_LANG_LENGTH, distribution)
            early_time = time.perf_counter() - started
            first_language, first_probability = max(firsts[0].items(), key=lambda item: item[1])
            started = time.perf_counter()
            full = vote(
                samples, SAMPLE_RATE, offset, DEFAULT_DETECT_LANG_LENGTH, engine.language_distribution, 2.0
            )
            full_time = time.perf_counter() - started
            print(
                f"| {path.name} ({len(samples) / SAMPLE_RATE:.0f} s) | {offset:g} s | "
                f"{first_language} {first_probability:.3f} | {early.language} {early.probability:.3f}, "
                f"{early.windows}, {early_time:.2f} s | {full.language} {full.probability:.3f} "
                f"({full.windows} windows), {full_time:.2f} s |"
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model",
        default=None,
        help="CTranslate2 Whisper directory (default: whisper-base from the model cache)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--cpu_threads", type=int, default=0)
    parser.add_argument("--sets", default="long,osr,ljspeech")
    parser.add_argument(
        "--mode",
        action="append",
        default=[],
        metavar="NAME:batch=N,beam=N,vad=on|off,temperature=T",
        help="extra modes besides the reference and the defaults (repeatable)",
    )
    parser.add_argument("--no_defaults", action="store_true", help="measure only the reference and --mode")
    parser.add_argument("--assets", type=Path, default=default_assets())
    parser.add_argument("--skip_decoding", action="store_true")
    parser.add_argument("--skip_modes", action="store_true")
    parser.add_argument("--skip_language", action="store_true")
    args = parser.parse_args()
    args.model = args.model or str(ModelCache().pull("whisper-base").path)
    if not Path(args.model).is_dir():
        print(f"no model directory at {args.model}", file=sys.stderr)
        return 1
    print(f"machine: {len(os.sched_getaffinity(0))} usable CPU cores; python {sys.version.split()[0]}")
    if not args.skip_decoding:
        bench_decoding(args.assets / "audio/long/ljspeech_LJ001-0001_to_0032_16k.flac", args.repeats)
    if not args.skip_modes:
        modes = [Mode("reference", reference=True)]
        modes += [] if args.no_defaults else [Mode("defaults")]
        modes += [parse_mode(spec) for spec in args.mode]
        bench_modes(args, modes)
    if not args.skip_language:
        bench_language(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
