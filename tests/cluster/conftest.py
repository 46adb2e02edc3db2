"""Fixtures: one real control plane for the session (tests/cluster/controlplane.py), the CRDs, namespaces.

The binaries come from scripts/build-control-plane.sh (scripts/test.sh runs it first). Without them the tests
skip on a developer machine and fail in CI (``CI`` set): CI must never go green without a real API server.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.controlplane import (
    ControlPlane,
    bin_dir,
    decode_token_subject,
    missing_binaries,
    running_control_plane,
)
from tests.support.assets import k8s_root

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "voice-stack"
RELEASE, SYSTEM = "voice-stack", "voicestack-system"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
KSERVE_CRDS = ("inferenceservices", "servingruntimes", "clusterservingruntimes")
OPERATOR_COMMAND = [
    *(sys.executable, "-m", "voicestack.cli", "operator"),
    *("--all-namespaces", "--liveness", "", "-v"),
]
START_TIMES: list[tuple[str, float]] = []  # (what, seconds), printed at the end


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
        START_TIMES.append(
            ("control plane (etcd, apiserver, controllers, scheduler, kwok nodes)", plane.start_seconds)
        )
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
    install_kserve_crds(control_plane, *KSERVE_CRDS)
    return control_plane


def install_kserve_crds(plane: ControlPlane, *plurals: str) -> None:
    """KServe's CRDs of the test data (``inferenceservices``, ...), applied and waited for."""
    for plural in plurals:
        path = k8s_root() / "kserve-crds" / f"serving.kserve.io_{plural}.yaml"
        plane.kubectl("apply", "--server-side", "-f", str(path))
    wait_established(plane, *(f"{plural}.serving.kserve.io" for plural in plurals))


@pytest.fixture()
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A fresh namespace, deleted (without waiting) afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false")


def eventually(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def rendered_rbac(plane: ControlPlane) -> list[dict[str, Any]]:
    """The chart's operator ServiceAccount, ClusterRole and ClusterRoleBinding (``helm template``)."""
    out = plane.helm("template", RELEASE, str(CHART), "-n", SYSTEM).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc and doc["kind"] in RBAC_KINDS]


@pytest.fixture(scope="session")
def operator_kubeconfig(crds: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kubeconfig with a token of the chart's operator ServiceAccount (``kubectl create token``)."""
    objects = rendered_rbac(crds)
    assert {obj["kind"] for obj in objects} == RBAC_KINDS
    crds.kubectl("create", "namespace", SYSTEM)
    crds.apply(*objects)
    (account,) = [obj["metadata"]["name"] for obj in objects if obj["kind"] == "ServiceAccount"]
    path = crds.token_kubeconfig(SYSTEM, account, tmp_path_factory.mktemp("operator") / "kubeconfig")
    token = yaml.safe_load(path.read_text())["users"][0]["user"]["token"]
    assert decode_token_subject(token) == f"system:serviceaccount:{SYSTEM}:{account}"
    return path


OperatorRun = Callable[..., contextlib.AbstractContextManager[Path]]


@pytest.fixture(scope="session")
def operator_user(operator_kubeconfig: Path) -> str:
    """The operator's user name as the API server (and its audit log) knows it."""
    token = yaml.safe_load(operator_kubeconfig.read_text())["users"][0]["user"]["token"]
    return decode_token_subject(token)


@pytest.fixture()
def run_operator(crds: ControlPlane, operator_kubeconfig: Path, tmp_path: Path) -> OperatorRun:
    """``with run_operator(**env) as log:`` runs ``voicestack operator`` (all namespaces, as the chart runs
    it) in a subprocess, with extra environment ``env``, until the block ends; again on each call. After each
    run its log must show no RBAC denial."""
    runs = itertools.count()

    @contextlib.contextmanager
    def run(**extra_env: str) -> Iterator[Path]:
        log = tmp_path / f"operator-{next(runs)}.log"
        env = {**crds.env(operator_kubeconfig), "PYTHONUNBUFFERED": "1"}
        env |= {"VOICESTACK_RESYNC_SECONDS": "1", "VOICESTACK_RETRY_SECONDS": "1"}  # OperatorSettings
        env |= extra_env
        with log.open("wb") as out:
            process = subprocess.Popen(
                OPERATOR_COMMAND, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )
        try:
            yield log
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        text = log.read_text(errors="replace")
        forbidden = [
            line
            for line in text.splitlines()
            if "orbidden" in line
            and "because it is being terminated" not in line  # a namespace of an earlier test
        ]
        assert not forbidden, "the operator hit RBAC denials:\n" + "\n".join(x[:300] for x in forbidden[:10])

    return run


@pytest.fixture()
def operator(run_operator: OperatorRun) -> Iterator[Path]:
    """The operator running for the whole test; yields its log file."""
    with run_operator() as log:
        yield log


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for what, seconds in START_TIMES:
        terminalreporter.write_line(f"tests/cluster: {what} started in {seconds:.1f} s")
