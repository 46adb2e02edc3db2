"""``voicestack asr`` / ``python -m voicestack_predictors.asr``: serve Whisper with KServe's model server."""

from __future__ import annotations

import argparse
import logging
import sys

from kserve import model_server

from voicestack_predictors.asr import stream_content_type
from voicestack_predictors.asr.settings import EngineSettings
from voicestack_predictors.common.options import ServingOptions
from voicestack_predictors.common.server import kserve_parser, serve

log = logging.getLogger("voicestack_predictors.asr")


def build_parser() -> argparse.ArgumentParser:
    parser = kserve_parser("Whisper speech-to-text predictor (KServe custom model).")
    EngineSettings.add_arguments(parser)
    ServingOptions.add_arguments(parser, "ASR")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    settings = EngineSettings.from_args(args)
    serving = ServingOptions.from_args(args)

    from voicestack_predictors.asr.model import (
        AsrModel,  # heavy imports only once the flags are known to be good
    )

    model = AsrModel(args.model_name, serving, settings)
    stream_content_type.install(model_server.app)
    return serve(model, args, f"voicestack asr: cannot load model {settings.model!r}")


if __name__ == "__main__":
    raise SystemExit(main())
