"""Compare speech-to-text servers on your own hardware: the same clips, latency, WER, concurrency and RSS.

A target is any OpenAI-compatible server (``/v1/audio/transcriptions``: Voice Stack's router, speaches,
…), any whisper-asr-webservice-compatible one (the ``/asr`` route Bazarr calls), or plain faster-whisper
in this process (sequential, beam 5: the reference the others are measured against). Targets are measured
interleaved, case by case and round by round, so a machine that is busy with other work slows them alike;
compare ratios from one run rather than figures from different runs.

    python benchmarks/compare.py \\
        --target voicestack=openai:http://127.0.0.1:8000/v1 --pids voicestack=12345 \\
        --target webservice=bazarr:http://127.0.0.1:9000 --pids webservice=23456 \\
        --target reference=faster-whisper:/models/whisper-base --baseline reference

Clips come from the shared test assets (``--assets`` or ``VOICESTACK_TEST_ASSETS``): jfk (11 s), the 32
LJSpeech clips (1.8–10 s each), a 234.5 s long-form clip (the same speech joined), and a 35.6 s 8 kHz
recording (Harvard sentences). WER uses jiwer after openai-whisper's English normaliser (numbers, spelling
and punctuation made comparable; a plain lowercase-and-strip-punctuation one if openai-whisper is not
installed). ``--pids NAME=PID[,PID…]`` adds the resident memory of those processes and their children:
idle after the warm-up, and the peak while the long clip and the concurrent requests run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAVOURS = ("openai", "bazarr", "faster-whisper")
LONG_CLIP = "audio/long/ljspeech_LJ001-0001_to_0032_16k.flac"
OSR_CLIP = "audio/en/OSR_us_000_0034_8k.wav"


# --- clips and their references --------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    path: Path
    reference: str

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Case:
    """One row of the report: these clips, each sent once per round, with or without the language."""

    key: str
    title: str
    clips: tuple[Clip, ...]
    language: str | None = "en"


def default_assets() -> Path:
    configured = os.environ.get("VOICESTACK_TEST_ASSETS")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared" / "assets"


def load_clip(assets: Path, relative: str) -> Clip:
    path = assets / relative
    reference = path.with_suffix(".txt")
    if not path.is_file() or not reference.is_file():
        raise SystemExit(f"missing clip or reference {path} (point --assets at the shared test assets)")
    return Clip(path, reference.read_text(encoding="utf-8").strip())


def build_cases(assets: Path) -> dict[str, Case]:
    ljspeech = sorted((assets / "audio/en/ljspeech").glob("LJ001-*.wav"))
    long = load_clip(assets, LONG_CLIP)
    jfk = load_clip(assets, "audio/en/jfk.wav")
    cases = [
        Case("jfk", "jfk (11 s), language given", (jfk,)),
        Case("jfk-detect", "jfk, language detected", (jfk,), language=None),
        Case(
            "ljspeech",
            f"{len(ljspeech)} LJSpeech clips (1.8–10 s), language given",
            tuple(load_clip(assets, str(path.relative_to(assets))) for path in ljspeech),
        ),
        Case("long", "long clip (234.5 s), language given", (long,)),
        Case("long-detect", "long clip, language detected", (long,), language=None),
        Case(
            "osr",
            "8 kHz clip (35.6 s), language given",
            (load_clip(assets, OSR_CLIP),),
        ),
    ]
    return {case.key: case for case in cases}


# --- word error rate -------------------------------------------------------------------------------------


def normaliser() -> tuple[str, Callable[[str], str]]:
    """openai-whisper's English normaliser if installed (it spells numbers and British forms the same way
    on both sides), else lowercase without punctuation."""
    try:
        from whisper.normalizers import EnglishTextNormalizer

        return "openai-whisper EnglishTextNormalizer", EnglishTextNormalizer()
    except ImportError:

        def basic(text: str) -> str:
            return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())

        return "lowercase, punctuation removed", basic


def spoken(reference: str) -> str:
    """The reference with its parentheses dropped but not their words: LJSpeech writes spoken asides in
    parentheses (LJ001-0019: "(which also was printed at Maintz …)"), and Whisper's normaliser deletes
    parenthesised text as if it were an annotation, which would count 14 spoken words as insertions."""
    return reference.replace("(", " ").replace(")", " ")


def word_error_rate(references: list[str], hypotheses: list[str], normalise: Callable[[str], str]) -> float:
    """Corpus WER: all clips' errors over all their reference words (jiwer)."""
    import jiwer

    pairs = [
        (normalise(spoken(ref)), normalise(hyp)) for ref, hyp in zip(references, hypotheses, strict=True)
    ]
    pairs = [(ref, hyp) for ref, hyp in pairs if ref]
    return float(jiwer.wer([ref for ref, _ in pairs], [hyp for _, hyp in pairs]))


# --- targets ---------------------------------------------------------------------------------------------


class Target:
    """Something that turns a clip into text."""

    def __init__(self, name: str, flavour: str, location: str) -> None:
        self.name = name
        self.flavour = flavour
        self.location = location

    def transcribe(self, clip: Clip, language: str | None) -> str:
        raise NotImplementedError


