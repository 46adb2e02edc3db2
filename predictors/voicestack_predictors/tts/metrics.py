"""``voicestack_tts_*`` Prometheus metrics (KServe adds its own request histograms beside them)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CHARACTERS = Counter(
    "voicestack_tts_characters", "Characters of text synthesised", ["model_name", "language"]
)
AUDIO_SECONDS = Counter("voicestack_tts_audio_seconds", "Seconds of audio generated", ["model_name"])
SYNTHESIS_SECONDS = Counter(
    "voicestack_tts_synthesis_seconds", "Seconds the engine spent generating audio", ["model_name"]
)
FIRST_AUDIO_SECONDS = Histogram(
    "voicestack_tts_first_audio_seconds",
    "Time from accepting a request to its first audio (streaming route)",
    ["model_name"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)
REQUESTS = Counter(
    "voicestack_tts_requests",
    "TTS requests by route and outcome (ok, invalid, busy, error)",
    ["model_name", "route", "outcome"],
)
