"""Where the shared test data lives: one setting, ``VOICESTACK_TEST_ASSETS`` (default ``../shared/assets``).

A missing asset fails the test (never a silent skip), so CI cannot go green without the data.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def assets_root() -> Path:
    configured = os.environ.get("VOICESTACK_TEST_ASSETS")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "assets"


def asset(relative: str) -> Path:
    """Path of a shared asset; fails the calling test if it is not there."""
    path = assets_root() / relative
    if not path.exists():
        pytest.fail(
            f"test asset {relative!r} not found under {assets_root()} "
            "(set VOICESTACK_TEST_ASSETS to the shared assets folder)",
            pytrace=False,
        )
    return path


def k8s_root() -> Path:
    """KServe's CRDs and other Kubernetes schemas: ``VOICESTACK_TEST_K8S``, default ``k8s`` beside the assets
    (``../shared/k8s``)."""
    configured = os.environ.get("VOICESTACK_TEST_K8S")
    path = Path(configured) if configured else assets_root().parent / "k8s"
    if not path.exists():
        pytest.fail(f"Kubernetes schemas not found at {path}; set VOICESTACK_TEST_K8S", pytrace=False)
    return path
