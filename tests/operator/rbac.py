"""The operator's RBAC rules (the chart's one file) and whether a recorded API call is allowed by them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.operator.fake_apiserver import Recorded

RULES_FILE = (
    Path(__file__).resolve().parents[2] / "charts" / "voice-stack" / "files" / "operator-rbac-rules.yaml"
)


def rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(RULES_FILE.read_text())
    assert isinstance(loaded, list)
    return loaded


def allowed(call: Recorded, policy: list[dict[str, Any]]) -> bool:
    resource = f"{call.plural}/{call.subresource}" if call.subresource else call.plural
    return any(
        call.group in rule.get("apiGroups", [])
        and resource in rule.get("resources", [])
        and call.verb in rule.get("verbs", [])
        and (not rule.get("resourceNames") or call.name in rule["resourceNames"])
        for rule in policy
    )


def uncovered(calls: list[Recorded]) -> list[str]:
    """The calls the rules do not allow, as ``verb group/resource``."""
    policy = rules()
    missing = {
        f"{c.verb} {c.group or 'core'}/{c.plural}{'/' + c.subresource if c.subresource else ''}"
        for c in calls
        if not allowed(c, policy)
    }
    return sorted(missing)
