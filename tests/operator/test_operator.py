"""The real Kopf operator (kopf.testing.KopfRunner) against the emulated API server."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import pytest
from kopf.testing import KopfRunner

from tests.operator.cluster import ISVCS, Cluster, wait_for, wav_base64
from tests.operator.specs import stack

Operator = Callable[..., contextlib.AbstractContextManager[KopfRunner]]

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
VOICE_SPEC = {"tts": {"voices": [{"name": "anna", "data": wav_base64()}]}}
VOICE_SPEC_PATCH = {"spec": VOICE_SPEC}


def settle(cluster: Cluster, quiet: float = 1.6, timeout: float = 30) -> None:
    """Wait until nothing has been written for ``quiet`` seconds (the resync timer runs every second)."""
    deadline = time.monotonic() + timeout
    seen, since = len(cluster.writes()), time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, "the operator kept writing"
        time.sleep(0.1)
        if len(cluster.writes()) != seen:
            seen, since = len(cluster.writes()), time.monotonic()


def written(cluster: Cluster, since: int) -> list[tuple[str, str, str | None]]:
    """The child writes since a mark, as (method, plural, name)."""
    return sorted((c.method, c.plural, c.name) for c in cluster.child_writes(since))


def condition(cluster: Cluster, kind: str, name: str = "demo") -> dict[str, Any]:
    conditions = ((cluster.get("VoiceStack", name) or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), {})


def isvc_spec(cluster: Cluster, engine: str) -> dict[str, Any]:
    return cluster.get("InferenceService", f"demo-{engine}")["spec"]["predictor"]  # type: ignore[index]


def existing(cluster: Cluster) -> set[tuple[str, str]]:
    return {(kind, name) for kind, name in CHILDREN if cluster.get(kind, name)}


def test_create_makes_owned_children_then_stays_quiet(cluster: Cluster, operator: Operator) -> None:
    with operator():
        created = cluster.create(stack(spec=VOICE_SPEC))
        wait_for(
            lambda: existing(cluster) == CHILDREN and cluster.get("ConfigMap", "demo-voice-anna"), what="all"
        )
        settle(cluster)
        for kind, name in [*CHILDREN, ("ConfigMap", "demo-voice-anna")]:
            meta = cluster.get(kind, name)["metadata"]  # type: ignore[index]
            (ref,) = meta["ownerReferences"]
            assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
                "VoiceStack",
                "demo",
                created["metadata"]["uid"],
                True,
            ), (kind, name)
            assert meta["labels"]["app.kubernetes.io/managed-by"] == "voicestack-operator", (kind, name)
            assert meta["labels"]["app.kubernetes.io/instance"] == "demo", (kind, name)
        writes = cluster.child_writes()
        assert {(c.method, c.content_type) for c in writes} == {("PATCH", "application/apply-patch+yaml")}
        assert len(writes) == len(CHILDREN) + 1, "one apply per child: creation needs no second write"
        status = cluster.get("VoiceStack", "demo")["status"]  # type: ignore[index]
        assert status["routerUrl"] == "http://demo-router.default.svc.cluster.local"
        assert status["voices"] == ["demo-voice-anna"]
        # What the printer columns show: the default ASR model, which the spec leaves unset.
        assert (status["asr"]["model"], status["tts"]["model"]) == (
            "large-v3",
            "tts_models/multilingual/multi-dataset/xtts_v2",
        )
        assert status["observedGeneration"] == 1
        mark = cluster.mark()
        time.sleep(2.5)  # two resync ticks and their reads
        assert cluster.writes(mark) == [], "an unchanged spec causes no writes"
        assert any(c.method == "GET" for c in cluster.emulator.calls[mark:]), "the timer did reconcile"


def test_spec_changes_rewrite_only_what_changed(cluster: Cluster, operator: Operator) -> None:
    with operator():
        cluster.create(stack())
        wait_for(lambda: existing(cluster) == CHILDREN, what="children")
        settle(cluster)

        before = {kind: condition(cluster, kind) for kind in ("Ready", "AsrReady", "TtsReady", "RouterReady")}
        mark = cluster.mark()
        cluster.patch("VoiceStack", "demo", {"spec": {"asr": {"model": "small"}}})
        wait_for(
            lambda: any(e["value"] == "small" for e in isvc_spec(cluster, "asr")["containers"][0]["env"])
        )
        settle(cluster)
        assert written(cluster, mark) == [("PATCH", "inferenceservices", "demo-asr")]
        assert cluster.get("VoiceStack", "demo")["status"]["observedGeneration"] == 2  # type: ignore[index]
        for kind, old in before.items():  # every condition observed generation 2; none changed status
            now = condition(cluster, kind)
            assert (now["observedGeneration"], now["status"]) == (2, old["status"]), kind
            assert now["lastTransitionTime"] == old["lastTransitionTime"], kind

        mark = cluster.mark()
        cluster.patch("VoiceStack", "demo", {"spec": {"router": {"replicas": 3}}})
        wait_for(lambda: cluster.get("Deployment", "demo-router")["spec"]["replicas"] == 3)  # type: ignore[index]
        settle(cluster)
        assert written(cluster, mark) == [("PATCH", "deployments", "demo-router")]

        tts_before = isvc_spec(cluster, "tts")
        mark = cluster.mark()
        cluster.patch("VoiceStack", "demo", {"spec": VOICE_SPEC})
        wait_for(lambda: cluster.get("ConfigMap", "demo-voice-anna"), what="voice ConfigMap")
        wait_for(lambda: "projected" in isvc_spec(cluster, "tts")["volumes"][0], what="voice mounted")
        settle(cluster)
        assert written(cluster, mark) == [
            ("PATCH", "configmaps", "demo-voice-anna"),
            ("PATCH", "inferenceservices", "demo-tts"),
        ]
        assert isvc_spec(cluster, "tts")["containers"] == tts_before["containers"], "only the volume changed"

        mark = cluster.mark()
        cluster.patch("VoiceStack", "demo", {"spec": {"tts": {"voices": None}}})
        wait_for(lambda: not cluster.get("ConfigMap", "demo-voice-anna"), what="voice ConfigMap deleted")
        settle(cluster)
        assert written(cluster, mark) == [
            ("DELETE", "configmaps", "demo-voice-anna"),
            ("PATCH", "inferenceservices", "demo-tts"),
        ]
        assert isvc_spec(cluster, "tts")["volumes"] == [{"name": "voices", "emptyDir": {}}]


def test_router_made_voices_are_mounted_and_sample_edits_need_no_write(
    cluster: Cluster, operator: Operator
) -> None:
    with operator():
        cluster.create(stack())
        wait_for(lambda: existing(cluster) == CHILDREN, what="children")
        settle(cluster)
        uploaded = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "demo-voice-zoe",
                "namespace": "default",
                "labels": {"voicestack.io/stack": "demo", "voicestack.io/voice": "zoe",
                           "app.kubernetes.io/part-of": "voice-stack"},
            },
            "binaryData": {"zoe.wav": wav_base64()},
        }  # fmt: skip
        mark = cluster.mark()
        cluster.create(uploaded)
        wait_for(lambda: "projected" in isvc_spec(cluster, "tts")["volumes"][0], what="router voice mounted")
        settle(cluster)
        assert written(cluster, mark) == [("PATCH", "inferenceservices", "demo-tts")]
        assert isvc_spec(cluster, "tts")["volumes"][0]["projected"]["sources"] == [
            {"configMap": {"name": "demo-voice-zoe", "optional": True}}
        ]
        mark = cluster.mark()
        cluster.patch("ConfigMap", "demo-voice-zoe", {"binaryData": {"zoe.wav": wav_base64(0.2)}})
        time.sleep(1.5)
        assert written(cluster, mark) == [], "a sample's new content reaches the pod through the volume"
        cluster.delete("ConfigMap", "demo-voice-zoe")
        wait_for(lambda: "emptyDir" in isvc_spec(cluster, "tts")["volumes"][0], what="router voice unmounted")


def test_drift_is_undone(cluster: Cluster, operator: Operator) -> None:
    with operator():
        cluster.create(stack())
        wait_for(lambda: existing(cluster) == CHILDREN, what="children")
        settle(cluster)
        old_uid = cluster.get("Deployment", "demo-router")["metadata"]["uid"]  # type: ignore[index]
        cluster.delete("Deployment", "demo-router")
        uid = lambda: (cluster.get("Deployment", "demo-router") or {}).get("metadata", {}).get("uid")  # noqa: E731
        wait_for(lambda: uid() not in (None, old_uid), what="Deployment recreated")
        cluster.patch("Service", "demo-router", {"spec": {"type": "NodePort"}})
        wait_for(
            lambda: cluster.get("Service", "demo-router")["spec"]["type"] == "ClusterIP", what="edit undone"
        )  # type: ignore[index]
        cluster.delete("InferenceService", "demo-asr")
        wait_for(lambda: cluster.get("InferenceService", "demo-asr"), what="ISVC recreated")
        settle(cluster)
        assert existing(cluster) == CHILDREN
        assert len(cluster.list("Deployment")) == 1


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


def test_every_kind_of_child_is_restored(cluster: Cluster, operator: Operator) -> None:
    """Deleted or edited by hand, each child kind comes back as the operator made it."""
    with operator():
        cluster.create(stack(spec=DRIFT_SPEC))
        everything = {*CHILDREN, ("Ingress", "demo-router"), ("ConfigMap", "demo-voice-anna")}
        wait_for(lambda: all(cluster.get(kind, name) for kind, name in everything), what="all children")
        settle(cluster)
        for kind, name, edit, field in HAND_EDITS:
            made = cluster.get(kind, name)
            assert made is not None
            wanted = field(made)
            edited = cluster.patch(kind, name, edit)  # as stored: the operator may undo it before a get
            assert field(edited) != wanted, f"the edit of {kind} {name} took"
            wait_for(lambda: field(cluster.get(kind, name)) == wanted, what=f"{kind} {name} edit undone")  # noqa: B023
        for kind, name in sorted(everything):
            old_uid = cluster.get(kind, name)["metadata"]["uid"]  # type: ignore[index]
            cluster.delete(kind, name)
            wait_for(
                lambda: (cluster.get(kind, name) or {}).get("metadata", {}).get("uid") not in (None, old_uid),  # noqa: B023
                what=f"{kind} {name} recreated",
            )
        settle(cluster)
        for kind, name in everything:
            assert len([o for o in cluster.list(kind) if o["metadata"]["name"] == name]) == 1, (kind, name)
            refs = cluster.get(kind, name)["metadata"]["ownerReferences"]  # type: ignore[index]
            assert [r["name"] for r in refs] == ["demo"], (kind, name)


def make_ready(cluster: Cluster) -> None:
    ready = {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
    for engine in ("asr", "tts"):
        url = f"http://demo-{engine}-predictor.default.svc.cluster.local"
        cluster.patch(
            "InferenceService", f"demo-{engine}", {"status": {"url": url, "conditions": [ready]}}, status=True
        )
    generation = cluster.get("Deployment", "demo-router")["metadata"]["generation"]  # type: ignore[index]
    available = {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}
    cluster.patch(
        "Deployment",
        "demo-router",
        {"status": {"observedGeneration": generation, "availableReplicas": 1, "conditions": [available]}},
        status=True,
    )


def test_children_ready_make_the_stack_ready(cluster: Cluster, operator: Operator) -> None:
    with operator():
        cluster.create(stack())
        wait_for(lambda: existing(cluster) == CHILDREN, what="children")
        wait_for(lambda: condition(cluster, "Ready").get("status") == "False", what="not ready yet")
        settle(cluster)
        asr_first = condition(cluster, "AsrReady")
        make_ready(cluster)
        wait_for(lambda: condition(cluster, "Ready").get("status") == "True", what="Ready")
        settle(cluster)
        for kind in ("Ready", "AsrReady", "TtsReady", "RouterReady"):
            found = condition(cluster, kind)
            assert found["status"] == "True", found
            assert found["reason"] and found["message"] and found["lastTransitionTime"], found
            assert found["observedGeneration"] == 1
        assert condition(cluster, "AsrReady")["lastTransitionTime"] >= asr_first["lastTransitionTime"]
        events = [(e["type"], e["reason"]) for e in cluster.events()]
        assert ("Normal", "Ready") in events, events
        assert ("Normal", "InferenceServiceReady") in events, events

        before = condition(cluster, "RouterReady")
        cluster.patch("InferenceService", "demo-tts", {"status": {"conditions": [
            {"type": "Ready", "status": "False", "reason": "RevisionMissing", "message": "pod crash-looping"}
        ]}}, status=True)  # fmt: skip
        wait_for(
            lambda: condition(cluster, "TtsReady").get("reason") == "RevisionMissing", what="TTS not ready"
        )
        assert condition(cluster, "Ready")["status"] == "False"
        assert "crash-looping" in condition(cluster, "Ready")["message"]
        assert condition(cluster, "RouterReady") == before, "an unchanged condition keeps its transition time"
        wait_for(
            lambda: ("Warning", "RevisionMissing") in [(e["type"], e["reason"]) for e in cluster.events()]
        )


def test_pull_settings_and_the_model_licence_reach_the_children(
    cluster: Cluster, operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICESTACK_TTS_IMAGE_PULL_POLICY", "Never")
    monkeypatch.setenv("VOICESTACK_ROUTER_IMAGE_PULL_POLICY", "Always")
    monkeypatch.setenv("VOICESTACK_IMAGE_PULL_SECRETS", "ghcr-credentials,mirror-credentials")
    secrets = [{"name": "ghcr-credentials"}, {"name": "mirror-credentials"}]
    with operator():
        cluster.create(stack())
        wait_for(lambda: existing(cluster) == CHILDREN, what="children")
        router_pod = cluster.get("Deployment", "demo-router")["spec"]["template"]["spec"]  # type: ignore[index]
        pods = {"asr": isvc_spec(cluster, "asr"), "tts": isvc_spec(cluster, "tts"), "router": router_pod}
        assert {name: pod["imagePullSecrets"] for name, pod in pods.items()} == dict.fromkeys(pods, secrets)
        policies = {name: pod["containers"][0]["imagePullPolicy"] for name, pod in pods.items()}
        assert policies == {"asr": "IfNotPresent", "tts": "Never", "router": "Always"}

        tts_env = isvc_spec(cluster, "tts")["containers"][0]["env"]
        assert "COQUI_TOS_AGREED" not in {e["name"] for e in tts_env}
        cluster.patch("InferenceService", "demo-tts", {"status": {"conditions": [
            {"type": "Ready", "status": "False", "reason": "RevisionFailed", "message": "container exited"}
        ]}}, status=True)  # fmt: skip
        wait_for(
            lambda: condition(cluster, "TtsReady").get("reason") == "RevisionFailed", what="TTS not ready"
        )
        message = condition(cluster, "TtsReady")["message"]
        assert message.startswith("container exited (hint: ") and "acceptModelLicense" in message, message

        cluster.patch("VoiceStack", "demo", {"spec": {"tts": {"acceptModelLicense": True}}})
        wait_for(
            lambda: (
                {"name": "COQUI_TOS_AGREED", "value": "1"}
                in isvc_spec(cluster, "tts")["containers"][0]["env"]
            ),
            what="licence accepted on the predictor",
        )
        wait_for(
            lambda: (
                "acceptModelLicense"
                not in condition(cluster, "TtsReady").get("message", "x acceptModelLicense")
            ),
            what="hint gone",
        )


def test_a_bad_pull_policy_stops_the_operator_at_startup(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICESTACK_ASR_IMAGE_PULL_POLICY", "Sometimes")
    args = ["run", "-m", "voicestack_operator", "--standalone", "--all-namespaces"]
    with KopfRunner(args, timeout=30, reraise=False) as runner:
        pass
    assert runner.exit_code != 0
    assert "VOICESTACK_ASR_IMAGE_PULL_POLICY='Sometimes' is not an image pull policy" in str(
        (runner.exception and runner.exception.__cause__) or runner.output
    )


def test_invalid_spec_is_reported_without_a_crash_loop(cluster: Cluster, operator: Operator) -> None:
    with operator() as runner:
        # The CRD admits it (a string under 1 MiB); only the operator can tell it is no base64.
        cluster.create(stack(spec={"tts": {"voices": [{"name": "anna", "data": "not base64!"}]}}))
        wait_for(lambda: condition(cluster, "Ready").get("reason") == "InvalidSpec", what="InvalidSpec")
        assert "voices[0] (anna): data is not valid base64" in condition(cluster, "Ready")["message"]
        wait_for(
            lambda: any(e["reason"] == "InvalidSpec" and e["type"] == "Warning" for e in cluster.events())
        )
        mark = cluster.mark()
        time.sleep(2.5)
        assert cluster.writes(mark) == [], "no retry storm"
        assert existing(cluster) == set(), "nothing built from an invalid spec"
        cluster.patch("VoiceStack", "demo", VOICE_SPEC_PATCH)
        wait_for(lambda: cluster.get("ConfigMap", "demo-voice-anna"), what="fixed spec reconciled")
        wait_for(lambda: condition(cluster, "Ready").get("reason") != "InvalidSpec", what="condition cleared")
    assert "Traceback" not in runner.output.split("InvalidSpec")[0]


def test_backoff_doubles_from_the_configured_delay_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    from voicestack_operator.settings import OperatorSettings

    monkeypatch.setenv("VOICESTACK_RETRY_SECONDS", "1")
    monkeypatch.setenv("VOICESTACK_MAX_RETRY_SECONDS", "60")
    config = OperatorSettings()
    assert [config.backoff(retry) for retry in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert config.backoff(30) == 60.0
    monkeypatch.delenv("VOICESTACK_RESYNC_SECONDS", raising=False)
    assert OperatorSettings().resync_seconds == 300.0  # unset: the default


def test_bad_settings_are_refused_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from voicestack_operator.settings import OperatorSettings

    monkeypatch.setenv("VOICESTACK_RESYNC_SECONDS", "soon")
    with pytest.raises(ValidationError, match="resync_seconds"):
        OperatorSettings()


def test_api_errors_are_retried_until_they_pass(cluster: Cluster, operator: Operator) -> None:
    cluster.emulator.fail_next("PATCH", "deployments", 503, 500, 503)
    with operator() as runner:
        cluster.create(stack())
        wait_for(lambda: existing(cluster) == CHILDREN, what="children despite three failed creates")
        settle(cluster)
    applies = [c for c in cluster.emulator.calls if (c.method, c.plural) == ("PATCH", "deployments")]
    assert len(applies) == 4, "three refused, the fourth created it"
    assert "Kubernetes API: HTTP 503" in runner.output  # Kopf's TemporaryError, retried with a delay
    assert len(cluster.list("Deployment")) == 1
    assert condition(cluster, "Ready").get("reason") != "InvalidSpec"


def test_restart_makes_no_duplicates_and_no_writes(cluster: Cluster, operator: Operator) -> None:
    with operator():
        cluster.create(stack(spec=VOICE_SPEC))
        wait_for(lambda: existing(cluster) == CHILDREN, what="children")
        settle(cluster)
    counts = {kind: len(cluster.list(kind)) for kind, _ in CHILDREN}
    mark = cluster.mark()
    with operator():
        wait_for(lambda: len(cluster.emulator.calls) > mark + 20, what="the new operator at work")
        settle(cluster)
    assert written(cluster, mark) == []
    assert {kind: len(cluster.list(kind)) for kind, _ in CHILDREN} == counts


@pytest.mark.parametrize("kserve_installed", [False])
def test_without_kserve_a_condition_says_so(cluster: Cluster, operator: Operator) -> None:
    with operator():
        cluster.create(stack())
        wait_for(
            lambda: condition(cluster, "AsrReady").get("reason") == "KServeMissing", what="KServeMissing"
        )
        assert condition(cluster, "Ready")["reason"] == "KServeMissing"
        assert "install KServe" in condition(cluster, "Ready")["message"]
        wait_for(lambda: cluster.get("Deployment", "demo-router"), what="the router still deployed")

        async def install_kserve() -> None:  # KServe's CRDs appear later: the operator catches up by itself
            cluster.emulator.add_resource(ISVCS)

        cluster.call(install_kserve())
        wait_for(lambda: existing(cluster) == CHILDREN, what="InferenceServices once KServe is installed")
        wait_for(lambda: condition(cluster, "AsrReady").get("reason") not in (None, "KServeMissing"))
        assert condition(cluster, "Ready")["reason"] != "KServeMissing"
