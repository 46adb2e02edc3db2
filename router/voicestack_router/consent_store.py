"""Voice consent records (OpenAI's ``/v1/audio/voice_consents``), kept beside the voices they authorise.

A consent record is a recording of the speaker agreeing to have their voice cloned, with a label and the
language of the consent phrase. A voice is created against one (``consent``), and the link is kept with the
voice, so a consent that voices still use is not deleted (409).

- Directory store: ``<voices_dir>/.consents/<id>.json`` (the metadata) and ``<id>.<ext>`` (the recording);
  the TTS predictor skips entries starting with a dot, so it never takes a consent for a voice.
- ConfigMap store: one ConfigMap per consent, ``<stack>-consent-<id>``, labels ``voicestack.io/stack``,
  ``voicestack.io/consent`` and ``app.kubernetes.io/part-of`` (no ``voicestack.io/voice``, so neither the
  operator nor the predictor mounts it), ``data`` ``consent.json`` and ``binaryData`` the recording. The
  same verbs as voices (create, list, replace, delete): the router's Role needs nothing more.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from voicestack.contracts.voices import CONFIGMAP_MAX_BYTES, PART_OF, PART_OF_LABEL, STACK_LABEL
from voicestack.text import shown
from voicestack_router.voice_store import ConfigMapVoiceStore, VoiceStoreError, sample_extension

CONSENT_LABEL = "voicestack.io/consent"
CONSENT_ID = re.compile(r"^cons_[a-z0-9]{1,58}$")
METADATA_KEY = "consent.json"


@dataclass(frozen=True)
class ConsentRecord:
    id: str
    name: str
    language: str
    created_at: int
    filename: str  # the recording's file name in the store

    def openai(self) -> dict[str, Any]:
        """OpenAI's ``audio.voice_consent`` object."""
        return {
            "object": "audio.voice_consent",
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "created_at": self.created_at,
        }


def new_consent(name: str, language: str, recording_filename: str | None) -> ConsentRecord:
    consent_id = f"cons_{secrets.token_hex(12)}"
    return ConsentRecord(
        consent_id, name, language, int(time.time()), f"{consent_id}{sample_extension(recording_filename)}"
    )


def check_consent_id(consent_id: str) -> str:
    if not CONSENT_ID.match(consent_id):
        raise VoiceStoreError(404, f"Voice consent {shown(consent_id)} not found.")
    return consent_id


class ConsentStore(Protocol):
    async def add(self, record: ConsentRecord, recording: bytes) -> None: ...

    async def get(self, consent_id: str) -> ConsentRecord | None: ...

    async def list(self) -> list[ConsentRecord]:
        """Oldest first."""

    async def rename(self, consent_id: str, name: str) -> ConsentRecord | None: ...

    async def delete(self, consent_id: str) -> bool: ...


class DirectoryConsentStore:
    def __init__(self, voices_dir: Path) -> None:
        self.directory = voices_dir / ".consents"

    def _metadata(self, consent_id: str) -> Path:
        return self.directory / f"{check_consent_id(consent_id)}.json"

    async def add(self, record: ConsentRecord, recording: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread((self.directory / record.filename).write_bytes, recording)
        self._write(record)

    def _write(self, record: ConsentRecord) -> None:
        temporary = self.directory / f".{record.id}.writing"
        temporary.write_text(json.dumps(asdict(record)), encoding="utf-8")
        temporary.replace(self._metadata(record.id))

    async def get(self, consent_id: str) -> ConsentRecord | None:
        path = self._metadata(consent_id)
        if not path.is_file():
            return None
        return ConsentRecord(**json.loads(path.read_text(encoding="utf-8")))

    async def list(self) -> list[ConsentRecord]:
        if not self.directory.is_dir():
            return []
        records = [
            ConsentRecord(**json.loads(p.read_text(encoding="utf-8"))) for p in self.directory.glob("*.json")
        ]
        return sorted(records, key=lambda record: (record.created_at, record.id))

    async def rename(self, consent_id: str, name: str) -> ConsentRecord | None:
        record = await self.get(consent_id)
        if record is None:
            return None
        record = replace(record, name=name)
        self._write(record)
        return record

    async def delete(self, consent_id: str) -> bool:
        record = await self.get(consent_id)
        if record is None:
            return False
        with contextlib.suppress(FileNotFoundError):
            (self.directory / record.filename).unlink()
        self._metadata(consent_id).unlink()
        return True


def consent_configmap_name(stack: str, consent_id: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", f"{stack}-consent-{consent_id}".lower()).strip("-")


def consent_configmap(stack: str, namespace: str, record: ConsentRecord, recording: bytes) -> dict[str, Any]:
    """The ConfigMap holding one consent record (recording in ``binaryData``, metadata in ``data``)."""
    if len(recording) > CONFIGMAP_MAX_BYTES:
        raise VoiceStoreError(
            413,
            f"consent recording too large for a ConfigMap: {len(recording)} bytes "
            f"(limit {CONFIGMAP_MAX_BYTES})",
        )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": consent_configmap_name(stack, record.id),
            "namespace": namespace,
            "labels": {STACK_LABEL: stack, CONSENT_LABEL: record.id, PART_OF_LABEL: PART_OF},
            "annotations": {"voicestack.io/source": "router"},
        },
        "data": {METADATA_KEY: json.dumps(asdict(record))},
        "binaryData": {record.filename: base64.b64encode(recording).decode("ascii")},
    }


