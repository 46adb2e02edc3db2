"""The chart with the real helm binary against the real API server: lint, install, upgrade, test, uninstall.

No container runs: kwok reports scheduled pods Running (see controlplane.py), but the ``helm test`` pod never
succeeds, so the tests assert what the API server stores (the objects as the chart defines them, the
Deployment controller's work).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.conftest import install_voicestack_crd
from tests.cluster.controlplane import ControlPlane
from tests.cluster.test_operator import eventually

ROOT = Path(__file__).resolve().parents[2]
CHART = str(ROOT / "charts" / "voice-stack")
CRD_NAME = "voicestacks.voicestack.io"
TEST_POD = "templates/tests/test-router-health.yaml"


@pytest.mark.parametrize(
    "values", [[], ["-f", str(ROOT / "tests" / "deploy" / "values-all.yaml")]], ids=["defaults", "values-all"]
)
def test_helm_lint_strict_is_clean(control_plane: ControlPlane, values: list[str]) -> None:
    done = control_plane.helm("lint", "--strict", CHART, *values)
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout, done.stdout
    assert "[WARNING]" not in done.stdout and "[ERROR]" not in done.stdout, done.stdout


def operator_replica_sets(plane: ControlPlane, namespace: str, deployment: str) -> list[dict[str, Any]]:
    found = json.loads(plane.kubectl("get", "replicasets", "-n", namespace, "-o", "json").stdout)["items"]
    return [
        rs
        for rs in found
        if any(ref["name"] == deployment for ref in rs["metadata"].get("ownerReferences") or [])
    ]


def test_install_upgrade_test_uninstall(crds: ControlPlane) -> None:
    plane, release, namespace = crds, "vs", f"helm-{uuid.uuid4().hex[:6]}"
    # The chart's CRD policy, from a cluster without the CRD: helm installs crds/ then, and never deletes it.
    plane.kubectl("delete", "crd", CRD_NAME, "--wait=true")
    spec = {"asr": {"model": "tiny", "device": "cpu", "computeType": "int8"}, "tts": {"enabled": False}}
    plane.helm(
        "install",
        release,
        CHART,
        "-n",
        namespace,
        "--create-namespace",
        "--set",
        "voiceStack.create=true",
        "--set-json",
        f"voiceStack.spec={json.dumps(spec)}",
    )
    try:
        stored_crd = plane.get("crd", CRD_NAME)
        assert stored_crd is not None, "helm installed the chart's CRD"
        shipped = yaml.safe_load(
            (ROOT / "charts" / "voice-stack" / "crds" / "voicestack.io_voicestacks.yaml").read_text()
        )
        assert stored_crd["spec"]["versions"] == shipped["spec"]["versions"]
        stack = plane.get("voicestack", "voice-stack", namespace)
        assert stack is not None and stack["spec"]["asr"]["model"] == "tiny"
        assert stack["spec"]["deploymentMode"] == "Standard", "stored with the CRD's defaults"
        deployment_name = f"{release}-voice-stack-operator"
        deployment = plane.get("deployment", deployment_name, namespace)
        assert deployment is not None, plane.kubectl("get", "deploy", "-n", namespace).stdout
        for kind in ("clusterrole", "clusterrolebinding"):
            assert plane.get(kind, deployment_name) is not None, kind
        eventually(lambda: len(operator_replica_sets(plane, namespace, deployment_name)) == 1, "a ReplicaSet")

        # helm upgrade: a values change rolls through (a new ReplicaSet with the new pod template) and the
        # chart-made VoiceStack gets the new spec.
        plane.helm(
            "upgrade",
            release,
            CHART,
            "-n",
            namespace,
            "--reuse-values",
            "--set",
            "operator.logLevel=debug",
            "--set",
            "voiceStack.spec.router.replicas=2",
        )
        upgraded = plane.get("deployment", deployment_name, namespace)
        assert upgraded is not None
        assert upgraded["metadata"]["generation"] == deployment["metadata"]["generation"] + 1
        (container,) = upgraded["spec"]["template"]["spec"]["containers"]
        assert "--debug" in container["args"]
        sets = eventually(
            lambda: (
                (found := operator_replica_sets(plane, namespace, deployment_name))
                and len(found) == 2
                and found
            ),
            "the rollout's second ReplicaSet",
        )
        newest = max(
            sets, key=lambda rs: int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
        )
        assert "--debug" in newest["spec"]["template"]["spec"]["containers"][0]["args"]
        stack = plane.get("voicestack", "voice-stack", namespace)
        assert stack is not None and stack["spec"]["router"]["replicas"] == 2
        assert stack["spec"]["asr"]["model"] == "tiny", "--reuse-values kept the rest"
        history = plane.helm("history", release, "-n", namespace, "-o", "json").stdout
        assert [entry["revision"] for entry in json.loads(history)] == [1, 2]

        # helm test: no container runs the check (kwok only reports the pod Running), so helm times out; the
        # pod is there as defined.
        tested = plane.helm("test", release, "-n", namespace, "--timeout", "10s", check=False)
        assert tested.returncode != 0, "no container runs: the test pod cannot succeed here"
        wanted = yaml.safe_load(
            plane.helm("template", release, CHART, "-n", namespace, "--show-only", TEST_POD).stdout
        )
        pod = plane.get("pod", wanted["metadata"]["name"], namespace)
        assert pod is not None, tested.stderr
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        (want,), (got,) = wanted["spec"]["containers"], pod["spec"]["containers"]
        for key in ("image", "command", "resources", "securityContext"):
            assert got[key] == want[key], key
        assert pod["spec"]["restartPolicy"] == "Never"
        assert pod["spec"]["securityContext"] == wanted["spec"]["securityContext"]
        assert got["command"][-2] == f"http://voice-stack-router.{namespace}.svc.cluster.local/health"
    finally:
        uninstalled = plane.helm(
            "uninstall", release, "-n", namespace, "--wait", "--timeout", "60s", check=False
        )
    assert uninstalled.returncode == 0, uninstalled.stderr

    # helm uninstall: the release's objects go (the chart-made VoiceStack with them); the CRD stays.
    assert plane.get("deployment", deployment_name, namespace) is None
    assert plane.get("clusterrole", deployment_name) is None
    eventually(lambda: plane.get("voicestack", "voice-stack", namespace) is None, "the VoiceStack deleted")
    assert plane.get("crd", CRD_NAME) is not None, "the chart documents that helm never deletes its CRD"
    install_voicestack_crd(plane)  # as the other tests expect it (unchanged content)
    plane.kubectl("delete", "namespace", namespace, "--wait=false")
