"""The OpenAPI description with the statuses the router really answers, each with its error schema.

FastAPI documents 200 and a 422 for every operation; the router never answers 422 (validation errors are
OpenAI-shaped 400s, ``voicestack_router.errors``), and its real errors (401, 404, 413, 429, 503, …) would be
missing.
``install_openapi`` replaces 422 by the statuses in ``ROUTE_ERRORS`` (plus 401 for routes behind the key and
500 for all), each with the ``Error`` schema, and documents what a 200 of each route carries.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

# Statuses that come from calling a predictor: busy (429 from the router's queue, 503 from the predictor),
# failed (502) or too slow (504).
_BACKEND = (429, 502, 503, 504)
# 408: a request body that arrives too slowly (BodyRateMiddleware), on every route that takes one.
_AUDIO_UPLOAD = (400, 404, 408, 413, 415, *_BACKEND)
ROUTE_ERRORS: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/v1/audio/transcriptions"): _AUDIO_UPLOAD,
    ("post", "/v1/audio/transcriptions/verbose"): _AUDIO_UPLOAD,
    ("post", "/v1/audio/translations"): _AUDIO_UPLOAD,
    ("post", "/v1/audio/speech"): (400, 404, 408, 413, 415, *_BACKEND),
    ("get", "/v1/audio/voices"): (404, 502, 503, 504),
    ("post", "/v1/audio/voices"): (400, 408, 409, 413, 415, 502, 503, 504),
    ("delete", "/v1/audio/voices/{voice_id}"): (400, 404, 502, 503),
    ("get", "/v1/models/{model_id}"): (404,),
    # Bazarr's requests wait for a busy backend instead of a 429 (its provider bans one that refuses).
    ("post", "/asr"): (400, 408, 413, 415, 502, 503, 504),
    ("post", "/detect-language"): (400, 408, 413, 415, 502, 503, 504),
}
_DESCRIPTIONS = {
    400: "Invalid request (a bad field, unreadable or unspeakable input).",
    401: "Missing or incorrect API key (only when API keys are configured).",
    404: "Unknown model, voice or route.",
    408: "The request body arrived too slowly (below the router's minimum upload rate).",
    409: "Conflict: the voice name is reserved (send replace=true).",
    413: "The body or the audio is too large or too long.",
    415: "Unsupported media type (speech wants JSON, uploads multipart/form-data).",
    429: "The router's queue is full; retry after Retry-After.",
    500: "Internal error.",
    502: "The predictor failed.",
    503: "No predictor replica can take the request now (busy, starting, unreachable); see Retry-After.",
    504: "The predictor did not answer in time.",
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string", "examples": ["invalid_request_error"]},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
# What a 200 carries where FastAPI cannot tell (routes returning a ``Response`` themselves).
_TEXT = {"schema": {"type": "string"}}
OK_CONTENT: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/audio/transcriptions"): {
        "application/json": {"schema": {"type": "object"}},
        "text/plain": _TEXT,
        "text/vtt": _TEXT,
        "text/event-stream": _TEXT,
    },
    ("post", "/v1/audio/translations"): {
        "application/json": {"schema": {"type": "object"}},
        "text/plain": _TEXT,
    },
    ("post", "/v1/audio/transcriptions/verbose"): {"application/json": {"schema": {"type": "object"}}},
    ("post", "/asr"): {"text/plain": _TEXT},
}


def multipart_form(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its multipart form itself (FastAPI cannot infer it)."""
    schema = {"type": "object", "required": required, "properties": properties}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def _error(status: int) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _describe(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            key = (method, path)
            if key in OK_CONTENT:
                responses.setdefault("200", {"description": "Successful Response"})["content"] = OK_CONTENT[
                    key
                ]
            statuses = set(ROUTE_ERRORS.get(key, ())) | {500}
            if operation.get("security"):  # behind ``voicestack_router.auth.check_api_key``
                statuses.add(401)
            for status in sorted(statuses):
                responses[str(status)] = _error(status)
    for path in ("/health", "/healthcheck"):
        for operation in schema.get("paths", {}).get(path, {}).values():
            operation["responses"]["503"] = {
                "description": "Not ready: a configured predictor has no reachable replica (the same body)."
            }
            operation["responses"]["401"] = _error(401)  # an incorrect key; no key gets the status only
    schemas = schema["components"]["schemas"]
    text = str(schema["paths"])
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{unused}" not in text:
            schemas.pop(unused, None)
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve ``_describe``'s schema (built once) as ``app.openapi()``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _describe(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
