"""``voicestack up``: three processes on loopback, ready, then a clean stop on SIGTERM or Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.router.conftest import ASR_MODEL, VITS_MODEL
from tests.support.assets import PROJECT_ROOT, asset
from tests.support.servers import ServerProcess, free_port
from voicestack.up import build_parser, plan


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_up_starts_everything_and_stops_on_a_signal(tmp_path: Path, stop: signal.Signals) -> None:
    port = free_port()
    up = ServerProcess.voicestack(
        "up", "--port", str(port),
        "--asr-model", str(asset(f"models-random/{ASR_MODEL}")),
        "--tts-model", str(asset(f"models-random/{VITS_MODEL}")),
        "--voices-dir", str(tmp_path / "voices"),
        "--asr-arg=--beam_size=1",
    )  # fmt: skip
    try:
        up.wait_http(f"http://127.0.0.1:{port}/health", timeout=240)
        health = httpx.get(f"http://127.0.0.1:{port}/health").json()
        assert set(health["backends"]) == {"asr", "tts"}
        children = psutil.Process(up.process.pid).children(recursive=True)
        assert len(children) >= 3
        ids = {model["id"] for model in httpx.get(f"http://127.0.0.1:{port}/v1/models").json()["data"]}
        assert {"whisper-1", "tts-1"} <= ids
        listening = {
            conn.laddr.ip
            for child in children
            for conn in child.connections(kind="tcp")
            if conn.status == psutil.CONN_LISTEN
        }
        assert listening == {"127.0.0.1"}, f"something listens beyond loopback: {listening}"
        deadline = time.monotonic() + 10
        while f"Voice Stack is up: http://127.0.0.1:{port}" not in up.log():
            assert time.monotonic() < deadline, up.log()[-2000:]
            time.sleep(0.2)
        up.process.send_signal(stop)
        assert up.process.wait(timeout=60) == 0
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"left running: {alive}"
    finally:
        up.stop()


def test_up_exits_non_zero_when_a_component_dies(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "voicestack.cli", "up", "--port", str(free_port()), "--no-tts",
         "--asr-model", str(tmp_path / "no-such-model")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert result.returncode != 0
    assert "asr exited" in result.stderr


def test_up_takes_the_predictors_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ROUTER_ASR_MODEL_NAME", "ROUTER_TTS_MODEL_NAME", "VOICESTACK_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ASR_MODEL", "/models/asr")
    monkeypatch.setenv("TTS_MODEL", "/models/tts")
    monkeypatch.setenv("TTS_VOICE_DIR", str(tmp_path / "voices"))
    monkeypatch.setenv("ASR_MODEL_NAME", "stt")
    monkeypatch.setenv("TTS_MODEL_NAME", "speaker")
    asr, tts, router = plan(build_parser().parse_args(["--port", "8123"]))
    assert asr.args[asr.args.index("--model") + 1] == "/models/asr"
    assert tts.args[tts.args.index("--model") + 1] == "/models/tts"
    assert tts.args[tts.args.index("--voices_dir") + 1] == str(tmp_path / "voices")
    assert router.env["ROUTER_VOICES_DIR"] == str(tmp_path / "voices")
    assert router.args[router.args.index("--port") + 1] == "8123"
    # the predictors serve under ASR_MODEL_NAME / TTS_MODEL_NAME: the router must call those names
    assert router.env["ROUTER_ASR_MODEL_NAME"] == "stt"
    assert router.env["ROUTER_TTS_MODEL_NAME"] == "speaker"
    flags = plan(
        build_parser().parse_args(
            ["--asr-model", "a", "--tts-model", "t", "--voices-dir", str(tmp_path / "v")]
        )
    )
    assert flags[0].args[flags[0].args.index("--model") + 1] == "a"
    assert flags[1].args[flags[1].args.index("--model") + 1] == "t"
    assert flags[2].env["ROUTER_VOICES_DIR"] == str(tmp_path / "v")
