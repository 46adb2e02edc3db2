"""Serving a ManagedModel with KServe's model server (through ``common.kserve_adapter``).

Routes added here take precedence over KServe's own: readiness reflects whether the model is loaded, a
full queue answers 503 with ``Retry-After``, and input over a size limit 413.
"""

from __future__ import annotations

import argparse
import sys

from fastapi import Request
from fastapi.responses import JSONResponse

from voicestack_predictors.common import kserve_adapter
from voicestack_predictors.common.errors import PayloadTooLarge, payload_too_large_handler
from voicestack_predictors.common.gate import Busy
from voicestack_predictors.common.managed_model import ManagedModel
from voicestack_predictors.common.settings import PredictorSettings, ServingOptions


def build_parser(
    description: str, engine: type[PredictorSettings], serving: type[ServingOptions]
) -> argparse.ArgumentParser:
    """KServe's parser plus a flag per settings field (defaults from the environment)."""
    parser = kserve_adapter.kserve_parser(description)
    engine.add_arguments(parser)
    serving.add_arguments(parser)
    return parser


def install_routes(model: ManagedModel) -> None:
    """Readiness that tells the truth about loading, and the Busy → 503 and PayloadTooLarge → 413 mappings."""

    async def server_ready() -> JSONResponse:
        ready = model.readiness()
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    async def model_ready(model_name: str) -> JSONResponse:
        if model_name != model.name:
            return JSONResponse({"error": f"Model with name {model_name} does not exist."}, status_code=404)
        ready = model.readiness()
        body = {"name": model_name, "ready": ready}
        if model.load_error:
            body["error"] = model.load_error
        return JSONResponse(body, status_code=200 if ready else 503)

    async def busy_handler(_: Request, exc: Exception) -> JSONResponse:
        retry_after = exc.retry_after if isinstance(exc, Busy) else 5
        return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": str(retry_after)})

    kserve_adapter.add_route("/v2/health/ready", server_ready, ["GET"])
    kserve_adapter.add_route("/v2/models/{model_name}/ready", model_ready, ["GET"])
    kserve_adapter.add_exception_handler(Busy, busy_handler)
    kserve_adapter.add_exception_handler(PayloadTooLarge, payload_too_large_handler)


def serve(model: ManagedModel, args: argparse.Namespace, load_failure: str) -> int:
    """Start KServe's model server for ``model``; blocks until it stops, then returns the exit code.

    When loading at start fails, prints ``load_failure: <reason>`` on stderr and returns 1 without serving.
    """
    kserve_adapter.configure_logging(args)
    install_routes(model)
    if model.serving.load_at_start:
        try:
            model.load()
        except Exception as exc:
            print(f"{load_failure}: {exc}", file=sys.stderr)
            return 1
    kserve_adapter.start_server(model, args, model.serving.http_host)
    return 0
