"""Label streamed predictions ``application/x-ndjson``.

KServe turns an async iterator from ``predict`` into a ``StreamingResponse`` without a media type; this
ASGI middleware adds the header to such responses (and to nothing that already has a content type).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI

NDJSON = b"application/x-ndjson"
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Receive, Send], Awaitable[None]]


class NdjsonContentType:
    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith(":predict"):
            await self.app(scope, receive, send)
            return

        async def send_with_type(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"content-type" for name, _ in headers):
                    headers.append((b"content-type", NDJSON))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_type)


def install(app: FastAPI) -> None:
    app.add_middleware(NdjsonContentType)
