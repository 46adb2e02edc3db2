"""The operator's behaviour on the real API server: what it writes, and when it writes nothing.

Each test runs ``voicestack operator`` (the ``operator``/``run_operator`` fixtures: a subprocess with the
chart's least-privilege ServiceAccount token) on a namespace of its own. Which writes the operator made is
read back from the API server's audit log (:meth:`ControlPlane.writes`, the operator's user only), so "stays
quiet" and "rewrites only what changed" are the server's own record, not a client's. KServe's controller does
not run here: a test plays it by patching an InferenceService's status subresource.

These were emulator tests (tests/operator/test_operator.py); what still needs the emulator is listed there.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.conftest import eventually
from tests.cluster.controlplane import ControlPlane
from tests.operator.cluster import wav_base64
from tests.operator.specs import stack

CHILDREN = {
    ("ServiceAccount", "demo-router"),
    ("Role", "demo-router"),
    ("RoleBinding", "demo-router"),
    ("InferenceService", "demo-asr"),
    ("InferenceService", "demo-tts"),
    ("ConfigMap", "demo-router"),
    ("Deployment", "demo-router"),
    ("Service", "demo-router"),
}
KINDS = "serviceaccounts,roles,rolebindings,inferenceservices,configmaps,deployments,services,ingresses"
VOICE_SPEC = {"tts": {"voices": [{"name": "anna", "data": wav_base64()}]}}
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
