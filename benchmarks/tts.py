"""TTS benchmark (prints numbers; not a test): streaming vs not, with a TTS model served for real.

For a five-sentence paragraph: time to first audio and total time on the streaming route, the same for V1
(non-streaming: the first audio is the whole answer), and the real-time factor (generation time / audio
duration). ``--engine xtts`` (default) serves the random-weight XTTS: every sentence the same length (about
2.2 s of audio), so runs are comparable; what the audio says is meaningless. ``--engine piper`` serves the
real Piper voice en_US-joe-medium from the model cache (pulled on first use, ``docs/models.md``).

Run: ``python benchmarks/tts.py [--engine xtts|piper] [--repeats 3] [--device cpu]``
(``--stream_chunk_tokens 20``: XTTS only)
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.assets import assets_root
from tests.support.servers import ServerProcess, free_port, running
from tests.support.xtts_random import build_random_xtts
from voicestack.contracts.models import TTS_MODEL_NAME
from voicestack.models import ModelCache

PARAGRAPH = (
    "Printing, in the only sense with which we are at present concerned, differs from most arts and crafts. "
    "For although the Chinese took impressions from wood blocks engraved in relief for centuries before. "
    "The printers of Haarlem and Mainz produced the earliest books that were printed from movable types. "
    "And it is worth mention in passing that, as an example of fine typography, the earliest book is fine. "
    "The first books were printed in black letter, the letter which was a Gothic development of the old."
)


MODEL_NAME = TTS_MODEL_NAME  # the predictor's default KServe model name, whatever the engine
PIPER_VOICE = "piper-en_US-joe-medium"


def stream_once(base: str, body: dict) -> tuple[float, float, float]:
    """(time to first audio, total time, audio seconds) on the streaming route."""
    started = time.perf_counter()
    first = None
    size = 0
    with httpx.stream(
        "POST", f"{base}/v1/models/{MODEL_NAME}/synthesize", json=body, timeout=600
    ) as response:
        response.raise_for_status()
        rate = int(response.headers["x-sample-rate"])
        for part in response.iter_raw():
            if part and first is None:
                first = time.perf_counter() - started
            size += len(part)
    total = time.perf_counter() - started
    return first or total, total, size / 2 / rate


def v1_once(base: str, body: dict) -> tuple[float, float, float]:
    started = time.perf_counter()
    response = httpx.post(f"{base}/v1/models/{MODEL_NAME}:predict", json={"instances": [body]}, timeout=600)
    response.raise_for_status()
    total = time.perf_counter() - started
    prediction = response.json()["predictions"][0]
    audio = len(base64.b64decode(prediction["audio"]["b64"])) / 2 / prediction["sample_rate"]
    return total, total, audio


def report(label: str, runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    first = statistics.median(r[0] for r in runs)
    total = statistics.median(r[1] for r in runs)
    audio = statistics.median(r[2] for r in runs)
    print(
        f"{label:<14} first audio {first:6.2f} s   total {total:6.2f} s   audio {audio:5.2f} s   "
        f"RTF {total / audio:5.2f}   first/total {first / total:5.2f}"
    )
    return first, total, audio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--stream_chunk_tokens", type=int, default=20)
    parser.add_argument("--engine", choices=["xtts", "piper"], default="xtts")
    args = parser.parse_args()

    voices = Path(tempfile.mkdtemp(prefix="tts-bench-voices-"))
    if args.engine == "piper":
        model, voice, label = ModelCache().pull(PIPER_VOICE).path, "alloy", f"Piper {PIPER_VOICE}"
    else:
        model, voice, label = build_random_xtts(), "lj", "random XTTS"
        (voices / "lj.wav").write_bytes((assets_root() / "voice_ref/ljspeech_LJ001-0001.wav").read_bytes())
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = ServerProcess.voicestack(
        "tts", "--http_port", str(port), "--enable_grpc", "false", "--model", str(model),
        "--voices_dir", str(voices), "--device", args.device,
        "--stream_chunk_tokens", str(args.stream_chunk_tokens),
    )  # fmt: skip
    body = {"text": PARAGRAPH, "voice": voice, "language": "en"}
    with running(server, f"{base}/v2/health/ready", timeout=300):
        stream_once(base, {**body, "text": "Warm up."})  # conditioning latents cached, lazy parts built
        streamed = [stream_once(base, body) for _ in range(args.repeats)]
        whole = [v1_once(base, body) for _ in range(args.repeats)]
    print(f"{label}, five-sentence paragraph ({len(PARAGRAPH)} chars), {args.device}, median of "
          f"{args.repeats}, stream_chunk_tokens {args.stream_chunk_tokens}")  # fmt: skip
    s_first, s_total, _ = report("streaming", streamed)
    w_first, w_total, _ = report("non-streaming", whole)
    print(f"time to first audio, streaming / non-streaming: {s_first / w_first:.3f} "
          f"({w_first / s_first:.1f}x sooner)")  # fmt: skip
    print(f"total time, streaming / non-streaming: {s_total / w_total:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
