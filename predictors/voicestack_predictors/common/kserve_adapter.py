"""Everything that reaches into KServe's internals, in one place. Written against **kserve==0.21.0**.

Upgrading KServe means re-checking this module (and nothing else):

- ``model_server.app`` is the FastAPI app the ``ModelServer`` serves; routes and exception handlers added to
  it before the server starts come before KServe's own, so ours win for the same path.
- ``model_server.parser`` is KServe's argparse parser (``--model_name``, ``--http_port``, …); ours extends it.
- ``RESTServer`` hard-codes ``0.0.0.0`` in its uvicorn config (``bind_rest_server``).
- ``kserve.Model``: KServe registers only models whose ``ready`` is set and gates every request on
  ``healthy()``; ``self.engine`` is KServe's flag for models with their own engine loop (never set it);
  ``return_response_headers=True`` makes ``__call__`` pass ``response_headers`` to predict and postprocess.
- ``Model.__call__`` runs ``preprocess(body, headers)`` → ``predict(payload, headers, response_headers)`` →
  ``postprocess(result, headers, response_headers)``; an async iterator from ``postprocess`` becomes a
  ``StreamingResponse`` without a media type (``label_streamed_predictions``).
- ``InferInput._raw_data`` holds binary-extension data; ``to_http_parameters`` turns V2 ``InferParameter``
  objects (gRPC-style parameters) into plain values.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import kserve
import numpy as np
from fastapi import FastAPI
from kserve import model_server
from kserve.protocol.infer_type import InferInput, InferRequest, to_http_parameters
from kserve.protocol.rest import server as rest_server

KSERVE_VERSION = "0.21.0"

Endpoint = Callable[..., Awaitable[Any]]


def kserve_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser that extends KServe's own (``--model_name``, ``--http_port``, …)."""
    return argparse.ArgumentParser(
        description=description,
        parents=[model_server.parser],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )


def app() -> FastAPI:
    """KServe's app, looked up on each call (tests replace it)."""
    return model_server.app


def add_route(path: str, endpoint: Endpoint, methods: list[str]) -> None:
    """A route that takes precedence over KServe's routes for the same path."""
    app().add_api_route(path, endpoint, methods=methods)


def add_exception_handler(exc_class: type[Exception], handler: Endpoint) -> None:
    app().add_exception_handler(exc_class, handler)


class KServeModel(kserve.Model):
    """``kserve.Model`` with the switches this project needs set once.

    ``healthy()`` answers "can take work" (KServe would refuse predict requests otherwise, which makes
    loading on the first request impossible); readiness is answered by routes of our own.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name, return_response_headers=True)
        self.ready = True  # KServe registers only ready models; here it means "accepts requests"

    async def healthy(self) -> bool:
        return True

    def validate(self, payload: Any) -> Any:
        """``preprocess`` has parsed and validated the request; KServe's own check expects raw dicts."""
        return payload


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


def configure_logging(args: argparse.Namespace) -> None:
    """KServe's log format for KServe and for our ``voicestack_predictors.*`` loggers, before the model loads.

    KServe configures only its own loggers, and only when ``ModelServer`` is built (after a load at
    start); without this, the predictors' INFO lines (model loaded, requests) were dropped.
    """
    if not getattr(args, "configure_logging", True):
        return
    kserve.logging.configure_logging(getattr(args, "log_config_file", None))
    ours = logging.getLogger("voicestack_predictors")
    if not ours.handlers:
        for handler in kserve.logging.logger.handlers:
            ours.addHandler(handler)
        ours.setLevel(logging.INFO)
        ours.propagate = not ours.handlers


def start_server(model: kserve.Model, args: argparse.Namespace, host: str) -> None:
    """Run KServe's model server for ``model`` on ``host``; blocks until it stops."""
    if host != "0.0.0.0":
        bind_rest_server(host)
    server = kserve.ModelServer(
        http_port=args.http_port, grpc_port=args.grpc_port, enable_grpc=args.enable_grpc
    )
    server.start([model])


def v2_parameters(request: InferRequest) -> dict[str, Any]:
    """A V2 request's parameters as plain values (gRPC-style ``InferParameter`` objects unwrapped)."""
    parameters = request.parameters or {}
    if not isinstance(parameters, dict):
        return to_http_parameters(parameters)
    return parameters


def v2_input_values(item: InferInput) -> list[Any]:
    """The elements of a V2 input, whether sent as JSON ``data`` or as binary-extension bytes."""
    if item._raw_data is not None:
        return list(item.as_numpy().reshape(-1))
    return list(np.ravel(item.data))


# --- streamed predictions: label them application/x-ndjson -----------------------------------------------

NDJSON = b"application/x-ndjson"
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Receive, Send], Awaitable[None]]


class NdjsonContentType:
    """ASGI middleware: a ``:predict`` response without a content type (KServe's StreamingResponse for an
    async iterator) gets ``application/x-ndjson``; responses that have one are left alone."""

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


def label_streamed_predictions() -> None:
    app().add_middleware(NdjsonContentType)


__all__ = [
    "KSERVE_VERSION",
    "KServeModel",
    "add_exception_handler",
    "add_route",
    "app",
    "bind_rest_server",
    "configure_logging",
    "kserve_parser",
    "label_streamed_predictions",
    "start_server",
    "v2_input_values",
    "v2_parameters",
]
