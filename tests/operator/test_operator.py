"""The real Kopf operator (kopf.testing.KopfRunner) against the emulated API server, for what a real one
cannot show; and the operator's settings.

The operator's behaviour (children, writes, drift, restarts, readiness, voices, pull settings, KServe missing,
a bad setting at startup) runs on the real API server: tests/cluster/test_operator_behaviour.py. What stays
here, and why:

- ``test_api_errors_are_retried_until_they_pass``: a 503/500/503 on the first three applies of a Deployment
  (``FakeApiServer.fail_next``); a real API server cannot be made to fail the nth call.
- ``test_invalid_spec_is_reported_without_a_crash_loop``: a voice whose ``data`` is not base64 is the only
  spec the operator refuses itself, and the real server refuses it first (the CRD's ``format: byte``), so
  only a server that skips that check can hand it to the operator; the emulator's schema check does not
  know ``format``. It keeps the operator's own refusal (no crash loop, a condition, an event) tested.
- The settings tests need no server at all.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import pytest
from kopf.testing import KopfRunner

from tests.operator.cluster import Cluster, wait_for
from tests.operator.specs import CHILDREN, VOICE_SPEC, stack

Operator = Callable[..., contextlib.AbstractContextManager[KopfRunner]]

VOICE_SPEC_PATCH = {"spec": VOICE_SPEC}


def settle(cluster: Cluster, quiet: float = 1.6, timeout: float = 30) -> None:
    """Wait until nothing has been written for ``quiet`` seconds (the resync timer runs every second)."""
    deadline = time.monotonic() + timeout
    seen, since = len(cluster.writes()), time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, "the operator kept writing"
        time.sleep(0.1)
        if len(cluster.writes()) != seen:
            seen, since = len(cluster.writes()), time.monotonic()


def condition(cluster: Cluster, kind: str, name: str = "demo") -> dict[str, Any]:
    conditions = ((cluster.get("VoiceStack", name) or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), {})


def existing(cluster: Cluster) -> set[tuple[str, str]]:
    return {(kind, name) for kind, name in CHILDREN if cluster.get(kind, name)}


def test_invalid_spec_is_reported_without_a_crash_loop(cluster: Cluster, operator: Operator) -> None:
    with operator() as runner:
        # The CRD admits it (a string under 1 MiB); only the operator can tell it is no base64.
        cluster.create(stack(spec={"tts": {"voices": [{"name": "anna", "data": "not base64!"}]}}))
        wait_for(lambda: condition(cluster, "Ready").get("reason") == "InvalidSpec", what="InvalidSpec")
        assert "voices[0] (anna): data is not valid base64" in condition(cluster, "Ready")["message"]
        wait_for(
            lambda: any(e["reason"] == "InvalidSpec" and e["type"] == "Warning" for e in cluster.events())
        )
        mark = cluster.mark()
        time.sleep(2.5)
        assert cluster.writes(mark) == [], "no retry storm"
        assert existing(cluster) == set(), "nothing built from an invalid spec"
        cluster.patch("VoiceStack", "demo", VOICE_SPEC_PATCH)
        wait_for(lambda: cluster.get("ConfigMap", "demo-voice-anna"), what="fixed spec reconciled")
        wait_for(lambda: condition(cluster, "Ready").get("reason") != "InvalidSpec", what="condition cleared")
    assert "Traceback" not in runner.output.split("InvalidSpec")[0]


def test_backoff_doubles_from_the_configured_delay_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    from voicestack_operator.settings import OperatorSettings

    monkeypatch.setenv("VOICESTACK_RETRY_SECONDS", "1")
    monkeypatch.setenv("VOICESTACK_MAX_RETRY_SECONDS", "60")
    config = OperatorSettings()
    assert [config.backoff(retry) for retry in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert config.backoff(30) == 60.0
    monkeypatch.delenv("VOICESTACK_RESYNC_SECONDS", raising=False)
    assert OperatorSettings().resync_seconds == 300.0  # unset: the default


def test_bad_settings_are_refused_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from voicestack_operator.settings import OperatorSettings

    monkeypatch.setenv("VOICESTACK_RESYNC_SECONDS", "soon")
    with pytest.raises(ValidationError, match="resync_seconds"):
        OperatorSettings()


def test_api_errors_are_retried_until_they_pass(cluster: Cluster, operator: Operator) -> None:
    cluster.emulator.fail_next("PATCH", "deployments", 503, 500, 503)
    with operator() as runner:
        cluster.create(stack())
        wait_for(lambda: existing(cluster) == CHILDREN, what="children despite three failed creates")
        settle(cluster)
    applies = [c for c in cluster.emulator.calls if (c.method, c.plural) == ("PATCH", "deployments")]
    assert len(applies) == 4, "three refused, the fourth created it"
    assert "Kubernetes API: HTTP 503" in runner.output  # Kopf's TemporaryError, retried with a delay
    assert len(cluster.list("Deployment")) == 1
    assert condition(cluster, "Ready").get("reason") != "InvalidSpec"
