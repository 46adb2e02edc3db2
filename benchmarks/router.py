"""Router overhead, measured on loopback with real processes; prints the figures for docs/router.md.

1. The same clip straight to the ASR predictor vs through the router (p50/p99 and their ratio).
2. Speech time to first byte through the router vs the total time (the real TTS predictor if it starts,
   else the tone stub from tests/router/predictor_stub.py, which the output says).
3. The router's peak RSS while relaying a large ``encode=false`` Bazarr body (to the counting stub).

Usage: python benchmarks/router.py [--requests 30] [--asr-model PATH] [--body-mb 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.router.conftest import pcm16k
from tests.router.test_large_body import multipart_stream
from tests.support.assets import asset
from tests.support.media import pcm16_wav, watch_rss
from tests.support.servers import ServerProcess, free_port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start(
    command: str,
    *args: str,
    env: dict[str, str] | None = None,
    ready: str = "/v2/health/ready",
    timeout: float = 180,
) -> tuple[ServerProcess, str]:
    port = free_port()
    flag = "--port" if command == "router" else "--http_port"
    extra = ["--host", "127.0.0.1"] if command == "router" else ["--enable_grpc", "false"]
    server = ServerProcess.voicestack(command, flag, str(port), *extra, *args, env=env)
    url = f"http://127.0.0.1:{port}"
    server.wait_http(url + ready, timeout=timeout)
    return server, url


def timed_posts(url: str, pcm: bytes, count: int, via_router: bool) -> list[float]:
    times = []
    with httpx.Client(timeout=300) as client:
        for _ in range(count):
            started = time.perf_counter()
            if via_router:
                response = client.post(
                    f"{url}/v1/audio/transcriptions",
                    files={"file": ("a.pcm", pcm16_wav(pcm))},
                    data={"model": "whisper-1", "temperature": "0"},
                )
            else:
                response = client.post(
                    f"{url}/v1/models/whisper:predict",
                    content=pcm16_wav(pcm),
                    headers={
                        "Content-Type": "application/x-voicestack-audio",
                        "X-VoiceStack-Options": '{"temperature": 0}',
                    },
                )
            response.raise_for_status()
            times.append(time.perf_counter() - started)
    return times


def asr_overhead(args: argparse.Namespace) -> None:
    asr, asr_url = start("asr", "--model", args.asr_model, "--beam_size", "1")
    router, router_url = start("router", env={"ROUTER_ASR_URLS": asr_url}, ready="/health")
    try:
        pcm = pcm16k(asset("audio/en/jfk.wav")).tobytes()
        timed_posts(asr_url, pcm, 3, via_router=False)  # warm up
        direct = timed_posts(asr_url, pcm, args.requests, via_router=False)
        routed = timed_posts(router_url, pcm, args.requests, via_router=True)
        print(f"ASR, jfk.wav (11 s), {args.requests} sequential requests, model {Path(args.asr_model).name}")
        for name, values in (("direct to predictor", direct), ("through router", routed)):
            p50, p99 = percentile(values, 0.5) * 1000, percentile(values, 0.99) * 1000
            print(f"  {name:<20} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")
        ratio = statistics.median(routed) / statistics.median(direct)
        added = (statistics.median(routed) - statistics.median(direct)) * 1000
        print(f"  ratio (p50 router / p50 direct) {ratio:.3f}   added {added:.1f} ms")
    finally:
        router.stop()
        asr.stop()


def tts_first_byte(args: argparse.Namespace) -> None:
    label = "TTS predictor, random VITS"
    try:
        tts, tts_url = start(
            "tts", "--model", str(asset("models-random/coqui-vits-micro-random")), timeout=120
        )
    except Exception as exc:  # the TTS predictor may not be available: measure the router with the stub
        print(f"  (TTS predictor did not start: {type(exc).__name__}; using the tone stub)")
        port = free_port()
        tts = ServerProcess([sys.executable, "-m", "tests.router.predictor_stub", "--port", str(port)])
        tts_url = f"http://127.0.0.1:{port}"
        tts.wait_http(tts_url + "/v2/health/ready")
        label = "ToneTtsPredictorStub (0.05 s of audio per character)"
    router, router_url = start("router", env={"ROUTER_TTS_URLS": tts_url}, ready="/health")
    try:
        voices = httpx.get(f"{router_url}/v1/audio/voices").json()
        voice = voices.get("default") or voices["data"][0]["id"]
        text = "The quick brown fox jumps over the lazy dog. " * 8
        firsts, totals = [], []
        for _ in range(5):
            started = time.perf_counter()
            first = None
            body = {"model": "tts-1", "voice": voice, "input": text, "response_format": "mp3"}
            with httpx.stream("POST", f"{router_url}/v1/audio/speech", timeout=300, json=body) as r:
                for chunk in r.iter_bytes():
                    if chunk and first is None:
                        first = time.perf_counter() - started
            firsts.append(first or 0.0)
            totals.append(time.perf_counter() - started)
        print(f"Speech, {len(text)} characters (8 sentences), mp3, via router, {label}")
        print(
            f"  time to first byte p50 {statistics.median(firsts) * 1000:7.1f} ms   "
            f"total p50 {statistics.median(totals) * 1000:7.1f} ms"
        )
    finally:
        router.stop()
        tts.stop()


def relay_memory(args: argparse.Namespace) -> None:
    port = free_port()
    stub = ServerProcess([sys.executable, "-m", "tests.router.predictor_stub", "--port", str(port)])
    stub_url = f"http://127.0.0.1:{port}"
    stub.wait_http(stub_url + "/v2/health/ready")
    router, router_url = start("router", env={"ROUTER_ASR_URLS": stub_url}, ready="/health")
    try:
        size = args.body_mb * 1024 * 1024
        body, length = multipart_stream("bench-boundary", size)
        with watch_rss(router.process.pid) as rss:
            started = time.perf_counter()
            response = httpx.post(
                f"{router_url}/asr",
                params={"encode": "false", "output": "srt"},
                content=body,
                headers={
                    "Content-Type": "multipart/form-data; boundary=bench-boundary",
                    "Content-Length": str(length),
                },
                timeout=httpx.Timeout(10, read=None),
            )
            elapsed = time.perf_counter() - started
        response.raise_for_status()
        print(f"Bazarr relay, {args.body_mb} MB encode=false body to CountingAsrPredictorStub")
        print(
            f"  router RSS {rss.baseline / 2**20:.0f} MiB before, peak {rss.peak / 2**20:.0f} MiB "
            f"(+{rss.grew_mib:.1f} MiB)"
        )
        print(f"  {elapsed:.2f} s, {args.body_mb / elapsed:.0f} MB/s")
    finally:
        router.stop()
        stub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--asr-model", default=str(asset("models-random/faster-whisper-ct2-tiny-random")))
    parser.add_argument("--body-mb", type=int, default=200)
    args = parser.parse_args()
    asr_overhead(args)
    tts_first_byte(args)
    relay_memory(args)


if __name__ == "__main__":
    main()
