"""Names and labels every child of a VoiceStack carries."""

from __future__ import annotations

import hashlib
import re

PART_OF = "voice-stack"
MANAGED_BY = "voicestack-operator"

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
PART_OF_LABEL = "app.kubernetes.io/part-of"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
STACK_LABEL = "voicestack.io/stack"
VOICE_LABEL = "voicestack.io/voice"

# Written by operators before server-side apply (removed from a child on its first apply).
LEGACY_LAST_APPLIED_ANNOTATION = "voicestack.io/last-applied"
APPLIED_HASH_ANNOTATION = "voicestack.io/applied-hash"
CONFIG_CHECKSUM_ANNOTATION = "voicestack.io/config-checksum"


def selector_labels(stack: str, component: str) -> dict[str, str]:
    """The labels a workload selects its pods by (immutable once a Deployment exists)."""
    return {NAME_LABEL: f"voicestack-{component}", INSTANCE_LABEL: stack, COMPONENT_LABEL: component}


def standard_labels(stack: str, component: str) -> dict[str, str]:
    """``app.kubernetes.io/*`` labels of a child object."""
    return {**selector_labels(stack, component), PART_OF_LABEL: PART_OF, MANAGED_BY_LABEL: MANAGED_BY}


def voice_labels(stack: str, voice: str) -> dict[str, str]:
    """Labels of a voice ConfigMap (docs/contracts.md), alike whether the operator or the router made it."""
    return {STACK_LABEL: stack, VOICE_LABEL: voice, PART_OF_LABEL: PART_OF}


def voice_selector(stack: str) -> str:
    """Label selector of every voice ConfigMap of a stack (operator- and router-made)."""
    return f"{STACK_LABEL}={stack},{PART_OF_LABEL}={PART_OF},{VOICE_LABEL}"


def isvc_name(stack: str, engine: str) -> str:
    return f"{stack}-{engine}"


def router_name(stack: str) -> str:
    return f"{stack}-router"


def voice_configmap_name(stack: str, voice: str) -> str:
    """``<stack>-voice-<voice>`` as a DNS-1123 name; the router's voices API names its ConfigMaps alike."""
    base = re.sub(r"[^a-z0-9-]+", "-", f"{stack}-voice-{voice}".lower()).strip("-")
    if base == f"{stack}-voice-{voice}" and len(base) <= 253:
        return base
    digest = hashlib.sha256(voice.encode()).hexdigest()[:8]
    return f"{base[:240].rstrip('-')}-{digest}"
