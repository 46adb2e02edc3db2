"""Request bodies: a size cap on JSON bodies, and a minimum rate for every body.

JSON: the cap is enforced while the body arrives (before FastAPI parses it).

Multipart uploads have their own streaming limits (``voicestack_router.multipart_stream``); JSON bodies
(speech, the voices API's JSON calls) are small by nature, so anything far larger is refused with 413 before
it is held in memory: by ``Content-Length`` up front, or by counting
(at most the cap is buffered) when it is chunked.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voicestack_router.errors import ApiError


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"The JSON body is larger than {limit} bytes.",
        code="request_too_large",
    )


class JsonBodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _too_large(self.max_bytes).response()(scope, receive, send)
            return
        # Chunked (no Content-Length): read up to the cap here, then hand the body on. FastAPI would
        # turn an error raised while it reads into a 400, so the 413 must be decided before the app runs.
        chunks: list[bytes] = []
        received = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await _too_large(self.max_bytes).response()(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return bytes(value)
    return None


def _is_json(scope: Scope) -> bool:
    content_type = _header(scope, b"content-type") or b""
    return content_type.split(b";")[0].strip().lower().endswith(b"json")


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class SlowBody(ApiError):
    """A body that fell behind the minimum rate (408)."""


class BodyRateMiddleware:
    """A request body must keep arriving: after ``grace_seconds``, at ``min_bytes_per_second`` or more.

    uvicorn has no body timeout, so a client trickling an upload (slowloris's body variant, or a stalled
    link) would hold a connection, a spool file and a task as long as it liked. Byte ``n`` must arrive by
    ``grace_seconds + n / min_bytes_per_second`` after the request started; a body that falls behind ends
    in a 408 ``request_timeout`` (or, once the response has started, looks like a disconnect to the app).
    """

    def __init__(self, app: ASGIApp, grace_seconds: float, min_bytes_per_second: int) -> None:
        self.app = app
        self.grace_seconds = grace_seconds
        self.min_bytes_per_second = min_bytes_per_second

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        received = 0
        finished = False
        responding = False

        async def timed_receive() -> Message:
            nonlocal received, finished
            if finished:
                return await receive()
            allowed = started + self.grace_seconds + received / self.min_bytes_per_second - time.monotonic()
            try:
                async with asyncio.timeout(max(allowed, 0.0)):
                    message = await receive()
            except TimeoutError:
                finished = True
                if responding:
                    return {"type": "http.disconnect"}
                raise SlowBody(
                    408,
                    f"The request body arrived too slowly: {received} bytes in "
                    f"{time.monotonic() - started:.0f} s (at least {self.min_bytes_per_second} bytes/s "
                    f"after the first {self.grace_seconds:g} s).",
                    code="request_timeout",
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                finished = not message.get("more_body", False)
            else:
                finished = True
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal responding
            responding = responding or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, tracked_send)
        except SlowBody as exc:  # raised in a middleware, outside FastAPI's handlers
            if responding:
                raise
            await exc.response()(scope, receive, send)
