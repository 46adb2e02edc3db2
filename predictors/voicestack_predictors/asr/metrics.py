"""``voicestack_asr_*`` Prometheus metrics (KServe adds its own request histograms beside them)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

LABELS = ("model_name", "engine", "task")

AUDIO_SECONDS = Counter("voicestack_asr_audio_seconds", "Seconds of audio the engine processed", LABELS)
PROCESSING_SECONDS = Counter(
    "voicestack_asr_processing_seconds", "Seconds the engine spent processing audio", LABELS
)
REAL_TIME_FACTOR = Histogram(
    "voicestack_asr_real_time_factor",
    "Engine time divided by audio duration, per request (below 1: faster than real time)",
    LABELS,
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
)
REQUESTS = Counter(
    "voicestack_asr_requests",
    "ASR requests by task and outcome (ok, invalid, error)",
    ("model_name", "task", "outcome"),
)
DECODE_SECONDS = Histogram(
    "voicestack_asr_media_decode_seconds",
    "Time to decode the uploaded media to 16 kHz mono",
    ("model_name",),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def record_processing(model_name: str, engine: str, task: str, audio_seconds: float, seconds: float) -> None:
    AUDIO_SECONDS.labels(model_name, engine, task).inc(audio_seconds)
    PROCESSING_SECONDS.labels(model_name, engine, task).inc(seconds)
    if audio_seconds > 0:
        REAL_TIME_FACTOR.labels(model_name, engine, task).observe(seconds / audio_seconds)
