"""Real model weights for the tests where words matter, from the model catalogue's cache.

``real_model(name)`` pulls and verifies the catalogue model ``name`` into the model cache
(``VOICESTACK_MODELS_DIR``, default ``~/.cache/voicestack/models``) on first use; reruns reuse it. A model
that cannot be pulled fails the calling test with every source's reason, never a silent skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from voicestack.models import ModelCache, ModelPullError


def real_model(name: str) -> Path:
    """The directory of the real model ``name``; fails the calling test when it cannot be had."""
    try:
        return ModelCache().pull(name).path
    except ModelPullError as exc:
        pytest.fail(str(exc), pytrace=False)
