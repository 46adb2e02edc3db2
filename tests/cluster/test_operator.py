"""The real operator (``voicestack operator``) against the real API server, as the chart's ServiceAccount.

The operator runs in a subprocess with a kubeconfig holding only a token of the ServiceAccount the chart
renders, bound to the chart's ClusterRole: every call it makes goes through the API server's RBAC authoriser,
so a rule missing from ``files/operator-rbac-rules.yaml`` fails here as it would in a cluster. KServe's
controller does not run in this module (test_scheduling.py runs it): the test plays it (an InferenceService's
``Ready``), and marks the router's pods ready itself as well as kwok does; the real Deployment/ReplicaSet
controllers, scheduler and garbage collector do the rest.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.conftest import eventually
from tests.cluster.controlplane import ControlPlane
from tests.operator.cluster import wav_base64
from tests.operator.specs import stack


def test_the_token_is_least_privilege(crds: ControlPlane, operator_kubeconfig: Path) -> None:
    """The operator's identity may read VoiceStacks but not Secrets or Pods (the chart's rules, not admin)."""

    def can(verb: str, resource: str) -> str:
        done = crds.kubectl(
            "auth", "can-i", verb, resource, "-A", kubeconfig=operator_kubeconfig, check=False
        )
        return done.stdout.strip()

    assert can("watch", "voicestacks.voicestack.io") == "yes"
    assert can("create", "inferenceservices.serving.kserve.io") == "yes"
    assert can("get", "secrets") == "no"
    assert can("list", "pods") == "no"
    assert can("update", "deployments.apps") == "no"
    denied = crds.kubectl("get", "secrets", "-n", "default", kubeconfig=operator_kubeconfig, check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()


def condition(plane: ControlPlane, namespace: str, name: str, kind: str) -> dict[str, Any] | None:
    found = plane.get("voicestack", name, namespace)
    conditions = ((found or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), None)


def children(name: str) -> dict[str, str]:
    """kind → name of what a VoiceStack with both engines, an inline voice and an ingress owns."""
    return {
        f"inferenceservice/{name}-asr": "InferenceService",
        f"inferenceservice/{name}-tts": "InferenceService",
        f"configmap/{name}-router": "ConfigMap",
        f"configmap/{name}-voice-anna": "ConfigMap",
        f"deployment/{name}-router": "Deployment",
        f"service/{name}-router": "Service",
        f"ingress/{name}-router": "Ingress",
        f"serviceaccount/{name}-router": "ServiceAccount",
        f"role/{name}-router": "Role",
        f"rolebinding/{name}-router": "RoleBinding",
    }


def spec() -> dict[str, Any]:
    return {
        "asr": {"model": "tiny", "device": "cpu", "computeType": "int8"},
        "tts": {
            "device": "cpu",
            "acceptModelLicense": True,
            "voices": [{"name": "anna", "data": wav_base64()}],
        },
        "router": {"ingress": {"enabled": True, "host": "voice.example.com"}},
    }


def ready_pods(plane: ControlPlane, namespace: str, selector: str) -> int:
    """Play the kubelet: mark the selected pods Running and Ready (status subresource); returns how many."""
    pods = json.loads(plane.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json").stdout)[
        "items"
    ]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for pod in pods:
        ready = [
            {"type": kind, "status": "True", "lastTransitionTime": now}
            for kind in ("Ready", "ContainersReady")
        ]
        status = {"status": {"phase": "Running", "conditions": ready, "startTime": now}}
        plane.kubectl("patch", "pod", pod["metadata"]["name"], "-n", namespace, "--subresource=status",
                      "--type=merge", "-p", json.dumps(status))  # fmt: skip
    return len(pods)


def isvc_ready(plane: ControlPlane, namespace: str, name: str) -> None:
    """Play KServe's controller: the InferenceService reports Ready with a URL."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status = {
        "status": {
            "url": f"http://{name}.{namespace}.example.com",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
        }
    }
    plane.kubectl("patch", "inferenceservice", name, "-n", namespace, "--subresource=status", "--type=merge",
                  "-p", json.dumps(status))  # fmt: skip


