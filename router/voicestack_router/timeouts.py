"""Backend timeouts: bounded for OpenAI clients, none on reads for Bazarr's hour-long jobs."""

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
    """No read or write timeout: a long film takes as long as it takes."""
    return httpx.Timeout(connect=settings.connect_timeout_seconds, read=None, write=None, pool=None)


def probe_timeout(settings: RouterSettings) -> httpx.Timeout:
    return httpx.Timeout(connect=settings.connect_timeout_seconds, read=30.0, write=30.0, pool=None)
