"""Voices: OpenAI's voice names, and the voice ConfigMaps the operator and the router's voices API write and
the TTS predictor reads (mounted at ``/voices``)."""

from __future__ import annotations

import hashlib
import re

# OpenAI's voice names: the TTS predictor aliases each one it has no mapping for to its default voice.
OPENAI_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx",
    "nova", "sage", "shimmer", "verse", "marin", "cedar",
)  # fmt: skip
DEFAULT_VOICE = "default"  # the one built-in speaker of a single-speaker coqui model
# An uploaded voice of one of these names would silently take the built-in voice's or the alias's place.
RESERVED_VOICE_NAMES = frozenset({DEFAULT_VOICE, *OPENAI_VOICES})

# The file extensions of voice samples: what the router and the operator store and the predictor lists.
SAMPLE_EXTENSIONS: tuple[str, ...] = (
    ".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".mp4", ".aac", ".webm", ".wma", ".aiff", ".aif",
)  # fmt: skip

CONFIGMAP_MAX_BYTES = 1_000_000  # the API server refuses objects over ~1 MiB, metadata included

STACK_LABEL = "voicestack.io/stack"
VOICE_LABEL = "voicestack.io/voice"
PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF = "voice-stack"


def voice_labels(stack: str, voice: str) -> dict[str, str]:
    """Labels of a voice ConfigMap, alike whether the operator or the router made it."""
    return {STACK_LABEL: stack, VOICE_LABEL: voice, PART_OF_LABEL: PART_OF}


def voice_selector(stack: str, voice: str | None = None) -> str:
    """A label selector for a stack's voice ConfigMaps (or one voice's)."""
    last = VOICE_LABEL if voice is None else f"{VOICE_LABEL}={voice}"
    return f"{STACK_LABEL}={stack},{PART_OF_LABEL}={PART_OF},{last}"


def voice_configmap_name(stack: str, voice: str) -> str:
    """``<stack>-voice-<voice>`` as a DNS-1123 name (lower case; a hash keeps distinct names distinct)."""
    base = re.sub(r"[^a-z0-9-]+", "-", f"{stack}-voice-{voice}".lower()).strip("-")
    if base == f"{stack}-voice-{voice}" and len(base) <= 253:
        return base
    digest = hashlib.sha256(voice.encode()).hexdigest()[:8]
    return f"{base[:240].rstrip('-')}-{digest}"
