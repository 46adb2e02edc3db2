"""Why a predictor refused a request, as a code the router maps without guessing from the message.

A predictor's error body is ``{"error": "<message>", "code": "<code>"}``: the message stays a string (as
KServe's own errors are), and ``code`` says which kind of refusal it is. The router turns each code into
its OpenAI error (status, ``param`` and ``code``); a body without a code is a plain ``invalid_request``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class ErrorCode(StrEnum):
    INVALID_REQUEST = "invalid_request"
    VOICE_NOT_FOUND = "voice_not_found"  # no voice or alias of that name
    VOICE_UNUSABLE = "voice_unusable"  # it exists, but cannot be used (bad samples, no cloning, dead alias)
    UNSUPPORTED_LANGUAGE = "unsupported_language"
    UNSPEAKABLE_TEXT = "unspeakable_text"  # nothing in the text the model can say
    TEXT_TOO_LONG = "string_above_max_length"


class RouterError(NamedTuple):
    """What the router answers for a code: the HTTP status and the request field at fault."""

    status: int
    param: str | None


ROUTER_ERRORS: dict[ErrorCode, RouterError] = {
    ErrorCode.INVALID_REQUEST: RouterError(400, None),
    ErrorCode.VOICE_NOT_FOUND: RouterError(404, "voice"),
    ErrorCode.VOICE_UNUSABLE: RouterError(400, "voice"),
    ErrorCode.UNSUPPORTED_LANGUAGE: RouterError(400, "language"),
    ErrorCode.UNSPEAKABLE_TEXT: RouterError(400, "input"),
    ErrorCode.TEXT_TOO_LONG: RouterError(400, "input"),
}


def error_body(message: str, code: ErrorCode | None = None) -> dict[str, str]:
    """A predictor's JSON error body."""
    return {"error": message} if code is None else {"error": message, "code": code.value}


def error_code(body: object) -> ErrorCode | None:
    """The code of a predictor's error body, if it has a known one."""
    code = body.get("code") if isinstance(body, dict) else None
    try:
        return ErrorCode(code) if isinstance(code, str) else None
    except ValueError:
        return None
