"""The router application: settings, backend pools, routes, errors, CORS, request ids, logs and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voicestack import __version__
from voicestack.contracts.errors import ROUTER_ERRORS
from voicestack_router import (
    bazarr_routes,
    consent_routes,
    models_routes,
    speech_routes,
    transcription_routes,
    voices_routes,
)
from voicestack_router.auth import check_api_key, sees_details
from voicestack_router.backends import (
    BackendBusy,
    BackendError,
    BackendPool,
    BackendTimeout,
    BackendUnavailable,
    Deadline,
)
from voicestack_router.body_limits import BodyRateMiddleware, JsonBodyLimitMiddleware
from voicestack_router.consent_store import build_consent_store
from voicestack_router.endpoints import endpoints_from_urls
from voicestack_router.errors import ApiError, ErrorGuardMiddleware, install_error_handlers
from voicestack_router.openapi import install_openapi
from voicestack_router.realtime import routes as realtime_routes
from voicestack_router.request_context import REQUEST_ID
from voicestack_router.settings import RouterSettings, load_settings
from voicestack_router.voice_store import build_voice_store

log = logging.getLogger("router")

REQUESTS = Counter("voicestack_router_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "voicestack_router_request_seconds",
    "Time to the response headers",
    ["method", "route"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)


class RequestIdMiddleware:
    """Take or make ``X-Request-ID``, echo it, log one JSON line per request and count it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1").strip()
        request_id = incoming[:128] if incoming else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode("latin-1"))]
                route = scope.get("route")
                path = getattr(route, "path", "unmatched")
                LATENCY.labels(scope["method"], path).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            REQUESTS.labels(scope["method"], path, str(status)).inc()
            if path not in ("/metrics", "/healthz", "/health", "/healthcheck"):
                log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "status": status,
                        "path": scope["path"],
                        "method": scope["method"],
                        "seconds": round(time.perf_counter() - started, 4),
                    },
                )
            REQUEST_ID.reset(token)


def _install_backend_errors(app: FastAPI) -> None:
    async def busy(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BackendBusy)
        code = "server_busy" if exc.status == 429 else "backend_busy"
        return ApiError(exc.status, str(exc), code=code, retry_after=exc.retry_after).response()

    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BackendUnavailable)
        return ApiError(503, str(exc), code="backend_unavailable", retry_after=exc.retry_after).response()

    async def timeout(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, httpx.TimeoutException)
        message = f"The backend did not answer in time ({type(exc).__name__})."
        return ApiError(504, message, code="backend_timeout").response()

    async def deadline(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BackendTimeout)
        return ApiError(504, str(exc), code="backend_timeout").response()

    async def backend_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BackendError)
        if exc.code is not None:  # a typed refusal (voicestack.contracts.errors)
            mapped = ROUTER_ERRORS[exc.code]
            return ApiError(mapped.status, exc.message, param=mapped.param, code=exc.code.value).response()
        if exc.status in (400, 413, 415, 422):
            status = 400 if exc.status == 422 else exc.status
            # A predictor's only 413 is the ASR duration limit (as in the router's own Bazarr PCM check).
            code = "audio_too_long" if status == 413 else "invalid_request"
            return ApiError(status, exc.message, code=code).response()
        return ApiError(502, f"The backend failed: {exc.message}", code="backend_error").response()

    app.add_exception_handler(BackendBusy, busy)
    app.add_exception_handler(BackendUnavailable, unavailable)
    app.add_exception_handler(BackendError, backend_error)
    app.add_exception_handler(httpx.TimeoutException, timeout)
    app.add_exception_handler(BackendTimeout, deadline)


def _health_body(app: FastAPI) -> tuple[dict[str, Any], bool]:
    pools: list[BackendPool] = [app.state.asr, app.state.tts, app.state.tts_fast]
    configured = [pool for pool in pools if pool.configured]
    ok = bool(configured) and all(pool.live_replicas() > 0 for pool in configured)
    degraded = any(pool.status() != "ok" for pool in configured)
    body = {
        # "degraded": still serving (200), but some replica is down or not ready (see its "error").
        "status": ("degraded" if degraded else "ok") if ok else "unavailable",
        "version": __version__,
        "backends": {pool.name: pool.describe() for pool in configured},
    }
    return body, ok


def _docs_urls(settings: RouterSettings) -> dict[str, str | None]:
    """FastAPI's own (open) docs routes, unless they are off or must be behind the key."""
    if settings.api_docs == "off" or (settings.api_docs == "key" and settings.api_keys):
        return {"docs_url": None, "redoc_url": None, "openapi_url": None}
    return {}


def _install_keyed_docs(app: FastAPI) -> None:
    """``/openapi.json``, ``/docs`` and ``/redoc`` behind the API key (``api_docs: key`` with keys set).

    A browser does not send the key when opening ``/docs``: fetch the schema with the key, or set
    ``api_docs: open``.
    """
    keyed = [Depends(check_api_key)]

    @app.get("/openapi.json", include_in_schema=False, dependencies=keyed)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=keyed)
    async def swagger() -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - Swagger UI")

    @app.get("/redoc", include_in_schema=False, dependencies=keyed)
    async def redoc() -> Response:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} - ReDoc")


