"""``voicestack up``: three processes on loopback, ready, a clean stop on SIGTERM or Ctrl-C, and the
supervisor: a killed child is restarted (requests meanwhile: OpenAI 503 + Retry-After, Bazarr held), one
that crashes on every start makes ``up`` give up with its reason."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import psutil
import pytest
import requests
from pydantic import ValidationError

from tests.router.conftest import ASR_MODEL, VITS_MODEL
from tests.router.realtime_support import Session
from tests.support.assets import PROJECT_ROOT, asset
from tests.support.media import pcm16_wav
from tests.support.servers import ServerProcess, free_port
from voicestack.up import RestartBudget, RestartSettings, build_parser, plan, restart_settings
from voicestack.up import main as up_main


def _wait_for_log(up: ServerProcess, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in up.log():
        assert time.monotonic() < deadline, f"{text!r} not in the log:\n{up.log()[-3000:]}"
        time.sleep(0.2)


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
        with Session(f"http://127.0.0.1:{port}") as realtime:  # its router found faster-whisper's Silero VAD
            created = realtime.until("session.created")
            assert created["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        listening = {
            conn.laddr.ip
            for child in children
            for conn in child.connections(kind="tcp")
            if conn.status == psutil.CONN_LISTEN
        }
        assert listening == {"127.0.0.1"}, f"something listens beyond loopback: {listening}"
        _wait_for_log(up, f"Voice Stack is up: http://127.0.0.1:{port}")
        up.process.send_signal(stop)
        assert up.process.wait(timeout=60) == 0
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"left running: {alive}"
    finally:
        up.stop()


def test_a_child_crashing_on_every_start_makes_up_give_up(tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "voicestack.cli", "up", "--port", str(free_port()), "--no-tts",
         "--asr-model", str(tmp_path / "no-such-model"), "--max-restarts", "2"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "VOICESTACK_RESTART_BACKOFF_SECONDS": "0.2",
             "VOICESTACK_RESTART_WINDOW_SECONDS": "600"},
    )  # fmt: skip
    assert result.returncode == 1
    # crash, restart after 0.2 s, crash, restart after 0.4 s (doubled), crash: give up
    assert re.findall(r"restarting it in ([0-9.]+)s", result.stderr) == ["0.2", "0.4"], result.stderr
    assert result.stderr.count("voicestack up: restarting asr") == 2
    give_up = result.stderr[result.stderr.index("voicestack up: giving up on asr") :]
    assert give_up.startswith(
        "voicestack up: giving up on asr: it exited with code 1 while starting, crash 3 within 600s"
    )
    assert f"cannot load model '{tmp_path / 'no-such-model'}'" in give_up  # the tail of its output
    assert "starting router" not in result.stdout  # the router waits for the predictors
    assert time.monotonic() - started < 120


def _child(up: ServerProcess, command: str) -> psutil.Process:
    """The direct child of ``up`` running ``voicestack <command>``."""
    for child in psutil.Process(up.process.pid).children():
        if child.cmdline()[3:4] == [command]:
            return child
    raise AssertionError(f"no {command} child")


def _kill(child: psutil.Process) -> None:
    os.killpg(child.pid, signal.SIGKILL)
    child.wait(timeout=10)


def test_killed_children_are_restarted_and_the_stack_serves_again(short_pcm: bytes) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    up = ServerProcess.voicestack(
        "up", "--port", str(port), "--no-tts",
        "--asr-model", str(asset(f"models-random/{ASR_MODEL}")), "--asr-arg=--beam_size=1",
        env={"VOICESTACK_RESTART_BACKOFF_SECONDS": "1",  # then the predictor takes seconds to load
             "ROUTER_RETRY_AFTER_SECONDS": "2", "ROUTER_UNAVAILABLE_WAIT_SECONDS": "120",
             "ROUTER_HEALTH_INTERVAL_SECONDS": "0.5"},
    )  # fmt: skip
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=60)
    wav = ("short.wav", pcm16_wav(short_pcm))
    try:
        up.wait_http(f"{base}/health", timeout=240)
        assert isinstance(client.audio.transcriptions.create(model="whisper-1", file=wav).text, str)

        _kill(_child(up, "asr"))
        with ThreadPoolExecutor(1) as pool:
            # Bazarr's call, sent while the predictor is down, is held until it is back
            held = pool.submit(
                requests.post, f"{base}/asr", params={"encode": "false", "output": "srt"},
                files={"audio_file": ("audio_file", short_pcm)}, timeout=(5, None),
            )  # fmt: skip
            with pytest.raises(openai.InternalServerError) as down:
                client.audio.transcriptions.create(model="whisper-1", file=wav)
            assert "asr is ready again" not in up.log()  # both calls were made while it was away
            assert down.value.status_code == 503
            assert down.value.body["code"] == "backend_unavailable"  # type: ignore[index]
            assert down.value.response.headers["retry-after"] == "2"
            bazarr = held.result(timeout=150)
        assert bazarr.status_code == 200 and "-->" in bazarr.text, bazarr.text[:300]
        _wait_for_log(up, "voicestack up: asr is ready again")
        assert "voicestack up: asr was killed by SIGKILL" in up.log()
        assert "restarting it in 1s (restart 1 of at most 5 within 300s)" in up.log()
        assert isinstance(client.audio.transcriptions.create(model="whisper-1", file=wav).text, str)

        old_router = _child(up, "router")
        _kill(old_router)
        _wait_for_log(up, "voicestack up: router is ready again", timeout=60)
        assert _child(up, "router").pid != old_router.pid
        assert isinstance(client.audio.transcriptions.create(model="whisper-1", file=wav).text, str)

        children = psutil.Process(up.process.pid).children(recursive=True)
        up.process.send_signal(signal.SIGTERM)
        assert up.process.wait(timeout=60) == 0
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"left running: {alive}"
    finally:
        up.stop()


def test_backoff_doubles_to_its_cap_and_starts_over_after_a_stable_run() -> None:
    budget = RestartBudget(
        RestartSettings(backoff_seconds=1, max_backoff_seconds=5, stable_seconds=30, max_restarts=10)
    )
    assert [budget.crashed(at, up_for=1) for at in range(5)] == [1, 2, 4, 5, 5]
    assert budget.crashed(40, up_for=35) == 1  # it had stayed up 35 s: from the start again
    assert budget.crashed(41, up_for=1) == 2


def test_restarts_are_counted_in_a_sliding_window() -> None:
    settings = RestartSettings(max_restarts=2, window_seconds=100, stable_seconds=1000)
    spread = RestartBudget(settings)
    assert all(spread.crashed(at, up_for=1) is not None for at in (0, 60, 120, 180, 240, 300))
    close = RestartBudget(settings)
    assert [close.crashed(at, up_for=1) for at in (0, 10, 20)] == [1, 2, None]  # the 3rd crash in 100 s


def test_restart_settings_from_environment_and_flags(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOICESTACK_RESTART_MAX_RESTARTS", "7")
    monkeypatch.setenv("VOICESTACK_RESTART_BACKOFF_SECONDS", "0.5")
    settings = restart_settings(build_parser().parse_args(["--max-restarts", "2", "--restart-window", "60"]))
    assert (settings.max_restarts, settings.window_seconds, settings.backoff_seconds) == (2, 60, 0.5)
    assert restart_settings(build_parser().parse_args([])).max_restarts == 7
    for bad in (["--restart-backoff", "0"], ["--restart-backoff", "10", "--restart-max-backoff", "5"]):
        with pytest.raises(ValidationError):
            restart_settings(build_parser().parse_args(bad))
    monkeypatch.setenv("VOICESTACK_RESTART_MAX_RESTARTS", "many")
    with pytest.raises(SystemExit) as usage:  # before anything starts
        up_main(["--no-asr", "--no-tts"])
    assert usage.value.code == 2
    assert "--max-restarts / VOICESTACK_RESTART_MAX_RESTARTS: Input should be a valid integer" in (
        capsys.readouterr().err
    )


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


def test_up_defaults_to_the_catalogue_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """No model flags and no ASR_MODEL/TTS_MODEL: the catalogue's local defaults (pulled before start)."""
    for name in ("ASR_MODEL", "TTS_MODEL"):
        monkeypatch.delenv(name, raising=False)
    asr, tts, _ = plan(build_parser().parse_args([]))
    assert asr.args[asr.args.index("--model") + 1] == "whisper-base"
    assert tts.args[tts.args.index("--model") + 1] == "piper-en_US-joe-medium"
