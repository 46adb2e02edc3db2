"""``voicestack models``: list the catalogue and what is cached; pull models into the cache."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from voicestack.models.cache import ModelCache, ModelPullError
from voicestack.models.catalogue import CATALOGUE, LOCAL_DEFAULTS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voicestack models", description=__doc__)
    parser.add_argument(
        "--dir", help="The model cache (default: $VOICESTACK_MODELS_DIR, else ~/.cache/voicestack/models)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="The catalogue, with each model's cache state.")
    pull = commands.add_parser("pull", help="Fetch and verify models (no name: the local defaults).")
    pull.add_argument("names", nargs="*", metavar="NAME", help=f"Catalogue names ({', '.join(CATALOGUE)}).")
    pull.add_argument("--force", action="store_true", help="Pull again even when a verified copy is cached.")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    cache = ModelCache(None if args.dir is None else Path(args.dir))
    if args.command == "list":
        return list_models(cache)
    return pull_models(cache, args.names or list(LOCAL_DEFAULTS.values()), force=args.force)


def list_models(cache: ModelCache) -> int:
    print(f"model cache: {cache.root}")
    print(f"{'NAME':<24} {'KIND':<4} {'ENGINE':<15} {'CACHED':<10} SOURCES")
    for name, entry in CATALOGUE.items():
        cached = cache.cached(name)
        state = f"{cached.size_bytes / 1e6:.0f} MB" if cached else "no"
        sources = " | ".join(source.describe() for source in entry.sources)
        print(f"{name:<24} {entry.kind:<4} {entry.engine:<15} {state:<10} {sources}")
    return 0


def pull_models(cache: ModelCache, names: list[str], *, force: bool) -> int:
    status = 0
    for name in names:
        try:
            model = cache.pull(name, force=force, recheck=True)
        except ModelPullError as exc:
            print(f"voicestack models: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"{name}: {model.path} (verified, from {model.source})")
    return status
