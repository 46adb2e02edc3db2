"""Conditions in the Kubernetes convention, their Events, and the XTTS-v2 licence hint (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from voicestack_operator import status
from voicestack_operator.spec import normalize
from voicestack_operator.spec_model import TtsSpec

NOT_READY = status.State("False", "RevisionMissing", "pod crash-looping")


def tts(**fields: Any) -> TtsSpec:
    return normalize({"tts": fields}).tts


@pytest.mark.parametrize(
    "model", ["tts_models/multilingual/multi-dataset/xtts_v2", "coqui/XTTS-v2", "/models/xttsv2"]
)
def test_unready_xtts_v2_without_acceptance_gets_a_hint(model: str) -> None:
    hinted = status.licence_hint(tts(model=model), NOT_READY)
    assert (hinted.status, hinted.reason) == ("False", "RevisionMissing"), "KServe's reason is kept"
    assert hinted.message.startswith("pod crash-looping (hint: ")
    assert "Coqui Public Model License" in hinted.message and "non-commercial" in hinted.message
    assert "spec.tts.acceptModelLicense" in hinted.message


@pytest.mark.parametrize(
    ("section", "state"),
    [
        (tts(acceptModelLicense=True), NOT_READY),
        (tts(env=[{"name": "COQUI_TOS_AGREED", "value": "1"}]), NOT_READY),
        (tts(model="tts_models/en/ljspeech/vits"), NOT_READY),
        (tts(engine="piper"), NOT_READY),
        (tts(), status.State("True", "InferenceServiceReady", "the TTS predictor is ready")),
        (tts(), status.State("Unknown", "Creating", "the TTS InferenceService is being created")),
        (
            tts(),
            status.State("Unknown", "Pending", "KServe has not reported on the TTS InferenceService yet"),
        ),
        (tts(), status.State("False", "KServeMissing", "install KServe")),
        (tts(), status.State("False", "Disabled", "spec.tts.enabled is false")),
    ],
    ids=["accepted", "env", "not-xtts", "piper", "ready", "creating", "pending", "no-kserve", "disabled"],
)
def test_no_hint(section: TtsSpec, state: status.State) -> None:
    assert status.licence_hint(section, state) == state


def test_conditions_follow_the_kubernetes_convention() -> None:
    """lastTransitionTime moves only when the status does; observedGeneration always follows the spec."""
    waiting = {"Ready": status.State("False", "AsrNotReady", "loading"), "AsrReady": NOT_READY}
    first = status.conditions(waiting, [], 1, "2026-01-01T00:00:00Z")
    assert [c["type"] for c in first] == ["Ready", "AsrReady"]  # in CONDITION_TYPES order
    assert all(set(c) == {"type", "status", "reason", "message", "lastTransitionTime", "observedGeneration"}
               for c in first)  # fmt: skip

    same_status = {"Ready": status.State("False", "AsrNotReady", "still loading"), "AsrReady": NOT_READY}
    second = status.conditions(same_status, first, 2, "2026-01-01T00:05:00Z")
    assert [c["lastTransitionTime"] for c in second] == ["2026-01-01T00:00:00Z"] * 2
    assert [c["observedGeneration"] for c in second] == [2, 2]
    assert second[0]["message"] == "still loading"
    assert status.transitions(first, second) == [], "a new message alone is no transition (no Event)"

    ready = {"Ready": status.State("True", "Ready", "serving"), "AsrReady": NOT_READY}
    third = status.conditions(ready, second, 2, "2026-01-01T00:09:00Z")
    assert third[0]["lastTransitionTime"] == "2026-01-01T00:09:00Z"
    assert third[1]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert [c["type"] for c in status.transitions(second, third)] == ["Ready"]

    other_reason = {**ready, "AsrReady": status.State("False", "RevisionFailed", "exited")}
    fourth = status.conditions(other_reason, third, 2, "2026-01-01T00:10:00Z")
    assert fourth[1]["lastTransitionTime"] == "2026-01-01T00:00:00Z", (
        "same status, new reason: no transition time"
    )
    assert [c["type"] for c in status.transitions(third, fourth)] == ["AsrReady"], (
        "but an Event for the reason"
    )

    only_ready = status.conditions({"Ready": status.State("False", "InvalidSpec", "bad")}, fourth, 3, "t")
    assert [c["type"] for c in only_ready] == ["Ready", "AsrReady"], "unreported conditions are kept"


def test_another_managers_condition_is_not_a_difference() -> None:
    """Server-side apply keeps a condition the operator does not own: no rewrite for it on every pass."""
    own = [{"type": "Ready", "status": "True", "reason": "Ready"}]
    wanted = {"conditions": own, "observedGeneration": 2, "asr": None}
    foreign = {"type": "Reviewed", "status": "True", "reason": "Checked"}
    assert not status.status_differs(wanted, {"conditions": [foreign, *own], "observedGeneration": 2})
    changed = [{**own[0], "status": "False"}]
    assert status.status_differs(wanted, {"conditions": [foreign, *changed], "observedGeneration": 2})
    assert status.status_differs(wanted, {"conditions": own, "observedGeneration": 2, "asr": {"model": "x"}})
