"""A stand-in Kubernetes API server (not a real one) for running the real Kopf operator fast, built on kmock.

kmock (by Kopf's author) serves Kubernetes-shaped HTTP and API discovery; its own ``KubernetesEmulator`` keeps
objects as plain merged dicts. This emulator keeps kmock's server, request parsing and discovery
(``KubernetesScaffold``) and replaces the object store with API-server behaviour Kopf and the operator rely
on:

- server-set ``uid``, ``resourceVersion`` (one cluster-wide counter), ``generation`` (bumped on changes
  outside metadata/status), ``creationTimestamp``; ``generateName``;
- a no-op write changes nothing (no new resourceVersion, no watch event) — as the real server does;
- apply patches only as "create, else JSON merge patch": no field ownership, so it cannot show server-side
  apply's removal of fields an applier stopped sending (tests/cluster/ does, against a real API server);
- JSON merge patch, strategic merge patch (treated as merge patch), JSON patch with ``test`` → 422 on a failed
  test, PUT replace; ``metadata.resourceVersion`` preconditions → 409;
- the ``status`` subresource: main-resource writes ignore ``status``, status writes change only ``status``;
- ``labelSelector`` on lists and watches (``=``, ``==``, ``!=``, ``in``, ``notin``, exists, ``!``key);
- watches that resume from a ``resourceVersion`` (an event log), ``timeoutSeconds``;
- finalizers + ``deletionTimestamp``, and garbage collection of dependents by ``ownerReferences``;
- optional per-resource validators (e.g. a CRD schema) answering 422 ``Invalid``.
- injected failures (``fail_next``): the next N requests of a method on a resource answer an error status.

Every request is recorded (``requests``) for assertions, e.g. "no writes happened" or RBAC coverage.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import itertools
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp.web
import attrs
import kmock
from kmock._internal import rendering  # Request: parsed method/resource/namespace/name/subresource

Key = tuple[str, str, str]  # group, version, plural
ObjKey = tuple[Key, str | None, str]  # resource, namespace, name
Validator = Callable[[dict[str, Any]], list[str]]

APPLY_PATCH = "application/apply-patch+yaml"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class ResourceSpec:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    status_subresource: bool = False

    @property
    def key(self) -> Key:
        return (self.group, self.version, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


@dataclass
class Recorded:
    """One API call as the RBAC authorizer would see it."""

    method: str
    verb: str
    group: str
    version: str
    plural: str
    subresource: str | None
    namespace: str | None
    name: str | None
    content_type: str
    body: Any = field(repr=False, default=None)


class ApiStatus(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


# --- label selectors --------------------------------------------------------------------------------

_SET_RE = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_selector(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def matches_selector(labels: dict[str, str], selector: str | None) -> bool:
    for term in _split_selector(selector or ""):
        found = _SET_RE.match(term)
        if found:
            key, op, values = found.group(1), found.group(2), {v.strip() for v in found.group(3).split(",")}
            if op == "in" and labels.get(key) not in values:
                return False
            if op == "notin" and key in labels and labels[key] in values:
                return False
        elif "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


# --- patches ----------------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiStatus(422, "Invalid", f"bad JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, parts[-1]


def json_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902; a failed ``test`` or a missing path → 422 (as the API server answers)."""
    doc = copy.deepcopy(doc)
    for op in ops:
        try:
            parts = _pointer(op["path"])
            kind = op["op"]
            if kind == "test":
                node = doc
                for part in parts:
                    node = node[int(part)] if isinstance(node, list) else node[part]
                if node != op.get("value"):
                    raise ApiStatus(
                        422,
                        "Invalid",
                        f"the server rejected our request due to an error in our "
                        f"request: test failed at {op['path']}",
                    )
                continue
            parent, last = _parent(doc, parts)
            if kind in {"add", "replace"}:
                if isinstance(parent, list):
                    index = len(parent) if last == "-" else int(last)
                    if kind == "add":
                        parent.insert(index, copy.deepcopy(op["value"]))
                    else:
                        parent[index] = copy.deepcopy(op["value"])
                else:
                    if kind == "replace" and last not in parent:
                        raise ApiStatus(422, "Invalid", f"replace of a missing path {op['path']}")
                    parent[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                if isinstance(parent, list):
                    del parent[int(last)]
                else:
                    del parent[last]
            else:
                raise ApiStatus(422, "Invalid", f"unsupported JSON-patch op {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiStatus(422, "Invalid", f"JSON patch failed at {op.get('path')}: {exc!r}") from exc
    return doc


# --- the emulator -----------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class FakeApiServer(kmock.KubernetesScaffold):
    """kmock's Kubernetes scaffold (HTTP, discovery, errors) with an API-server-like object store."""

    specs: dict[Key, ResourceSpec] = attrs.field(factory=dict)
    validators: dict[Key, Validator] = attrs.field(factory=dict)
    objects: dict[ObjKey, dict[str, Any]] = attrs.field(factory=dict)
    log: list[tuple[int, Key, dict[str, Any]]] = attrs.field(factory=list)
    calls: list[Recorded] = attrs.field(factory=list)
    # (HTTP method, plural) → status codes the next such requests answer, one per request.
    faults: dict[tuple[str, str], list[int]] = attrs.field(factory=dict)
    _rv: itertools.count = attrs.field(factory=lambda: itertools.count(1000))
    _last_rv: int = 999
    _changed: asyncio.Condition | None = None

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.fallback[kmock.action.WATCH] << self._serve_watch

    # -- configuration --

    def add_resource(self, spec: ResourceSpec, validator: Validator | None = None) -> None:
        self.specs[spec.key] = spec
        self.resources[
            f"{spec.group}/{spec.version}/{spec.plural}" if spec.group else f"v1/{spec.plural}"
        ] = kmock.ResourceInfo(
            kind=spec.kind,
            singular=spec.kind.lower(),
            namespaced=spec.namespaced,
            verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
            subresources={"status"} if spec.status_subresource else set(),
        )
        if validator is not None:
            self.validators[spec.key] = validator

    def remove_resource(self, key: Key) -> None:
        self.specs.pop(key, None)
        for resource in list(self.resources):
            if (resource.group, resource.version, resource.plural) == key:
                del self.resources[resource]

    # -- helpers --

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    def _next_rv(self) -> str:
        self._last_rv = next(self._rv)
        return str(self._last_rv)

    async def _emit(self, key: Key, kind: str, obj: dict[str, Any]) -> None:
        self.log.append(
            (int(obj["metadata"]["resourceVersion"]), key, {"type": kind, "object": copy.deepcopy(obj)})
        )
        async with self._condition():
            self._condition().notify_all()

    def _spec_for(self, request: rendering.Request) -> ResourceSpec:
        resource = request.resource
        key = (resource.group or "", resource.version or "", resource.plural or "")
        if key not in self.specs:
            raise ApiStatus(404, "NotFound", f"the server could not find the requested resource {key}")
        return self.specs[key]

    @staticmethod
    def _now() -> str:
        return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _validate(self, spec: ResourceSpec, obj: dict[str, Any]) -> None:
        validator = self.validators.get(spec.key)
        problems = validator(obj) if validator else []
        if problems:
            raise ApiStatus(
                422,
                "Invalid",
                f"{spec.kind} {obj['metadata'].get('name')} is invalid: " + "; ".join(problems[:5]),
            )

    def _record(self, request: rendering.Request) -> None:
        resource = request.resource
        if resource is None or resource.plural is None:
            return
        verb = {
            kmock.action.LIST: "list",
            kmock.action.WATCH: "watch",
            kmock.action.FETCH: "get",
            kmock.action.CREATE: "create",
            kmock.action.UPDATE: "patch",
            kmock.action.DELETE: "delete",
        }.get(request.action, "update" if request.method.value == "PUT" else "unknown")
        self.calls.append(
            Recorded(
                method=request.method.value,
                verb=verb,
                group=resource.group or "",
                version=resource.version or "",
                plural=resource.plural,
                subresource=request.subresource,
                namespace=request.namespace,
                name=request.name,
                content_type=request.headers.get("Content-Type", ""),
                body=request.data,
            )
        )

    # -- dispatch --

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        resource = request.resource
        if resource is None or resource.plural is None:
            return await super()._handle(request)  # discovery: /api, /apis, /apis/g/v, /version
        self._record(request)
        try:
            injected = self.faults.get((request.method.value, resource.plural))
            if injected:
                code = injected.pop(0)
                raise ApiStatus(code, "InternalError", f"injected failure ({code}) for the test")
            spec = self._spec_for(request)
            if request.action == kmock.action.WATCH:
                return await super()._handle(request)
            method = request.method.value
            if method == "GET" and request.name is None:
                return self._json(200, self._list(spec, request))
            if method == "GET":
                return self._json(200, self._get(spec, request.namespace, request.name))
            if method == "POST":
                return self._json(201, await self._create(spec, request))
            if method == "PATCH":
                return self._json(200, await self._patch(spec, request))
            if method == "PUT":
                return self._json(200, await self._replace(spec, request))
            if method == "DELETE":
                return self._json(200, await self._delete(spec, request.namespace, request.name))
            raise ApiStatus(405, "MethodNotAllowed", f"{method} is not supported")
        except ApiStatus as exc:
            return self._json(
                exc.code,
                {
                    "apiVersion": "v1",
                    "kind": "Status",
                    "metadata": {},
                    "status": "Failure",
                    "code": exc.code,
                    "reason": exc.reason,
                    "message": exc.message,
                },
            )

    @staticmethod
    def _json(status: int, payload: Any) -> aiohttp.web.Response:
        return aiohttp.web.json_response(payload, status=status)

    # -- verbs --

    def _matching(
        self, spec: ResourceSpec, namespace: str | None, selector: str | None
    ) -> list[dict[str, Any]]:
        found = []
        for (key, ns, _), obj in sorted(self.objects.items(), key=lambda item: str(item[0])):
            labels = obj["metadata"].get("labels") or {}
            in_scope = key == spec.key and (namespace is None or ns == namespace)
            if in_scope and matches_selector(labels, selector):
                found.append(copy.deepcopy(obj))
        return found

    def _list(self, spec: ResourceSpec, request: rendering.Request) -> dict[str, Any]:
        items = self._matching(spec, request.namespace, request.params.get("labelSelector"))
        return {
            "apiVersion": spec.api_version,
            "kind": f"{spec.kind}List",
            "metadata": {"resourceVersion": str(self._last_rv)},
            "items": items,
        }

    def _get(self, spec: ResourceSpec, namespace: str | None, name: str | None) -> dict[str, Any]:
        obj = self.objects.get((spec.key, namespace, name or ""))
        if obj is None:
            raise ApiStatus(404, "NotFound", f'{spec.plural} "{name}" not found')
        return copy.deepcopy(obj)

    async def _create(self, spec: ResourceSpec, request: rendering.Request) -> dict[str, Any]:
        body = copy.deepcopy(request.data)
        return await self._insert(spec, request.namespace, body)

    async def _insert(self, spec: ResourceSpec, request_namespace: str | None, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiStatus(400, "BadRequest", "the body must be a JSON object")
        meta = body.setdefault("metadata", {})
        if spec.kind != "Event" and body.get("kind") not in (None, spec.kind):
            raise ApiStatus(400, "BadRequest", f"kind {body.get('kind')} posted to {spec.plural}")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if not meta.get("name"):
            raise ApiStatus(422, "Invalid", "metadata.name: Required value")
        namespace = request_namespace if spec.namespaced else None
        if spec.namespaced and meta.get("namespace") not in (None, namespace):
            raise ApiStatus(400, "BadRequest", "the namespace of the object does not match the request")
        key = (spec.key, namespace, meta["name"])
        if key in self.objects:
            raise ApiStatus(409, "AlreadyExists", f'{spec.plural} "{meta["name"]}" already exists')
        if spec.status_subresource:
            body.pop("status", None)
        if namespace:
            meta["namespace"] = namespace
        body["apiVersion"], body["kind"] = spec.api_version, spec.kind
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=self._now(), generation=1)
        meta.pop("deletionTimestamp", None)
        self._validate(spec, body)
        meta["resourceVersion"] = self._next_rv()
        self.objects[key] = body
        await self._emit(spec.key, "ADDED", body)
        return copy.deepcopy(body)

    async def _store_update(
        self, spec: ResourceSpec, key: ObjKey, old: dict[str, Any], new: dict[str, Any], status_only: bool
    ) -> dict[str, Any]:
        if status_only:
            new = {**copy.deepcopy(old), "status": new.get("status")}
            if new["status"] is None:
                new.pop("status")
        elif spec.status_subresource:
            new.pop("status", None)
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
        sent_rv = new.get("metadata", {}).get("resourceVersion")
        if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
            raise ApiStatus(
                409,
                "Conflict",
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        meta = new.setdefault("metadata", {})
        for field_name in ("uid", "creationTimestamp", "namespace", "name", "generation", "resourceVersion"):
            if field_name in old["metadata"]:
                meta[field_name] = old["metadata"][field_name]
        if old["metadata"].get("deletionTimestamp"):
            meta["deletionTimestamp"] = old["metadata"]["deletionTimestamp"]
        new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
        if new == old:
            return copy.deepcopy(old)  # a no-op write: no new resourceVersion, no event
        beyond_meta = {k: v for k, v in new.items() if k not in {"metadata", "status"}}
        if beyond_meta != {k: v for k, v in old.items() if k not in {"metadata", "status"}}:
            meta["generation"] = old["metadata"].get("generation", 1) + 1
        self._validate(spec, new)
        meta["resourceVersion"] = self._next_rv()
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            del self.objects[key]
            await self._emit(spec.key, "DELETED", new)
            await self._collect_garbage(meta["uid"])
        else:
            self.objects[key] = new
            await self._emit(spec.key, "MODIFIED", new)
        return copy.deepcopy(new)

    def _check_subresource(self, spec: ResourceSpec, request: rendering.Request) -> bool:
        if request.subresource is None:
            return False
        if request.subresource == "status" and spec.status_subresource:
            return True
        raise ApiStatus(404, "NotFound", f"no subresource {request.subresource} on {spec.plural}")

    async def _patch(self, spec: ResourceSpec, request: rendering.Request) -> dict[str, Any]:
        status_only = self._check_subresource(spec, request)
        key = (spec.key, request.namespace, request.name or "")
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type == APPLY_PATCH and key not in self.objects and not status_only:
            return await self._insert(spec, request.namespace, copy.deepcopy(request.data))
        old = self._get(spec, request.namespace, request.name)
        if content_type == APPLY_PATCH:
            # NOT server-side apply: no managedFields, so a field the applier stops sending stays. The
            # semantics that need field ownership are tested against the real API server (tests/cluster).
            if not isinstance(request.data, dict) or not request.params.get("fieldManager"):
                raise ApiStatus(400, "BadRequest", "an apply patch needs an object and a fieldManager")
            new = merge_patch(old, request.data)
        elif content_type == "application/json-patch+json":
            if not isinstance(request.data, list):
                raise ApiStatus(400, "BadRequest", "a JSON patch must be a list of operations")
            new = json_patch(old, request.data)
        elif content_type in {"application/merge-patch+json", "application/strategic-merge-patch+json"}:
            if not isinstance(request.data, dict):
                raise ApiStatus(400, "BadRequest", "a merge patch must be an object")
            new = merge_patch(old, request.data)
        else:
            raise ApiStatus(415, "UnsupportedMediaType", f"unsupported patch type {content_type!r}")
        return await self._store_update(spec, key, old, new, status_only)

    async def _replace(self, spec: ResourceSpec, request: rendering.Request) -> dict[str, Any]:
        status_only = self._check_subresource(spec, request)
        key = (spec.key, request.namespace, request.name or "")
        old = self._get(spec, request.namespace, request.name)
        new = copy.deepcopy(request.data)
        return await self._store_update(spec, key, old, new, status_only)

    async def _delete(self, spec: ResourceSpec, namespace: str | None, name: str | None) -> dict[str, Any]:
        key = (spec.key, namespace, name or "")
        old = self._get(spec, namespace, name)
        if old["metadata"].get("finalizers"):
            if not old["metadata"].get("deletionTimestamp"):
                new = copy.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = self._now()
                new["metadata"]["resourceVersion"] = self._next_rv()
                self.objects[key] = new
                await self._emit(spec.key, "MODIFIED", new)
                return copy.deepcopy(new)
            return old
        del self.objects[key]
        old["metadata"]["resourceVersion"] = self._next_rv()
        await self._emit(spec.key, "DELETED", old)
        await self._collect_garbage(old["metadata"]["uid"])
        return old

    async def _collect_garbage(self, owner_uid: str) -> None:
        """Kubernetes' garbage collector: dependents of a deleted owner go too (background propagation)."""
        for (key, ns, name), obj in list(self.objects.items()):
            refs = obj["metadata"].get("ownerReferences") or []
            if any(ref.get("uid") == owner_uid for ref in refs) and (key, ns, name) in self.objects:
                await self._delete(self.specs[key], ns, name)

    async def _serve_watch(self, request: rendering.Request) -> AsyncIterator[Any]:
        yield b""  # headers out now: the client sees the stream open even if nothing happens
        spec = self._spec_for(request)
        selector = request.params.get("labelSelector")
        timeout = float(request.params.get("timeoutSeconds") or 0) or None
        since = request.params.get("resourceVersion")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None

        def wanted(event: dict[str, Any]) -> bool:
            meta = event["object"]["metadata"]
            if request.namespace is not None and meta.get("namespace") != request.namespace:
                return False
            if request.name is not None and meta.get("name") != request.name:
                return False
            return matches_selector(meta.get("labels") or {}, selector)

        if since and since != "0":
            position = next((i for i, (rv, _, _) in enumerate(self.log) if rv > int(since)), len(self.log))
        else:
            for obj in self._matching(spec, request.namespace, selector):
                if request.name is None or obj["metadata"]["name"] == request.name:
                    yield {"type": "ADDED", "object": obj}
            position = len(self.log)
        while True:
            while position < len(self.log):
                _, key, event = self.log[position]
                position += 1
                if key == spec.key and wanted(event):
                    yield event
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return
            try:
                async with self._condition():
                    await asyncio.wait_for(
                        self._condition().wait_for(lambda p=position: len(self.log) > p), timeout=remaining
                    )
            except TimeoutError:
                return

    # -- direct access for tests (same event loop) --

    def fail_next(self, method: str, plural: str, *codes: int) -> None:
        """Answer the next ``len(codes)`` ``method`` requests on ``plural`` with these statuses."""
        self.faults.setdefault((method, plural), []).extend(codes)

    async def put_object(self, spec: ResourceSpec, obj: dict[str, Any]) -> dict[str, Any]:
        request = rendering.Request(method="POST", data=obj, namespace=obj["metadata"].get("namespace"))
        return await self._create(spec, request)

    async def patch_object(
        self,
        spec: ResourceSpec,
        namespace: str | None,
        name: str,
        patch: dict[str, Any],
        *,
        status: bool = False,
    ) -> dict[str, Any]:
        key = (spec.key, namespace, name)
        old = self._get(spec, namespace, name)
        return await self._store_update(spec, key, old, merge_patch(old, patch), status)

    async def delete_object(self, spec: ResourceSpec, namespace: str | None, name: str) -> dict[str, Any]:
        return await self._delete(spec, namespace, name)

    def dump(self) -> str:
        return json.dumps({str(k): v for k, v in self.objects.items()}, indent=1, default=str)
