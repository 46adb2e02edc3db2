"""Fixtures shared by every suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.assets import asset, assets_root


@pytest.fixture(scope="session")
def assets() -> Path:
    root = assets_root()
    if not root.is_dir():
        pytest.fail(f"test assets not found at {root}; set VOICESTACK_TEST_ASSETS", pytrace=False)
    return root


@pytest.fixture(scope="session")
def jfk_wav() -> Path:
    return asset("audio/en/jfk.wav")
