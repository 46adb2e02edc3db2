"""Realtime transcription sessions on real Whisper base: end-of-speech latency and concurrent sessions.

Starts a real ASR predictor (Whisper base from the model cache) and a router on loopback, then streams the
long LJSpeech clip in 40 ms chunks at real-time pace over ``/v1/realtime?intent=transcription`` with
server_vad (silence ``--silence-ms``, 300 by default: the clip's sentences are 0.4 s apart). Latency: from
the ``speech_stopped`` event (the VAD's end of speech) to that item's ``completed``, as the client sees
it. Then N sessions at once (each its own part of the clip): a session keeps up when its p95 latency stays
under ``--keep-up`` seconds.

    PYTHONPATH=. VOICESTACK_TEST_ASSETS=../shared/assets python benchmarks/realtime.py --sessions 1,2,4
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

import httpx

from tests.router.conftest import Running, start_router
from tests.router.realtime_support import Session, pcm_at
from tests.support.assets import asset
from tests.support.servers import ServerProcess, free_port
from voicestack.models import ModelCache

RATE = 24000
CHUNK_SECONDS = 0.04


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def one_session(url: str, audio: bytes, silence_ms: int, latencies: list[float], words: list[int]) -> None:
    """Stream ``audio`` at real time and collect stop→completed latencies until every turn is done."""
    with Session(url) as session:
        session.until("session.created")
        session.configure(turn_detection={"type": "server_vad", "silence_duration_ms": silence_ms})
        chunk = int(RATE * CHUNK_SECONDS) * 2
        tail = bytes(RATE * 2)  # one second of silence, so the last turn ends
        sender = session.stream(audio + tail, chunk_bytes=chunk, pace_seconds=CHUNK_SECONDS)
        stopped: dict[str, float] = {}
        done: set[str] = set()
        while sender.is_alive() or len(done) < len(stopped):
            try:
                event = session.recv(timeout=600)
            except TimeoutError:
                break
            if event["type"] == "input_audio_buffer.speech_stopped":
                stopped[event["item_id"]] = time.monotonic()
            elif event["type"].endswith("transcription.completed") and event["item_id"] in stopped:
                latencies.append(time.monotonic() - stopped[event["item_id"]])
                words.append(len(event["transcript"].split()))
                done.add(event["item_id"])
            elif event["type"].endswith("transcription.failed"):
                print("failed:", event["error"], file=sys.stderr)
                done.add(event["item_id"])
        sender.join()


def run(url: str, clip: bytes, sessions: int, seconds: float, silence_ms: int) -> tuple[list[float], int]:
    part = int(RATE * seconds) * 2
    latencies: list[float] = []
    words: list[int] = []
    threads = [
        threading.Thread(
            target=one_session, args=(url, clip[i * part : (i + 1) * part], silence_ms, latencies, words)
        )
        for i in range(sessions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, sum(words)


def baseline(url: str, repeats: int = 3) -> tuple[float, float]:
    """The same predictor without the WebSocket: one LJSpeech sentence through /v1/audio/transcriptions."""
    clip = asset("audio/en/ljspeech/LJ001-0004.wav")
    times = []
    for _ in range(repeats):
        started = time.monotonic()
        with clip.open("rb") as audio:
            response = httpx.post(
                f"{url}/v1/audio/transcriptions",
                files={"file": (clip.name, audio, "audio/wav")},
                data={"model": "whisper-1", "language": "en"},
                timeout=600,
            )
        response.raise_for_status()
        times.append(time.monotonic() - started)
    return statistics.median(times), len(pcm_at(clip, 16000)) / 16000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="audio per session (real time)")
    parser.add_argument("--sessions", default="1,2,4", help="simultaneous sessions to try")
    parser.add_argument("--silence-ms", type=int, default=300, help="server_vad silence_duration_ms")
    parser.add_argument("--keep-up", type=float, default=2.0, help="p95 latency that counts as keeping up")
    args = parser.parse_args()
    counts = [int(n) for n in args.sessions.split(",")]
    clip = pcm_at(asset("audio/long/ljspeech_LJ001-0001_to_0032_16k.flac"), RATE).tobytes()
    assert max(counts) * args.seconds * RATE * 2 <= len(clip), "the clip is too short for that many sessions"

    port = free_port()
    model = ModelCache().pull("whisper-base").path
    asr = ServerProcess.voicestack(
        "asr", "--http_port", str(port), "--enable_grpc", "false", "--model", str(model)
    )
    asr_url = f"http://127.0.0.1:{port}"
    router: Running | None = None
    try:
        asr.wait_http(f"{asr_url}/v2/health/ready", timeout=180)
        router = start_router({"ROUTER_ASR_URLS": asr_url})
        router.server.wait_http(f"{router.url}/health", timeout=30)
        run(router.url, clip, 1, 3.0, args.silence_ms)  # warm-up: the predictor's first call loads the model
        seconds, audio_seconds = baseline(router.url)
        route = "POST /v1/audio/transcriptions"
        print(f"baseline: a {audio_seconds:.1f} s sentence via {route}: {seconds:.2f} s (median of 3)")
        pace = "40 ms chunks at real-time pace"
        print(f"{args.seconds:g} s of speech per session, {pace}, silence {args.silence_ms} ms")
        print("sessions  turns  p50 latency  p95 latency  max      keeps up")
        for count in counts:
            latencies, _ = run(router.url, clip, count, args.seconds, args.silence_ms)
            if not latencies:
                print(f"{count:>8}  no completed turns")
                continue
            p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
            verdict = "yes" if p95 <= args.keep_up else "no"
            worst = max(latencies)
            print(
                f"{count:>8}  {len(latencies):>5}  {p50:>9.2f} s  {p95:>9.2f} s  {worst:>5.2f} s  {verdict}"
            )
    finally:
        if router is not None:
            router.server.stop()
        asr.stop()


if __name__ == "__main__":
    main()
