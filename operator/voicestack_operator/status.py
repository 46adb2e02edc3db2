"""Conditions and URLs of a VoiceStack, derived from its children's own status (pure functions)."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from voicestack_operator.spec_model import TtsSpec

CONDITION_TYPES = ("Ready", "AsrReady", "TtsReady", "RouterReady")
NOT_READY = {"AsrReady": "AsrNotReady", "TtsReady": "TtsNotReady", "RouterReady": "RouterNotReady"}


@dataclass(frozen=True)
class State:
    """One component's readiness: status True/False/Unknown, a CamelCase reason and a message."""

    status: str
    reason: str
    message: str

    @property
    def ready(self) -> bool:
        return self.status == "True"


def now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any] | None:
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None


def isvc_state(engine: str, enabled: bool, isvc: dict[str, Any] | None, kserve_installed: bool) -> State:
    label = engine.upper()
    if not enabled:
        return State("False", "Disabled", f"spec.{engine}.enabled is false")
    if not kserve_installed:
        return State(
            "False",
            "KServeMissing",
            "the InferenceService API (serving.kserve.io/v1beta1) is not installed in the cluster: "
            "install KServe",
        )
    if isvc is None:
        return State("Unknown", "Creating", f"the {label} InferenceService is being created")
    ready = _condition(isvc, "Ready")
    if ready is None:
        return State("Unknown", "Pending", f"KServe has not reported on the {label} InferenceService yet")
    if ready.get("status") == "True":
        url = (isvc.get("status") or {}).get("url", "")
        return State("True", "InferenceServiceReady", f"the {label} predictor is ready {url}".strip())
    reason = ready.get("reason") or "InferenceServiceNotReady"
    message = ready.get("message") or f"the {label} InferenceService is not ready"
    return State("False" if ready.get("status") == "False" else "Unknown", reason, message)


XTTS_V2 = re.compile(r"xtts[-_]?v2", re.IGNORECASE)  # coqui's tts_models/.../xtts_v2, coqui/XTTS-v2
LICENCE_ENV = "COQUI_TOS_AGREED"
NO_HINT_REASONS = ("Disabled", "KServeMissing", "Creating", "Pending")  # KServe has not said "not ready"


def is_xtts_v2(model: str) -> bool:
    return bool(XTTS_V2.search(model))


def licence_hint(tts: TtsSpec, state: State) -> State:
    """The TTS state, with a hint when an unready predictor wants XTTS-v2 and nobody accepted its licence.

    Not a diagnosis (the operator cannot see the predictor's log): only the likely cause, added to KServe's
    own reason and message. No hint once ``acceptModelLicense`` is true or ``env`` sets COQUI_TOS_AGREED.
    """
    if state.ready or state.reason in NO_HINT_REASONS or tts.engine == "piper":
        return state
    if tts.model is None or not is_xtts_v2(tts.model):
        return state
    if tts.acceptModelLicense or any(e.name == LICENCE_ENV for e in tts.env or []):
        return state
    hint = (
        f"{tts.model} is XTTS-v2, under the Coqui Public Model License (non-commercial use only): the "
        "predictor downloads it only once the licence is accepted, and spec.tts.acceptModelLicense is false; "
        "set it to true if you agree to the licence"
    )
    return State(state.status, state.reason, f"{state.message} (hint: {hint})")


def deployment_state(deployment: dict[str, Any] | None, replicas: int) -> State:
    if deployment is None:
        return State("Unknown", "Creating", "the router Deployment is being created")
    if replicas == 0:
        return State("False", "ScaledToZero", "spec.router.replicas is 0")
    status = deployment.get("status") or {}
    generation = (deployment.get("metadata") or {}).get("generation", 0)
    if status.get("observedGeneration", 0) < generation:
        return State(
            "Unknown", "Progressing", "the Deployment controller has not seen the latest router spec"
        )
    available = _condition(deployment, "Available")
    if available and available.get("status") == "True" and status.get("availableReplicas", 0) >= 1:
        return State(
            "True", "Available", f"{status.get('availableReplicas')}/{replicas} router pods available"
        )
    message = (available or {}).get("message") or "no router pod is available yet"
    return State("False", (available or {}).get("reason") or "Unavailable", message)


def overall_state(states: dict[str, State], enabled: dict[str, bool], router_url: str) -> State:
    """Ready when the router and every enabled engine are ready."""
    considered = {kind: state for kind, state in states.items() if enabled.get(kind, True)}
    waiting = [kind for kind, state in considered.items() if not state.ready]
    if not waiting:
        return State("True", "Ready", f"the stack serves at {router_url}")
    first = waiting[0]
    reason = considered[first].reason if considered[first].reason == "KServeMissing" else NOT_READY[first]
    message = "; ".join(f"{kind}: {considered[kind].message}" for kind in waiting)
    return State("False", reason, message)


def conditions(
    states: dict[str, State], previous: list[dict[str, Any]], generation: int, timestamp: str
) -> list[dict[str, Any]]:
    """Conditions in CONDITION_TYPES order; ``lastTransitionTime`` changes only when the status does."""
    before = {c.get("type"): c for c in previous or []}
    result = []
    for kind in CONDITION_TYPES:
        if kind not in states:
            if kind in before:
                result.append(before[kind])
            continue
        state = states[kind]
        old = before.get(kind)
        changed = old is None or old.get("status") != state.status
        result.append(
            {
                "type": kind,
                "status": state.status,
                "reason": state.reason,
                "message": state.message,
                "lastTransitionTime": timestamp if changed else old.get("lastTransitionTime", timestamp),
                "observedGeneration": generation,
            }
        )
    return result


def transitions(previous: list[dict[str, Any]], current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conditions whose status or reason changed (each deserves a Kubernetes Event)."""
    before = {c.get("type"): c for c in previous or []}
    changed = []
    for condition in current:
        old = before.get(condition["type"])
        if old is None or (old.get("status"), old.get("reason")) != (
            condition["status"],
            condition["reason"],
        ):
            changed.append(condition)
    return changed


def own_conditions(conditions: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The operator's conditions (CONDITION_TYPES) of a stored list; others belong to other field managers."""
    return [c for c in conditions or [] if c.get("type") in CONDITION_TYPES]


def status_differs(wanted: dict[str, Any], actual: dict[str, Any]) -> bool:
    """Whether the stored status differs from what the operator applies (another manager's conditions, kept by
    server-side apply, are not a difference)."""
    stored = {**actual, "conditions": own_conditions(actual.get("conditions"))}
    return any(stored.get(key) != value for key, value in wanted.items())