def consent_selector(stack: str, consent_id: str | None = None) -> str:
    parts = [f"{STACK_LABEL}={stack}", f"{PART_OF_LABEL}={PART_OF}"]
    parts.append(CONSENT_LABEL if consent_id is None else f"{CONSENT_LABEL}={consent_id}")
    return ",".join(parts)


class ConfigMapConsentStore:
    """Consent ConfigMaps, through the voice store's Kubernetes client (same credentials, same errors)."""

    def __init__(self, voices: ConfigMapVoiceStore) -> None:
        self.voices = voices

    async def _items(self, consent_id: str | None = None) -> list[Any]:
        api = await self.voices._core()
        namespace, stack = self.voices.namespace, self.voices.stack
        async with self.voices._calling(f"list the voice consent ConfigMaps in {namespace}"):
            found = await api.list_namespaced_config_map(
                namespace, label_selector=consent_selector(stack, consent_id)
            )
        return list(found.items)

    @staticmethod
    def _record(item: Any) -> ConsentRecord:
        return ConsentRecord(**json.loads((item.data or {})[METADATA_KEY]))

    async def add(self, record: ConsentRecord, recording: bytes) -> None:
        manifest = consent_configmap(self.voices.stack, self.voices.namespace, record, recording)
        api = await self.voices._core()
        name = manifest["metadata"]["name"]
        async with self.voices._calling(f"create the voice consent ConfigMap {self.voices.namespace}/{name}"):
            await api.create_namespaced_config_map(self.voices.namespace, manifest)

    async def get(self, consent_id: str) -> ConsentRecord | None:
        items = await self._items(check_consent_id(consent_id))
        return self._record(items[0]) if items else None

    async def list(self) -> list[ConsentRecord]:
        records = [self._record(item) for item in await self._items()]
        return sorted(records, key=lambda record: (record.created_at, record.id))

    async def rename(self, consent_id: str, name: str) -> ConsentRecord | None:
        items = await self._items(check_consent_id(consent_id))
        if not items:
            return None
        item = items[0]
        record = replace(self._record(item), name=name)
        item.data = {**(item.data or {}), METADATA_KEY: json.dumps(asdict(record))}
        api = await self.voices._core()
        where = f"{self.voices.namespace}/{item.metadata.name}"
        async with self.voices._calling(f"replace the voice consent ConfigMap {where}"):
            await api.replace_namespaced_config_map(item.metadata.name, self.voices.namespace, item)
        return record

    async def delete(self, consent_id: str) -> bool:
        from kubernetes_asyncio.client.exceptions import ApiException

        items = await self._items(check_consent_id(consent_id))
        api = await self.voices._core()
        for item in items:
            where = f"{self.voices.namespace}/{item.metadata.name}"
            async with self.voices._calling(f"delete the voice consent ConfigMap {where}"):
                try:
                    await api.delete_namespaced_config_map(item.metadata.name, self.voices.namespace)
                except ApiException as exc:
                    if exc.status != 404:  # gone meanwhile: that is what was asked
                        raise
        return bool(items)


def build_consent_store(voices: Any, voices_dir: Path | None) -> ConsentStore | None:
    """The consent store beside the voice store (None when voice upload is off)."""
    if isinstance(voices, ConfigMapVoiceStore):
        return ConfigMapConsentStore(voices)
    if voices is None or voices_dir is None:
        return None
    return DirectoryConsentStore(voices_dir)
