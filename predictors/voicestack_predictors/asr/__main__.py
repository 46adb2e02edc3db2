"""``voicestack asr`` / ``python -m voicestack_predictors.asr``: serve Whisper with KServe's model server."""

from __future__ import annotations

import argparse
import sys

from voicestack_predictors.asr.settings import AsrServing, EngineSettings
from voicestack_predictors.common import kserve_adapter
from voicestack_predictors.common.server import build_parser as predictor_parser
from voicestack_predictors.common.server import serve


def build_parser() -> argparse.ArgumentParser:
    return predictor_parser(
        "Whisper speech-to-text predictor (KServe custom model).", EngineSettings, AsrServing
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    settings = EngineSettings.from_args(args)
    serving = AsrServing.from_args(args)

    from voicestack_predictors.asr.model import AsrModel  # heavy imports only once the flags are good

    model = AsrModel(settings.model_name, serving, settings)
    kserve_adapter.label_streamed_predictions()
    return serve(model, args, f"voicestack asr: cannot load model {settings.model!r}")


if __name__ == "__main__":
    raise SystemExit(main())
