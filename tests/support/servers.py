"""Start real server processes on loopback for tests, wait until they answer, and stop them cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from tests.support.assets import PROJECT_ROOT


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A child process (``voicestack <command> …``) with its output captured to a log file."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="voicestack-test-", suffix=".log", delete=False
        )
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process = subprocess.Popen(
            self.args,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
            env=full_env,
            start_new_session=True,
        )

    @classmethod
    def voicestack(cls, command: str, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
        return cls([sys.executable, "-m", "voicestack.cli", command, *args], env=env)

    def log(self) -> str:
        return Path(self.log_file.name).read_text(errors="replace")

    def wait_http(self, url: str, timeout: float = 120.0, status: int = 200) -> None:
        """Wait until ``url`` answers ``status``; fail with the process log if it dies or times out."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()[-5000:]}")
            try:
                response = httpx.get(url, timeout=2.0)
                if response.status_code == status:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise TimeoutError(f"{url} not answering {status} after {timeout}s ({last}):\n{self.log()[-5000:]}")

    def stop(self, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
        self.log_file.close()
        return self.process.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)


@contextlib.contextmanager
def running(server: ServerProcess, ready_url: str, timeout: float = 120.0) -> Iterator[ServerProcess]:
    try:
        server.wait_http(ready_url, timeout=timeout)
        yield server
    finally:
        server.stop()