def test_reconcile_converge_repair_and_garbage_collect(
    crds: ControlPlane, namespace: str, operator: Path
) -> None:
    crds.apply(stack("demo", spec(), namespace))
    owner = crds.get("voicestack", "demo", namespace)
    assert owner is not None
    uid = owner["metadata"]["uid"]

    # Every child exists, owned (controller) by the VoiceStack.
    for ref in children("demo"):
        made = eventually(lambda ref=ref: crds.get(*ref.split("/"), namespace), ref)
        owners = made["metadata"].get("ownerReferences") or []
        assert [(o["uid"], o.get("controller")) for o in owners] == [(uid, True)], ref
    isvc = crds.get("inferenceservice", "demo-asr", namespace)
    assert isvc is not None
    (container,) = isvc["spec"]["predictor"]["containers"]
    assert container["name"] == "kserve-container"
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"

    # Conditions: nothing is ready yet (no KServe controller, no kubelet).
    first = eventually(lambda: condition(crds, namespace, "demo", "Ready"), "a Ready condition")
    assert first["status"] != "True"
    assert (
        eventually(lambda: condition(crds, namespace, "demo", "AsrReady"), "AsrReady")["reason"] == "Pending"
    )

    # Converge: KServe reports both engines ready; the router's pods (made by the real ReplicaSet controller)
    # become ready; the Deployment controller sets Available; the operator turns Ready True.
    for engine in ("asr", "tts"):
        isvc_ready(crds, namespace, f"demo-{engine}")
    eventually(lambda: ready_pods(crds, namespace, "app.kubernetes.io/instance=demo"), "router pods")
    ready = eventually(
        lambda: (c := condition(crds, namespace, "demo", "Ready")) and c["status"] == "True" and c,
        "Ready=True",
    )
    assert ready["observedGeneration"] == owner["metadata"]["generation"]
    stored = crds.get("voicestack", "demo", namespace)
    assert stored is not None
    assert stored["status"]["routerUrl"] == f"http://demo-router.{namespace}.svc.cluster.local"
    assert stored["status"]["asr"]["model"] == "tiny"
    columns = crds.kubectl("get", "vs", "demo", "-n", namespace).stdout.splitlines()[1].split()
    assert columns[1:4] == ["tiny", "tts_models/multilingual/multi-dataset/xtts_v2", "True"]

    # Drift is repaired: a hand-scaled Deployment, a deleted Service and an edited ConfigMap come back.
    crds.kubectl("scale", "deployment", "demo-router", "-n", namespace, "--replicas=5")
    crds.kubectl("delete", "service", "demo-router", "-n", namespace)
    crds.kubectl("patch", "configmap", "demo-router", "-n", namespace, "--type=merge",
                 "-p", json.dumps({"data": {"router.yaml": "tampered: true\n"}}))  # fmt: skip
    eventually(
        lambda: (d := crds.get("deployment", "demo-router", namespace)) and d["spec"]["replicas"] == 1,
        "replicas back to 1",
    )
    eventually(lambda: crds.get("service", "demo-router", namespace), "the Service recreated")
    eventually(
        lambda: (
            "tampered"
            not in (crds.get("configmap", "demo-router", namespace) or {})
            .get("data", {})
            .get("router.yaml", "tampered")
        ),
        "router.yaml restored",
    )

    # A spec change rolls through: disabling the ingress deletes it.
    crds.kubectl("patch", "vs", "demo", "-n", namespace, "--type=merge",
                 "-p", json.dumps({"spec": {"router": {"ingress": {"enabled": False}}}}))  # fmt: skip
    eventually(lambda: crds.get("ingress", "demo-router", namespace) is None, "the Ingress deleted")

    # Deleting the VoiceStack: the garbage collector (controller manager) deletes every child.
    crds.kubectl("delete", "vs", "demo", "-n", namespace, "--timeout=60s")
    for ref in children("demo"):
        eventually(lambda ref=ref: crds.get(*ref.split("/"), namespace) is None, f"{ref} garbage-collected")


def router_env(plane: ControlPlane, namespace: str) -> dict[str, str]:
    found = plane.get("deployment", "demo-router", namespace) or {}
    (container,) = found.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}]
    return {e["name"]: e.get("value", "") for e in container.get("env") or []}


