"""A size cap on JSON request bodies, enforced while they arrive (before FastAPI parses them).

Multipart uploads have their own streaming limits (``voicestack_router.multipart_stream``); JSON bodies
(speech, the voices API's JSON calls) are small by nature, so anything far larger is refused with 413 before
it is held in memory: by ``Content-Length`` up front, or by counting
(at most the cap is buffered) when it is chunked.
"""

from __future__ import annotations

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
