"""``voicestack tts`` (``python -m voicestack_predictors.tts``): serve a Piper or Coqui TTS model."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from voicestack_predictors.common.server import build_parser as predictor_parser
from voicestack_predictors.common.server import serve
from voicestack_predictors.tts.settings import EngineSettings, TtsServing

log = logging.getLogger("voicestack_predictors.tts")


def build_parser() -> argparse.ArgumentParser:
    return predictor_parser(
        "Text-to-speech predictor (KServe custom model): Piper voices, Coqui XTTS-v2 (voice cloning, "
        "streaming) and other coqui-tts models.",
        EngineSettings,
        TtsServing,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    settings = EngineSettings.from_args(args)
    serving = TtsServing.from_args(args)
    if settings.voices_dir is not None and not settings.voices_dir.is_dir():
        log.warning("voice directory %s does not exist yet (re-read on each request)", settings.voices_dir)

    from voicestack_predictors.tts import routes  # heavy imports only once the flags are known to be good
    from voicestack_predictors.tts.model import TtsModel

    model = TtsModel(settings.model_name, serving, settings)
    routes.install(model)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return serve(model, args, f"voicestack tts: cannot load model {settings.model!r}")


if __name__ == "__main__":
    raise SystemExit(main())
