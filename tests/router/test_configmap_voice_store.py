"""The ConfigMap voice store for real: the router process (``ROUTER_VOICE_STORE=configmap``) talks to the
operator suite's Kubernetes API-server emulator (``tests/operator/cluster.py``) through a kubeconfig, and the
voices API is driven over HTTP exactly as a user would.

Listing asks the real TTS predictor (random VITS); it cannot see the emulator's ConfigMaps (in a cluster they
are mounted into it), so an uploaded voice is listed from the store as ``pending``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.operator.cluster import CONFIGMAPS, Cluster, emulated_cluster
from tests.operator.fake_apiserver import Recorded
from tests.operator.rbac import allowed
from tests.router.conftest import API_KEY, Running, start_router
from tests.support.assets import asset
from voicestack_operator.manifests.router import role

NAMESPACE = "speech"
STACK = "demo"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
CONTRACT_LABELS = {"voicestack.io/stack": STACK, "app.kubernetes.io/part-of": "voice-stack"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with emulated_cluster(tmp_path_factory.mktemp("cluster"), kserve=False) as emulated:
        yield emulated


@pytest.fixture(scope="module")
def cm_router(cluster: Cluster, tts_predictor: Running) -> Iterator[Running]:
    env = {
        "KUBECONFIG": str(cluster.kubeconfig),
        "ROUTER_VOICE_STORE": "configmap",
        "ROUTER_NAMESPACE": NAMESPACE,
        "ROUTER_STACK_NAME": STACK,
        "ROUTER_TTS_URLS": tts_predictor.url,
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


@pytest.fixture(autouse=True)
def no_admission_policy(cluster: Cluster) -> Iterator[None]:
    yield
    cluster.emulator.validators.pop(CONFIGMAPS.key, None)


def _upload(router: Running, name: str, path: Path, content_type: str = "audio/wav") -> httpx.Response:
    with path.open("rb") as handle:
        return httpx.post(
            f"{router.url}/v1/audio/voices",
            headers=AUTH,
            data={"name": name, "consent": "yes"},
            files={"audio_sample": (path.name, handle, content_type)},
            timeout=30,
        )


def _listed(router: Running) -> dict[str, dict[str, Any]]:
    response = httpx.get(f"{router.url}/v1/audio/voices", headers=AUTH, timeout=30)
    assert response.status_code == 200, response.text
    return {voice["id"]: voice for voice in response.json()["data"]}


def _configmap(cluster: Cluster, voice: str) -> dict[str, Any] | None:
    return cluster.get("ConfigMap", f"{STACK}-voice-{voice}", NAMESPACE)


def _rbac_verb(call: Recorded) -> Recorded:
    """The emulator names a PUT by kmock's action ("patch"); RBAC calls a PUT "update"."""
    if call.method == "PUT":
        call = Recorded(**{**call.__dict__, "verb": "update"})
    return call


def test_voice_lifecycle_through_the_router(cluster: Cluster, cm_router: Running) -> None:
    other_stack = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "other-voice-bob",
            "namespace": NAMESPACE,
            "labels": {"voicestack.io/stack": "other", "voicestack.io/voice": "bob",
                       "app.kubernetes.io/part-of": "voice-stack"},
        },
        "binaryData": {"bob.wav": base64.b64encode(b"RIFF").decode()},
    }  # fmt: skip
    cluster.create(other_stack)
    unrelated = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"},
                 "metadata": {"name": "settings", "namespace": NAMESPACE}}  # fmt: skip
    cluster.create(unrelated)
    since = cluster.mark()

    wav = asset("audio/en/jfk.wav")
    created = _upload(cm_router, "narrator", wav)
    assert created.status_code == 200, created.text
    assert created.json()["id"] == "narrator" and created.json()["object"] == "audio.voice"

    stored = _configmap(cluster, "narrator")
    assert stored is not None, "no voice ConfigMap was created"
    assert stored["metadata"]["labels"] == {**CONTRACT_LABELS, "voicestack.io/voice": "narrator"}
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
    after = _configmap(cluster, "narrator")
    assert after is not None
    assert after["metadata"]["uid"] == stored["metadata"]["uid"]  # replaced in place, not recreated
    assert after["binaryData"] == {"narrator.mp3": base64.b64encode(mp3.read_bytes()).decode()}
    assert _listed(cm_router)["narrator"]["filename"] == "narrator.mp3"

    deleted = httpx.delete(f"{cm_router.url}/v1/audio/voices/narrator", headers=AUTH, timeout=30)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": "narrator", "object": "audio.voice.deleted", "deleted": True}
    assert _configmap(cluster, "narrator") is None
    assert "narrator" not in _listed(cm_router)
    again = httpx.delete(f"{cm_router.url}/v1/audio/voices/narrator", headers=AUTH, timeout=30)
    assert again.status_code == 404 and again.json()["error"]["code"] == "voice_not_found"

    # Another stack's voice is not ours to delete.
    foreign = httpx.delete(f"{cm_router.url}/v1/audio/voices/bob", headers=AUTH, timeout=30)
    assert foreign.status_code == 404
    assert cluster.get("ConfigMap", "other-voice-bob", NAMESPACE) is not None
    assert cluster.get("ConfigMap", "settings", NAMESPACE) is not None

    # Every call the router made is one the Role the operator gives it allows.
    calls = [_rbac_verb(call) for call in cluster.emulator.calls[since:]]
    verbs = {call.verb for call in calls if call.namespace == NAMESPACE and call.plural == "configmaps"}
    assert verbs == {"create", "update", "list", "delete"}
    refused = [call for call in calls if not allowed(call, role(STACK, NAMESPACE)["rules"])]
    assert not refused, refused


def _refuse(cluster: Cluster, message: str) -> None:
    """An admission policy on ConfigMaps: every write answers 422 Invalid with ``message``."""
    cluster.emulator.validators[CONFIGMAPS.key] = lambda obj: [message]


def test_api_refusals_are_clear_errors(cluster: Cluster, cm_router: Running) -> None:
    wav = asset("audio/en/jfk.wav")

    _refuse(cluster, "voices are frozen by policy")
    refused = _upload(cm_router, "fresh", wav)
    assert refused.status_code == 502, refused.text
    message = refused.json()["error"]["message"]
    assert f"refused to create the voice ConfigMap {NAMESPACE}/{STACK}-voice-fresh" in message
    assert "422 Invalid" in message and "voices are frozen by policy" in message
    assert _configmap(cluster, "fresh") is None

    # Replacing an existing voice: the create conflicts (409), the replace itself is refused.
    cluster.emulator.validators.pop(CONFIGMAPS.key)
    assert _upload(cm_router, "keeper", wav).status_code == 200
    before = _configmap(cluster, "keeper")
    _refuse(cluster, "quota exceeded")
    refused = _upload(cm_router, "keeper", asset("audio/en/jfk.mp3"), "audio/mpeg")
    assert refused.status_code == 502, refused.text
    message = refused.json()["error"]["message"]
    assert f"refused to replace the voice ConfigMap {NAMESPACE}/{STACK}-voice-keeper" in message
    assert "quota exceeded" in message
    assert _configmap(cluster, "keeper") == before  # the old sample is still there

    cluster.emulator.validators.pop(CONFIGMAPS.key)
    assert (
        httpx.delete(f"{cm_router.url}/v1/audio/voices/keeper", headers=AUTH, timeout=30).status_code == 200
    )
