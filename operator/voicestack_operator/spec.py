"""The VoiceStack spec: defaults (from the CRD schema, the single source) and the cross-field rules.

The API server enforces the same rules with the CRD's CEL ``x-kubernetes-validations``; the operator checks
them again so a cluster without CEL, or an object that slipped in before a CRD upgrade, gets a clear
``Ready=False, reason=InvalidSpec`` instead of broken children.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from voicestack.contracts.voices import CONFIGMAP_MAX_BYTES
from voicestack_operator import crd
from voicestack_operator.crd import apply_defaults

__all__ = ["InvalidSpec", "apply_defaults", "decoded_voice", "normalize"]

DEFAULT_ASR_MODEL = "large-v3"
WHISPER_COMPUTE_TYPES = ("default", "float16", "float32")


class InvalidSpec(ValueError):
    """A spec the operator cannot act on; the message says which field and why."""

    def __init__(self, message: str, reason: str = "InvalidSpec") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def decoded_voice(voice: dict[str, Any]) -> bytes:
    """The inline sample of a voice, decoded (validated by :func:`normalize`); line breaks are ignored."""
    return base64.b64decode("".join(voice["data"].split()), validate=True)


def normalize(spec: dict[str, Any] | None) -> dict[str, Any]:
    """The spec with every default filled in; raises :class:`InvalidSpec` on a rule violation."""
    if spec is not None and not isinstance(spec, dict):
        raise InvalidSpec("spec must be an object")
    full = apply_defaults(crd.spec_schema(), spec or {})
    asr, tts, router = full["asr"], full["tts"], full["router"]
    if not asr["enabled"] and not tts["enabled"]:
        raise InvalidSpec("enable at least one of spec.asr and spec.tts")
    for section, values in (("asr", asr), ("tts", tts)):
        if values["minReplicas"] > values["maxReplicas"]:
            raise InvalidSpec(
                f"spec.{section}.minReplicas ({values['minReplicas']}) exceeds "
                f"maxReplicas ({values['maxReplicas']})"
            )
        if values["enabled"] and values["minReplicas"] == 0 and full["deploymentMode"] != "Knative":
            raise InvalidSpec(
                f"spec.{section}.minReplicas 0 (scale to zero) needs spec.deploymentMode Knative"
            )
    if "model" in asr and "storageUri" in asr:
        raise InvalidSpec("spec.asr: set model or storageUri, not both")
    if asr["engine"] == "whisper" and asr["computeType"] not in WHISPER_COMPUTE_TYPES:
        raise InvalidSpec(
            f"spec.asr.computeType {asr['computeType']} is not supported by engine whisper "
            "(float16 or float32)"
        )
    if "model" not in asr and "storageUri" not in asr:
        asr["model"] = DEFAULT_ASR_MODEL
    _check_voices(tts)
    _check_tts_engine(tts)
    ingress = router["ingress"]
    if ingress["enabled"] and not ingress.get("host"):
        raise InvalidSpec("spec.router.ingress.host is required when the ingress is enabled")
    return full


def _check_tts_engine(tts: dict[str, Any]) -> None:
    """The CEL rules on spec.tts.engine, then the engine's default model."""
    engine = tts["engine"]
    if engine == "coqui" and "model" not in tts:
        raise InvalidSpec("spec.tts.engine coqui needs spec.tts.model (a coqui-tts model name or directory)")
    if engine == "piper":
        if tts.get("voices"):
            raise InvalidSpec(
                "spec.tts.voices: the piper engine cannot clone voices; remove them or use engine xtts"
            )
        if tts["resources"].get("gpu", 0) > 0 or tts["device"] == "cuda":
            raise InvalidSpec(
                "spec.tts: the piper engine runs on CPU; set resources.gpu to 0 and device to auto or cpu"
            )
    tts.setdefault("model", crd.DEFAULT_TTS_MODELS.get(engine))


def _check_voices(tts: dict[str, Any]) -> None:
    seen: set[str] = set()
    for index, voice in enumerate(tts.get("voices", [])):
        name = voice.get("name", "")
        where = f"spec.tts.voices[{index}] ({name})"
        if name in seen:
            raise InvalidSpec(f"{where}: duplicate voice name")
        seen.add(name)
        if ("configMapKeyRef" in voice) == ("data" in voice):
            raise InvalidSpec(f"{where}: a voice needs exactly one source, configMapKeyRef or data")
        if "data" in voice:
            if len(voice["data"]) > crd.MAX_INLINE_BASE64:
                raise InvalidSpec(
                    f"{where}: data is over 1 MiB of base64; use configMapKeyRef for large samples"
                )
            try:
                size = len(decoded_voice(voice))
            except (binascii.Error, ValueError) as exc:
                raise InvalidSpec(f"{where}: data is not valid base64 ({exc})") from exc
            if size > CONFIGMAP_MAX_BYTES:
                raise InvalidSpec(
                    f"{where}: sample is {size} bytes; a ConfigMap holds at most {CONFIGMAP_MAX_BYTES}"
                )
    for alias, target in tts.get("voiceAliases", {}).items():
        if not target:
            raise InvalidSpec(f"spec.tts.voiceAliases.{alias}: empty voice name")
