"""The local model cache: pull a catalogue entry from its sources, verify it, publish it atomically.

Layout: ``<root>/<name>/`` holds the model's files and ``.voicestack-model.json`` (what was verified, from
which source). A pull assembles into a hidden directory beside it and renames it into place only after every
hash matched, under a per-model lock, so a reader never sees a half-written model and two pulls of the same
model (two predictors starting at once) do the work once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from voicestack.models.catalogue import CATALOGUE, CatalogueEntry, Source
from voicestack.models.sources import SourceError, fetch

log = logging.getLogger(__name__)

MARKER = ".voicestack-model.json"


def _default_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "voicestack" / "models"


class ModelCacheSettings(BaseSettings):
    """Where pulled models live (``VOICESTACK_MODELS_DIR``)."""

    model_config = SettingsConfigDict(env_prefix="VOICESTACK_")

    models_dir: Path = Field(default_factory=_default_root, description="The model cache directory.")


class ModelPullError(RuntimeError):
    """No source could supply a verified copy; the message names the model and every source tried."""


@dataclass(frozen=True)
class CachedModel:
    name: str
    path: Path
    source: str
    files: dict[str, str]  # file → sha256 as verified at pull time

    @property
    def size_bytes(self) -> int:
        return sum((self.path / name).stat().st_size for name in self.files)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class ModelCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or ModelCacheSettings().models_dir).expanduser()

    def path(self, name: str) -> Path:
        return self.root / name

    def cached(self, name: str) -> CachedModel | None:
        """The cached copy of ``name`` when its marker and every file it lists are present, else None."""
        directory = self.path(name)
        try:
            marker = json.loads((directory / MARKER).read_text())
        except (OSError, ValueError):
            return None
        files = marker.get("files") if isinstance(marker, dict) else None
        if not isinstance(files, dict) or not all((directory / f).is_file() for f in files):
            return None
        return CachedModel(name, directory, str(marker.get("source", "")), dict(files))

    def pull(self, name: str, *, force: bool = False, recheck: bool = False) -> CachedModel:
        """The verified model, pulled from the first source that supplies it unless already cached.

        ``recheck`` hashes a cached copy again and pulls anew when a file changed since it was verified.
        """
        entry = entry_for(name)
        with self._lock(name):
            existing = self.cached(name)
            if existing is not None and not force:
                changed = [
                    f
                    for f, digest in existing.files.items()
                    if recheck and sha256_of(existing.path / f) != digest
                ]
                if not changed:
                    return existing
                log.warning(
                    "model %s: %s changed since it was verified; pulling again", name, ", ".join(changed)
                )
            failures: list[str] = []
            for source in entry.sources:
                started = time.monotonic()
                try:
                    result = self._pull_from(entry, source)
                except SourceError as exc:
                    failures.append(f"  - {source.describe()}: {exc}")
                    log.info("model %s: %s did not supply it: %s", name, source.describe(), exc)
                    continue
                log.info(
                    "model %s pulled from %s in %.1f s", name, source.describe(), time.monotonic() - started
                )
                return result
        tried = "\n".join(failures)
        raise ModelPullError(f"model {name!r} could not be pulled into {self.root}; sources tried:\n{tried}")

    def _pull_from(self, entry: CatalogueEntry, source: Source) -> CachedModel:
        self.root.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(dir=self.root, prefix=f".pull-{entry.name}-"))
        try:
            fetch(source, workdir)
            verified = verify(workdir, source)
            (workdir / MARKER).write_text(
                json.dumps({"name": entry.name, "source": source.describe(), "files": verified}, indent=1)
            )
            workdir.chmod(0o755)  # mkdtemp made it private; predictors may run as another user
            final = self.path(entry.name)
            if final.exists():
                shutil.rmtree(final)
            workdir.rename(final)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        cached = self.cached(entry.name)
        assert cached is not None
        return cached

    @contextlib.contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with (locks / f"{name}.lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def verify(workdir: Path, source: Source) -> dict[str, str]:
    """Every file the source promises is present and matches its sha256 (where one is pinned)."""
    verified: dict[str, str] = {}
    for target, spec in source.files.items():
        path = workdir / target
        if not path.is_file():
            raise SourceError(f"{target} is missing from what it delivered")
        actual = sha256_of(path)
        if spec.sha256 is not None and actual != spec.sha256:
            raise SourceError(f"{target} has sha256 {actual}, expected {spec.sha256}")
        verified[target] = actual
    return verified


def entry_for(name: str) -> CatalogueEntry:
    try:
        return CATALOGUE[name]
    except KeyError:
        known = ", ".join(sorted(CATALOGUE))
        raise ModelPullError(f"unknown model {name!r}: the catalogue has {known}") from None


def resolve_model(model: str, cache: ModelCache | None = None) -> str:
    """A catalogue name becomes its cached directory (pulled on first use); anything else stays as is."""
    if model not in CATALOGUE:
        return model
    return str((cache or ModelCache()).pull(model).path)
