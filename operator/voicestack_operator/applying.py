"""Server-side apply of the children, and the read-only check that lets an unchanged child cost no write.

The API server does the merging: each child is sent whole as an apply patch (field manager
``voicestack-operator``, ``force``), so fields the operator owns are restored, fields others set (a user,
KServe, the HPA) are kept, and a field the operator stops sending is removed by the server's field ownership.

An apply is skipped when the child already holds every wanted field *and* carries the hash of exactly this
manifest (``voicestack.io/applied-hash``, written by the apply itself): the hash catches a manifest that lost
a field (which the subset test cannot see), the subset test catches hand edits to the operator's fields.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from voicestack_operator.manifests.labels import APPLIED_HASH_ANNOTATION, LEGACY_LAST_APPLIED_ANNOTATION

LEGACY_FIELD_MANAGER = "OpenAPI-Generator"  # kubernetes_asyncio's user agent: the pre-SSA operator's writes


def manifest_hash(manifest: dict[str, Any]) -> str:
    """SHA-256 of the manifest without its own hash annotation (stable: keys sorted)."""
    record = copy.deepcopy(manifest)
    (record.get("metadata", {}).get("annotations") or {}).pop(APPLIED_HASH_ANNOTATION, None)
    encoded = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(encoded).hexdigest()


def with_applied_hash(manifest: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``manifest`` carrying its own hash."""
    result = copy.deepcopy(manifest)
    annotations = result.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[APPLIED_HASH_ANNOTATION] = manifest_hash(result)
    return result


def is_subset(desired: Any, actual: Any) -> bool:
    """Whether ``actual`` already has every field of ``desired`` (lists element by element)."""
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(
            key in actual and is_subset(value, actual[key]) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(actual, list)
            and len(desired) == len(actual)
            and all(is_subset(d, a) for d, a in zip(desired, actual, strict=True))
        )
    return bool(desired == actual and type(desired) is type(actual))


def up_to_date(desired: dict[str, Any], actual: dict[str, Any]) -> bool:
    """Whether applying ``desired`` (made by :func:`with_applied_hash`) would change nothing we own."""
    annotations = actual.get("metadata", {}).get("annotations") or {}
    if LEGACY_LAST_APPLIED_ANNOTATION in annotations:
        return False
    wanted = {key: value for key, value in desired.items() if key != "status"}
    return is_subset(wanted, actual)


def legacy_cleanup(actual: dict[str, Any], manager: str) -> list[dict[str, Any]] | None:
    """A JSON patch for a child written by an operator before server-side apply, else None.

    Such a child carries ``voicestack.io/last-applied`` and its fields are owned by the old client's *Update*
    manager (``OpenAPI-Generator``, kubernetes_asyncio's user agent). Its ``managedFields`` entry becomes the
    operator's *Apply* entry (what client-go's csaupgrade does), so the operator is the only owner of those
    fields and a field it stops setting is removed. (Clearing managedFields instead would hand every field to
    the server's ``before-first-apply`` manager, and nothing would ever be removed.)
    """
    meta = actual.get("metadata", {})
    if LEGACY_LAST_APPLIED_ANNOTATION not in (meta.get("annotations") or {}):
        return None
    path = "/metadata/annotations/" + LEGACY_LAST_APPLIED_ANNOTATION.replace("~", "~0").replace("/", "~1")
    patch: list[dict[str, Any]] = [{"op": "remove", "path": path}]
    entries = meta.get("managedFields") or []
    if not any(e.get("manager") == manager and e.get("operation") == "Apply" for e in entries):
        moved = [
            {**entry, "manager": manager, "operation": "Apply"}
            if (entry.get("manager"), entry.get("operation"), entry.get("subresource"))
            == (LEGACY_FIELD_MANAGER, "Update", None)
            else entry
            for entry in entries
        ]
        if moved != entries:
            patch.append({"op": "replace", "path": "/metadata/managedFields", "value": moved})
    return patch


def merged_field_sets(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """The union of two ``fieldsV1`` sets (nested dicts whose leaves are ``{}``)."""
    union = dict(first)
    for key, value in second.items():
        union[key] = merged_field_sets(union[key], value) if key in union else value
    return union


def status_handover(stack: dict[str, Any], manager: str) -> list[dict[str, Any]] | None:
    """A JSON patch handing the status an older operator wrote by merge patch to the operator's Apply entry.

    Before the status was server-side applied, the operator's status writes were *Update*s of the status
    subresource (manager ``OpenAPI-Generator``, later ``voicestack-operator``). Their entry keeps owning the
    fields it wrote, so a field the operator stops applying (a disabled engine's ``status.asr``) would never
    be removed. Its field set joins the operator's Apply entry for the status (or becomes it), as for the
    children in :func:`legacy_cleanup`; other managers' entries are left as they are.
    """
    entries: list[dict[str, Any]] = stack.get("metadata", {}).get("managedFields") or []

    def ours(entry: dict[str, Any], operation: str) -> bool:
        managers = (manager, LEGACY_FIELD_MANAGER) if operation == "Update" else (manager,)
        return (
            entry.get("subresource") == "status"
            and entry.get("operation") == operation
            and entry.get("manager") in managers
        )

    updates = [entry for entry in entries if ours(entry, "Update")]
    if not updates:
        return None
    applied = [entry for entry in entries if ours(entry, "Apply")]
    fields: dict[str, Any] = {}
    for entry in applied + updates:
        fields = merged_field_sets(fields, entry.get("fieldsV1") or {})
    entry = {**(applied or updates)[0], "manager": manager, "operation": "Apply", "fieldsV1": fields}
    kept = [other for other in entries if not (ours(other, "Update") or ours(other, "Apply"))]
    return [{"op": "replace", "path": "/metadata/managedFields", "value": [*kept, entry]}]
