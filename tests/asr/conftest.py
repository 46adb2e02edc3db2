"""Fixtures for the ASR predictor suite: generated media, real server processes (started once), clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.asr.client import AsrClient
from tests.support.assets import asset
from tests.support.media import run_ffmpeg
from tests.support.models_dir import real_model
from tests.support.servers import ServerProcess, free_port, running

# Random weights loop on tokens: a small cap per window keeps every request fast and its cost stable.
MAX_NEW_TOKENS = "8"


def real_whisper_base() -> Path:
    """Real Whisper base (CTranslate2) from the model cache (pulled on first use), for tests where words
    matter; a model that cannot be pulled fails the test with the reason (never a silent skip)."""
    return real_model("whisper-base")


@pytest.fixture(scope="session")
def micro_ct2() -> Path:
    return asset("models-random/faster-whisper-ct2-micro-random")


@pytest.fixture(scope="session")
def micro_pt() -> Path:
    return asset("models-random/openai-whisper-micro-random.pt")


@pytest.fixture(scope="session")
def jfk_flac() -> Path:
    return asset("audio/en/jfk.flac")


@pytest.fixture(scope="session")
def long_flac() -> Path:
    return asset("audio/long/ljspeech_LJ001-0001_to_0032_16k.flac")


@pytest.fixture(scope="session")
def short_wav() -> Path:
    return asset("audio/en/ljspeech/LJ001-0002.wav")


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory, jfk_flac: Path) -> dict[str, Path]:
    """jfk (11.0 s) in other containers, with and without video, plus broken inputs; built per session."""
    out = tmp_path_factory.mktemp("asr-media")
    video = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10"]
    files = {
        "m4a": (["-i", str(jfk_flac), "-c:a", "aac", "-b:a", "64k"], "jfk.m4a"),
        "ogg-opus": (["-i", str(jfk_flac), "-c:a", "libopus", "-b:a", "32k"], "jfk.ogg"),
        "webm": (["-i", str(jfk_flac), "-c:a", "libopus", "-b:a", "32k"], "jfk.webm"),
        "mkv-video": (
            [
                *video,
                "-i",
                str(jfk_flac),
                "-map",
                "0:v",
                "-map",
                "1:a",
                "-t",
                "11",
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "flac",
            ],
            "jfk.mkv",
        ),
        "mp4-video": (
            [
                *video,
                "-i",
                str(jfk_flac),
                "-map",
                "0:v",
                "-map",
                "1:a",
                "-t",
                "11",
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
            ],
            "jfk.mp4",
        ),
        "video-only": ([*video, "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p"], "video-only.mp4"),
    }
    paths: dict[str, Path] = {}
    for key, (args, name) in files.items():
        run_ffmpeg(*args, str(out / name))
        paths[key] = out / name
    data = jfk_flac.read_bytes()
    paths["truncated"] = out / "truncated.flac"
    paths["truncated"].write_bytes(data[: len(data) // 2])
    wav = asset("audio/en/jfk.wav").read_bytes()
    paths["truncated-wav"] = out / "truncated.wav"  # its header still declares 11 s
    paths["truncated-wav"].write_bytes(wav[: len(wav) // 2])
    paths["not-audio"] = out / "notes.txt"
    paths["not-audio"].write_text("This is a text file, not audio.\n" * 20)
    return paths


def _server(*args: str, env: dict[str, str] | None = None) -> Iterator[AsrClient]:
    port = free_port()
    server = ServerProcess.voicestack(
        "asr", "--http_port", str(port), "--enable_grpc", "false", *args, env=env
    )
    base = f"http://127.0.0.1:{port}"
    with running(server, f"{base}/v2/health/ready", timeout=90):
        yield AsrClient(base, server)


@pytest.fixture(scope="session")
def fw_server(micro_ct2: Path) -> Iterator[AsrClient]:
    """faster-whisper (the default engine), configured by flags; long audio goes through batching."""
    yield from _server(
        "--model", str(micro_ct2), "--max_new_tokens", MAX_NEW_TOKENS, "--beam_size", "1", "--batch_size", "4"
    )


@pytest.fixture(scope="session")
def ow_server(micro_pt: Path) -> Iterator[AsrClient]:
    """openai-whisper, configured only by environment variables, under another model name."""
    env = {
        "ASR_ENGINE": "whisper",
        "ASR_MODEL": str(micro_pt),
        "ASR_MODEL_NAME": "whisper-pt",
        "ASR_MAX_NEW_TOKENS": MAX_NEW_TOKENS,
        "ASR_BEAM_SIZE": "1",
    }
    yield from _server(env=env)
