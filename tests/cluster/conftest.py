"""Fixtures: one real control plane for the session (tests/cluster/controlplane.py), the CRDs, namespaces.

The binaries come from scripts/build-control-plane.sh (scripts/test.sh runs it first). Without them the tests
skip on a developer machine and fail in CI (``CI`` set): CI must never go green without a real API server.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.controlplane import ControlPlane, bin_dir, missing_binaries, running_control_plane
from tests.support.assets import k8s_root

ROOT = Path(__file__).resolve().parents[2]
KSERVE_CRDS = ("inferenceservices", "servingruntimes", "clusterservingruntimes")
START_TIMES: list[float] = []


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    binaries = bin_dir()
    missing = missing_binaries(binaries)
    if missing:
        message = f"control-plane binaries {missing} not in {binaries}: run scripts/build-control-plane.sh"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with running_control_plane(binaries, tmp_path_factory.mktemp("control-plane")) as plane:
        START_TIMES.append(plane.start_seconds)
        yield plane


def wait_established(plane: ControlPlane, *names: str, timeout: float = 240.0) -> None:
    """Until each CRD is served (``kubectl wait`` errors on a CRD that has no conditions yet)."""
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            found = plane.get("crd", name) or {}
            conditions = (found.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                break
            assert time.monotonic() < deadline, f"CRD {name} not established after {timeout:.0f} s"
            time.sleep(0.2)


def install_voicestack_crd(plane: ControlPlane) -> None:
    plane.kubectl("apply", "--server-side", "-f", str(ROOT / "crds" / "voicestack.io_voicestacks.yaml"))
    wait_established(plane, "voicestacks.voicestack.io")


@pytest.fixture(scope="session")
def crds(control_plane: ControlPlane) -> ControlPlane:
    """The VoiceStack CRD and KServe's real CRDs, applied with kubectl (server-side: the InferenceService
    CRD is 1.9 MB, over the 256 KiB limit of client-side apply's last-applied annotation)."""
    install_voicestack_crd(control_plane)
    for plural in KSERVE_CRDS:
        path = k8s_root() / "kserve-crds" / f"serving.kserve.io_{plural}.yaml"
        control_plane.kubectl("apply", "--server-side", "-f", str(path))
    wait_established(control_plane, *(f"{plural}.serving.kserve.io" for plural in KSERVE_CRDS))
    return control_plane


@pytest.fixture()
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A fresh namespace, deleted (without waiting) afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for seconds in START_TIMES:
        terminalreporter.write_line(
            f"tests/cluster: control plane (etcd, apiserver, controller manager) started in {seconds:.1f} s"
        )
