"""Fixtures: an emulated cluster and the real operator (kopf.testing.KopfRunner) running against it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import kopf
import pytest
from kopf.testing import KopfRunner

from tests.operator.cluster import Cluster, emulated_cluster
from tests.operator.rbac import RULES_FILE, uncovered
from voicestack_operator.handlers import register
from voicestack_operator.settings import OperatorSettings

# Fast timing for tests: a resync pass and the first retry after 1 s.
TEST_SETTINGS = OperatorSettings(resync_seconds=1, retry_seconds=1)


@pytest.fixture()
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    """An emulated cluster; afterwards every API call the operator made must be allowed by its RBAC rules."""
    with emulated_cluster(tmp_path) as emulated:
        monkeypatch.setenv("KUBECONFIG", str(emulated.kubeconfig))
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        yield emulated
        missing = uncovered(emulated.emulator.calls)
        assert not missing, f"API calls not allowed by {RULES_FILE.name}: {missing}"


@pytest.fixture()
def operator() -> Callable[..., contextlib.AbstractContextManager[KopfRunner]]:
    """``with operator(): ...`` runs the operator (again) against the current KUBECONFIG, on a registry of
    its own (nothing is registered globally)."""

    @contextlib.contextmanager
    def run(*extra: str) -> Iterator[KopfRunner]:
        registry = register(kopf.OperatorRegistry(), TEST_SETTINGS)
        args = ["run", "--standalone", "--all-namespaces", *extra]
        with KopfRunner(args, timeout=30, registry=registry) as runner:
            yield runner
        assert runner.exception is None, runner.output
        assert runner.exit_code == 0, runner.output

    return run
