"""Optional bearer-key authentication (constant-time comparison).

With keys set, everything needs one except the liveness ``/healthz``, the readiness ``/health`` (status only
without a key: the backends' details need one) and the Bazarr routes, whose provider cannot send a key (the
chart's NetworkPolicy guards them); see docs/router.md.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Request, Security, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from voicestack_router.errors import ApiError

# Declares the bearer scheme in the OpenAPI description (``security`` on every keyed operation); the header
# is checked below, so a route answers the same whether or not keys are configured.
BEARER = HTTPBearer(auto_error=False, description="One of the router's API keys (only when keys are set).")


def check_api_key(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None
) -> None:
    """FastAPI dependency: accept the request if no keys are configured or its bearer key matches one."""
    verify_api_key(request)


def verify_api_key(request: Request) -> None:
    """401 unless no keys are configured or the request's bearer key matches one."""
    keys: list[str] = request.app.state.settings.api_keys
    if not keys:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Missing API key: send 'Authorization: Bearer <key>'.", code="invalid_api_key")
    if not _matches(token.strip(), keys):
        raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")


def _matches(token: str, keys: list[str]) -> bool:
    presented = token.encode()
    matched = False
    for key in keys:  # check all keys so the time taken does not depend on which one matched
        matched |= hmac.compare_digest(presented, key.encode())
    return matched


BROWSER_KEY_PROTOCOL = "openai-insecure-api-key."


def websocket_key_error(websocket: WebSocket) -> ApiError | None:
    """The 401 for a WebSocket without a valid key, else None.

    The key comes as ``Authorization: Bearer <key>`` or, from browsers (which cannot set headers on a
    WebSocket), as the subprotocol ``openai-insecure-api-key.<key>`` the OpenAI browser SDK sends.
    """
    keys: list[str] = websocket.app.state.settings.api_keys
    if not keys:
        return None
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    candidates = [token.strip()] if scheme.lower() == "bearer" and token.strip() else []
    candidates += [
        protocol[len(BROWSER_KEY_PROTOCOL) :]
        for protocol in websocket.scope.get("subprotocols") or []
        if protocol.startswith(BROWSER_KEY_PROTOCOL)
    ]
    if not candidates:
        return ApiError(
            401,
            "Missing API key: send 'Authorization: Bearer <key>' or the subprotocol "
            "'openai-insecure-api-key.<key>'.",
            code="invalid_api_key",
        )
    if not any([_matches(candidate, keys) for candidate in candidates]):  # a list: compare every one
        return ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
    return None


def sees_details(request: Request) -> bool:
    """Whether a route with an open minimal answer may show its details: True without configured keys or
    with a valid key, False when no key is sent; a wrong key is a 401, as anywhere else."""
    if not request.app.state.settings.api_keys:
        return True
    if "authorization" not in request.headers:
        return False
    verify_api_key(request)
    return True
