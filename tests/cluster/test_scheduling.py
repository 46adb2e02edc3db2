"""From a VoiceStack to pods on nodes: the real operator, KServe's own controller (Standard mode), the
controller manager, the scheduler, and kwok's fake node pools (see controlplane.py).

A GPU node tainted ``nvidia.com/gpu=present:NoSchedule`` with one ``nvidia.com/gpu`` and an untainted CPU
node. The operator renders InferenceServices and the router; KServe turns each InferenceService into a
Deployment and a Service; the controller manager makes ReplicaSets and pods; the scheduler binds them; kwok
reports them Running and Ready (no container runs). A GPU predictor lands on the GPU pool only when its spec
both requests ``nvidia.com/gpu`` and tolerates the taint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.conftest import START_TIMES, eventually
from tests.cluster.controlplane import KSERVE, NODE_POOLS, ControlPlane
from tests.operator.specs import stack
from voicestack_operator.manifests.isvc import predictor_url

GPU_NODE, CPU_NODE = (NODE_POOLS[pool]["metadata"]["name"] for pool in ("gpu", "cpu"))
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
ISVC_LABEL = "serving.kserve.io/inferenceservice"
ROUTER_PODS = "app.kubernetes.io/instance=demo,app.kubernetes.io/component=router"
Placement = tuple[str, str, bool]  # node, phase, Ready


@pytest.fixture(scope="module")
def kserve(crds: ControlPlane) -> Iterator[ControlPlane]:
    """KServe's controller for this module only: elsewhere the tests play it (patching status). It runs under
    KServe's own ClusterRole; afterwards the audit log must show it worked (wrote) and was never denied."""
    started, since = time.monotonic(), crds.mark()
    user = crds.start_kserve()
    START_TIMES.append(("KServe controller (CRDs, ConfigMap, RBAC, ready)", time.monotonic() - started))
    try:
        yield crds
    finally:
        crds.stop_process(KSERVE)
    assert crds.writes(user, since), f"no writes by {user}: not the controller's identity?"
    denied = [record for record in crds.audit(since) if record.user == user and record.denied]
    assert not denied, f"KServe's ClusterRole does not cover: {denied}"


def pods(plane: ControlPlane, namespace: str, selector: str) -> list[dict[str, Any]]:
    found = plane.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json").stdout
    items: list[dict[str, Any]] = json.loads(found)["items"]
    return items


def placement(pod: dict[str, Any]) -> Placement:
    status = pod.get("status") or {}
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])
    return pod["spec"].get("nodeName", ""), status.get("phase", ""), ready


def running(plane: ControlPlane, namespace: str, selector: str, count: int) -> list[Placement]:
    """Until ``count`` selected pods are bound, Running and Ready (kwok); their placements."""

    def check() -> list[Placement] | None:
        found = [placement(pod) for pod in pods(plane, namespace, selector)]
        done = len(found) == count and all(phase == "Running" and ready for _, phase, ready in found)
        return found if done else None

    placed: list[Placement] = eventually(check, f"{count} running pods ({selector})", timeout=120)
    return placed


def gpu_spec(*, tolerate: bool) -> dict[str, Any]:
    asr: dict[str, Any] = {"model": "tiny", "device": "cuda", "resources": {"gpu": 1}}
    if tolerate:
        asr["tolerations"] = [GPU_TOLERATION]
    return {"asr": asr, "tts": {"engine": "piper", "device": "cpu"}, "router": {"replicas": 2}}


def condition(plane: ControlPlane, namespace: str, name: str, kind: str) -> dict[str, Any] | None:
    found = plane.get("voicestack", name, namespace)
    conditions = ((found or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), None)


