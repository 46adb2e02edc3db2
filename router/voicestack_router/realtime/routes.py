"""``GET /v1/realtime?intent=transcription``: accept the WebSocket, check the key and the session limit."""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, FastAPI
from prometheus_client import Counter, Gauge
from starlette.websockets import WebSocket

from voicestack_router.auth import websocket_key_error
from voicestack_router.errors import ApiError
from voicestack_router.realtime.protocol import error_event
from voicestack_router.realtime.session import RealtimeSession
from voicestack_router.realtime.vad import SileroModel, bundled_model

log = logging.getLogger(__name__)

router = APIRouter()

SESSIONS = Gauge("voicestack_router_realtime_sessions", "Open realtime transcription sessions")
SESSIONS_TOTAL = Counter("voicestack_router_realtime_connections_total", "Realtime connections", ["outcome"])
TRY_AGAIN_LATER = 1013  # RFC 6455's close code for a server that is overloaded


def vad_model(app: FastAPI) -> SileroModel | None:
    """The shared Silero model, loaded on first use (``realtime_vad_model`` or faster-whisper's copy)."""
    if not hasattr(app.state, "realtime_vad"):
        path = app.state.settings.realtime_vad_model or bundled_model()
        app.state.realtime_vad = SileroModel(path) if path else None
        if path is None:
            log.warning("no Silero VAD model: realtime sessions offer manual commits only")
    model: SileroModel | None = app.state.realtime_vad
    return model


async def _refuse(websocket: WebSocket, error: ApiError) -> None:
    """Answer the handshake with an HTTP error in OpenAI's shape (or close 1008 where the server cannot)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error.response())
    else:
        await websocket.close(code=1008, reason=error.code or "refused")


@router.websocket("/v1/realtime")
async def realtime(websocket: WebSocket) -> None:
    """A transcription session (OpenAI's realtime protocol): see docs/realtime.md."""
    app = websocket.app
    settings = app.state.settings
    key_error = websocket_key_error(websocket)
    if key_error is not None:
        SESSIONS_TOTAL.labels("unauthorized").inc()
        await _refuse(websocket, key_error)
        return
    origin = websocket.headers.get("origin")
    if origin is not None and origin not in settings.cors_origins:
        # WebSockets skip CORS: without this any web page could use a router its visitor can reach.
        SESSIONS_TOTAL.labels("refused").inc()
        message = f"The origin {origin[:100]!r} is not allowed: list it in the router's cors_origins."
        await _refuse(websocket, ApiError(403, message, code="origin_not_allowed"))
        return
    if websocket.query_params.get("intent") != "transcription":
        SESSIONS_TOTAL.labels("refused").inc()
        message = "Only transcription sessions are served here: connect to /v1/realtime?intent=transcription."
        await _refuse(websocket, ApiError(400, message, param="intent", code="unsupported_intent"))
        return
    if not app.state.asr.configured:
        await _refuse(websocket, ApiError(503, "No ASR predictor is configured.", code="backend_unavailable"))
        return
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol="realtime" if "realtime" in offered else None)
    active: int = getattr(app.state, "realtime_active", 0)
    if active >= settings.realtime_max_sessions:
        SESSIONS_TOTAL.labels("too_many").inc()
        message = f"This router already serves {active} realtime sessions (its limit): retry later."
        refusal = error_event(message, code="too_many_sessions", error_type="rate_limit_error")
        await websocket.send_json(refusal)
        await websocket.close(code=TRY_AGAIN_LATER, reason="too_many_sessions")
        return
    app.state.realtime_active = active + 1
    SESSIONS.inc()
    started = time.monotonic()
    try:
        await RealtimeSession(websocket, settings, app.state.asr, vad_model(app)).run()
    finally:
        app.state.realtime_active -= 1
        SESSIONS.dec()
        SESSIONS_TOTAL.labels("served").inc()
        log.info("realtime session ended", extra={"seconds": round(time.monotonic() - started, 3)})
