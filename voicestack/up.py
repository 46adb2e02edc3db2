"""``voicestack up``: the local all-in-one mode.

Starts the ASR predictor, the TTS predictor and the router as three processes on loopback — the same
commands a cluster runs — waits until each is ready, prints the base URL, and stops them all on Ctrl-C or
SIGTERM. A child that exits is restarted after a backoff that doubles from ``backoff_seconds`` up to
``max_backoff_seconds`` (and starts over once the child stayed up ``stable_seconds``); one that crashes more
than ``max_restarts`` times within ``window_seconds`` makes ``up`` stop everything and exit 1, naming the
child, how it ended and the last lines of its output (``RestartSettings``, ``VOICESTACK_RESTART_*``).
While a predictor restarts, the router answers OpenAI clients 503 with ``Retry-After`` and holds Bazarr's
requests until it is back (``docs/router.md``).

Models: ``--asr-model``/``--tts-model`` (``ASR_MODEL``/``TTS_MODEL``), by default the catalogue's local
defaults (Whisper base, the Piper voice en_US joe): catalogue names are pulled into the model cache and
verified before anything starts (``docs/models.md``), so a fresh machine hears and speaks with no flags and
no Hub access.
Children never read the terminal (stdin is /dev/null): a library that would prompt fails instead of waiting.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Self

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from voicestack.models import CATALOGUE, LOCAL_DEFAULTS, ModelCache, ModelPullError

POLL_SECONDS = 0.25
TAIL_LINES = 20


class RestartSettings(BaseSettings):
    """When ``voicestack up`` restarts a child that exited and when it gives up (``VOICESTACK_RESTART_*``)."""

    model_config = SettingsConfigDict(env_prefix="VOICESTACK_RESTART_", extra="ignore", frozen=True)

    backoff_seconds: float = Field(1.0, gt=0, description="Delay before the first restart; doubles.")
    max_backoff_seconds: float = Field(30.0, gt=0, description="Cap of the doubling delay.")
    stable_seconds: float = Field(60.0, gt=0, description="Up this long, the delay starts over.")
    max_restarts: int = Field(
        5, ge=0, description="Restarts allowed within the window; one crash more: give up."
    )
    window_seconds: float = Field(300.0, gt=0, description="The sliding window crashes are counted in.")

    @model_validator(mode="after")
    def _cap_above_start(self) -> Self:
        if self.max_backoff_seconds < self.backoff_seconds:
            raise ValueError("max_backoff_seconds must not be below backoff_seconds")
        return self


# flag → (setting, type): each flag overrides its VOICESTACK_RESTART_* variable
RESTART_FLAGS: dict[str, tuple[str, type[float] | type[int]]] = {
    "--restart-backoff": ("backoff_seconds", float),
    "--restart-max-backoff": ("max_backoff_seconds", float),
    "--restart-stable": ("stable_seconds", float),
    "--max-restarts": ("max_restarts", int),
    "--restart-window": ("window_seconds", float),
}


class RestartBudget:
    """One child's crashes: the delay before its next start, or ``None`` once it crashed too often."""

    def __init__(self, settings: RestartSettings) -> None:
        self.settings = settings
        self.crashes: deque[float] = deque()
        self.next_delay = settings.backoff_seconds

    def crashed(self, at: float, up_for: float) -> float | None:
        """Count a crash at ``at`` (monotonic seconds) of a run that lasted ``up_for`` seconds."""
        if up_for >= self.settings.stable_seconds:
            self.next_delay = self.settings.backoff_seconds
        self.crashes.append(at)
        while at - self.crashes[0] > self.settings.window_seconds:
            self.crashes.popleft()
        if len(self.crashes) > self.settings.max_restarts:
            return None
        delay = self.next_delay
        self.next_delay = min(delay * 2, self.settings.max_backoff_seconds)
        return delay


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
        default=os.environ.get("ASR_MODEL") or LOCAL_DEFAULTS["asr"],
        help=f"Whisper model: a catalogue name, size name, Hub repo id or path [ASR_MODEL] "
        f"(default {LOCAL_DEFAULTS['asr']}).",
    )
    parser.add_argument(
        "--tts-model",
        default=os.environ.get("TTS_MODEL") or LOCAL_DEFAULTS["tts"],
        help=f"TTS model: a catalogue name (Piper voice), a coqui-tts name (XTTS-v2) or a path [TTS_MODEL] "
        f"(default {LOCAL_DEFAULTS['tts']}).",
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
    restart = parser.add_argument_group(
        "restarts", "A child that exits is restarted; these override the VOICESTACK_RESTART_* variables."
    )
    for flag, (name, kind) in RESTART_FLAGS.items():
        info = RestartSettings.model_fields[name]
        restart.add_argument(
            flag,
            type=kind,
            dest=name,
            metavar="N" if kind is int else "SECONDS",
            help=f"{info.description} [VOICESTACK_RESTART_{name.upper()}, default {info.default:g}]",
        )
    return parser


def restart_settings(args: argparse.Namespace) -> RestartSettings:
    """The environment's settings with the flags given on top (raises ``ValidationError``)."""
    given = {name: getattr(args, name, None) for name, _ in RESTART_FLAGS.values()}
    return RestartSettings(**{name: value for name, value in given.items() if value is not None})


def _settings_problems(exc: ValidationError) -> str:
    flags = {name: flag for flag, (name, _) in RESTART_FLAGS.items()}
    problems = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        where = f"{flags[name]} / VOICESTACK_RESTART_{name.upper()}: " if name in flags else ""
        problems.append(where + str(error["msg"]).removeprefix("Value error, "))
    return "; ".join(problems)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def _say(message: str) -> None:
    """One line on stderr, where restarts and failures are reported."""
    sys.stderr.write(f"voicestack up: {message}\n")
    sys.stderr.flush()


@dataclass
class Child:
    """One supervised process: its command, readiness URL, the current run and the last lines it wrote."""

    name: str
    args: list[str]
    ready_url: str
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    starts: int = 0
    ready_seen: bool = False  # answered ready since its latest start
    restart_at: float | None = None  # set while it waits for its restart
    _tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    _tail_lock: threading.Lock = field(default_factory=threading.Lock)
    _output: threading.Thread | None = None

    def start(self) -> None:
        with self._tail_lock:
            self._tail.clear()
        self.process = subprocess.Popen(
            self.args,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
        )
        self.started_at = time.monotonic()
        self.starts += 1
        self.ready_seen = False
        self.restart_at = None
        assert self.process.stdout is not None
        self._output = threading.Thread(
            target=self._forward, args=(self.process.stdout,), name=f"{self.name}-output", daemon=True
        )
        self._output.start()

    def _forward(self, stream: IO[bytes]) -> None:
        """Copy the child's output to stderr, each line prefixed with its name, and keep the last lines."""
        with stream:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                with self._tail_lock:
                    self._tail.append(line)
                sys.stderr.write(f"[{self.name}] {line}\n")
                sys.stderr.flush()

    def tail(self) -> list[str]:
        with self._tail_lock:
            return list(self._tail)

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

    def reap(self) -> None:
        """After the child exited: end what it left in its process group and read the rest of its output."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self._output is not None:
            self._output.join(timeout=5)


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
        child.reap()


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


def pull_models(args: argparse.Namespace) -> bool:
    """Pull the catalogue models the stack will load, before any child starts (a first pull would otherwise
    count against the start timeout, in two processes at once)."""
    pairs = ((args.no_asr, args.asr_model), (args.no_tts, args.tts_model))
    wanted = [model for skip, model in pairs if not skip]
    cache = ModelCache()
    for name in (model for model in wanted if model in CATALOGUE):
        if cache.cached(name) is None:
            print(f"voicestack up: pulling model {name} into {cache.root}", flush=True)
        try:
            cache.pull(name)
        except ModelPullError as exc:
            print(f"voicestack up: {exc}", file=sys.stderr, flush=True)
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = restart_settings(args)
    except ValidationError as exc:
        parser.error(f"restart settings: {_settings_problems(exc)}")
    if not pull_models(args):
        return 1
    children = plan(args)
    stopping = {"signal": 0}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping["signal"] = signum

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return Supervisor(children, settings, args.start_timeout, stopping).run(args)
    finally:
        stop_all(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Supervisor:
    """Starts the predictors, then the router once they are ready; restarts whatever exits, or gives up."""

    def __init__(
        self, children: list[Child], settings: RestartSettings, start_timeout: float, stopping: dict[str, int]
    ) -> None:
        self.children = children
        self.settings = settings
        self.start_timeout = start_timeout
        self.stopping = stopping
        self.budgets = {child.name: RestartBudget(settings) for child in children}

    def run(self, args: argparse.Namespace) -> int:
        predictors = [child for child in self.children if child.name != "router"]
        router = self.children[-1]
        begun = time.monotonic()
        for child in predictors:
            print(f"voicestack up: starting {child.name}: {' '.join(child.args[2:])}", flush=True)
            child.start()
        announced = False
        while not self.stopping["signal"]:
            for child in self.children:
                if not self.tend(child):
                    return 1
            if router.process is None and all(child.ready_seen for child in predictors):
                print(f"voicestack up: starting router on {args.host}:{args.port}", flush=True)
                router.start()
            if not announced and router.ready_seen:
                shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
                base = f"http://{shown_host}:{args.port}"
                print(f"Voice Stack is up: {base}  (OpenAI base URL {base}/v1, Bazarr endpoint {base})")
                sys.stdout.flush()
                announced = True
            elif not announced and time.monotonic() - begun > self.start_timeout:
                names = ", ".join(child.name for child in self.children if not child.ready_seen)
                _say(f"{names} not ready after {self.start_timeout:g}s")
                return 1
            time.sleep(POLL_SECONDS)
        print(f"voicestack up: received {signal.Signals(self.stopping['signal']).name}; stopping", flush=True)
        return 0

    def tend(self, child: Child) -> bool:
        """One look at a child: restart it when its delay is over, note it ready, or count its crash.

        False when it crashed once too often (the reason is on stderr).
        """
        now = time.monotonic()
        if child.process is None:  # the router, until the predictors are ready
            return True
        if child.restart_at is not None:
            if now >= child.restart_at:
                _say(f"restarting {child.name} (start {child.starts + 1})")
                child.start()
            return True
        returncode = child.process.poll()
        if returncode is None:
            if not child.ready_seen and child.ready():
                child.ready_seen = True
                if child.starts > 1:
                    took = time.monotonic() - child.started_at
                    _say(f"{child.name} is ready again ({took:.1f}s after its start)")
            return True
        up_for = now - child.started_at
        child.reap()
        how = f"{describe_exit(returncode)}{'' if child.ready_seen else ' while starting'}"
        budget = self.budgets[child.name]
        delay = budget.crashed(now, up_for)
        window = f"{self.settings.window_seconds:g}s"
        if delay is None:
            lines = "\n".join(f"    {line}" for line in child.tail()) or "    (no output)"
            _say(
                f"giving up on {child.name}: it {how}, crash {len(budget.crashes)} within {window} "
                f"(at most {self.settings.max_restarts} restarts allowed: VOICESTACK_RESTART_MAX_RESTARTS, "
                f"--max-restarts). The last lines of its output:\n{lines}"
            )
            return False
        _say(
            f"{child.name} {how} after {up_for:.1f}s; restarting it in {delay:g}s "
            f"(restart {len(budget.crashes)} of at most {self.settings.max_restarts} within {window})"
        )
        child.restart_at = now + delay
        return True