def test_the_node_pools_are_ready_with_their_capacity(control_plane: ControlPlane) -> None:
    gpu = control_plane.get("node", GPU_NODE)
    assert gpu is not None
    assert gpu["status"]["allocatable"]["nvidia.com/gpu"] == "1"
    assert [(t["key"], t["effect"]) for t in gpu["spec"]["taints"]] == [("nvidia.com/gpu", "NoSchedule")]
    shown = control_plane.kubectl("get", "nodes").stdout
    for node in (GPU_NODE, CPU_NODE):
        assert any(line.split()[:2] == [node, "Ready"] for line in shown.splitlines()), shown


def test_kserve_deploys_the_predictors_on_the_right_pools_and_the_stack_gets_ready(
    kserve: ControlPlane, namespace: str, operator: Path
) -> None:
    plane = kserve
    plane.apply(stack("demo", gpu_spec(tolerate=True), namespace))

    # The router's Deployment (operator) → ReplicaSet → pods (controller manager) → CPU node (scheduler).
    routers = running(plane, namespace, ROUTER_PODS, 2)
    assert {node for node, _, _ in routers} == {CPU_NODE}

    # KServe (Standard mode) makes a Deployment and a Service per InferenceService; the Service is the one
    # the operator points the router at.
    for engine in ("asr", "tts"):
        isvc = f"demo-{engine}"
        deployment = eventually(
            lambda isvc=isvc: plane.get("deployment", f"{isvc}-predictor", namespace), isvc
        )
        assert deployment["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["name"] == "kserve-container" and container["command"] == ["voicestack", engine]
        assert plane.get("service", f"{isvc}-predictor", namespace) is not None
        address = eventually(
            lambda isvc=isvc: ((plane.get("inferenceservice", isvc, namespace) or {}).get("status") or {})
            .get("address", {}).get("url"),
            f"{isvc}'s address",
        )  # fmt: skip
        assert address == predictor_url("demo", namespace, engine)

    # The ASR predictor asks for the GPU and tolerates its taint: GPU node; the TTS predictor: CPU node.
    ((asr_node, _, _),) = running(plane, namespace, f"{ISVC_LABEL}=demo-asr", 1)
    ((tts_node, _, _),) = running(plane, namespace, f"{ISVC_LABEL}=demo-tts", 1)
    assert (asr_node, tts_node) == (GPU_NODE, CPU_NODE)

    # KServe reports both ready, the router Deployment is Available: the operator turns the stack Ready.
    ready = eventually(
        lambda: (c := condition(plane, namespace, "demo", "Ready")) and c["status"] == "True" and c,
        "Ready=True",
        timeout=120,
    )
    assert ready["reason"] == "Ready"


def test_a_gpu_request_without_the_toleration_stays_pending(
    kserve: ControlPlane, namespace: str, operator: Path
) -> None:
    """Only the tainted pool has GPUs: without the toleration no node fits, the scheduler says why, and the
    stack does not report the ASR engine ready."""
    plane = kserve
    plane.apply(stack("demo", gpu_spec(tolerate=False), namespace))

    def unschedulable() -> dict[str, Any] | None:
        found = pods(plane, namespace, f"{ISVC_LABEL}=demo-asr")
        conditions = [c for pod in found for c in (pod.get("status") or {}).get("conditions") or []]
        return next((c for c in conditions if c["type"] == "PodScheduled" and c["status"] == "False"), None)

    scheduled = eventually(unschedulable, "PodScheduled=False", timeout=120)
    assert scheduled["reason"] == "Unschedulable"
    assert "untolerated taint" in scheduled["message"] and "nvidia.com/gpu" in scheduled["message"]
    ((node, phase, _),) = [placement(pod) for pod in pods(plane, namespace, f"{ISVC_LABEL}=demo-asr")]
    assert (node, phase) == ("", "Pending")
    running(plane, namespace, f"{ISVC_LABEL}=demo-tts", 1)  # the CPU predictor is not held up
    asr = eventually(lambda: condition(plane, namespace, "demo", "AsrReady"), "AsrReady")
    assert asr["status"] != "True"
