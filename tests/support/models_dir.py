"""Real model weights for the tests where words matter: ``$VOICESTACK_MODELS_DIR/<name>``.

The layout is the model catalogue's (e.g. ``piper-en_US-joe-medium/`` with the ``.onnx`` voice and its
``.onnx.json``, ``whisper-base/`` with a CTranslate2 Whisper). Unset or missing fails the test with the fix,
never a silent skip, so CI cannot go green without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MODELS_DIR_VARIABLE = "VOICESTACK_MODELS_DIR"


def real_model(name: str) -> Path:
    """The directory of the real model ``name``; fails the calling test when it is not there."""
    root = os.environ.get(MODELS_DIR_VARIABLE)
    if not root:
        pytest.fail(
            f"{MODELS_DIR_VARIABLE} is not set: point it at the real model weights (it must hold {name}/)",
            pytrace=False,
        )
    path = Path(root) / name
    if not path.is_dir() or not any(path.iterdir()):
        pytest.fail(f"real model {name!r} not found at {path} (set {MODELS_DIR_VARIABLE})", pytrace=False)
    return path