class OpenAITarget(Target):
    def __init__(self, name: str, location: str, model: str, api_key: str) -> None:
        from openai import OpenAI

        super().__init__(name, "openai", location)
        self.model = model
        self.client = OpenAI(base_url=location, api_key=api_key, timeout=1800, max_retries=0)

    def transcribe(self, clip: Clip, language: str | None) -> str:
        extra: dict[str, Any] = {"language": language} if language else {}
        with clip.path.open("rb") as handle:
            result = self.client.audio.transcriptions.create(
                model=self.model, file=handle, response_format="json", **extra
            )
        return str(result.text)


class BazarrTarget(Target):
    """whisper-asr-webservice's ``POST /asr`` exactly as Bazarr's Whisper provider sends it."""

    def __init__(self, name: str, location: str) -> None:
        import requests

        super().__init__(name, "bazarr", location.rstrip("/"))
        self.session = requests.Session()

    def transcribe(self, clip: Clip, language: str | None) -> str:
        params = {"output": "json", "task": "transcribe", "encode": "true"}
        if language:
            params["language"] = language
        with clip.path.open("rb") as handle:
            response = self.session.post(
                f"{self.location}/asr",
                params=params,
                files={"audio_file": (clip.name, handle, "application/octet-stream")},
                timeout=1800,
            )
        response.raise_for_status()
        return str(response.json()["text"])


class FasterWhisperTarget(Target):
    """faster-whisper in this process: ``WhisperModel.transcribe`` (sequential), beam 5, int8 on CPU."""

    def __init__(self, name: str, location: str, cpu_threads: int) -> None:
        from faster_whisper import WhisperModel

        super().__init__(name, "faster-whisper", location)
        self.model = WhisperModel(location, device="cpu", compute_type="int8", cpu_threads=cpu_threads)

    def transcribe(self, clip: Clip, language: str | None) -> str:
        segments, _ = self.model.transcribe(str(clip.path), language=language, beam_size=5)
        return "".join(segment.text for segment in segments)


def parse_target(spec: str, args: argparse.Namespace) -> Target:
    name, sep, rest = spec.partition("=")
    flavour, sep2, location = rest.partition(":")
    if not (sep and sep2 and name and location) or flavour not in FLAVOURS:
        raise SystemExit(f"--target {spec!r}: use NAME=FLAVOUR:URL_OR_PATH with FLAVOUR one of {FLAVOURS}")
    if flavour == "openai":
        models = dict(pair.partition("=")[::2] for pair in args.models)
        return OpenAITarget(name, location, models.get(name, args.model), args.api_key)
    if flavour == "bazarr":
        return BazarrTarget(name, location)
    threads = args.cpu_threads or min(4, len(os.sched_getaffinity(0)))
    return FasterWhisperTarget(name, location, threads)


# --- memory ----------------------------------------------------------------------------------------------


