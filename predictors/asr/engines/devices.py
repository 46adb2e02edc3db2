"""Device and compute-type choices shared by the engines."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def cuda_available() -> bool:
    """Whether a CUDA device can be used, asked of CTranslate2 first (it does not need torch)."""
    try:
        import ctranslate2

        if ctranslate2.get_cuda_device_count() > 0:
            return True
    except Exception:
        log.debug("CTranslate2 cannot see a CUDA device", exc_info=True)
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``; an explicit ``cuda`` must exist."""
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    if device == "cuda" and not cuda_available():
        raise RuntimeError("--device cuda was requested but no CUDA device is visible")
    return device
