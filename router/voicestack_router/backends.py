"""The predictors behind the router: replicas, round-robin, a bounded queue, retries and health.

One ``BackendPool`` per kind (ASR, TTS). Requests take a slot (``backend_max_inflight`` per replica); when
all slots are taken, OpenAI requests may wait in a bounded queue (beyond it: ``BackendBusy`` → 429) while
Bazarr requests always wait. Connection failures and a predictor's 503 (its queue is full) are retried on
the next replica for requests that are safe to repeat (every predictor call is: the work is a pure
function of the input). Waiting callers (Bazarr) also wait up to ``unavailable_wait_seconds`` for an
unreachable predictor to come back (``voicestack up`` restarts one that crashed); the others get
``BackendUnavailable`` (503) after ``retry_attempts``. A background task polls each replica's
``/v2/health/live`` and ``/v2/health/ready`` so routing prefers ready replicas and the router's readiness
tells the truth.

The replicas come from an ``Endpoints`` source (``voicestack_router.endpoints``) and may change while the
router runs: each health round first asks the source for the current set. A replica found at run time takes
requests once its readiness probe has passed; a removed one takes no new requests, finishes those it holds,
and is forgotten when the last one ends. The slot count follows the number of admitted replicas.

Time is bounded per call: a ``Deadline`` (from the audio's duration or the text's length) limits the wait
for the answer, and a replica whose liveness probe times out ``stall_after_probes`` times in a row (a hung
or SIGSTOPped process: its socket accepts, nothing answers) is *stalled*: the calls waiting on it end at
once with ``BackendUnavailable`` (503) instead of at their deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import Counter, Gauge

from voicestack.contracts.errors import ErrorCode, error_code
from voicestack_router.endpoints import Endpoints
from voicestack_router.request_context import current_request_id

log = logging.getLogger(__name__)

BACKEND_REQUESTS = Counter(
    "voicestack_router_backend_requests_total", "Calls to predictors", ["pool", "outcome"]
)
BACKEND_WAITING = Gauge("voicestack_router_backend_waiting", "Requests waiting for a backend slot", ["pool"])
BACKEND_ACTIVE = Gauge("voicestack_router_backend_active", "Requests holding a backend slot", ["pool"])
REPLICA_READY = Gauge("voicestack_router_replica_ready", "1 if the replica answers ready", ["pool", "url"])

ContentFactory = Callable[[], Any]
"""Builds a fresh request body for each attempt (bytes, a dict for JSON, or an async iterator)."""


class BackendBusy(Exception):
    """No slot and the queue is full (or the predictors answered 503): retry later."""

    def __init__(self, message: str, retry_after: int, status: int = 429) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class BackendUnavailable(Exception):
    """No replica could be reached (or it went away mid-request)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BackendTimeout(Exception):
    """The predictor did not answer within the call's deadline (504)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Deadline:
    """How long one predictor call may take: ``base_seconds`` plus a share per unit of work."""

    base_seconds: float = 60.0
    per_audio_second: float = 1.0
    per_input_char: float = 0.05

    def for_work(self, audio_seconds: float | None = None, input_chars: int | None = None) -> float:
        return (
            self.base_seconds
            + self.per_audio_second * (audio_seconds or 0.0)
            + self.per_input_char * (input_chars or 0)
        )


class ReplicaStalled(httpx.ReadError):
    """The replica's health checks time out: its calls fail like a broken connection (retried, then 503)."""


