"""The voice directory: ``<name>.wav`` (or another audio extension) or a folder ``<name>/`` of samples.

In a cluster the directory is a ConfigMap projection, where the visible files are symlinks into a
``..data`` folder that is swapped atomically on update: dot entries are ignored and symlinks followed.
The directory is re-listed on every use (cheap); a sample is hashed only when its resolved path, size or
modification time changes, and a voice is decoded and checked only when its content hash changes. The
content hash is also the key of the engine's conditioning-latent cache, so added, changed and removed
samples take effect without a restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voicestack.contracts.voices import SAMPLE_EXTENSIONS
from voicestack_predictors.common.audio import AudioDecodeError, AudioTooLong, decode_audio

log = logging.getLogger(__name__)

METADATA_FILE = "voice.json"  # in a voice folder; a file voice's metadata is <name>.json beside it


@dataclass(frozen=True)
class Sample:
    name: str
    audio: np.ndarray  # mono float32 at the library's sample rate
    duration: float


@dataclass(frozen=True)
class Voice:
    """A voice as found on disk; ``error`` is set when a sample is unusable (the voice cannot be used)."""

    name: str
    source: str  # "file" | "directory"
    fingerprint: str
    samples: tuple[Sample, ...] = ()
    language: str | None = None
    error: str | None = None

    @property
    def duration(self) -> float:
        return round(sum(s.duration for s in self.samples), 2)

    def describe(self) -> dict[str, object]:
        info: dict[str, object] = {
            "name": self.name,
            "source": self.source,
            "duration": self.duration if not self.error else None,
            "language": self.language,
            "samples": len(self.samples) if not self.error else 0,
        }
        if self.error:
            info["error"] = self.error
        return info


@dataclass(frozen=True)
class _Listing:
    name: str
    source: str
    files: tuple[Path, ...]
    metadata: Path | None


@dataclass
class VoiceLibrary:
    """Voices under ``root``, checked against the limits, with samples decoded at ``sample_rate``."""

    root: Path | None
    sample_rate: int = 22050
    min_seconds: float = 3.0
    max_seconds: float = 30.0
    min_sample_rate: int = 16000
    _hashes: dict[tuple[str, int, int], str] = field(default_factory=dict)
    _voices: dict[str, Voice] = field(default_factory=dict)  # by fingerprint
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def scan(self) -> dict[str, Voice]:
        """All voices now on disk, by name (blocking: decodes new or changed samples)."""
        with self._lock:
            found: dict[str, Voice] = {}
            for listing in self._list():
                try:
                    fingerprint = self._fingerprint(listing)
                except OSError as exc:  # vanished or unreadable between listing and reading
                    found[listing.name] = Voice(listing.name, listing.source, "", error=f"cannot read: {exc}")
                    continue
                voice = self._voices.get(fingerprint)
                if voice is None or voice.name != listing.name:
                    voice = self._load(listing, fingerprint)
                    self._voices[fingerprint] = voice
                found[listing.name] = voice
            live = {v.fingerprint for v in found.values()}
            self._voices = {k: v for k, v in self._voices.items() if k in live}
            return found

    def names(self) -> dict[str, str]:
        """The voices on disk by name → source (``file`` | ``directory``), without reading any sample."""
        return {listing.name: listing.source for listing in self._list()}

    def _list(self) -> list[_Listing]:
        if self.root is None or not self.root.is_dir():
            return []
        listings: list[_Listing] = []
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if entry.name.startswith("."):
                continue  # ConfigMap internals (..data, ..2024_…), editor and OS files
            path = Path(entry.path)
            stem, ext = os.path.splitext(entry.name)
            if path.is_dir():
                files = tuple(
                    Path(e.path)
                    for e in sorted(os.scandir(path), key=lambda e: e.name)
                    if not e.name.startswith(".") and _is_audio(Path(e.path))
                )
                if files:
                    meta: Path | None = path / METADATA_FILE
                    meta = meta if meta is not None and meta.is_file() else None
                    listings.append(_Listing(entry.name, "directory", files, meta))
            elif ext.lower() in SAMPLE_EXTENSIONS and path.is_file():
                meta = self.root / f"{stem}.json"
                listings.append(_Listing(stem, "file", (path,), meta if meta.is_file() else None))
        return listings

    def _fingerprint(self, listing: _Listing) -> str:
        digest = hashlib.sha256()
        for path in listing.files:
            digest.update(path.name.encode() + b"\0" + self._file_hash(path).encode() + b"\0")
        if listing.metadata is not None:
            digest.update(listing.metadata.read_bytes())
        return digest.hexdigest()

    def _file_hash(self, path: Path) -> str:
        real = os.path.realpath(path)
        stat = os.stat(real)
        key = (real, stat.st_size, stat.st_mtime_ns)
        cached = self._hashes.get(key)
        if cached is None:
            digest = hashlib.sha256()
            with open(real, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            cached = self._hashes[key] = digest.hexdigest()
        return cached

    def _load(self, listing: _Listing, fingerprint: str) -> Voice:
        language = _metadata_language(listing.metadata)
        samples: list[Sample] = []
        for path in listing.files:
            try:
                samples.append(self._check_sample(path))
            except ValueError as exc:
                error = f"voice {listing.name!r}: sample {path.name!r} {exc}"
                log.warning("%s", error)
                return Voice(listing.name, listing.source, fingerprint, language=language, error=error)
        return Voice(listing.name, listing.source, fingerprint, tuple(samples), language)

    def _check_sample(self, path: Path) -> Sample:
        try:
            decoded = decode_audio(path, self.sample_rate, max_seconds=self.max_seconds)
        except AudioTooLong as exc:
            raise ValueError(
                f"is longer than {self.max_seconds:g} s; samples must be {self.min_seconds:g}-"
                f"{self.max_seconds:g} s"
            ) from exc
        except AudioDecodeError as exc:
            raise ValueError(f"is not readable audio: {exc}") from exc
        rate = decoded.source_rate
        if rate is not None and rate < self.min_sample_rate:
            raise ValueError(
                f"has a sample rate of {rate} Hz; at least {self.min_sample_rate} Hz is needed for cloning"
            )
        duration = decoded.duration
        if not self.min_seconds <= duration <= self.max_seconds:
            raise ValueError(
                f"is {duration:.1f} s long; samples must be {self.min_seconds:g}-{self.max_seconds:g} s"
            )
        if not np.any(np.abs(decoded.samples) > 1e-4):
            raise ValueError("is silent")
        return Sample(path.name, decoded.samples, duration)


def _is_audio(path: Path) -> bool:
    return path.suffix.lower() in SAMPLE_EXTENSIONS and path.is_file()


def _metadata_language(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("ignoring unreadable voice metadata %s", path)
        return None
    language = data.get("language") if isinstance(data, dict) else None
    return language if isinstance(language, str) and language else None
