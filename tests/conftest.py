"""Fixtures shared by every suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.assets import asset, assets_root
from voicestack.models import LOCAL_DEFAULTS, ModelCache, ModelPullError


@pytest.fixture(scope="session")
def assets() -> Path:
    root = assets_root()
    if not root.is_dir():
        pytest.fail(f"test assets not found at {root}; set VOICESTACK_TEST_ASSETS", pytrace=False)
    return root


@pytest.fixture(scope="session")
def jfk_wav() -> Path:
    return asset("audio/en/jfk.wav")


@pytest.fixture(scope="session")
def real_models() -> dict[str, Path]:
    """The real-weight models of the catalogue's local defaults (Whisper base, the Piper voice), pulled and
    verified into the model cache (``VOICESTACK_MODELS_DIR``) on first use; reruns reuse it."""
    cache = ModelCache()
    try:
        return {name: cache.pull(name).path for name in LOCAL_DEFAULTS.values()}
    except ModelPullError as exc:
        pytest.fail(str(exc), pytrace=False)
