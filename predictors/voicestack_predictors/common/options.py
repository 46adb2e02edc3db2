"""Command-line options that fall back to environment variables, shared by both predictors.

Every flag a predictor takes can also be set by an environment variable (the names the seed used, e.g.
``ASR_MODEL``), so the same image works from a Kubernetes manifest's ``env`` or its ``args``.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

_TRUE = {"1", "true", "yes", "y", "on", "t"}
_FALSE = {"0", "false", "no", "n", "off", "f", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise SystemExit(f"{name}={value!r} is not an integer") from exc


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise SystemExit(f"{name}={value!r} is not a number") from exc


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SystemExit(f"{name}={value!r} is not a boolean (use true/false)")


@dataclass(frozen=True)
class ServingOptions:
    """How a predictor manages its model and its work queue."""

    load_at_start: bool = True
    idle_unload_seconds: float = 0.0
    max_concurrency: int = 1
    max_queue: int = 64

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser, env_prefix: str) -> None:
        """Add the serving flags; ``env_prefix`` is ``ASR`` or ``TTS``."""
        group = parser.add_argument_group("serving")
        group.add_argument(
            "--load_at_start",
            action=argparse.BooleanOptionalAction,
            default=env_bool(f"{env_prefix}_LOAD_AT_START", True),
            help=f"Load the model before serving (else on the first request) [{env_prefix}_LOAD_AT_START].",
        )
        group.add_argument(
            "--idle_unload_seconds",
            type=float,
            default=env_float(f"{env_prefix}_IDLE_UNLOAD_SECONDS", 0.0),
            help="Free the model (and GPU memory) after this many idle seconds; 0 keeps it loaded "
            f"[{env_prefix}_IDLE_UNLOAD_SECONDS].",
        )
        group.add_argument(
            "--max_concurrency",
            type=int,
            default=env_int(f"{env_prefix}_MAX_CONCURRENCY", 1),
            help=f"Inferences run at once; the rest wait in the queue [{env_prefix}_MAX_CONCURRENCY].",
        )
        group.add_argument(
            "--max_queue",
            type=int,
            default=env_int(f"{env_prefix}_MAX_QUEUE", 64),
            help=f"Requests allowed to wait; beyond that the answer is 503 busy [{env_prefix}_MAX_QUEUE].",
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ServingOptions:
        if args.max_concurrency < 1:
            raise SystemExit("--max_concurrency must be at least 1")
        if args.max_queue < 0:
            raise SystemExit("--max_queue must not be negative")
        if args.idle_unload_seconds < 0:
            raise SystemExit("--idle_unload_seconds must not be negative")
        return cls(
            load_at_start=args.load_at_start,
            idle_unload_seconds=args.idle_unload_seconds,
            max_concurrency=args.max_concurrency,
            max_queue=args.max_queue,
        )
