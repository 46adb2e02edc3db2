"""Backend timeouts per API. On top of these, every predictor call has a deadline sized by its work (the
audio's duration, the text's length: ``backends.Deadline``), which also bounds the reads these leave open."""

from __future__ import annotations

import httpx

from voicestack_router.settings import RouterSettings


def openai_timeout(settings: RouterSettings) -> httpx.Timeout:
    return httpx.Timeout(
        connect=settings.connect_timeout_seconds,
        read=settings.request_timeout_seconds,
        write=settings.request_timeout_seconds,
        pool=None,
    )


def bazarr_timeout(settings: RouterSettings) -> httpx.Timeout:
    """No read or write timeout of its own: a long film's call is bounded by its deadline alone."""
    return httpx.Timeout(connect=settings.connect_timeout_seconds, read=None, write=None, pool=None)


def probe_timeout(settings: RouterSettings) -> httpx.Timeout:
    return httpx.Timeout(connect=settings.connect_timeout_seconds, read=30.0, write=30.0, pool=None)
