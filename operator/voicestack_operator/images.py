"""Container images the operator deploys: set by the chart through the environment (docs/contracts.md).

Each image has a pull policy (``VOICESTACK_<COMPONENT>_IMAGE_PULL_POLICY``, default ``IfNotPresent`` like the
chart's values) that goes on its container, and ``VOICESTACK_IMAGE_PULL_SECRETS`` (comma-separated Secret
names) goes on every pod spec the operator creates. A VoiceStack's ``spec.<component>.image`` replaces the
image only: the component's pull policy and the pull secrets still apply.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voicestack import __version__

REGISTRY = "ghcr.io/voice-stack"
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
DEFAULT_PULL_POLICY = "IfNotPresent"
PULL_SECRETS_VARIABLE = "VOICESTACK_IMAGE_PULL_SECRETS"


def _pull_policy(source: Mapping[str, str], variable: str) -> str:
    value = source.get(variable, "").strip()
    if not value:
        return DEFAULT_PULL_POLICY
    if value not in PULL_POLICIES:
        allowed = ", ".join(PULL_POLICIES)
        raise ValueError(f"{variable}={value!r} is not an image pull policy: use one of {allowed}")
    return value


def parse_pull_secrets(value: str) -> tuple[str, ...]:
    """Secret names from a comma-separated list: blanks dropped, duplicates once, order kept."""
    names = (name.strip() for name in value.split(","))
    return tuple(dict.fromkeys(name for name in names if name))


@dataclass(frozen=True)
class Images:
    asr: str
    asr_cuda: str
    tts: str
    router: str
    asr_pull_policy: str = DEFAULT_PULL_POLICY
    asr_cuda_pull_policy: str = DEFAULT_PULL_POLICY
    tts_pull_policy: str = DEFAULT_PULL_POLICY
    router_pull_policy: str = DEFAULT_PULL_POLICY
    pull_secrets: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Images:
        """Read the operator's environment; raises ValueError for a pull policy Kubernetes would reject."""
        source = os.environ if env is None else env

        def pick(variable: str, name: str) -> str:
            return source.get(variable) or f"{REGISTRY}/{name}:{__version__}"

        return cls(
            asr=pick("VOICESTACK_ASR_IMAGE", "asr"),
            asr_cuda=pick("VOICESTACK_ASR_CUDA_IMAGE", "asr-cuda"),
            tts=pick("VOICESTACK_TTS_IMAGE", "tts"),
            router=pick("VOICESTACK_ROUTER_IMAGE", "router"),
            asr_pull_policy=_pull_policy(source, "VOICESTACK_ASR_IMAGE_PULL_POLICY"),
            asr_cuda_pull_policy=_pull_policy(source, "VOICESTACK_ASR_CUDA_IMAGE_PULL_POLICY"),
            tts_pull_policy=_pull_policy(source, "VOICESTACK_TTS_IMAGE_PULL_POLICY"),
            router_pull_policy=_pull_policy(source, "VOICESTACK_ROUTER_IMAGE_PULL_POLICY"),
            pull_secrets=parse_pull_secrets(source.get(PULL_SECRETS_VARIABLE, "")),
        )

    def pull_secret_refs(self) -> list[dict[str, Any]]:
        """The pod spec's ``imagePullSecrets`` (empty: leave the field out)."""
        return [{"name": name} for name in self.pull_secrets]
