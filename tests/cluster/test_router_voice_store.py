"""The router's ConfigMap voice store on the real API server, under the Role the operator gives the router.

The router process (``ROUTER_VOICE_STORE=configmap``) runs with a kubeconfig holding only a token of a
ServiceAccount in the module's own namespace, bound to exactly the Role and RoleBinding
``voicestack_operator.manifests.router`` renders: every call the voices and consents API makes goes through
the API server's RBAC authoriser (a missing verb is a 403, a failed test), and the audit log shows which
verbs on which resources the router used. The voices API is driven over HTTP as a user would.

An admission refusal is a real ``ValidatingAdmissionPolicy`` (admissionregistration.k8s.io/v1) bound to the
namespace's voice ConfigMaps.

Listing asks the real TTS predictor (random VITS); it cannot see the ConfigMaps (in a cluster they are mounted
into it), so an uploaded voice is listed from the store as ``pending``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.cluster.controlplane import ControlPlane, decode_token_subject
from tests.router.conftest import API_KEY, Running, consent_for, start_router, start_tts
from tests.support.assets import asset
from voicestack_operator.manifests import labels
from voicestack_operator.manifests.router import role, role_binding, service_account

STACK = "demo"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
CONTRACT_LABELS = {"voicestack.io/stack": STACK, "app.kubernetes.io/part-of": "voice-stack"}
VOICE_LABEL = "voicestack.io/voice"
NOT_A_VOICE = f"!has(object.metadata.labels) || !('{VOICE_LABEL}' in object.metadata.labels)"  # CEL
POLICY_WAIT = 30.0  # seconds for the API server to start (or stop) enforcing a new admission policy


@dataclass
class Namespace:
    """The module's namespace on the real server, with the router's identity in it."""

    plane: ControlPlane
    name: str
    kubeconfig: Path  # the router ServiceAccount's token
    user: str  # that ServiceAccount as the API server (and its audit log) names it

    def get(self, name: str) -> dict[str, Any] | None:
        return self.plane.get("configmap", name, self.name)

    def voice(self, voice: str) -> dict[str, Any] | None:
        return self.get(f"{STACK}-voice-{voice}")


@pytest.fixture(scope="module")
def namespace(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Namespace]:
    """A fresh namespace holding the router's ServiceAccount, Role and RoleBinding as the operator renders
    them; deleted (without waiting) afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", name)
    rbac = (service_account(STACK, name), role(STACK, name), role_binding(STACK, name))
    control_plane.apply(*rbac)
    path = tmp_path_factory.mktemp("router") / "kubeconfig"
    control_plane.token_kubeconfig(name, labels.router_name(STACK), path)
    user = decode_token_subject(yaml.safe_load(path.read_text())["users"][0]["user"]["token"])
    assert user == f"system:serviceaccount:{name}:{labels.router_name(STACK)}"
    yield Namespace(control_plane, name, path, user)
    control_plane.kubectl("delete", "namespace", name, "--wait=false")


