"""Where cloned voices' reference samples live, behind one interface.

- ``DirectoryVoiceStore``: a folder (``voices_dir``), the same one the local TTS predictor watches.
- ``ConfigMapVoiceStore``: one labelled ConfigMap per voice in the stack's namespace (``docs/contracts.md``:
  ``binaryData`` key ``<voice>.<ext>``, labels ``voicestack.io/stack``, ``voicestack.io/voice`` and
  ``app.kubernetes.io/part-of: voice-stack``), mounted into the
  TTS predictor at ``/voices``.

Listing voices is the TTS predictor's job (it knows built-in speakers too); the store adds, deletes and lists
what it holds, so the router can show an uploaded voice the predictor has not picked up yet (a ConfigMap
mount refreshes within about a minute). Names, labels, extensions and the size limit are the shared contract
(``voicestack.contracts.voices``); the manifest building is pure (``voice_configmap``) so it is tested
without a cluster; the store itself is tested through the router against a real API server, under the
router's Role (``tests/cluster/test_router_voice_store.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from voicestack.contracts.voices import (
    CONFIGMAP_MAX_BYTES,
    SAMPLE_EXTENSIONS,
    VOICE_LABEL,
    voice_configmap_name,
    voice_labels,
    voice_selector,
)
from voicestack.text import shown

# On a voice ConfigMap: the consent record (consent_store.py) the voice was created against.
VOICE_CONSENT_LABEL = "voicestack.io/voice-consent"
VOICE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")


class VoiceStoreError(Exception):
    """A store failure with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def validate_voice_name(name: str) -> str:
    name = name.strip()
    if not VOICE_NAME.match(name):
        raise VoiceStoreError(
            400,
            f"invalid voice name {shown(name)}: use letters, digits, '-', '_' or '.', at most 63 characters",
        )
    return name


def sample_extension(filename: str | None, content_type: str | None = None) -> str:
    """The sample's extension from its filename or media type (``.wav`` when unknown)."""
    suffix = Path(filename or "").suffix.lower()
    if suffix in SAMPLE_EXTENSIONS:
        return suffix
    by_type = {
        "audio/wav": ".wav",
        "audio/x-wav": ".wav",
        "audio/wave": ".wav",
        "audio/mpeg": ".mp3",
        "audio/flac": ".flac",
        "audio/ogg": ".ogg",
        "audio/aac": ".aac",
        "audio/webm": ".webm",
        "audio/mp4": ".m4a",
    }
    return by_type.get((content_type or "").split(";")[0].strip().lower(), ".wav")


@dataclass(frozen=True, order=True)
class StoredVoice:
    """A voice the store holds: its name and the sample's file name (``<voice>.<ext>``); sorts by name."""

    name: str
    filename: str


class VoiceStore(Protocol):
    async def add(self, name: str, filename: str, data: bytes, consent: str | None = None) -> None:
        """Store a voice sample (replacing a voice of the same name), linked to its consent record."""

    async def voices_using(self, consent: str) -> list[str]:
        """The voices created against the consent record ``consent``."""

    async def delete(self, name: str) -> bool:
        """Remove a voice; False if the store did not have it."""

    async def list(self) -> list[StoredVoice]:
        """The voices the store holds, by name."""

    async def aclose(self) -> None:
        """Release connections (the router is stopping)."""


