"""Voice samples: a ConfigMap per inline voice, and the projected volume putting every voice under /voices."""

from __future__ import annotations

import base64
from pathlib import PurePosixPath
from typing import Any

from voicestack.contracts.voices import SAMPLE_EXTENSIONS
from voicestack_operator.manifests import labels
from voicestack_operator.spec import decoded_voice
from voicestack_operator.spec_model import ConfigMapKeyRef, TtsSpec, Voice

VOICE_DIR = "/voices"
VOLUME_NAME = "voices"


def voice_configmap(stack: str, namespace: str, voice: Voice) -> dict[str, Any]:
    """The ConfigMap holding an inline voice sample (``binaryData`` key ``<voice>.<format>``)."""
    name = voice.name
    data = base64.b64encode(decoded_voice(voice)).decode("ascii")  # canonical base64: no churn on whitespace
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": labels.voice_configmap_name(stack, name),
            "namespace": namespace,
            "labels": {**labels.standard_labels(stack, "voice"), **labels.voice_labels(stack, name)},
            "annotations": {"voicestack.io/source": "spec"},
        },
        "binaryData": {f"{name}.{voice.format}": data},
    }


def inline_voice_configmaps(stack: str, namespace: str, tts: TtsSpec) -> list[dict[str, Any]]:
    return [voice_configmap(stack, namespace, v) for v in tts.voices or [] if v.data is not None]


def _referenced_file_name(voice: Voice, ref: ConfigMapKeyRef) -> str:
    suffix = PurePosixPath(ref.key).suffix.lower()
    extension = suffix if suffix in SAMPLE_EXTENSIONS else f".{voice.format}"
    return f"{voice.name}{extension}"


def voice_sources(stack: str, tts: TtsSpec, discovered: dict[str, str]) -> list[dict[str, Any]]:
    """Projected-volume sources, sorted so an unchanged set of voices never changes the pod spec.

    ``discovered`` maps the voice ConfigMaps found by label (``name → voice``) — the operator's own and those
    the router's voices API created. A spec voice wins over a discovered one of the same voice name (two
    files of one name would make the projection invalid).
    """
    spec_voices = {v.name for v in tts.voices or []}
    sources: list[dict[str, Any]] = []
    names: set[str] = set()
    for voice in tts.voices or []:
        if voice.data is not None:
            names.add(labels.voice_configmap_name(stack, voice.name))
        else:
            ref = voice.configMapKeyRef
            if ref is None:  # the CRD's CEL rule refuses this spec
                raise ValueError(f"spec.tts.voices: voice {voice.name} has neither data nor configMapKeyRef")
            item = {"key": ref.key, "path": _referenced_file_name(voice, ref)}
            sources.append({"configMap": {"name": ref.name, "items": [item], "optional": True}})
    for name, voice in discovered.items():
        if voice not in spec_voices:
            names.add(name)
    sources += [{"configMap": {"name": name, "optional": True}} for name in names]
    return sorted(sources, key=lambda s: (s["configMap"]["name"], str(s["configMap"].get("items", ""))))


def voice_volume(sources: list[dict[str, Any]]) -> dict[str, Any]:
    """The /voices volume: a projection of the voice ConfigMaps, or an empty directory when there are none."""
    if not sources:
        return {"name": VOLUME_NAME, "emptyDir": {}}
    return {"name": VOLUME_NAME, "projected": {"sources": sources, "defaultMode": 0o444}}


def voice_mount() -> dict[str, Any]:
    return {"name": VOLUME_NAME, "mountPath": VOICE_DIR, "readOnly": True}