@pytest.fixture(scope="module")
def cm_router(namespace: Namespace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tts = start_tts(tmp_path_factory.mktemp("voices"))
    env = {
        "KUBECONFIG": str(namespace.kubeconfig),
        "ROUTER_VOICE_STORE": "configmap",
        "ROUTER_NAMESPACE": namespace.name,
        "ROUTER_STACK_NAME": STACK,
        "ROUTER_TTS_URLS": tts.url,
        "ROUTER_API_KEYS": API_KEY,
    }
    saved = os.environ.pop("KUBERNETES_SERVICE_HOST", None)  # never the in-cluster credentials
    try:
        running = start_router(env)
    finally:
        if saved is not None:
            os.environ["KUBERNETES_SERVICE_HOST"] = saved
    yield running
    running.server.stop()
    tts.server.stop()


def _upload(router: Running, name: str, path: Path, content_type: str = "audio/wav") -> httpx.Response:
    with path.open("rb") as handle:
        return httpx.post(
            f"{router.url}/v1/audio/voices",
            headers=AUTH,
            data={"name": name, "consent": consent_for(router.url)},
            files={"audio_sample": (path.name, handle, content_type)},
            timeout=30,
        )


def _listed(router: Running) -> dict[str, dict[str, Any]]:
    response = httpx.get(f"{router.url}/v1/audio/voices", headers=AUTH, timeout=30)
    assert response.status_code == 200, response.text
    return {voice["id"]: voice for voice in response.json()["data"]}


def other_stacks_voice(namespace: str, name: str = "other-voice-bob") -> dict[str, Any]:
    """A voice ConfigMap of another stack in the same namespace: not the router's to list or delete."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"voicestack.io/stack": "other", VOICE_LABEL: "bob",
                       "app.kubernetes.io/part-of": "voice-stack"},
        },
        "binaryData": {"bob.wav": base64.b64encode(b"RIFF").decode()},
    }  # fmt: skip


def test_the_router_token_is_least_privilege(namespace: Namespace) -> None:
    """The router's identity may write ConfigMaps in its namespace only, and nothing else there."""

    def can(verb: str, resource: str, where: str) -> str:
        done = namespace.plane.kubectl(
            "auth", "can-i", verb, resource, "-n", where, kubeconfig=namespace.kubeconfig, check=False
        )
        return done.stdout.strip()

    assert can("create", "configmaps", namespace.name) == "yes"
    assert can("list", "configmaps", "default") == "no"
    assert can("get", "secrets", namespace.name) == "no"
    assert can("create", "pods", namespace.name) == "no"


def test_voice_lifecycle_through_the_router(namespace: Namespace, cm_router: Running) -> None:
    plane, ns = namespace.plane, namespace.name
    unrelated = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"},
                 "metadata": {"name": "settings", "namespace": ns}}  # fmt: skip
    plane.apply(other_stacks_voice(ns), unrelated)
    since = plane.mark()

    wav = asset("audio/en/jfk.wav")
    created = _upload(cm_router, "narrator", wav)
    assert created.status_code == 200, created.text
    assert created.json()["id"] == "narrator" and created.json()["object"] == "audio.voice"

    stored = namespace.voice("narrator")
    assert stored is not None, "no voice ConfigMap was created"
    consent = consent_for(cm_router.url)
    assert stored["metadata"]["labels"] == {
        **CONTRACT_LABELS, VOICE_LABEL: "narrator", "voicestack.io/voice-consent": consent,
    }  # fmt: skip
    consent_map = namespace.get(f"{STACK}-consent-{consent.replace('_', '-')}")
    assert consent_map is not None, "no consent ConfigMap was created"
    assert consent_map["metadata"]["labels"] == {**CONTRACT_LABELS, "voicestack.io/consent": consent}
    assert list(consent_map["binaryData"]) == [f"{consent}.wav"]  # the recording, never mounted as a voice
    consent_url = f"{cm_router.url}/v1/audio/voice_consents/{consent}"
    renamed = httpx.post(consent_url, json={"name": "JFK"}, headers=AUTH, timeout=30)
    assert renamed.status_code == 200 and renamed.json()["name"] == "JFK", renamed.text
    in_use = httpx.delete(consent_url, headers=AUTH, timeout=30)
    assert in_use.status_code == 409 and in_use.json()["error"]["code"] == "consent_in_use", in_use.text
    assert stored["binaryData"] == {"narrator.wav": base64.b64encode(wav.read_bytes()).decode()}
    assert "data" not in stored

    listed = _listed(cm_router)
    assert listed["narrator"]["pending"] is True and listed["narrator"]["source"] == "store"
    assert listed["narrator"]["filename"] == "narrator.wav"
    assert "bob" not in listed  # another stack's voice

    # Replacing: a new sample (another format) replaces the ConfigMap whole: one key, the new bytes.
    mp3 = asset("audio/en/jfk.mp3")
    replaced = _upload(cm_router, "narrator", mp3, "audio/mpeg")
    assert replaced.status_code == 200, replaced.text
    after = namespace.voice("narrator")
    assert after is not None
    assert after["metadata"]["uid"] == stored["metadata"]["uid"]  # replaced in place, not recreated
    assert after["binaryData"] == {"narrator.mp3": base64.b64encode(mp3.read_bytes()).decode()}
    assert _listed(cm_router)["narrator"]["filename"] == "narrator.mp3"

    deleted = httpx.delete(f"{cm_router.url}/v1/audio/voices/narrator", headers=AUTH, timeout=30)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": "narrator", "object": "audio.voice.deleted", "deleted": True}
    assert namespace.voice("narrator") is None
    assert "narrator" not in _listed(cm_router)
    again = httpx.delete(f"{cm_router.url}/v1/audio/voices/narrator", headers=AUTH, timeout=30)
    assert again.status_code == 404 and again.json()["error"]["code"] == "voice_not_found"
    released = httpx.delete(consent_url, headers=AUTH, timeout=30)  # no voice uses it any more
    assert released.status_code == 200, released.text
    assert httpx.get(consent_url, headers=AUTH, timeout=30).status_code == 404
    consent_for.cache_clear()  # that consent is gone

    # Another stack's voice is not ours to delete.
    foreign = httpx.delete(f"{cm_router.url}/v1/audio/voices/bob", headers=AUTH, timeout=30)
    assert foreign.status_code == 404
    assert namespace.get("other-voice-bob") is not None
    assert namespace.get("settings") is not None

    # The server's record: the router used these verbs on ConfigMaps in its namespace and nothing else, each
    # allowed by its Role (a denial would be a 403 here, and a 502 above).
    calls = [record for record in plane.audit(since) if record.user == namespace.user]
    used = {(call.verb, call.resource, call.subresource, call.namespace) for call in calls}
    assert {verb for verb, *_ in used} == {"create", "update", "list", "delete"}, used
    (rule,) = role(STACK, ns)["rules"]
    outside = {call for call in used if call[1:] != ("configmaps", "", ns) or call[0] not in rule["verbs"]}
    assert not outside, outside
    assert not [call for call in calls if call.denied], calls
    # The only refusal is the create of an existing voice, answered by a replace (409 AlreadyExists).
    refused = {(call.verb, call.name, call.code) for call in calls if call.code >= 400}
    assert refused == {("create", f"{STACK}-voice-narrator", 409)}, refused


