"""Request errors beyond KServe's own (``InvalidInput`` → 400, ``InferenceError`` → 500)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from kserve.errors import InvalidInput

from voicestack.contracts.errors import ErrorCode


class PayloadTooLarge(InvalidInput):
    """A well-formed request bigger than this server takes (audio past the duration limit): **413**.

    A subclass of ``InvalidInput`` so code that treats it as bad input (metrics, logging) still does; the
    handler installed by ``voicestack_predictors.common.server`` answers it before KServe's 400 handler would.
    """


async def payload_too_large_handler(_: Request, exc: Exception) -> JSONResponse:
    """The same body shape as KServe's 400s: ``{"error": "<message>"}``."""
    return JSONResponse({"error": str(exc)}, status_code=413)


class Refused(InvalidInput):
    """Bad input of a kind the router maps to its own error (``voicestack.contracts.errors``): **400**."""

    def __init__(self, message: str, code: ErrorCode) -> None:
        super().__init__(message)
        self.code = code


def refusal_code(exc: InvalidInput) -> ErrorCode:
    """The code an ``InvalidInput`` answers with (``invalid_request`` unless it is a ``Refused``)."""
    return exc.code if isinstance(exc, Refused) else ErrorCode.INVALID_REQUEST
