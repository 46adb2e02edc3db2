"""Which device an engine runs on: one rule for every engine, each asking its own runtime about CUDA.

Each runtime is asked, not torch for all: importing torch (and its CUDA libraries) costs about 400 MB of
resident memory that faster-whisper and Piper never use, and torch seeing a GPU says nothing about whether
CTranslate2 or ONNX Runtime can use it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def ctranslate2_cuda() -> bool:
    """Whether CTranslate2 (faster-whisper) sees a CUDA device."""
    try:
        import ctranslate2

        return bool(ctranslate2.get_cuda_device_count() > 0)
    except Exception:
        log.debug("CTranslate2 cannot see a CUDA device", exc_info=True)
        return False


def torch_cuda() -> bool:
    """Whether torch (openai-whisper, coqui-tts) sees a CUDA device."""
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def onnx_cuda() -> bool:
    """Whether ONNX Runtime (Piper) has its CUDA provider (the onnxruntime-gpu build)."""
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def resolve_device(device: str, cuda_available: Callable[[], bool], hint: str = "") -> str:
    """``auto`` → ``cuda`` when the engine's runtime sees a GPU, else ``cpu``; ``cuda`` must exist.

    ``hint`` is appended to the error when ``cuda`` was asked for and there is none.
    """
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    if device == "cuda" and not cuda_available():
        raise RuntimeError(f"--device cuda was requested but no CUDA device is visible{hint}")
    return device