def _admits(plane: ControlPlane, operation: str, probe: dict[str, Any]) -> str:
    """A server-side dry run of ``operation`` (``create`` or ``replace``) on ``probe``: "" when admitted,
    else kubectl's error."""
    done = plane.kubectl(operation, "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(probe), check=False)
    return "" if done.returncode == 0 else done.stderr


@contextlib.contextmanager
def refusing(namespace: Namespace, operation: str, message: str) -> Iterator[None]:
    """A ValidatingAdmissionPolicy denying ``operation`` (CREATE or UPDATE) of the ConfigMaps with the voice
    label in the namespace, with ``message`` (reason Invalid: a 422); in force for the block.

    The API server loads policies asynchronously, so the block starts once a dry run of the same write on
    another stack's voice ConfigMap is refused, and ends once one is admitted again.
    """
    plane, ns = namespace.plane, namespace.name
    name = f"voices-{operation.lower()}-{ns}"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": [operation],
                                   "resources": ["configmaps"]}],
            },
            "validations": [
                {"expression": NOT_A_VOICE, "message": message, "reason": "Invalid"},
            ],
        },
    }  # fmt: skip
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}},
        },
    }
    kubectl_operation = {"CREATE": "create", "UPDATE": "replace"}[operation]
    probe = other_stacks_voice(ns, "other-voice-bob" if operation == "UPDATE" else "policy-probe")

    def until(enforced: bool) -> None:
        deadline = time.monotonic() + POLICY_WAIT
        while (message in _admits(plane, kubectl_operation, probe)) != enforced:
            assert time.monotonic() < deadline, f"policy {name} not {'in' if enforced else 'out of'} force"
            time.sleep(0.2)

    plane.apply(policy, binding)
    try:
        until(enforced=True)
        yield
    finally:
        plane.kubectl("delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", name)
        until(enforced=False)


def test_api_refusals_are_clear_errors(namespace: Namespace, cm_router: Running) -> None:
    plane, ns = namespace.plane, namespace.name
    wav = asset("audio/en/jfk.wav")
    consent_for(cm_router.url)  # before the policy refuses every voice write
    plane.apply(other_stacks_voice(ns))  # the policies' probe

    with refusing(namespace, "CREATE", "voices are frozen by policy"):
        refused = _upload(cm_router, "fresh", wav)
    assert refused.status_code == 502, refused.text
    message = refused.json()["error"]["message"]
    assert f"refused to create the voice ConfigMap {ns}/{STACK}-voice-fresh" in message
    assert "422 Invalid" in message and "voices are frozen by policy" in message
    assert namespace.voice("fresh") is None

    # Replacing an existing voice: the create conflicts (409), the replace itself is refused.
    assert _upload(cm_router, "keeper", wav).status_code == 200
    before = namespace.voice("keeper")
    with refusing(namespace, "UPDATE", "quota exceeded"):
        refused = _upload(cm_router, "keeper", asset("audio/en/jfk.mp3"), "audio/mpeg")
    assert refused.status_code == 502, refused.text
    message = refused.json()["error"]["message"]
    assert f"refused to replace the voice ConfigMap {ns}/{STACK}-voice-keeper" in message
    assert "422 Invalid" in message and "quota exceeded" in message
    assert namespace.voice("keeper") == before  # the old sample is still there

    assert (
        httpx.delete(f"{cm_router.url}/v1/audio/voices/keeper", headers=AUTH, timeout=30).status_code == 200
    )
