"""Fixtures: an emulated cluster and the real operator (kopf.testing.KopfRunner) running against it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kopf.testing import KopfRunner

from tests.operator.cluster import Cluster, emulated_cluster

# Read when the handlers module is imported (the timer's interval): before any test imports the operator.
os.environ["VOICESTACK_RESYNC_SECONDS"] = "1"
os.environ["VOICESTACK_RETRY_SECONDS"] = "1"


@pytest.fixture()
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    with emulated_cluster(tmp_path) as emulated:
        monkeypatch.setenv("KUBECONFIG", str(emulated.kubeconfig))
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        yield emulated


@pytest.fixture()
def operator() -> Callable[..., contextlib.AbstractContextManager[KopfRunner]]:
    """``with operator(): ...`` runs the operator (again) against the current KUBECONFIG."""

    @contextlib.contextmanager
    def run(*extra: str) -> Iterator[KopfRunner]:
        args = ["run", "-m", "voicestack_operator", "--standalone", "--all-namespaces", *extra]
        with KopfRunner(args, timeout=30) as runner:
            yield runner
        assert runner.exception is None, runner.output
        assert runner.exit_code == 0, runner.output

    return run
