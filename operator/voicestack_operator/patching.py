"""Decide what to write to a child: nothing when it already matches, else a minimal JSON merge patch.

A child is compared with what the operator wants only on the fields the operator sets (server defaults and
other controllers' fields are left alone). Fields the operator set before and no longer wants are removed
through a ``voicestack.io/last-applied`` annotation — the three-way merge ``kubectl apply`` does — which
stores the wanted object with long strings (voice samples) reduced to their hash.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from voicestack_operator.manifests.labels import LAST_APPLIED_ANNOTATION

IGNORED_TOP_LEVEL = {"apiVersion", "kind", "status"}
LONG_STRING = 256


def compact(value: Any) -> Any:
    """``value`` with every long string replaced by its SHA-256 (small enough for an annotation)."""
    if isinstance(value, dict):
        return {key: compact(sub) for key, sub in value.items()}
    if isinstance(value, list):
        return [compact(sub) for sub in value]
    if isinstance(value, str) and len(value) > LONG_STRING:
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return value


def with_last_applied(desired: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``desired`` carrying its own compact description in the last-applied annotation."""
    result = copy.deepcopy(desired)
    annotations = result.setdefault("metadata", {}).setdefault("annotations", {})
    annotations.pop(LAST_APPLIED_ANNOTATION, None)
    record = {key: value for key, value in result.items() if key not in IGNORED_TOP_LEVEL}
    annotations[LAST_APPLIED_ANNOTATION] = json.dumps(compact(record), sort_keys=True, separators=(",", ":"))
    return result


def last_applied(actual: dict[str, Any]) -> dict[str, Any]:
    raw = (actual.get("metadata", {}).get("annotations") or {}).get(LAST_APPLIED_ANNOTATION)
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


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


def merge_patch(desired: dict[str, Any], actual: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) turning ``actual`` into something ``desired`` is a subset of."""
    patch: dict[str, Any] = {}
    for key, value in desired.items():
        if key not in actual or actual[key] is None:
            patch[key] = value
        elif isinstance(value, dict) and isinstance(actual[key], dict):
            before = previous.get(key) if isinstance(previous.get(key), dict) else {}
            sub = merge_patch(value, actual[key], before)
            if sub:
                patch[key] = sub
        elif not is_subset(value, actual[key]):
            patch[key] = value
    for key in previous:
        if key not in desired and key in actual:
            patch[key] = None
    return patch


def child_patch(desired: dict[str, Any], actual: dict[str, Any]) -> dict[str, Any]:
    """The patch for an existing child (``desired`` as made by :func:`with_last_applied`); empty: no write."""
    wanted = {key: value for key, value in desired.items() if key not in IGNORED_TOP_LEVEL}
    current = {key: value for key, value in actual.items() if key not in IGNORED_TOP_LEVEL}
    return merge_patch(wanted, current, last_applied(actual))
