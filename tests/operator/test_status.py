"""The XTTS-v2 licence hint on TtsReady (pure: status.licence_hint)."""

from __future__ import annotations

from typing import Any

import pytest
from voicestack_operator import status
from voicestack_operator.spec import normalize

NOT_READY = status.State("False", "RevisionMissing", "pod crash-looping")


def tts(**fields: Any) -> dict[str, Any]:
    return normalize({"tts": fields})["tts"]


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
        (tts(), status.State("True", "InferenceServiceReady", "the TTS predictor is ready")),
        (tts(), status.State("Unknown", "Creating", "the TTS InferenceService is being created")),
        (
            tts(),
            status.State("Unknown", "Pending", "KServe has not reported on the TTS InferenceService yet"),
        ),
        (tts(), status.State("False", "KServeMissing", "install KServe")),
        (tts(), status.State("False", "Disabled", "spec.tts.enabled is false")),
    ],
    ids=["accepted", "env", "not-xtts", "ready", "creating", "pending", "no-kserve", "disabled"],
)
def test_no_hint(section: dict[str, Any], state: status.State) -> None:
    assert status.licence_hint(section, state) == state
