"""Hand freed heap memory back to the operating system (glibc's ``malloc_trim``; a no-op elsewhere).

A long transcription allocates and frees a few hundred MB of temporaries (VAD, features, decoder state);
glibc keeps freed memory in its arenas, so the process would stay that large while idle.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def _find_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None


_MALLOC_TRIM = _find_malloc_trim()


def release_freed_memory() -> None:
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
