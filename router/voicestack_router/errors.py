"""OpenAI-shaped errors: ``{"error": {"message", "type", "param", "code"}}`` with the right status.

Every failure on an OpenAI route (validation, auth, unknown model, busy backend, unexpected exception)
goes through ``ApiError`` and the handlers installed by ``install_error_handlers``; ``ErrorGuardMiddleware``
answers whatever still escapes. The Bazarr routes use the same shape: a JSON error body can never be
mistaken for a subtitle.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "server_error",
    503: "server_error",
    504: "timeout_error",
}


class ApiError(Exception):
    """An error to answer in OpenAI's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        error_type: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.error_type = error_type or _TYPES.get(
            status, "server_error" if status >= 500 else "invalid_request_error"
        )
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> JSONResponse:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "invalid request", None
    first = errors[0]
    message = str(first.get("msg", "invalid value"))
    if first.get("type") == "json_invalid":  # its location is a character offset, not a parameter
        return f"The body is not valid JSON: {message}.", None
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "header")]
    path = ".".join(location)
    # OpenAI's ``param`` names the request field (``voice``), not pydantic's path into it (``voice.str``).
    return (f"{path}: {message}" if path else message), (location[0] if location else None)


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception to an OpenAI-shaped JSON error."""

    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message, param = _validation_message(exc)
        return ApiError(400, message, param=param, code="invalid_value").response()

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return ApiError(exc.status_code, str(exc.detail), code=code).response()

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette's ServerErrorMiddleware (outside every other middleware) calls this; the guard below
        # answers first, so this is a last resort.
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return internal_error(exc).response()

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def internal_error(exc: BaseException) -> ApiError:
    return ApiError(500, f"internal error: {type(exc).__name__}", code="internal_error")


class ErrorGuardMiddleware:
    """Answers in OpenAI's JSON shape whatever escapes the application before its response started.

    Without it uvicorn answers a plain-text ``500 Internal Server Error`` for a request cancelled at
    shutdown (past ``timeout_graceful_shutdown``, e.g. a Bazarr request waiting for a predictor) and for an
    app that returns without answering; Starlette's ServerErrorMiddleware turns ``Exception`` into the
    ``unexpected`` handler's JSON, but outside the CORS and request-id middlewares. Once a response has
    started (a stream failing part-way) nothing can be said any more: the exception goes on and the server
    aborts the connection, which a client sees as a broken body, never as a clean end.
    """

    def __init__(self, app: ASGIApp, retry_after: int) -> None:
        self.app = app
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception as exc:
            if started:
                raise
            log.error("unhandled error on %s %s", scope["method"], scope["path"], exc_info=exc)
            await internal_error(exc).response()(scope, receive, send)
            return
        except asyncio.CancelledError:
            if not started:
                refused = ApiError(
                    503,
                    "The router is shutting down; retry the request.",
                    code="shutting_down",
                    retry_after=self.retry_after,
                )
                await refused.response()(scope, receive, send)
            raise
        if not started:
            log.error("no response for %s %s", scope["method"], scope["path"])
            await ApiError(500, "internal error: no response", code="internal_error").response()(
                scope, receive, send
            )
