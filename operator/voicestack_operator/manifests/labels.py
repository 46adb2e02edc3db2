"""Names and labels every child of a VoiceStack carries (voice ConfigMaps' from ``voicestack.contracts``)."""

from __future__ import annotations

from voicestack.contracts.voices import (
    PART_OF,
    PART_OF_LABEL,
    STACK_LABEL,
    VOICE_LABEL,
    voice_configmap_name,
    voice_labels,
    voice_selector,
)

__all__ = [
    "PART_OF",
    "PART_OF_LABEL",
    "STACK_LABEL",
    "VOICE_LABEL",
    "voice_configmap_name",
    "voice_labels",
    "voice_selector",
]

MANAGED_BY = "voicestack-operator"

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"

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


def isvc_name(stack: str, engine: str) -> str:
    return f"{stack}-{engine}"


def router_name(stack: str) -> str:
    return f"{stack}-router"