def test_server_side_apply_owns_only_the_operators_fields(
    crds: ControlPlane, namespace: str, operator: Path
) -> None:
    """The API server's field ownership: a hand-added field survives, an owned field is restored, and a
    field the operator stops setting is removed (no client-side merge in the operator)."""
    extra = [{"name": "EXTRA", "value": "1"}, {"name": "GONE", "value": "soon"}]
    crds.apply(stack("demo", {**spec(), "router": {"env": extra}}, namespace))
    eventually(lambda: router_env(crds, namespace).get("GONE") == "soon", "the router's extra env")
    shown = crds.kubectl("get", "deployment", "demo-router", "-n", namespace, "-o", "json",
                         "--show-managed-fields")  # fmt: skip
    managers = {(m["manager"], m["operation"]) for m in json.loads(shown.stdout)["metadata"]["managedFields"]}
    assert ("voicestack-operator", "Apply") in managers, managers

    # A user's field (an annotation) and an edit of the operator's field (EXTRA) by another manager.
    crds.kubectl("annotate", "deployment", "demo-router", "-n", namespace, "team=speech")
    crds.kubectl("set", "env", "deployment/demo-router", "-n", namespace, "EXTRA=2")
    eventually(lambda: router_env(crds, namespace).get("EXTRA") == "1", "EXTRA restored to 1")

    # The operator stops setting GONE: the server removes it (its only owner gave it up).
    crds.kubectl("patch", "vs", "demo", "-n", namespace, "--type=merge",
                 "-p", json.dumps({"spec": {"router": {"env": extra[:1]}}}))  # fmt: skip
    env = eventually(lambda: (e := router_env(crds, namespace)) and "GONE" not in e and e, "GONE removed")
    assert env["EXTRA"] == "1"
    time.sleep(2)  # resync passes (every second in tests) leave the user's annotation alone
    kept = crds.get("deployment", "demo-router", namespace)
    assert kept is not None and kept["metadata"]["annotations"].get("team") == "speech"
    assert router_env(crds, namespace) == env


def test_children_of_the_pre_ssa_operator_are_handed_over(
    crds: ControlPlane, namespace: str, request: pytest.FixtureRequest
) -> None:
    """An Ingress as the operator wrote it before server-side apply (merge patches from an Update manager, a
    ``voicestack.io/last-applied`` annotation): once the operator runs, the annotation and the old manager's
    ownership are gone, so an annotation the operator then stops setting is removed."""
    wanted = {**spec(), "router": {"ingress": {"enabled": True, "host": "voice.example.com",
                                               "annotations": {"team": "speech"}}}}  # fmt: skip
    crds.apply(stack("demo", wanted, namespace))
    owner = crds.get("voicestack", "demo", namespace)
    assert owner is not None
    legacy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "demo-router",
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "voicestack-operator",
                       "app.kubernetes.io/instance": "demo"},
            "annotations": {"voicestack.io/last-applied": "{}", "team": "speech"},
            "ownerReferences": [{"apiVersion": "voicestack.io/v1alpha1", "kind": "VoiceStack", "name": "demo",
                                 "uid": owner["metadata"]["uid"], "controller": True,
                                 "blockOwnerDeletion": True}],
        },
        "spec": {"rules": [{"host": "voice.example.com"}]},
    }  # fmt: skip
    # kubernetes_asyncio's user agent, the old operator's field manager
    crds.kubectl("create", "--field-manager=OpenAPI-Generator", "-f", "-", stdin=json.dumps(legacy))
    request.getfixturevalue("operator")  # now the operator starts

    def handed_over() -> list[tuple[str, str]] | None:
        shown = crds.kubectl("get", "ingress", "demo-router", "-n", namespace, "-o", "json",
                             "--show-managed-fields")  # fmt: skip
        meta = json.loads(shown.stdout)["metadata"]
        managers = [(m["manager"], m["operation"]) for m in meta.get("managedFields") or []]
        if "voicestack.io/last-applied" in meta.get("annotations", {}):
            return None
        return managers if ("voicestack-operator", "Apply") in managers else None

    managers = eventually(handed_over, "the legacy Ingress handed over")
    assert ("OpenAPI-Generator", "Update") not in managers, managers
    crds.kubectl("patch", "vs", "demo", "-n", namespace, "--type=json", "-p",
                 json.dumps([{"op": "remove", "path": "/spec/router/ingress/annotations"}]))  # fmt: skip
    eventually(
        lambda: "team" not in ((crds.get("ingress", "demo-router", namespace) or {}).get("metadata", {})
                               .get("annotations", {"team": ""})),
        "the annotation the operator stopped setting removed",
    )  # fmt: skip