def tree_rss(pids: list[int]) -> int:
    """Resident bytes of these processes and all their children (0 for any that is gone)."""
    import psutil

    total = 0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            members = [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for member in members:
            with suppress(psutil.NoSuchProcess):
                total += member.memory_info().rss
    return total


@contextmanager
def peak_rss(pids: list[int], interval: float = 0.05) -> Iterator[list[int]]:
    """Samples ``tree_rss`` in a thread while the block runs; the list's one item is the peak."""
    peak = [tree_rss(pids)] if pids else [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval):
            peak[0] = max(peak[0], tree_rss(pids))

    sampler = threading.Thread(target=sample, daemon=True)
    if pids:
        sampler.start()
    try:
        yield peak
    finally:
        done.set()
        if pids:
            sampler.join()


# --- the run ---------------------------------------------------------------------------------------------


@dataclass
class Measured:
    latencies: dict[str, list[float]] = field(default_factory=dict)  # case → seconds per request
    texts: dict[str, list[str]] = field(default_factory=dict)  # case → the last round's texts
    concurrent: list[tuple[float, float]] = field(default_factory=list)  # (all done, mean finish)
    idle_rss: int = 0
    peak_rss: int = 0


def run_case(target: Target, case: Case, measured: Measured, pids: list[int]) -> None:
    texts, times = [], measured.latencies.setdefault(case.key, [])
    with peak_rss(pids if case.key.startswith("long") else []) as peak:
        for clip in case.clips:
            started = time.perf_counter()
            texts.append(target.transcribe(clip, case.language))
            times.append(time.perf_counter() - started)
    measured.texts[case.key] = texts
    measured.peak_rss = max(measured.peak_rss, peak[0])


def run_concurrent(target: Target, clip: Clip, count: int, measured: Measured, pids: list[int]) -> None:
    """``count`` long-clip requests at once: when the last one finished, and the mean finish time."""
    started = time.perf_counter()

    def one() -> float:
        target.transcribe(clip, "en")
        return time.perf_counter() - started

    with peak_rss(pids) as peak, concurrent.futures.ThreadPoolExecutor(count) as pool:
        finishes = list(pool.map(lambda _: one(), range(count)))
    measured.concurrent.append((max(finishes), statistics.mean(finishes)))
    measured.peak_rss = max(measured.peak_rss, peak[0])


def stats(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f} s"


def report(
    targets: list[Target],
    results: dict[str, Measured],
    cases: list[Case],
    pids: dict[str, list[int]],
    baseline: str | None,
    normaliser_name: str,
    normalise: Callable[[str], str],
) -> None:
    print(f"\nWER after the {normaliser_name}; latency min / median / max per request")
    for case in cases:
        print(f"\n### {case.title}\n")
        print("| target | latency | WER |" + (" vs baseline (median) |" if baseline else ""))
        print("|---|---|---|" + ("---|" if baseline else ""))
        base = statistics.median(results[baseline].latencies[case.key]) if baseline else None
        for target in targets:
            measured = results[target.name]
            times = measured.latencies[case.key]
            wer = word_error_rate([c.reference for c in case.clips], measured.texts[case.key], normalise)
            ratio = f" {statistics.median(times) / base:.2f}× |" if base else ""
            print(f"| {target.name} | {stats(times)} | {wer * 100:.2f} % |{ratio}")
    if any(results[t.name].concurrent for t in targets):
        print("\n### concurrent long-clip requests: all done / mean finish (median over rounds)\n")
        for target in targets:
            rounds = results[target.name].concurrent
            if rounds:
                done = statistics.median(r[0] for r in rounds)
                mean = statistics.median(r[1] for r in rounds)
                print(f"| {target.name} | {done:.1f} s / {mean:.1f} s |")
    if pids:
        print("\n### resident memory of the given processes (and children)\n")
        for target in targets:
            if target.name in pids:
                m = results[target.name]
                idle, peak = m.idle_rss / 2**20, m.peak_rss / 2**20
                print(f"| {target.name} | idle {idle:.0f} MiB | peak {peak:.0f} MiB |")


def parse_pids(specs: list[str]) -> dict[str, list[int]]:
    pids: dict[str, list[int]] = {}
    for spec in specs:
        name, _, values = spec.partition("=")
        try:
            pids[name] = [int(value) for value in values.split(",") if value]
        except ValueError as exc:
            raise SystemExit(f"--pids {spec!r}: use NAME=PID[,PID…]") from exc
    return pids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--target", action="append", required=True, metavar="NAME=FLAVOUR:URL_OR_PATH")
    parser.add_argument("--pids", action="append", default=[], metavar="NAME=PID[,PID…]")
    parser.add_argument("--baseline", help="a target name: print each median as a multiple of its median")
    parser.add_argument(
        "--cases", default="jfk,jfk-detect,ljspeech,long,long-detect,osr", help="comma-separated"
    )
    parser.add_argument("--repeats", type=int, default=3, help="rounds over all cases (default 3)")
    parser.add_argument("--concurrency", type=int, default=4, help="long clips at once (0: skip)")
    parser.add_argument("--concurrency-rounds", type=int, default=1)
    parser.add_argument("--model", default="whisper-1", help="the OpenAI 'model' field")
    parser.add_argument(
        "--models",
        action="append",
        default=[],
        metavar="NAME=MODEL",
        help="the 'model' field for one target (servers name the same weights differently)",
    )
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY", "unused"))
    parser.add_argument("--cpu-threads", type=int, default=0, help="faster-whisper targets (0: ≤ 4)")
    parser.add_argument("--assets", type=Path, default=default_assets())
    args = parser.parse_args(argv)

    all_cases = build_cases(args.assets)
    unknown = [key for key in args.cases.split(",") if key not in all_cases]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; known: {', '.join(all_cases)}")
    cases = [all_cases[key] for key in args.cases.split(",")]
    pids = parse_pids(args.pids)
    targets = [parse_target(spec, args) for spec in args.target]
    names = [target.name for target in targets]
    if args.baseline and args.baseline not in names:
        raise SystemExit(f"--baseline {args.baseline!r} is not one of the targets {names}")
    normaliser_name, normalise = normaliser()
    results = {name: Measured() for name in names}

    print(f"machine: {len(os.sched_getaffinity(0))} usable CPU cores; targets: {', '.join(args.target)}")
    warm = all_cases["jfk"].clips[0]
    for target in targets:  # load models, fill caches; then the idle memory
        target.transcribe(warm, "en")
        results[target.name].idle_rss = tree_rss(pids.get(target.name, []))
    for round_number in range(args.repeats):
        for case in cases:
            for target in targets:
                run_case(target, case, results[target.name], pids.get(target.name, []))
            print(f"round {round_number + 1}: {case.key} done", file=sys.stderr, flush=True)
    long = all_cases["long"].clips[0]
    for _ in range(args.concurrency_rounds if args.concurrency > 0 else 0):
        for target in targets:
            run_concurrent(target, long, args.concurrency, results[target.name], pids.get(target.name, []))
        print("concurrent round done", file=sys.stderr, flush=True)
    report(targets, results, cases, pids, args.baseline, normaliser_name, normalise)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