class DirectoryVoiceStore:
    """``<dir>/<name>.<ext>`` files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _existing(self, name: str) -> list[Path]:
        return [
            self.directory / f"{name}{ext}"
            for ext in SAMPLE_EXTENSIONS
            if (self.directory / f"{name}{ext}").exists()
        ]

    def _consent_link(self, name: str) -> Path:
        """``.<voice>.consent``: the consent id (hidden, so the predictor never reads it)."""
        return self.directory / f".{name}.consent"

    async def add(self, name: str, filename: str, data: bytes, consent: str | None = None) -> None:
        name = validate_voice_name(name)
        self.directory.mkdir(parents=True, exist_ok=True)
        link = self._consent_link(name)
        if consent:
            link.write_text(consent, encoding="utf-8")
        else:
            link.unlink(missing_ok=True)
        target = self.directory / f"{name}{sample_extension(filename)}"
        for old in self._existing(name):
            if old != target:
                old.unlink()
        # Write beside, then rename: the predictor's watcher never sees a half-written sample.
        temporary = self.directory / f".{name}.uploading"
        await asyncio.to_thread(temporary.write_bytes, data)
        temporary.replace(target)

    async def delete(self, name: str) -> bool:
        name = validate_voice_name(name)
        found = self._existing(name)
        for path in found:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._consent_link(name).unlink(missing_ok=True)
        return bool(found)

    async def voices_using(self, consent: str) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(
            path.name[1 : -len(".consent")]
            for path in self.directory.glob(".*.consent")
            if path.read_text(encoding="utf-8").strip() == consent
            and self._existing(path.name[1 : -len(".consent")])
        )

    async def list(self) -> list[StoredVoice]:
        if not self.directory.is_dir():
            return []
        return sorted(
            StoredVoice(path.stem, path.name)
            for path in self.directory.iterdir()
            if path.is_file() and path.suffix.lower() in SAMPLE_EXTENSIONS and not path.name.startswith(".")
        )

    async def aclose(self) -> None:
        return None


def api_error_message(exc: Exception) -> str:
    """``<code> <reason>: <message>`` from a Kubernetes ``ApiException`` (its body is a ``Status``)."""
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None) or type(exc).__name__
    message = ""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        body = json.loads(getattr(exc, "body", None) or "{}")
        reason = body.get("reason") or reason  # Kubernetes' own reason (Invalid, Forbidden, …)
        message = str(body.get("message") or "")
    head = f"{status} {reason}" if status else str(reason)
    return f"{head}: {message}" if message else head


def voice_configmap(
    stack: str, namespace: str, voice: str, filename: str, data: bytes, consent: str | None = None
) -> dict[str, Any]:
    """The ConfigMap manifest holding one voice sample (``binaryData`` base64-encoded)."""
    import base64

    voice = validate_voice_name(voice)
    if len(data) > CONFIGMAP_MAX_BYTES:
        raise VoiceStoreError(
            413, f"voice sample too large for a ConfigMap: {len(data)} bytes (limit {CONFIGMAP_MAX_BYTES})"
        )
    key = f"{voice}{sample_extension(filename)}"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": voice_configmap_name(stack, voice),
            "namespace": namespace,
            "labels": {**voice_labels(stack, voice), **({VOICE_CONSENT_LABEL: consent} if consent else {})},
            "annotations": {"voicestack.io/source": "router"},
        },
        "binaryData": {key: base64.b64encode(data).decode("ascii")},
    }


class ConfigMapVoiceStore:
    """Voice ConfigMaps through the Kubernetes API (in-cluster credentials, or a kubeconfig).

    Every API failure becomes a ``VoiceStoreError`` (502, or 503 when the API server cannot be reached)
    whose message names the API's status and reason, never an unhandled exception.
    """

    def __init__(self, namespace: str, stack: str) -> None:
        self.namespace = namespace
        self.stack = stack
        self._api: Any = None
        self._api_client: Any = None
        self._lock = asyncio.Lock()

    async def _core(self) -> Any:
        async with self._lock:
            if self._api is None:
                from kubernetes_asyncio import client, config

                try:
                    config.load_incluster_config()
                except config.ConfigException:
                    try:
                        await config.load_kube_config()
                    except (config.ConfigException, OSError) as exc:
                        raise VoiceStoreError(
                            503, f"no Kubernetes credentials for the ConfigMap voice store: {exc}"
                        ) from exc
                self._api_client = client.ApiClient()
                self._api = client.CoreV1Api(self._api_client)
        return self._api

    @contextlib.asynccontextmanager
    async def _calling(self, action: str) -> AsyncIterator[None]:
        """Turn API and connection failures into ``VoiceStoreError``s that say what was refused."""
        import aiohttp
        from kubernetes_asyncio.client.exceptions import ApiException

        try:
            yield
        except ApiException as exc:
            raise VoiceStoreError(
                502, f"Kubernetes API refused to {action}: {api_error_message(exc)}"
            ) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise VoiceStoreError(
                503, f"Kubernetes API unreachable ({action}): {type(exc).__name__}: {exc}"
            ) from exc

    async def add(self, name: str, filename: str, data: bytes, consent: str | None = None) -> None:
        from kubernetes_asyncio.client.exceptions import ApiException

        manifest = voice_configmap(self.stack, self.namespace, name, filename, data, consent)
        cm_name = manifest["metadata"]["name"]
        api = await self._core()
        async with self._calling(f"create the voice ConfigMap {self.namespace}/{cm_name}"):
            try:
                await api.create_namespaced_config_map(self.namespace, manifest)
                return
            except ApiException as exc:
                if exc.status != 409:
                    raise
        # It exists: replace it whole (a new sample may have another extension, so another binaryData key).
        async with self._calling(f"replace the voice ConfigMap {self.namespace}/{cm_name}"):
            await api.replace_namespaced_config_map(cm_name, self.namespace, manifest)

    async def delete(self, name: str) -> bool:
        from kubernetes_asyncio.client.exceptions import ApiException

        name = validate_voice_name(name)
        api = await self._core()
        async with self._calling(f"list the voice ConfigMaps in {self.namespace}"):
            found = await api.list_namespaced_config_map(
                self.namespace, label_selector=voice_selector(self.stack, name)
            )
        deleted = False
        for item in found.items:
            async with self._calling(f"delete the voice ConfigMap {self.namespace}/{item.metadata.name}"):
                try:
                    await api.delete_namespaced_config_map(item.metadata.name, self.namespace)
                    deleted = True
                except ApiException as exc:
                    if exc.status != 404:  # gone meanwhile: that is what was asked
                        raise
        return deleted

    async def list(self) -> list[StoredVoice]:
        api = await self._core()
        async with self._calling(f"list the voice ConfigMaps in {self.namespace}"):
            found = await api.list_namespaced_config_map(
                self.namespace, label_selector=voice_selector(self.stack)
            )
        voices = []
        for item in found.items:
            voice = (item.metadata.labels or {}).get(VOICE_LABEL)
            keys = sorted({**(item.binary_data or {}), **(item.data or {})})
            if voice:
                voices.append(StoredVoice(voice, keys[0] if keys else ""))
        return sorted(voices)

    async def voices_using(self, consent: str) -> list[str]:
        api = await self._core()
        async with self._calling(f"list the voice ConfigMaps in {self.namespace}"):
            found = await api.list_namespaced_config_map(
                self.namespace, label_selector=f"{voice_selector(self.stack)},{VOICE_CONSENT_LABEL}={consent}"
            )
        return sorted((item.metadata.labels or {}).get(VOICE_LABEL, "") for item in found.items)

    async def aclose(self) -> None:
        if self._api_client is not None:
            with contextlib.suppress(Exception):
                await self._api_client.close()
            self._api_client = self._api = None


def build_voice_store(kind: str, *, voices_dir: Path | None, namespace: str, stack: str) -> VoiceStore | None:
    """The configured store; None when a directory store has no directory (voice upload disabled)."""
    if kind == "configmap":
        return ConfigMapVoiceStore(namespace, stack)
    if voices_dir is None:
        return None
    return DirectoryVoiceStore(voices_dir)
