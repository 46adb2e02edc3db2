"""Bounded concurrency with a bounded queue in front of an engine that must not be overloaded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Busy(Exception):
    """The queue is full: the caller should retry later (HTTP 503 with Retry-After)."""

    def __init__(self, waiting: int, retry_after: int = 5) -> None:
        super().__init__(f"server busy: {waiting} requests already waiting; retry later")
        self.retry_after = retry_after


class Gate:
    """At most ``max_concurrency`` holders at once, at most ``max_queue`` waiting; more raise Busy."""

    def __init__(self, max_concurrency: int, max_queue: int) -> None:
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self._semaphore: asyncio.Semaphore | None = None
        self.waiting = 0
        self.active = 0

    def _sem(self) -> asyncio.Semaphore:
        # Created on first use so it belongs to the server's running loop, not the importer's.
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        return self._semaphore

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        semaphore = self._sem()
        if semaphore.locked() and self.waiting >= self.max_queue:
            raise Busy(self.waiting)
        self.waiting += 1
        try:
            await semaphore.acquire()
        finally:
            self.waiting -= 1
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
            semaphore.release()
