"""Where cloned voices' reference samples live, behind one interface.

- ``DirectoryVoiceStore``: a folder (``voices_dir``), the same one the local TTS predictor watches.
- ``ConfigMapVoiceStore``: one labelled ConfigMap per voice in the stack's namespace (``docs/contracts.md``:
  ``binaryData`` key ``<voice>.<ext>``, labels ``voicestack.io/stack``, ``voicestack.io/voice`` and
  ``app.kubernetes.io/part-of: voice-stack``), mounted into the
  TTS predictor at ``/voices``.

Listing voices is the TTS predictor's job (it knows built-in speakers too); the store only adds and deletes.
The manifest building is pure (``voice_configmap``, ``configmap_name``) so it is tested without a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from pathlib import Path
from typing import Any, Protocol

STACK_LABEL = "voicestack.io/stack"
VOICE_LABEL = "voicestack.io/voice"
PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF = "voice-stack"

AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".webm", ".mp4")
VOICE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
CONFIGMAP_MAX_BYTES = 1_000_000  # the API server refuses objects over ~1 MiB


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
            400, f"invalid voice name {name!r}: use letters, digits, '-', '_' or '.', at most 63 characters"
        )
    return name


def sample_extension(filename: str | None, content_type: str | None = None) -> str:
    """The sample's extension from its filename or media type (``.wav`` when unknown)."""
    suffix = Path(filename or "").suffix.lower()
    if suffix in AUDIO_EXTENSIONS:
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


class VoiceStore(Protocol):
    async def add(self, name: str, filename: str, data: bytes) -> None:
        """Store a voice sample (replacing a voice of the same name)."""

    async def delete(self, name: str) -> bool:
        """Remove a voice; False if the store did not have it."""


class DirectoryVoiceStore:
    """``<dir>/<name>.<ext>`` files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _existing(self, name: str) -> list[Path]:
        return [
            self.directory / f"{name}{ext}"
            for ext in AUDIO_EXTENSIONS
            if (self.directory / f"{name}{ext}").exists()
        ]

    async def add(self, name: str, filename: str, data: bytes) -> None:
        name = validate_voice_name(name)
        self.directory.mkdir(parents=True, exist_ok=True)
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
        return bool(found)


def configmap_name(stack: str, voice: str) -> str:
    """``<stack>-voice-<voice>`` as a DNS-1123 name (lower case; a hash keeps distinct names distinct)."""
    base = re.sub(r"[^a-z0-9-]+", "-", f"{stack}-voice-{voice}".lower()).strip("-")
    if base == f"{stack}-voice-{voice}" and len(base) <= 253:
        return base
    digest = hashlib.sha256(voice.encode()).hexdigest()[:8]
    return f"{base[:240].rstrip('-')}-{digest}"


def voice_labels(stack: str, voice: str) -> dict[str, str]:
    return {STACK_LABEL: stack, VOICE_LABEL: voice, PART_OF_LABEL: PART_OF}


def voice_selector(stack: str, voice: str | None = None) -> str:
    """A label selector for the stack's voice ConfigMaps (or one voice's)."""
    parts = [f"{STACK_LABEL}={stack}", f"{PART_OF_LABEL}={PART_OF}"]
    if voice is not None:
        parts.append(f"{VOICE_LABEL}={voice}")
    return ",".join(parts)


def voice_configmap(stack: str, namespace: str, voice: str, filename: str, data: bytes) -> dict[str, Any]:
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
            "name": configmap_name(stack, voice),
            "namespace": namespace,
            "labels": voice_labels(stack, voice),
            "annotations": {"voicestack.io/source": "router"},
        },
        "binaryData": {key: base64.b64encode(data).decode("ascii")},
    }


class ConfigMapVoiceStore:
    """Voice ConfigMaps through the Kubernetes API (in-cluster credentials, or a kubeconfig)."""

    def __init__(self, namespace: str, stack: str) -> None:
        self.namespace = namespace
        self.stack = stack
        self._api: Any = None

    async def _core(self) -> Any:
        if self._api is None:
            from kubernetes_asyncio import client, config

            try:
                config.load_incluster_config()
            except config.ConfigException:
                await config.load_kube_config()
            self._api = client.CoreV1Api(client.ApiClient())
        return self._api

    async def add(self, name: str, filename: str, data: bytes) -> None:
        from kubernetes_asyncio.client.exceptions import ApiException

        manifest = voice_configmap(self.stack, self.namespace, name, filename, data)
        api = await self._core()
        try:
            await api.create_namespaced_config_map(self.namespace, manifest)
        except ApiException as exc:
            if exc.status != 409:
                raise VoiceStoreError(
                    502, f"Kubernetes API refused the voice ConfigMap: {exc.reason}"
                ) from exc
            await api.replace_namespaced_config_map(manifest["metadata"]["name"], self.namespace, manifest)

    async def delete(self, name: str) -> bool:
        from kubernetes_asyncio.client.exceptions import ApiException

        name = validate_voice_name(name)
        api = await self._core()
        found = await api.list_namespaced_config_map(
            self.namespace, label_selector=voice_selector(self.stack, name)
        )
        deleted = False
        for item in found.items:
            try:
                await api.delete_namespaced_config_map(item.metadata.name, self.namespace)
                deleted = True
            except ApiException as exc:
                if exc.status != 404:
                    raise VoiceStoreError(502, f"Kubernetes API refused the deletion: {exc.reason}") from exc
        return deleted


def build_voice_store(kind: str, *, voices_dir: Path | None, namespace: str, stack: str) -> VoiceStore | None:
    """The configured store; None when a directory store has no directory (voice upload disabled)."""
    if kind == "configmap":
        return ConfigMapVoiceStore(namespace, stack)
    if voices_dir is None:
        return None
    return DirectoryVoiceStore(voices_dir)
