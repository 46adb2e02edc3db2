"""Fixtures for the TTS predictor suite: a voice directory, and real servers (random XTTS, random VITS)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.assets import asset
from tests.support.media import run_ffmpeg
from tests.support.servers import ServerProcess, free_port, running
from tests.support.xtts_random import random_xtts  # noqa: F401 - session fixture
from tests.tts.client import TtsClient


@pytest.fixture(scope="session")
def voice_ref() -> Path:
    return asset("voice_ref/ljspeech_LJ001-0001.wav")


@pytest.fixture(scope="session")
def voices_dir(tmp_path_factory: pytest.TempPathFactory, voice_ref: Path) -> Path:
    """Good voices (file, folder, stereo FLAC, ConfigMap-style symlinks) and broken ones."""
    root = tmp_path_factory.mktemp("voices")
    shutil.copy(voice_ref, root / "lj.wav")
    (root / "lj.json").write_text('{"language": "en"}')
    duo = root / "duo"
    duo.mkdir()
    shutil.copy(voice_ref, duo / "one.wav")
    shutil.copy(asset("audio/en/ljspeech/LJ001-0011.wav"), duo / "two.wav")
    (duo / "notes.txt").write_text("not a sample")
    shutil.copy(asset("audio/en/jfk.flac"), root / "jfk.flac")  # 44.1 kHz stereo: folded to mono
    # A ConfigMap volume: the visible names are symlinks into ..data, itself a link to a timestamped dir.
    stamped = root / "..2026_01_01_00_00_00.000000001"
    stamped.mkdir()
    shutil.copy(voice_ref, stamped / "cm.wav")
    os.symlink(stamped.name, root / "..data")
    os.symlink("..data/cm.wav", root / "cm.wav")
    # Broken voices.
    shutil.copy(asset("audio/en/ljspeech/LJ001-0008.wav"), root / "short.wav")  # 1.8 s
    shutil.copy(asset("audio/long/ljspeech_LJ001-0001_to_0032_16k.flac"), root / "long.flac")  # 234 s
    (root / "garbage.wav").write_bytes(b"RIFF not really a wave file" * 100)
    run_ffmpeg("-i", str(voice_ref), "-ar", "8000", str(root / "lowrate.wav"))
    (root / ".hidden.wav").write_bytes(b"ignored")
    return root


def _server(command_args: list[str], env: dict[str, str] | None = None) -> Iterator[TtsClient]:
    port = free_port()
    server = ServerProcess.voicestack(
        "tts", "--http_port", str(port), "--enable_grpc", "false", *command_args, env=env
    )
    base = f"http://127.0.0.1:{port}"
    with running(server, f"{base}/v2/health/live", timeout=180):
        yield TtsClient(base, server)


@pytest.fixture(scope="session")
def xtts(random_xtts: Path, voices_dir: Path) -> Iterator[TtsClient]:  # noqa: F811
    """The random XTTS, loaded at start, voices from ``voices_dir``; aliases partly configured."""
    args = ["--model", str(random_xtts), "--voices_dir", str(voices_dir), "--device", "cpu"]
    env = {"TTS_VOICE_ALIASES": "alloy=lj,echo=duo,nova=missing", "TTS_DEFAULT_VOICE": "lj"}
    for client in _server(args, env):
        client.server.wait_http(f"{client.base}/v2/health/ready", timeout=180)
        yield client