def create_app(settings: RouterSettings | None = None) -> FastAPI:
    """Build the application (settings from the environment / ``ROUTER_CONFIG_FILE`` if not given)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=512, max_keepalive_connections=64, keepalive_expiry=30),
            timeout=httpx.Timeout(settings.request_timeout_seconds, connect=settings.connect_timeout_seconds),
        )
        common: dict[str, Any] = {
            "max_inflight": settings.backend_max_inflight,
            "max_queue": settings.backend_max_queue,
            "retry_attempts": settings.retry_attempts,
            "retry_after": settings.retry_after_seconds,
            "unavailable_wait_seconds": settings.unavailable_wait_seconds,
            "deadline": Deadline(
                settings.deadline_base_seconds,
                settings.deadline_per_audio_second,
                settings.deadline_per_input_char,
            ),
            "stall_after_probes": settings.stall_after_probes,
        }
        app.state.asr = BackendPool("asr", endpoints_from_urls(settings.asr_urls), client, **common)
        app.state.tts = BackendPool("tts", endpoints_from_urls(settings.tts_urls), client, **common)
        app.state.tts_fast = BackendPool(
            "tts-fast", endpoints_from_urls(settings.tts_fast_urls), client, **common
        )
        watchers = [
            asyncio.create_task(pool.watch(settings.health_interval_seconds))
            for pool in (app.state.asr, app.state.tts, app.state.tts_fast)
            if pool.configured
        ]
        log.info(
            "router ready",
            extra={
                "asr_urls": settings.asr_urls,
                "tts_urls": settings.tts_urls,
                "tts_fast_urls": settings.tts_fast_urls,
            },
        )
        try:
            yield
        finally:
            for watcher in watchers:
                watcher.cancel()
            for watcher in watchers:
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await client.aclose()
            if app.state.voice_store is not None:
                await app.state.voice_store.aclose()

    app = FastAPI(
        title="Voice Stack router",
        version=__version__,
        description="OpenAI-compatible audio API (transcriptions, translations, speech, voices, models) "
        "and the "
        "whisper-asr-webservice API for Bazarr, in front of the ASR and TTS KServe predictors.",
        lifespan=lifespan,
        **_docs_urls(settings),
    )
    app.state.settings = settings
    app.state.voice_store = build_voice_store(
        settings.voice_store,
        voices_dir=settings.voices_dir,
        namespace=settings.namespace,
        stack=settings.stack_name,
    )
    app.state.consent_store = build_consent_store(app.state.voice_store, settings.voices_dir)
    install_error_handlers(app)
    _install_backend_errors(app)
    # Innermost, so its JSON answers get the CORS headers and the request id ...
    app.add_middleware(ErrorGuardMiddleware, retry_after=settings.retry_after_seconds)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            # Any request header: the OpenAI browser SDK sends X-Stainless-* headers (and adds new ones), and
            # a preflight naming one header not listed fails. Origins stay explicit; no credentials.
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(JsonBodyLimitMiddleware, max_bytes=settings.max_json_body_bytes)
    app.add_middleware(
        BodyRateMiddleware,
        grace_seconds=settings.body_grace_seconds,
        min_bytes_per_second=settings.body_min_bytes_per_second,
    )
    app.add_middleware(RequestIdMiddleware)
    # ... and outermost too, for what the middlewares themselves raise or leave unanswered.
    app.add_middleware(ErrorGuardMiddleware, retry_after=settings.retry_after_seconds)

    for module in (
        transcription_routes,
        speech_routes,
        voices_routes,
        consent_routes,
        models_routes,
        bazarr_routes,
    ):
        app.include_router(module.router)
    app.include_router(realtime_routes.router)

    @app.get("/healthz", tags=["Health"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        """200 while the process serves requests."""
        return {"status": "ok"}

    async def readiness(request: Request) -> JSONResponse:
        """200 when every configured predictor has a reachable replica, else 503. The body details each
        (URLs, errors) for a caller with the API key; without one (a probe) it holds only `status`."""
        body, ok = _health_body(request.app)
        if not sees_details(request):
            body = {"status": body["status"]}
        return JSONResponse(body, status_code=200 if ok else 503)

    for path in ("/health", "/healthcheck"):
        app.add_api_route(path, readiness, methods=["GET"], tags=["Health"], summary="Readiness")

    @app.get(
        "/metrics",
        tags=["Health"],
        summary="Prometheus metrics",
        include_in_schema=False,
        dependencies=[Depends(check_api_key)],
    )
    async def metrics() -> Response:
        """Behind the API key when keys are set (the chart's ServiceMonitor can send one)."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    install_openapi(app)
    if settings.api_docs == "key" and settings.api_keys:
        _install_keyed_docs(app)

    return app
