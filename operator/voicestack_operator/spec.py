"""The VoiceStack spec as the operator acts on it: parsed with the models of ``spec_model.py`` (their
defaults are the CRD's), plus the one rule the CRD can't hold.

Every cross-field rule lives once, as a CEL ``x-kubernetes-validations`` rule of the models (``rules``,
rendered into the CRD), and the API server enforces it (tests/cluster/test_crd.py proves each one);
single-field bounds, enums and unique voice names are the CRD schema's, and the models check them again
when they parse. The operator checks only what neither can express: an inline voice sample must be valid
base64 and decode to at most what a ConfigMap holds.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import ValidationError

from voicestack.contracts.voices import CONFIGMAP_MAX_BYTES
from voicestack_operator.spec_model import DEFAULT_ASR_MODEL, DEFAULT_TTS_MODELS, Voice, VoiceStackSpec

__all__ = ["InvalidSpec", "decoded_voice", "normalize", "parse", "with_defaults"]


class InvalidSpec(ValueError):
    """A spec the operator cannot act on; the message says which field and why."""

    def __init__(self, message: str, reason: str = "InvalidSpec") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def parse(spec: dict[str, Any] | None) -> VoiceStackSpec:
    """The typed spec, every default filled in; :class:`InvalidSpec` names the first bad field."""
    if spec is not None and not isinstance(spec, dict):
        raise InvalidSpec("spec must be an object")
    try:
        return VoiceStackSpec.model_validate(spec or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in ("spec", *first["loc"]))
        raise InvalidSpec(f"{where}: {first['msg']}") from None


def with_defaults(spec: dict[str, Any] | None) -> dict[str, Any]:
    """The spec as the API server stores it: the CRD's defaults applied, unset optional fields absent."""
    return parse(spec).model_dump(exclude_none=True)


def decoded_voice(voice: Voice) -> bytes:
    """The inline sample of a voice, decoded (validated by :func:`normalize`); line breaks are ignored."""
    if voice.data is None:
        raise ValueError(f"voice {voice.name} has no inline data")
    return base64.b64decode("".join(voice.data.split()), validate=True)


def normalize(spec: dict[str, Any] | None) -> VoiceStackSpec:
    """The typed spec with every default filled in, the default models named; :class:`InvalidSpec` for a
    spec the models refuse or a bad inline voice sample.

    The spec is one the API server admitted, so the CRD's schema and CEL rules hold. After it, ``asr.model``
    is unset only with a ``storageUri``, and ``tts.model`` only for engine coqui without one (a spec the CRD
    refuses).
    """
    full = parse(spec)
    asr, tts = full.asr, full.tts
    if asr.model is None and asr.storageUri is None:
        asr.model = DEFAULT_ASR_MODEL
    if tts.model is None:
        tts.model = DEFAULT_TTS_MODELS.get(tts.engine)
    for index, voice in enumerate(tts.voices or []):
        if voice.data is not None:
            _check_sample(f"spec.tts.voices[{index}] ({voice.name})", voice)
    return full


def _check_sample(where: str, voice: Voice) -> None:
    try:
        size = len(decoded_voice(voice))
    except (binascii.Error, ValueError) as exc:
        raise InvalidSpec(f"{where}: data is not valid base64 ({exc})") from exc
    if size > CONFIGMAP_MAX_BYTES:
        raise InvalidSpec(f"{where}: sample is {size} bytes; a ConfigMap holds at most {CONFIGMAP_MAX_BYTES}")
