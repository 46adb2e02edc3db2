"""Operator tunables from the environment (the chart sets them; tests shorten them)."""

from __future__ import annotations

import os

MAX_RETRY_SECONDS = 300.0


def _seconds(variable: str, default: float) -> float:
    raw = os.environ.get(variable, "")
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


def resync_seconds() -> float:
    """Every VoiceStack is reconciled at least this often (drift the watches missed)."""
    return _seconds("VOICESTACK_RESYNC_SECONDS", 300.0)


def retry_seconds() -> float:
    """Delay before a reconcile that hit an API error is first retried (doubling after each failure)."""
    return _seconds("VOICESTACK_RETRY_SECONDS", 15.0)
