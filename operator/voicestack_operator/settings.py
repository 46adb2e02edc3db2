"""Operator tunables, read from the environment when the operator starts (the chart sets them; tests pass
their own), never at import time."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorSettings(BaseSettings):
    """``VOICESTACK_RESYNC_SECONDS``, ``VOICESTACK_RETRY_SECONDS``, ``VOICESTACK_MAX_RETRY_SECONDS``."""

    model_config = SettingsConfigDict(env_prefix="VOICESTACK_", extra="ignore", frozen=True)

    resync_seconds: float = Field(
        300.0,
        gt=0,
        description="Every VoiceStack is reconciled at least this often (drift the watches missed).",
    )
    retry_seconds: float = Field(
        15.0,
        gt=0,
        description="Delay before a reconcile that hit an API error is first retried (then doubling).",
    )
    max_retry_seconds: float = Field(300.0, gt=0, description="Cap of the doubling retry delay.")

    def backoff(self, retry: int) -> float:
        """Seconds before retrying after the ``retry``-th failure: doubling from the first delay, capped."""
        return min(self.retry_seconds * 2 ** min(retry, 10), self.max_retry_seconds)
