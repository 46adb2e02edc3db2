"""The stand-in API server does what kmock alone does not and Kopf relies on (over real HTTP)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.operator.cluster import Cluster, emulated_cluster

CM = "/api/v1/namespaces/default/configmaps"
VS = "/apis/voicestack.io/v1alpha1/namespaces/default/voicestacks"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with emulated_cluster(Path(tmp_path_factory.mktemp("emulator"))) as cluster:
        yield cluster


def call(
    cluster: Cluster,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
    params: dict[str, str] | None = None,
) -> tuple[int, Any]:
    async def send() -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method,
                cluster.url + path,
                data=None if body is None else json.dumps(body),
                headers={"Content-Type": content_type},
                params=params,
            ) as response,
        ):
            text = await response.text()
            if params and params.get("watch") == "true":
                return response.status, [json.loads(line) for line in text.splitlines() if line.strip()]
            return response.status, json.loads(text) if text else None

    return cluster.call(send())


def configmap(name: str, labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels or {}},
        **extra,
    }


def test_server_sets_identity_and_versions(api: Cluster) -> None:
    status, created = call(api, "POST", CM, {**configmap("ids"), "metadata": {"name": "ids", "uid": "mine"}})
    assert status == 201
    meta = created["metadata"]
    assert meta["uid"] != "mine" and len(meta["uid"]) == 36
    assert meta["generation"] == 1 and meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) > 0
    assert call(api, "POST", CM, configmap("ids"))[0] == 409
    assert call(api, "GET", f"{CM}/missing")[0] == 404


def test_generation_and_no_op_writes(api: Cluster) -> None:
    _, created = call(api, "POST", VS, {"apiVersion": "voicestack.io/v1alpha1", "kind": "VoiceStack",
                                        "metadata": {"name": "gen"}, "spec": {}})  # fmt: skip
    merge = "application/merge-patch+json"
    _, labelled = call(api, "PATCH", f"{VS}/gen", {"metadata": {"labels": {"a": "b"}}}, merge)
    assert labelled["metadata"]["generation"] == 1  # metadata only
    assert labelled["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
    _, changed = call(api, "PATCH", f"{VS}/gen", {"spec": {"deploymentMode": "Knative"}}, merge)
    assert changed["metadata"]["generation"] == 2
    _, same = call(api, "PATCH", f"{VS}/gen", {"spec": {"deploymentMode": "Knative"}}, merge)
    assert same["metadata"]["resourceVersion"] == changed["metadata"]["resourceVersion"]  # a no-op write
    _, ignored = call(api, "PATCH", f"{VS}/gen", {"status": {"routerUrl": "x"}}, merge)
    assert "status" not in ignored  # the main resource ignores status
    _, written = call(
        api, "PATCH", f"{VS}/gen/status", {"status": {"routerUrl": "x"}, "spec": {"x": 1}}, merge
    )
    assert written["status"] == {"routerUrl": "x"} and written["metadata"]["generation"] == 2
    assert (
        call(api, "PATCH", f"{VS}/gen", {"spec": {"deploymentMode": "Serverless"}}, merge)[0] == 422
    )  # schema
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "spec": {}}
    assert call(api, "PATCH", f"{VS}/gen", stale, merge)[0] == 409


def test_label_selectors(api: Cluster) -> None:
    for name, labels in {"s1": {"app": "x", "tier": "a"}, "s2": {"app": "y"}, "s3": {"tier": "b"}}.items():
        call(api, "POST", CM, configmap(name, {**labels, "sel": "yes"}))

    def names(selector: str) -> list[str]:
        _, found = call(api, "GET", CM, params={"labelSelector": f"sel=yes,{selector}"})
        return sorted(item["metadata"]["name"] for item in found["items"])

    assert names("app=x") == ["s1"]
    assert names("app==y") == ["s2"]
    assert names("app!=x") == ["s2", "s3"]
    assert names("app in (x, y)") == ["s1", "s2"]
    assert names("tier notin (a)") == ["s2", "s3"]
    assert names("tier") == ["s1", "s3"]
    assert names("!tier") == ["s2"]


def test_json_patch_test_failure_is_422(api: Cluster) -> None:
    call(api, "POST", CM, configmap("jp", data={"k": "v"}))
    json_patch = "application/json-patch+json"
    failed = [
        {"op": "test", "path": "/data/k", "value": "other"},
        {"op": "replace", "path": "/data/k", "value": "w"},
    ]
    status, body = call(api, "PATCH", f"{CM}/jp", failed, json_patch)
    assert status == 422 and body["reason"] == "Invalid"
    assert call(api, "GET", f"{CM}/jp")[1]["data"] == {"k": "v"}
    passed = [
        {"op": "test", "path": "/data/k", "value": "v"},
        {"op": "replace", "path": "/data/k", "value": "w"},
    ]
    assert call(api, "PATCH", f"{CM}/jp", passed, json_patch)[1]["data"] == {"k": "w"}


def test_apply_is_create_or_merge_and_says_so(api: Cluster) -> None:
    """Only an approximation of server-side apply (no field ownership): create if missing, else merge."""
    apply, manager = "application/apply-patch+yaml", {"fieldManager": "voicestack-operator", "force": "true"}
    status, made = call(api, "PATCH", f"{CM}/ap", configmap("ap", data={"a": "1", "b": "2"}), apply, manager)
    assert status == 200 and made["metadata"]["uid"] and made["data"] == {"a": "1", "b": "2"}
    status, again = call(api, "PATCH", f"{CM}/ap", configmap("ap", data={"a": "1", "b": "2"}), apply, manager)
    assert again["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"], "a no-op apply"
    _, merged = call(api, "PATCH", f"{CM}/ap", configmap("ap", data={"a": "3"}), apply, manager)
    assert merged["data"] == {"a": "3", "b": "2"}, "b stays here; a real server would remove it"
    assert call(api, "PATCH", f"{CM}/ap", configmap("ap"), apply)[0] == 400, "no fieldManager"


def test_watch_resumes_from_a_resource_version(api: Cluster) -> None:
    _, first = call(api, "POST", CM, configmap("w1", {"watch": "me"}))
    since = first["metadata"]["resourceVersion"]
    call(api, "POST", CM, configmap("w2", {"watch": "me"}))
    call(api, "POST", CM, configmap("w3", {"other": "label"}))
    call(api, "DELETE", f"{CM}/w1")
    params = {"watch": "true", "resourceVersion": since, "timeoutSeconds": "1", "labelSelector": "watch=me"}
    status, events = call(api, "GET", CM, params=params)
    assert status == 200
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "w2"),
        ("DELETED", "w1"),
    ]
    _, listing = call(
        api, "GET", CM, params={"watch": "true", "timeoutSeconds": "1", "labelSelector": "watch=me"}
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in listing] == [("ADDED", "w2")]


def test_finalizers_and_garbage_collection(api: Cluster) -> None:
    _, owner = call(api, "POST", CM, configmap("owner", metadata={"name": "owner", "finalizers": ["x/y"]}))
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    call(api, "POST", CM, configmap("child", metadata={"name": "child", "ownerReferences": [ref]}))
    _, deleting = call(api, "DELETE", f"{CM}/owner")
    assert deleting["metadata"]["deletionTimestamp"]
    assert call(api, "GET", f"{CM}/child")[0] == 200
    call(api, "PATCH", f"{CM}/owner", {"metadata": {"finalizers": None}}, "application/merge-patch+json")
    assert call(api, "GET", f"{CM}/owner")[0] == 404
    assert call(api, "GET", f"{CM}/child")[0] == 404


def test_calls_are_recorded_as_rbac_sees_them(api: Cluster) -> None:
    start = api.mark()
    call(api, "GET", CM, params={"labelSelector": "a=b"})
    call(api, "PATCH", f"{VS}/gen/status", {"status": {}}, "application/merge-patch+json")
    recorded = [(c.verb, c.plural, c.subresource) for c in api.emulator.calls[start:]]
    assert recorded == [("list", "configmaps", None), ("patch", "voicestacks", "status")]
