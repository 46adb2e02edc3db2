"""A bounded mixed load: 32 clients at once on transcriptions, Bazarr, speech and the listings. Nothing is
lost (every request gets an answer), overload is answered 429/503 with Retry-After, memory stays flat."""

from __future__ import annotations

import collections
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np

from tests.reliability.conftest import FIGURES, Stack
from tests.support.media import pcm16_wav

CLIENTS = 32
ROUNDS = 4  # requests per client
RSS_GROWTH_MIB = 150


def _clip() -> bytes:
    tone = (np.sin(np.arange(16000) / 6) * 6000).astype("<i2").tobytes()  # 1 s
    return pcm16_wav(tone)


def _request(client: httpx.Client, kind: str, clip: bytes) -> httpx.Response:
    if kind == "transcription":
        files = {"file": ("a.wav", clip)}
        return client.post("/v1/audio/transcriptions", files=files, data={"model": "whisper-1"})
    if kind == "bazarr":
        return client.post("/asr", params={"output": "txt"}, files={"audio_file": ("a.wav", clip)})
    if kind == "speech":
        body = {"model": "tts-1", "voice": "alloy", "input": "Hello there."}
        return client.post("/v1/audio/speech", json=body)
    return client.get("/v1/models")


def test_mixed_load_loses_nothing(stack: Stack) -> None:
    clip = _clip()
    kinds = ("transcription", "bazarr", "speech", "models")
    commands = ("router", "asr", "tts")
    rss_before = {command: stack.rss_mib(command) for command in commands}
    statuses: collections.Counter[str] = collections.Counter()
    latencies: list[float] = []
    problems: list[str] = []

    def run_client(index: int) -> None:
        with httpx.Client(base_url=stack.url, timeout=120) as client:
            for round_ in range(ROUNDS):
                kind = kinds[(index + round_) % len(kinds)]
                started = time.perf_counter()
                try:
                    response = _request(client, kind, clip)
                except httpx.HTTPError as exc:
                    statuses["lost"] += 1
                    problems.append(f"{kind}: {type(exc).__name__} {exc}")
                    continue
                latencies.append(time.perf_counter() - started)
                statuses[f"{kind} {response.status_code}"] += 1
                if response.status_code in (429, 503):
                    if not response.headers.get("retry-after", "").isdigit():
                        problems.append(f"{kind} {response.status_code} without Retry-After")
                elif response.status_code != 200:
                    problems.append(f"{kind} {response.status_code}: {response.text[:200]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(run_client, range(CLIENTS)))
    wall = time.perf_counter() - started
    rss_after = {command: stack.rss_mib(command) for command in commands}
    served = sum(count for key, count in statuses.items() if key.endswith(" 200"))
    FIGURES["mixed load"] = {
        "clients": CLIENTS,
        "requests": CLIENTS * ROUNDS,
        "served (200)": served,
        "lost": statuses["lost"],
        "outcomes": dict(sorted(statuses.items())),
        "p95 latency (s)": round(float(np.percentile(latencies, 95)), 2) if latencies else None,
        "wall (s)": round(wall, 1),
        "RSS MiB before -> after": {c: f"{rss_before[c]:.0f} -> {rss_after[c]:.0f}" for c in commands},
    }
    assert not problems, "\n".join(problems[:20])
    assert statuses["lost"] == 0
    assert served > 0
    for command in commands:
        assert rss_after[command] - rss_before[command] < RSS_GROWTH_MIB, (command, rss_before, rss_after)
