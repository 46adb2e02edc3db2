"""Container images the operator deploys: set by the chart through the environment (docs/contracts.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from voicestack import __version__

REGISTRY = "ghcr.io/voice-stack"


@dataclass(frozen=True)
class Images:
    asr: str
    asr_cuda: str
    tts: str
    router: str

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Images:
        source = os.environ if env is None else env

        def pick(variable: str, name: str) -> str:
            return source.get(variable) or f"{REGISTRY}/{name}:{__version__}"

        return cls(
            asr=pick("VOICESTACK_ASR_IMAGE", "asr"),
            asr_cuda=pick("VOICESTACK_ASR_CUDA_IMAGE", "asr-cuda"),
            tts=pick("VOICESTACK_TTS_IMAGE", "tts"),
            router=pick("VOICESTACK_ROUTER_IMAGE", "router"),
        )