class BackendError(Exception):
    """The predictor answered with an error status (its message is passed on, and its ``code`` if any)."""

    def __init__(self, status: int, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


@dataclass
class Replica:
    url: str
    live: bool = True  # optimistic until the first health check
    ready: bool = False
    admitted: bool = True  # False for one found at run time, until its readiness probe passes
    draining: bool = False  # gone from the endpoint set: no new requests, its in-flight ones finish
    inflight: int = 0
    last_error: str | None = None
    checked_at: float = 0.0
    probe_timeouts: int = 0  # liveness probes timed out in a row
    stalled: asyncio.Event = field(default_factory=asyncio.Event)

    def set_stalled(self, stalled: bool) -> None:
        if stalled:
            self.stalled.set()
        else:
            self.stalled.clear()


def error_message(response: httpx.Response) -> str:
    """The ``error`` of a predictor's JSON error body, else its text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error") or body.get("detail") or body
        if isinstance(error, dict):
            error = error.get("message", error)
        return str(error)
    return str(body)


def _error_code(response: httpx.Response) -> ErrorCode | None:
    try:
        return error_code(response.json())
    except ValueError:
        return None


def _retry_after(response: httpx.Response, default: int) -> int:
    value = response.headers.get("retry-after", "")
    return int(value) if value.isdigit() else default


class Slots:
    """A FIFO counting semaphore whose capacity can change (it follows the number of replicas)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def full(self) -> bool:
        return self.used >= self.capacity

    async def acquire(self) -> None:
        if not self.full and not self._waiters:
            self.used += 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(granted)
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.release()  # granted just as the caller was cancelled: pass the slot on
            elif granted in self._waiters:
                self._waiters.remove(granted)
            raise

    def release(self) -> None:
        self.used -= 1
        self._wake()

    def resize(self, capacity: int) -> None:
        self.capacity = capacity
        self._wake()

    def _wake(self) -> None:
        while self._waiters and not self.full:
            granted = self._waiters.popleft()
            if not granted.done():
                self.used += 1
                granted.set_result(None)


class BackendPool:
    """Replicas of one predictor behind a slot limit and a bounded queue."""

    def __init__(
        self,
        name: str,
        endpoints: Endpoints,
        client: httpx.AsyncClient,
        *,
        max_inflight: int = 4,
        max_queue: int = 64,
        retry_attempts: int = 3,
        retry_after: int = 5,
        unavailable_wait_seconds: float = 60.0,
        deadline: Deadline | None = None,
        stall_after_probes: int = 2,
    ) -> None:
        self.name = name
        self.endpoints = endpoints
        self.replicas = [Replica(url) for url in endpoints.initial()]
        self.draining: list[Replica] = []  # removed from the set, requests still in flight
        self.client = client
        self.max_inflight = max_inflight
        self.max_queue = max_queue
        self.retry_attempts = retry_attempts
        self.retry_after = retry_after
        self.unavailable_wait_seconds = unavailable_wait_seconds
        self.deadline = deadline or Deadline()
        self.stall_after_probes = stall_after_probes
        self._slots = Slots(self._capacity())
        self._cursor = itertools.count()
        self.waiting = 0
        self.waiting_limited = 0
        self.active = 0
        BACKEND_WAITING.labels(name).set_function(lambda: self.waiting)
        BACKEND_ACTIVE.labels(name).set_function(lambda: self.active)

    @property
    def configured(self) -> bool:
        return self.endpoints.configured

    def _capacity(self) -> int:
        """Slots for the admitted replicas (a replica still waiting for its readiness adds none yet)."""
        return self.max_inflight * max(1, sum(1 for replica in self.replicas if replica.admitted))

    def ready_replicas(self) -> int:
        return sum(1 for replica in self.replicas if replica.live and replica.ready)

    def live_replicas(self) -> int:
        return sum(1 for replica in self.replicas if replica.live)

    # --- slots ------------------------------------------------------------------------------------------
    @asynccontextmanager
    async def slot(self, *, wait: bool) -> AsyncIterator[None]:
        """Hold one of the pool's slots; ``wait=False`` callers are refused past ``max_queue`` waiters."""
        if not self.configured:
            raise BackendUnavailable(f"no {self.name} predictor is configured", self.retry_after)
        if self._slots.full and not wait and self.waiting_limited >= self.max_queue:
            BACKEND_REQUESTS.labels(self.name, "refused_busy").inc()
            raise BackendBusy(
                f"The {self.name} backend is busy ({self.active} running, {self.waiting} waiting); "
                "retry later.",
                self.retry_after,
            )
        self.waiting += 1
        self.waiting_limited += 0 if wait else 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
            self.waiting_limited -= 0 if wait else 1
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
            self._slots.release()

    def pick(self, exclude: set[str] | None = None) -> Replica | None:
        """Round-robin over the best group of admitted replicas: ready, else live, else all (to find one that
        came back); None when no replica is admitted (none found yet, or none has passed its readiness)."""
        admitted = [replica for replica in self.replicas if replica.admitted]
        candidates = [replica for replica in admitted if not exclude or replica.url not in exclude]
        if not candidates:
            candidates = admitted
        for group in (
            [replica for replica in candidates if replica.live and replica.ready],
            [replica for replica in candidates if replica.live],
            candidates,
        ):
            if group:
                start = next(self._cursor)
                ordered = group[start % len(group) :] + group[: start % len(group)]
                return min(ordered, key=lambda replica: replica.inflight)
        return None

    # --- calls ------------------------------------------------------------------------------------------
    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        content: ContentFactory | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        http_timeout: httpx.Timeout,
        wait: bool = False,
        retry: bool = True,
        preload: bool = False,
        audio_seconds: float | None = None,
        input_chars: int | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """Send a request to a replica and yield the open (2xx) response; retries happen before the yield.

        ``preload`` reads the whole body before the yield, so a predictor that goes away after its headers
        counts as a connection failure (retried) rather than an error in the caller's read.
        ``audio_seconds``/``input_chars`` size the call's deadline (``Deadline``): the longest wait for the
        answer (``preload``) or its headers, and for each later read of a streamed answer.
        Raises ``BackendBusy`` (queue full, or every replica answered 503 for a non-waiting caller),
        ``BackendUnavailable`` (connection failures, a stalled replica), ``BackendTimeout`` (the deadline) and
        ``BackendError`` (any other error status).
        """
        seconds = self.deadline.for_work(audio_seconds, input_chars)
        http_timeout = httpx.Timeout(
            connect=http_timeout.connect,
            read=min(http_timeout.read or seconds, seconds),
            write=http_timeout.write,
            pool=None,
        )
        all_headers = dict(headers or {})
        request_id = current_request_id()
        if request_id:
            all_headers["X-Request-ID"] = request_id
        async with self.slot(wait=wait):
            attempt = 0
            unreachable_since: float | None = None  # the first connection failure in a row
            tried: set[str] = set()
            while True:
                attempt += 1
                replica = self.pick(exclude=tried)
                if replica is None:
                    unreachable_since = unreachable_since or time.monotonic()
                    if retry and self._may_retry(attempt, wait, unreachable_since):
                        await asyncio.sleep(min(0.2 * attempt, 2.0))
                        continue
                    raise BackendUnavailable(f"No {self.name} predictor replica is ready.", self.retry_after)
                tried.add(replica.url)
                if len(tried) >= len(self.replicas):
                    tried = set()
                replica.inflight += 1
                response: httpx.Response | None = None
                try:
                    request = self.client.build_request(
                        method,
                        replica.url + path,
                        content=content() if content is not None else None,
                        json=json_body,
                        headers=all_headers,
                        timeout=http_timeout,
                    )
                    response = await self._send(replica, request, preload=preload, seconds=seconds)
                except (
                    httpx.ConnectError,
                    httpx.ConnectTimeout,
                    httpx.RemoteProtocolError,
                    httpx.ReadError,
                    httpx.WriteError,
                ) as exc:
                    self._done(replica)
                    replica.live = False
                    replica.ready = False
                    replica.last_error = f"{type(exc).__name__}: {exc}"
                    REPLICA_READY.labels(self.name, replica.url).set(0)
                    BACKEND_REQUESTS.labels(self.name, "connection_error").inc()
                    log.warning("%s replica %s failed: %s", self.name, replica.url, replica.last_error)
                    unreachable_since = unreachable_since or time.monotonic()
                    if retry and self._may_retry(attempt, wait, unreachable_since):
                        await asyncio.sleep(min(0.2 * attempt, 2.0))
                        continue
                    raise BackendUnavailable(
                        f"The {self.name} backend is unavailable ({replica.last_error}).", self.retry_after
                    ) from exc
                except BaseException:
                    self._done(replica)
                    raise
                try:
                    if response.status_code == 503:
                        await response.aread()
                        message = error_message(response)
                        retry_after = _retry_after(response, self.retry_after)
                        BACKEND_REQUESTS.labels(self.name, "busy").inc()
                        await response.aclose()
                        response = None
                        unreachable_since = None  # it answered: the wait for a comeback starts afresh
                        if retry and self._may_retry(attempt, wait, None):
                            delay = min(retry_after, 2.0) if wait else 0.2 * attempt
                            await asyncio.sleep(delay)
                            continue
                        raise BackendBusy(
                            f"The {self.name} backend is busy: {message}", retry_after, status=503
                        )
                    if response.status_code >= 400:
                        await response.aread()
                        BACKEND_REQUESTS.labels(self.name, f"http_{response.status_code}").inc()
                        raise BackendError(
                            response.status_code, error_message(response), _error_code(response)
                        )
                    replica.live = True
                    replica.last_error = None
                    BACKEND_REQUESTS.labels(self.name, "ok").inc()
                    yield response
                    return
                finally:
                    self._done(replica)
                    if response is not None:
                        await response.aclose()

    async def _send(
        self, replica: Replica, request: httpx.Request, *, preload: bool, seconds: float
    ) -> httpx.Response:
        """``client.send`` within ``seconds``, ended early when the health checks find the replica stalled."""
        if replica.stalled.is_set():
            raise ReplicaStalled("the replica stopped answering its health checks")
        send = asyncio.ensure_future(self.client.send(request, stream=not preload))
        stalled = asyncio.ensure_future(replica.stalled.wait())
        try:
            await asyncio.wait({send, stalled}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stalled.cancel()
            if not send.done():
                send.cancel()
                with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                    await send
        if send.done() and not send.cancelled():
            return send.result()
        if replica.stalled.is_set():
            BACKEND_REQUESTS.labels(self.name, "stalled").inc()
            raise ReplicaStalled("the replica stopped answering its health checks")
        BACKEND_REQUESTS.labels(self.name, "deadline").inc()
        raise BackendTimeout(f"The {self.name} backend did not answer within {seconds:.0f} s.")

    def _may_retry(self, attempt: int, wait: bool, unreachable_since: float | None) -> bool:
        if wait:
            # Bazarr waits: a busy predictor is waited for without end, an unreachable one (restarting,
            # say) for ``unavailable_wait_seconds`` from the first failure in a row.
            return (
                unreachable_since is None
                or time.monotonic() - unreachable_since < self.unavailable_wait_seconds
            )
        return attempt < max(self.retry_attempts, len(self.replicas))

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        http_timeout: httpx.Timeout,
        json_body: Any = None,
        content: ContentFactory | None = None,
        headers: dict[str, str] | None = None,
        wait: bool = False,
        audio_seconds: float | None = None,
    ) -> Any:
        """A whole JSON answer (read inside the retry loop)."""
        async with self.stream(
            method,
            path,
            json_body=json_body,
            content=content,
            headers=headers,
            http_timeout=http_timeout,
            wait=wait,
            preload=True,
            audio_seconds=audio_seconds,
        ) as response:
            body = response
        try:
            return body.json()
        except ValueError as exc:
            raise BackendError(502, f"the {self.name} backend answered invalid JSON") from exc

    def _done(self, replica: Replica) -> None:
        """One request left ``replica``; a draining replica is forgotten after its last one."""
        replica.inflight -= 1
        if replica.draining and replica.inflight == 0 and replica in self.draining:
            self.draining.remove(replica)
            log.info("%s replica %s drained", self.name, replica.url)

    # --- the endpoint set -------------------------------------------------------------------------------
    async def refresh(self) -> None:
        """Follow the endpoint source: add new replicas (admitted after their readiness), drain removed ones.

        A source that cannot be read (a DNS failure) leaves the set as it was.
        """
        try:
            urls = await self.endpoints.current()
        except OSError as exc:
            log.warning("%s endpoints could not be read, keeping %d: %s", self.name, len(self.replicas), exc)
            return
        known = {replica.url for replica in self.replicas}
        wanted = set(urls)
        for replica in [replica for replica in self.replicas if replica.url not in wanted]:
            self.replicas.remove(replica)
            replica.draining = True
            with contextlib.suppress(KeyError):
                REPLICA_READY.remove(self.name, replica.url)
            if replica.inflight:
                self.draining.append(replica)
            log.info("%s replica %s removed (%d in flight)", self.name, replica.url, replica.inflight)
        for url in urls:
            if url not in known:
                self.replicas.append(Replica(url, live=False, admitted=False))
                log.info("%s replica %s found; admitted once ready", self.name, url)
        self._slots.resize(self._capacity())

    # --- health -----------------------------------------------------------------------------------------
    async def check(self, probe_seconds: float = 2.0) -> None:
        """Probe every replica's liveness and readiness once."""

        async def probe(replica: Replica) -> None:
            try:
                live = await self.client.get(f"{replica.url}/v2/health/live", timeout=probe_seconds)
                replica.probe_timeouts = 0
                replica.set_stalled(False)
                replica.live = live.status_code == 200
                ready = await self.client.get(f"{replica.url}/v2/health/ready", timeout=probe_seconds)
                replica.ready = ready.status_code == 200
                if replica.ready and not replica.admitted:
                    replica.admitted = True
                    log.info("%s replica %s is ready: admitted", self.name, replica.url)
                replica.last_error = None if replica.ready else f"not ready ({ready.status_code})"
            except httpx.HTTPError as exc:
                replica.live = replica.ready = False
                replica.last_error = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
                    # Connected but no answer: hung (or stopped), not gone.
                    replica.probe_timeouts += 1
                    if replica.probe_timeouts >= self.stall_after_probes:
                        if not replica.stalled.is_set():
                            log.warning("%s replica %s is stalled", self.name, replica.url)
                        replica.set_stalled(True)
                        replica.last_error = f"stalled: {replica.probe_timeouts} health checks timed out"
            replica.checked_at = time.time()
            REPLICA_READY.labels(self.name, replica.url).set(1 if replica.ready else 0)

        await asyncio.gather(*(probe(replica) for replica in self.replicas))
        self._slots.resize(self._capacity())  # admissions add slots

    async def watch(self, interval: float) -> None:
        """Follow the endpoint set and probe, forever (a background task)."""
        while True:
            with contextlib.suppress(Exception):
                await self.refresh()
                await self.check()
            await asyncio.sleep(interval)

    def status(self) -> str:
        """``ok`` (every replica ready), ``degraded`` (some reachable, not all ready) or ``unavailable``."""
        if self.live_replicas() == 0:
            return "unavailable"
        return "ok" if self.ready_replicas() == len(self.replicas) else "degraded"

    def describe(self) -> dict[str, Any]:
        """The pool for ``/health``: the current replicas, then draining ones (not counted in the totals)."""
        return {
            "status": self.status(),
            "ready_replicas": self.ready_replicas(),
            "live_replicas": self.live_replicas(),
            "total_replicas": len(self.replicas),
            "replicas": [
                {
                    "url": replica.url,
                    "live": replica.live,
                    "ready": replica.ready,
                    "inflight": replica.inflight,
                    "error": replica.last_error,
                    "stalled": replica.stalled.is_set(),
                    "admitted": replica.admitted,
                    "draining": replica.draining,
                }
                for replica in self.replicas + self.draining
            ],
            "active": self.active,
            "waiting": self.waiting,
        }
