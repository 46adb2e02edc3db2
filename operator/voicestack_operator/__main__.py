"""``voicestack operator``: run the Kopf operator with a liveness endpoint."""

from __future__ import annotations

import argparse
import asyncio
import logging

DEFAULT_LIVENESS = "http://0.0.0.0:8080/healthz"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="voicestack operator", description="Kopf operator for VoiceStack resources"
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="serve this namespace (repeatable; globs allowed)",
    )
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="serve the whole cluster (default)"
    )
    parser.add_argument(
        "--liveness",
        default=DEFAULT_LIVENESS,
        help=f"liveness endpoint URL to serve (default {DEFAULT_LIVENESS}; '' disables)",
    )
    parser.add_argument(
        "--peering", default=None, help="Kopf peering object name for several replicas (default: standalone)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.add_argument("--debug", action="store_true", help="log everything, including API calls")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import kopf

    from voicestack_operator.handlers import register
    from voicestack_operator.settings import OperatorSettings

    registry = register(kopf.OperatorRegistry(), OperatorSettings())
    kopf.configure(verbose=args.verbose, debug=args.debug)
    logging.getLogger("kubernetes_asyncio").setLevel(logging.WARNING)
    clusterwide = not args.namespace
    try:
        kopf.run(
            registry=registry,
            clusterwide=clusterwide,
            namespaces=args.namespace,
            liveness_endpoint=args.liveness or None,
            standalone=args.peering is None,
            peering_name=args.peering,
        )
    except KeyboardInterrupt:
        return 130
    except asyncio.CancelledError:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
