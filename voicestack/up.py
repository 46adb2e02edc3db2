"""``voicestack up``: the local all-in-one mode.

Starts the ASR predictor, the TTS predictor and the router as three processes on loopback — the same
commands a cluster runs — waits until each is ready, prints the base URL, and stops them all on Ctrl-C or
SIGTERM. If one of them dies, the others are stopped and the exit status is non-zero.

Models come from the predictors' own settings (``ASR_MODEL``, ``TTS_MODEL``, ``TTS_VOICE_DIR`` … or the
flags here); their defaults (Whisper ``base``, XTTS-v2) are downloaded on first use.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _default_voices_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "voicestack" / "voices"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voicestack up",
        description="Run the ASR predictor, the TTS predictor and the router locally (separate processes).",
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("VOICESTACK_HOST", "127.0.0.1"),
        help="Address the router listens on [VOICESTACK_HOST] (predictors stay on loopback).",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("VOICESTACK_PORT", "8000")),
        help="Router port [VOICESTACK_PORT].",
    )
    parser.add_argument(
        "--asr-model",
        default=os.environ.get("ASR_MODEL"),
        help="Whisper model name or path [ASR_MODEL]; the predictor's default is 'base'.",
    )
    parser.add_argument(
        "--tts-model",
        default=os.environ.get("TTS_MODEL"),
        help="Coqui model name or path [TTS_MODEL]; the predictor's default is XTTS-v2.",
    )
    parser.add_argument(
        "--voices-dir",
        type=Path,
        default=Path(os.environ["TTS_VOICE_DIR"]) if os.environ.get("TTS_VOICE_DIR") else None,
        help="Voice samples folder shared by the TTS predictor and the router's voices API "
        "[TTS_VOICE_DIR] (default ~/.local/share/voicestack/voices).",
    )
    parser.add_argument("--asr-port", type=int, default=0, help="ASR predictor port (default: a free one).")
    parser.add_argument("--tts-port", type=int, default=0, help="TTS predictor port (default: a free one).")
    parser.add_argument("--no-asr", action="store_true", help="Do not start the ASR predictor.")
    parser.add_argument("--no-tts", action="store_true", help="Do not start the TTS predictor.")
    parser.add_argument(
        "--asr-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="Extra argument for the ASR predictor (repeatable), e.g. --asr-arg=--device=cpu.",
    )
    parser.add_argument(
        "--tts-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="Extra argument for the TTS predictor (repeatable).",
    )
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=float(os.environ.get("VOICESTACK_START_TIMEOUT", "1800")),
        help="Seconds to wait for everything to be ready (first runs download models).",
    )
    return parser


@dataclass
class Child:
    name: str
    args: list[str]
    ready_url: str
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.args,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.ready_url, timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def signal_group(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)


def stop_all(children: list[Child], timeout: float = 20.0) -> None:
    """SIGTERM every child (router first), wait, then SIGKILL what is left."""
    for child in reversed(children):
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.signal_group(signal.SIGKILL)
            child.process.wait(timeout=10)


def plan(args: argparse.Namespace) -> list[Child]:
    """The three processes and their environment."""
    loopback = "127.0.0.1"
    python = [sys.executable, "-m", "voicestack.cli"]
    children: list[Child] = []
    router_env: dict[str, str] = {}
    if not args.no_asr:
        port = args.asr_port or _free_port(loopback)
        asr = [*python, "asr", "--http_host", loopback, "--http_port", str(port), "--enable_grpc", "false"]
        if args.asr_model:
            asr += ["--model", args.asr_model]
        children.append(Child("asr", [*asr, *args.asr_arg], f"http://{loopback}:{port}/v2/health/ready"))
        router_env["ROUTER_ASR_URLS"] = f"http://{loopback}:{port}"
    if not args.no_tts:
        port = args.tts_port or _free_port(loopback)
        voices_dir: Path = args.voices_dir or _default_voices_dir()
        voices_dir.mkdir(parents=True, exist_ok=True)
        tts = [
            *python,
            "tts",
            "--http_host",
            loopback,
            "--http_port",
            str(port),
            "--enable_grpc",
            "false",
            "--voices_dir",
            str(voices_dir),
        ]
        if args.tts_model:
            tts += ["--model", args.tts_model]
        children.append(Child("tts", [*tts, *args.tts_arg], f"http://{loopback}:{port}/v2/health/ready"))
        router_env.update(
            ROUTER_TTS_URLS=f"http://{loopback}:{port}",
            ROUTER_VOICE_STORE="directory",
            ROUTER_VOICES_DIR=str(voices_dir),
        )
    # The predictors read ASR_MODEL_NAME / TTS_MODEL_NAME (their KServe model name): the router must call
    # the same name, unless it was told one itself.
    for predictor_env, router_key in (
        ("ASR_MODEL_NAME", "ROUTER_ASR_MODEL_NAME"),
        ("TTS_MODEL_NAME", "ROUTER_TTS_MODEL_NAME"),
    ):
        if os.environ.get(predictor_env) and not os.environ.get(router_key):
            router_env[router_key] = os.environ[predictor_env]
    router_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    router_args = [*python, "router", "--host", args.host, "--port", str(args.port)]
    children.append(Child("router", router_args, f"http://{router_host}:{args.port}/health", env=router_env))
    return children


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    children = plan(args)
    stopping = {"signal": 0}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping["signal"] = signum

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _run(children, args, stopping)
    finally:
        stop_all(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(children: list[Child], args: argparse.Namespace, stopping: dict[str, int]) -> int:
    predictors = [child for child in children if child.name != "router"]
    router = children[-1]

    def wait_ready(group: list[Child]) -> int | None:
        deadline = time.monotonic() + args.start_timeout
        pending = list(group)
        while pending:
            if stopping["signal"]:
                return 0
            for child in group:
                if not child.alive():
                    code = child.process.returncode if child.process else -1
                    print(f"voicestack up: {child.name} exited with {code} while starting", file=sys.stderr)
                    return 1
            pending = [child for child in pending if not child.ready()]
            if time.monotonic() > deadline:
                names = ", ".join(child.name for child in pending)
                print(f"voicestack up: {names} not ready after {args.start_timeout:g}s", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return None

    for child in predictors:
        print(f"voicestack up: starting {child.name}: {' '.join(child.args[2:])}", flush=True)
        child.start()
    if (result := wait_ready(predictors)) is not None:
        return result
    print(f"voicestack up: starting router on {args.host}:{args.port}", flush=True)
    router.start()
    if (result := wait_ready([router])) is not None:
        return result
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    base = f"http://{shown_host}:{args.port}"
    print(f"Voice Stack is up: {base}  (OpenAI base URL {base}/v1, Bazarr endpoint {base})", flush=True)
    while not stopping["signal"]:
        for child in children:
            if not child.alive():
                code = child.process.returncode if child.process else -1
                print(f"voicestack up: {child.name} exited with {code}; stopping the others", file=sys.stderr)
                return 1
        time.sleep(0.5)
    print(f"voicestack up: received {signal.Signals(stopping['signal']).name}; stopping", flush=True)
    return 0
