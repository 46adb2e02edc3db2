"""Device and compute-type choices shared by the engines."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def ctranslate2_cuda() -> bool:
    """Whether CTranslate2 (faster-whisper) sees a CUDA device. Asking torch instead would import it and
    its CUDA libraries: about 400 MB of resident memory that faster-whisper never uses."""
    try:
        import ctranslate2

        return bool(ctranslate2.get_cuda_device_count() > 0)
    except Exception:
        log.debug("CTranslate2 cannot see a CUDA device", exc_info=True)
        return False


def torch_cuda() -> bool:
    """Whether torch (openai-whisper) sees a CUDA device."""
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def resolve_device(device: str, cuda_available: Callable[[], bool]) -> str:
    """``auto`` → ``cuda`` when the engine's runtime sees a GPU, else ``cpu``; ``cuda`` must exist."""
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    if device == "cuda" and not cuda_available():
        raise RuntimeError("--device cuda was requested but no CUDA device is visible")
    return device
