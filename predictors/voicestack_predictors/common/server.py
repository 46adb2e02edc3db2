"""Serving a ManagedModel with ``kserve.ModelServer``.

The routes added here are registered on ``kserve.model_server.app`` before KServe adds its own, so they
take precedence: readiness reflects whether the model is loaded, a full queue answers 503 with
``Retry-After``, and input over a size limit 413.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

import kserve
from fastapi import Request
from fastapi.responses import JSONResponse
from kserve import model_server
from kserve.protocol.rest import server as rest_server

from voicestack_predictors.common.errors import PayloadTooLarge, payload_too_large_handler
from voicestack_predictors.common.gate import Busy
from voicestack_predictors.common.managed_model import ManagedModel

log = logging.getLogger(__name__)


def kserve_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser that extends KServe's own (``--model_name``, ``--http_port``, …)."""
    parser = argparse.ArgumentParser(
        description=description,
        parents=[model_server.parser],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--http_host",
        default=os.environ.get("PREDICTOR_HTTP_HOST", "0.0.0.0"),
        help="Address the HTTP server binds [PREDICTOR_HTTP_HOST]; 127.0.0.1 keeps it off the network.",
    )
    return parser


def bind_rest_server(host: str) -> None:
    """Make KServe's REST server listen on ``host``.

    KServe 0.21 hard-codes ``0.0.0.0`` in ``RESTServer``'s uvicorn config and offers no option; in a pod
    that is right, but locally (``voicestack up``) the predictors must not be reachable from the network.
    The config is only read when the server starts, so setting it right after construction is enough.
    """
    original = rest_server.RESTServer.__init__
    if getattr(original, "_voicestack_host", None) == host:
        return

    def init_with_host(self: rest_server.RESTServer, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.config.host = host

    init_with_host._voicestack_host = host  # type: ignore[attr-defined]
    rest_server.RESTServer.__init__ = init_with_host  # type: ignore[method-assign]


def install_routes(model: ManagedModel) -> None:
    """Readiness that tells the truth about loading, and the Busy → 503 and PayloadTooLarge → 413 mappings."""
    app = model_server.app

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

    app.add_api_route("/v2/health/ready", server_ready, methods=["GET"])
    app.add_api_route("/v2/models/{model_name}/ready", model_ready, methods=["GET"])
    app.add_exception_handler(Busy, busy_handler)
    app.add_exception_handler(PayloadTooLarge, payload_too_large_handler)


def configure_logging(args: argparse.Namespace) -> None:
    """KServe's log format for KServe and for our ``voicestack_predictors.*`` loggers, before the model loads.

    KServe configures only its own loggers, and only when ``ModelServer`` is built (after a load at
    start); without this, the predictors' INFO lines (model loaded, requests) were dropped.
    """
    if not getattr(args, "configure_logging", True):
        return
    kserve.logging.configure_logging(getattr(args, "log_config_file", None))
    ours = logging.getLogger(__name__.partition(".")[0])  # the package: every predictor module logs under it
    if not ours.handlers:
        for handler in kserve.logging.logger.handlers:
            ours.addHandler(handler)
        ours.setLevel(logging.INFO)
        ours.propagate = not ours.handlers


def serve(model: ManagedModel, args: argparse.Namespace, load_failure: str) -> int:
    """Start KServe's model server for ``model``; blocks until it stops, then returns the exit code.

    When loading at start fails, prints ``load_failure: <reason>`` on stderr and returns 1 without serving.
    """
    configure_logging(args)
    if args.http_host != "0.0.0.0":
        bind_rest_server(args.http_host)
    install_routes(model)
    if model.serving.load_at_start:
        try:
            model.load()
        except Exception as exc:
            print(f"{load_failure}: {exc}", file=sys.stderr)
            return 1
    server = kserve.ModelServer(
        http_port=args.http_port, grpc_port=args.grpc_port, enable_grpc=args.enable_grpc
    )
    server.start([model])
    return 0