def status_managers(plane: ControlPlane, namespace: str, name: str) -> set[tuple[str, str]]:
    """(manager, operation) of the managedFields entries of the VoiceStack's status subresource."""
    shown = plane.kubectl("get", "vs", name, "-n", namespace, "-o", "json", "--show-managed-fields").stdout
    entries = json.loads(shown)["metadata"]["managedFields"]
    return {(m["manager"], m["operation"]) for m in entries if m.get("subresource") == "status"}


def test_status_is_server_side_applied(crds: ControlPlane, namespace: str, operator: Path) -> None:
    """The status is applied under the operator's field manager: another manager's condition survives its
    writes, and a status entry it stops sending (a disabled engine's) is removed by the server."""
    crds.apply(stack("demo", spec(), namespace))
    eventually(lambda: condition(crds, namespace, "demo", "AsrReady"), "AsrReady")
    assert ("voicestack-operator", "Apply") in status_managers(crds, namespace, "demo")

    # Another controller adds its own condition (a merge patch replaces the whole list)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    reviewed = {"type": "Reviewed", "status": "True", "reason": "Checked", "message": "by hand",
                "lastTransitionTime": now}  # fmt: skip
    crds.kubectl("patch", "vs", "demo", "-n", namespace, "--subresource=status", "--type=merge",
                 "-p", json.dumps({"status": {"conditions": [reviewed]}}))  # fmt: skip
    # ... the operator puts its own back (resync every second) and leaves the other one alone.
    eventually(lambda: condition(crds, namespace, "demo", "Ready"), "the operator's conditions back")
    time.sleep(2)
    assert condition(crds, namespace, "demo", "Reviewed") == reviewed

    # Disabling ASR: the operator stops sending status.asr and the server drops it.
    stored = crds.get("voicestack", "demo", namespace)
    assert stored is not None and "asr" in stored["status"]
    crds.kubectl("patch", "vs", "demo", "-n", namespace, "--type=merge",
                 "-p", json.dumps({"spec": {"asr": {"enabled": False}}}))  # fmt: skip
    eventually(
        lambda: "asr" not in ((crds.get("voicestack", "demo", namespace) or {}).get("status") or {"asr": 1}),
        "status.asr removed",
    )
    assert condition(crds, namespace, "demo", "AsrReady")["reason"] == "Disabled"  # type: ignore[index]


def test_status_written_by_an_older_operator_is_handed_over(
    crds: ControlPlane, namespace: str, request: pytest.FixtureRequest
) -> None:
    """A status an older operator merge-patched (an *Update* of the status subresource under its manager):
    once this operator runs, that entry's fields belong to its Apply entry, so an entry it stops sending is
    still removed (without the hand-over the old entry keeps ``status.asr`` forever)."""
    crds.apply(stack("demo", spec(), namespace))
    old_asr = {"name": "demo-asr", "url": "http://old-asr", "ready": False}
    old_status = {"status": {"observedGeneration": 1, "routerUrl": "http://old:8000", "asr": old_asr}}
    crds.kubectl("patch", "vs", "demo", "-n", namespace, "--subresource=status", "--type=merge",
                 "--field-manager=voicestack-operator", "-p", json.dumps(old_status))  # fmt: skip
    assert ("voicestack-operator", "Update") in status_managers(crds, namespace, "demo")
    request.getfixturevalue("operator")  # now the operator starts

    def handed_over() -> bool:
        managers = status_managers(crds, namespace, "demo")
        ours = {operation for manager, operation in managers if manager == "voicestack-operator"}
        return ours == {"Apply"}

    eventually(handed_over, "the old Update entry handed over")
    crds.kubectl("patch", "vs", "demo", "-n", namespace, "--type=merge",
                 "-p", json.dumps({"spec": {"asr": {"enabled": False}}}))  # fmt: skip
    eventually(
        lambda: "asr" not in ((crds.get("voicestack", "demo", namespace) or {}).get("status") or {"asr": 1}),
        "status.asr removed",
    )
