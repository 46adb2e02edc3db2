"""``voicestack router``: serve the router with uvicorn."""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voicestack router",
        description="OpenAI- and Bazarr-compatible API in front of the ASR and TTS predictors. Settings come "
        "from ROUTER_* environment variables and/or a YAML file (docs/router.md).",
    )
    parser.add_argument(
        "--host", default=os.environ.get("ROUTER_HOST", "0.0.0.0"), help="Bind address [ROUTER_HOST]."
    )
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("ROUTER_PORT", "8000")), help="[ROUTER_PORT]"
    )
    parser.add_argument(
        "--config",
        default=os.environ.get("ROUTER_CONFIG_FILE"),
        help="YAML settings file [ROUTER_CONFIG_FILE]; environment variables override it.",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    from voicestack_router.app import create_app
    from voicestack_router.http_protocol import with_header_timeout
    from voicestack_router.request_context import configure_logging
    from voicestack_router.settings import load_settings

    try:
        settings = load_settings(args.config)
    except (OSError, ValueError) as exc:
        print(f"voicestack router: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        timeout_graceful_shutdown=10,
        http=with_header_timeout(settings.header_timeout_seconds),
        timeout_keep_alive=settings.keep_alive_seconds,  # type: ignore[arg-type]
        limit_concurrency=settings.max_connections,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
