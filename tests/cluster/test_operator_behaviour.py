"""The operator's behaviour on the real API server: what it writes, and when it writes nothing.

Each test runs ``voicestack operator`` (the ``operator``/``run_operator`` fixtures: a subprocess with the
chart's least-privilege ServiceAccount token) on a namespace of its own. Which writes the operator made is
read back from the API server's audit log (:meth:`ControlPlane.writes`, the operator's user only), so "stays
quiet" and "rewrites only what changed" are the server's own record, not a client's. KServe's controller does
not run here: a test plays it by patching an InferenceService's status subresource.

These were emulator tests (tests/operator/test_operator.py; its ``test_drift_is_undone`` is part of
``test_every_kind_of_child_is_restored`` here); what still needs the emulator is listed there, with why.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.conftest import OPERATOR_COMMAND, ROOT, OperatorRun, eventually, install_kserve_crds
from tests.cluster.controlplane import ControlPlane
from tests.cluster.test_operator import isvc_ready, ready_pods
from tests.operator.cluster import wav_base64
from tests.operator.specs import CHILDREN, VOICE_SPEC, stack

KINDS = "serviceaccounts,roles,rolebindings,inferenceservices,configmaps,deployments,services,ingresses"
LICENCE_ENV = {"name": "COQUI_TOS_AGREED", "value": "1"}
NOT_CHILD_WRITES = {"voicestacks", "events"}  # the stack's own status and Kopf's bookkeeping; events


@dataclass
class Stack:
    """The VoiceStack ``demo`` in a namespace of its own; the operator's writes as the audit log saw them."""

    plane: ControlPlane
    namespace: str
    user: str

    def kubectl(self, *args: str, **kwargs: Any) -> Any:
        return self.plane.kubectl(*args, "-n", self.namespace, **kwargs)

    def create(self, spec: dict[str, Any] | None = None) -> dict[str, Any]:
        self.plane.apply(stack("demo", spec, self.namespace))
        created = self.get("VoiceStack", "demo")
        assert created is not None
        return created

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.plane.get(kind.lower(), name, self.namespace)

    def patch(self, kind: str, name: str, patch: dict[str, Any], *, status: bool = False) -> dict[str, Any]:
        """A merge patch as an admin would make it; returns the object as stored."""
        scope = ["--subresource=status"] if status else []
        done = self.kubectl("patch", kind.lower(), name, *scope, "--type=merge", "-p", json.dumps(patch),
                            "-o", "json")  # fmt: skip
        return dict(json.loads(done.stdout))

    def delete(self, kind: str, name: str) -> None:
        self.kubectl("delete", kind.lower(), name, "--wait=false")

    def objects(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every object of a kind the operator makes, by (kind, name), in one request."""
        items = json.loads(self.kubectl("get", KINDS, "-o", "json").stdout)["items"]
        return {(item["kind"], item["metadata"]["name"]): item for item in items}

    def existing(self) -> set[tuple[str, str]]:
        return set(self.objects()) & CHILDREN

    def condition(self, kind: str) -> dict[str, Any]:
        conditions = ((self.get("VoiceStack", "demo") or {}).get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == kind), {})

    def isvc_spec(self, engine: str) -> dict[str, Any]:
        return self.get("InferenceService", f"demo-{engine}")["spec"]["predictor"]  # type: ignore[index]

    def events(self) -> list[tuple[str, str]]:
        items = json.loads(self.kubectl("get", "events", "-o", "json").stdout)["items"]
        return [(e["type"], e["reason"]) for e in items]

    # -- the audit log --

    def mark(self) -> int:
        return self.plane.mark()

    def writes(self, since: int = 0) -> list[tuple[str, str, str, str]]:
        """Every write of the operator in this namespace since a mark: (verb, resource, subresource, name)."""
        records = self.plane.writes(self.user, since, self.namespace)
        return [(r.verb, r.resource, r.subresource, r.name) for r in records]

    def child_writes(self, since: int = 0) -> list[tuple[str, str, str]]:
        """The writes to children since a mark, sorted: (verb, resource, name)."""
        return sorted((v, r, n) for v, r, _, n in self.writes(since) if r not in NOT_CHILD_WRITES)

    def reads(self, since: int = 0) -> int:
        """How many get/list requests the operator made since a mark (the audit policy logs its reads)."""
        return sum(1 for r in self.plane.audit(since) if r.user == self.user and r.verb in ("get", "list"))

    def settle(self, quiet: float = 2.0, timeout: float = 60.0) -> None:
        """Until the operator has written nothing here for ``quiet`` seconds (it resyncs every second)."""
        deadline = time.monotonic() + timeout
        seen, since = len(self.writes()), time.monotonic()
        while time.monotonic() - since < quiet:
            assert time.monotonic() < deadline, f"the operator kept writing: {self.writes()[-5:]}"
            time.sleep(0.2)
            if len(self.writes()) != seen:
                seen, since = len(self.writes()), time.monotonic()


@pytest.fixture()
def demo(crds: ControlPlane, namespace: str, operator_user: str) -> Stack:
    return Stack(crds, namespace, operator_user)


def test_create_makes_owned_children_then_stays_quiet(demo: Stack, operator: Path) -> None:
    created = demo.create(VOICE_SPEC)
    everything = {*CHILDREN, ("ConfigMap", "demo-voice-anna")}
    eventually(lambda: everything <= set(demo.objects()), "every child")
    demo.settle()
    objects = demo.objects()
    for key in everything:
        meta = objects[key]["metadata"]
        (ref,) = meta["ownerReferences"]
        assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
            "VoiceStack",
            "demo",
            created["metadata"]["uid"],
            True,
        ), key
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "voicestack-operator", key
        assert meta["labels"]["app.kubernetes.io/instance"] == "demo", key
    writes = demo.child_writes()
    assert {verb for verb, _, _ in writes} == {"patch"}, writes  # server-side apply, no create
    assert len(writes) == len(everything), "one apply per child: creation needs no second write"
    status = demo.get("VoiceStack", "demo")["status"]  # type: ignore[index]
    assert status["routerUrl"] == f"http://demo-router.{demo.namespace}.svc.cluster.local"
    assert status["voices"] == ["demo-voice-anna"]
    # What the printer columns show: the default ASR model, which the spec leaves unset.
    assert (status["asr"]["model"], status["tts"]["model"]) == (
        "large-v3",
        "tts_models/multilingual/multi-dataset/xtts_v2",
    )
    assert status["observedGeneration"] == 1
    mark = demo.mark()
    time.sleep(2.5)  # two resync ticks and their reads
    assert demo.writes(mark) == [], "an unchanged spec causes no writes"
    assert demo.reads(mark) > 0, "the timer did reconcile"


def test_spec_changes_rewrite_only_what_changed(demo: Stack, operator: Path) -> None:
    demo.create()
    eventually(lambda: demo.existing() == CHILDREN, "children")
    demo.settle()

    before = {kind: demo.condition(kind) for kind in ("Ready", "AsrReady", "TtsReady", "RouterReady")}
    mark = demo.mark()
    demo.patch("VoiceStack", "demo", {"spec": {"asr": {"model": "small"}}})
    eventually(
        lambda: any(e.get("value") == "small" for e in demo.isvc_spec("asr")["containers"][0]["env"]),
        "the ASR model changed",
    )
    demo.settle()
    assert demo.child_writes(mark) == [("patch", "inferenceservices", "demo-asr")]
    assert demo.get("VoiceStack", "demo")["status"]["observedGeneration"] == 2  # type: ignore[index]
    for kind, old in before.items():  # every condition observed generation 2; none changed status
        now = demo.condition(kind)
        assert (now["observedGeneration"], now["status"]) == (2, old["status"]), kind
        assert now["lastTransitionTime"] == old["lastTransitionTime"], kind

    mark = demo.mark()
    demo.patch("VoiceStack", "demo", {"spec": {"router": {"replicas": 3}}})
    eventually(lambda: demo.get("Deployment", "demo-router")["spec"]["replicas"] == 3, "3 replicas")  # type: ignore[index]
    demo.settle()
    assert demo.child_writes(mark) == [("patch", "deployments", "demo-router")]

    tts_before = demo.isvc_spec("tts")
    mark = demo.mark()
    demo.patch("VoiceStack", "demo", {"spec": VOICE_SPEC})
    eventually(lambda: demo.get("ConfigMap", "demo-voice-anna"), "voice ConfigMap")
    eventually(lambda: "projected" in demo.isvc_spec("tts")["volumes"][0], "voice mounted")
    demo.settle()
    assert demo.child_writes(mark) == [
        ("patch", "configmaps", "demo-voice-anna"),
        ("patch", "inferenceservices", "demo-tts"),
    ]
    assert demo.isvc_spec("tts")["containers"] == tts_before["containers"], "only the volume changed"

    mark = demo.mark()
    demo.patch("VoiceStack", "demo", {"spec": {"tts": {"voices": None}}})
    eventually(lambda: not demo.get("ConfigMap", "demo-voice-anna"), "voice ConfigMap deleted")
    demo.settle()
    assert demo.child_writes(mark) == [
        ("delete", "configmaps", "demo-voice-anna"),
        ("patch", "inferenceservices", "demo-tts"),
    ]
    assert demo.isvc_spec("tts")["volumes"] == [{"name": "voices", "emptyDir": {}}]


# Every kind of child, each deleted and each edited by hand: (kind, name, a hand edit, the field it breaks).
DRIFT_SPEC = {**VOICE_SPEC, "router": {"ingress": {"enabled": True, "host": "voice.example.com"}}}
HAND_EDITS: list[tuple[str, str, dict[str, Any], Callable[[dict[str, Any]], Any]]] = [
    ("ServiceAccount", "demo-router", {"metadata": {"labels": {"app.kubernetes.io/component": "mine"}}},
     lambda o: o["metadata"]["labels"]["app.kubernetes.io/component"]),
    ("Role", "demo-router", {"rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]},
     lambda o: o["rules"]),
    ("RoleBinding", "demo-router",
     {"subjects": [{"kind": "ServiceAccount", "name": "intruder", "namespace": "default"}]},
     lambda o: o["subjects"]),
    ("ConfigMap", "demo-router", {"data": {"router.yaml": "asr_urls: []\n"}}, lambda o: o["data"]),
    ("ConfigMap", "demo-voice-anna", {"binaryData": {"anna.wav": wav_base64(0.2)}},
     lambda o: o["binaryData"]),
    ("Ingress", "demo-router", {"spec": {"rules": [{"host": "other.example.com"}]}}, lambda o: o["spec"]),
    ("Service", "demo-router", {"spec": {"type": "NodePort"}}, lambda o: o["spec"]["type"]),
    ("Deployment", "demo-router", {"spec": {"replicas": 5}}, lambda o: o["spec"]["replicas"]),
    ("InferenceService", "demo-asr", {"spec": {"predictor": {"maxReplicas": 7}}},
     lambda o: o["spec"]["predictor"]),
    ("InferenceService", "demo-tts", {"spec": {"predictor": {"volumes": None}}},
     lambda o: o["spec"]["predictor"].get("volumes")),
]  # fmt: skip


def test_every_kind_of_child_is_restored(demo: Stack, operator: Path) -> None:
    """Deleted or edited by hand, each child kind comes back as the operator made it."""
    demo.create(DRIFT_SPEC)
    everything = {*CHILDREN, ("Ingress", "demo-router"), ("ConfigMap", "demo-voice-anna")}
    eventually(lambda: everything <= set(demo.objects()), "all children")
    demo.settle()
    for kind, name, edit, field in HAND_EDITS:
        made = demo.get(kind, name)
        assert made is not None
        wanted = field(made)
        edited = demo.patch(kind, name, edit)  # as stored: the operator may undo it before a get
        assert field(edited) != wanted, f"the edit of {kind} {name} took"
        eventually(lambda: field(demo.get(kind, name)) == wanted, f"{kind} {name} edit undone")  # noqa: B023
    for kind, name in sorted(everything):
        old_uid = demo.get(kind, name)["metadata"]["uid"]  # type: ignore[index]
        demo.delete(kind, name)
        eventually(
            lambda: (demo.get(kind, name) or {}).get("metadata", {}).get("uid") not in (None, old_uid),  # noqa: B023
            f"{kind} {name} recreated",
        )
    demo.settle()
    objects = demo.objects()
    for key in everything:
        assert [r["name"] for r in objects[key]["metadata"]["ownerReferences"]] == ["demo"], key
    deployments = [name for kind, name in objects if kind == "Deployment"]
    assert deployments == ["demo-router"], "no second Deployment"


def test_restart_makes_no_duplicates_and_no_writes(demo: Stack, run_operator: OperatorRun) -> None:
    with run_operator():
        demo.create(VOICE_SPEC)
        eventually(lambda: demo.existing() == CHILDREN, "children")
        demo.settle()
    before = set(demo.objects())
    mark = demo.mark()
    with run_operator():
        eventually(lambda: demo.reads(mark) > 10, "the new operator at work")
        time.sleep(2.5)  # two resync ticks
        demo.settle()
    assert demo.writes(mark) == []
    assert set(demo.objects()) == before


def test_children_ready_make_the_stack_ready(demo: Stack, operator: Path) -> None:
    demo.create()
    eventually(lambda: demo.existing() == CHILDREN, "children")
    eventually(lambda: demo.condition("Ready").get("status") == "False", "not ready yet")
    demo.settle()
    asr_first = demo.condition("AsrReady")
    for engine in (
        "asr",
        "tts",
    ):  # KServe's part; the router's pods: the real controllers, kwok and ready_pods
        isvc_ready(demo.plane, demo.namespace, f"demo-{engine}")
    eventually(
        lambda: ready_pods(demo.plane, demo.namespace, "app.kubernetes.io/instance=demo"), "router pods"
    )
    eventually(lambda: demo.condition("Ready").get("status") == "True", "Ready")
    demo.settle()
    for kind in ("Ready", "AsrReady", "TtsReady", "RouterReady"):
        found = demo.condition(kind)
        assert found["status"] == "True", found
        assert found["reason"] and found["message"] and found["lastTransitionTime"], found
        assert found["observedGeneration"] == 1
    assert demo.condition("AsrReady")["lastTransitionTime"] >= asr_first["lastTransitionTime"]
    events = demo.events()
    assert ("Normal", "Ready") in events, events
    assert ("Normal", "InferenceServiceReady") in events, events

    before = demo.condition("RouterReady")
    demo.patch("InferenceService", "demo-tts", {"status": {"conditions": [
        {"type": "Ready", "status": "False", "reason": "RevisionMissing", "message": "pod crash-looping",
         "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    ]}}, status=True)  # fmt: skip
    eventually(lambda: demo.condition("TtsReady").get("reason") == "RevisionMissing", "TTS not ready")
    assert demo.condition("Ready")["status"] == "False"
    assert "crash-looping" in demo.condition("Ready")["message"]
    assert demo.condition("RouterReady") == before, "an unchanged condition keeps its transition time"
    eventually(lambda: ("Warning", "RevisionMissing") in demo.events(), "a RevisionMissing warning")


def test_router_made_voices_are_mounted_and_sample_edits_need_no_write(demo: Stack, operator: Path) -> None:
    demo.create()
    eventually(lambda: demo.existing() == CHILDREN, "children")
    demo.settle()
    uploaded = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "demo-voice-zoe",
            "namespace": demo.namespace,
            "labels": {"voicestack.io/stack": "demo", "voicestack.io/voice": "zoe",
                       "app.kubernetes.io/part-of": "voice-stack"},
        },
        "binaryData": {"zoe.wav": wav_base64()},
    }  # fmt: skip
    mark = demo.mark()
    demo.plane.apply(uploaded)
    eventually(lambda: "projected" in demo.isvc_spec("tts")["volumes"][0], "router voice mounted")
    demo.settle()
    assert demo.child_writes(mark) == [("patch", "inferenceservices", "demo-tts")]
    assert demo.isvc_spec("tts")["volumes"][0]["projected"]["sources"] == [
        {"configMap": {"name": "demo-voice-zoe", "optional": True}}
    ]
    mark = demo.mark()
    demo.patch("ConfigMap", "demo-voice-zoe", {"binaryData": {"zoe.wav": wav_base64(0.2)}})
    time.sleep(2.5)  # two resync ticks
    assert demo.writes(mark) == [], "a sample's new content reaches the pod through the volume"
    demo.delete("ConfigMap", "demo-voice-zoe")
    eventually(lambda: "emptyDir" in demo.isvc_spec("tts")["volumes"][0], "router voice unmounted")


def test_pull_settings_and_the_model_licence_reach_the_children(
    demo: Stack, run_operator: OperatorRun
) -> None:
    pull = {
        "VOICESTACK_TTS_IMAGE_PULL_POLICY": "Never",
        "VOICESTACK_ROUTER_IMAGE_PULL_POLICY": "Always",
        "VOICESTACK_IMAGE_PULL_SECRETS": "ghcr-credentials,mirror-credentials",
    }
    secrets = [{"name": "ghcr-credentials"}, {"name": "mirror-credentials"}]
    with run_operator(**pull):
        demo.create()
        eventually(lambda: demo.existing() == CHILDREN, "children")
        router_pod = demo.get("Deployment", "demo-router")["spec"]["template"]["spec"]  # type: ignore[index]
        pods = {"asr": demo.isvc_spec("asr"), "tts": demo.isvc_spec("tts"), "router": router_pod}
        assert {name: pod["imagePullSecrets"] for name, pod in pods.items()} == dict.fromkeys(pods, secrets)
        policies = {name: pod["containers"][0]["imagePullPolicy"] for name, pod in pods.items()}
        assert policies == {"asr": "IfNotPresent", "tts": "Never", "router": "Always"}

        tts_env = demo.isvc_spec("tts")["containers"][0]["env"]
        assert "COQUI_TOS_AGREED" not in {e["name"] for e in tts_env}
        demo.patch("InferenceService", "demo-tts", {"status": {"conditions": [
            {"type": "Ready", "status": "False", "reason": "RevisionFailed", "message": "container exited",
             "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        ]}}, status=True)  # fmt: skip
        eventually(lambda: demo.condition("TtsReady").get("reason") == "RevisionFailed", "TTS not ready")
        message = demo.condition("TtsReady")["message"]
        assert message.startswith("container exited (hint: ") and "acceptModelLicense" in message, message

        demo.patch("VoiceStack", "demo", {"spec": {"tts": {"acceptModelLicense": True}}})
        eventually(
            lambda: (
                {"name": "COQUI_TOS_AGREED", "value": "1"} in demo.isvc_spec("tts")["containers"][0]["env"]
            ),
            "licence accepted on the predictor",
        )
        eventually(
            lambda: (
                "acceptModelLicense" not in demo.condition("TtsReady").get("message", "x acceptModelLicense")
            ),
            "hint gone",
        )


def test_without_kserve_a_condition_says_so(demo: Stack, run_operator: OperatorRun) -> None:
    """KServe's InferenceService CRD is deleted for this test (the cluster's only CRD-wide change) and
    installed again while the operator runs: the operator catches up by itself."""
    isvc_crd = "inferenceservices.serving.kserve.io"
    demo.plane.kubectl("delete", "crd", isvc_crd, "--timeout=120s")
    try:
        with run_operator():
            demo.create()
            eventually(lambda: demo.condition("AsrReady").get("reason") == "KServeMissing", "KServeMissing")
            assert demo.condition("Ready")["reason"] == "KServeMissing"
            assert "install KServe" in demo.condition("Ready")["message"]
            eventually(lambda: demo.get("Deployment", "demo-router"), "the router still deployed")
            install_kserve_crds(demo.plane, "inferenceservices")  # KServe's CRDs appear later
            eventually(lambda: demo.existing() == CHILDREN, "InferenceServices once KServe is installed")
            eventually(
                lambda: demo.condition("AsrReady").get("reason") not in (None, "KServeMissing"), "AsrReady"
            )
            assert demo.condition("Ready")["reason"] != "KServeMissing"
    finally:
        if demo.get("crd", isvc_crd) is None:
            install_kserve_crds(demo.plane, "inferenceservices")


def test_a_bad_pull_policy_stops_the_operator_at_startup(
    crds: ControlPlane, operator_kubeconfig: Path
) -> None:
    env = {**crds.env(operator_kubeconfig), "VOICESTACK_ASR_IMAGE_PULL_POLICY": "Sometimes"}
    done = subprocess.run(OPERATOR_COMMAND, env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode != 0
    message = "VOICESTACK_ASR_IMAGE_PULL_POLICY='Sometimes' is not an image pull policy"
    assert message in done.stdout + done.stderr, done.stderr[-2000:]
