"""Engine selection: Piper (an ONNX voice), XTTS (cloning, streaming) or any other coqui-tts model.

``--engine auto`` picks from the model's files: a ``.onnx`` voice with its ``.onnx.json`` is Piper; a
coqui-tts model (a name, a directory or a checkpoint) is XTTS when its ``config.json`` says ``xtts``, else
the generic coqui engine. An explicit ``--engine`` must agree with the files (a clear error otherwise).
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from voicestack_predictors.common.devices import resolve_device, torch_cuda
from voicestack_predictors.tts.engines.base import TtsEngine, UnspeakableText, VoiceChoice
from voicestack_predictors.tts.engines.piper import voice_files
from voicestack_predictors.tts.settings import EngineSettings, resolve_model_source

log = logging.getLogger(__name__)

__all__ = ["TtsEngine", "UnspeakableText", "VoiceChoice", "create_engine"]

CHECKPOINT_NAMES = ("model.pth", "model_file.pth", "best_model.pth", "checkpoint.pth")


def _local_model(path: Path) -> tuple[Path, Path]:
    """(checkpoint, config.json) of a local model directory or checkpoint file."""
    directory = path if path.is_dir() else path.parent
    config = directory / "config.json"
    if not config.is_file():
        raise FileNotFoundError(f"no config.json in {directory}")
    if path.is_file():
        return path, config
    for name in CHECKPOINT_NAMES:
        if (directory / name).is_file():
            return directory / name, config
    checkpoints = sorted(directory.glob("*.pth"))
    if not checkpoints:
        raise FileNotFoundError(f"no checkpoint (*.pth) in {directory}")
    return checkpoints[0], config


COQUI_NAME = re.compile(r"^(tts_models|vocoder_models|voice_conversion_models)/[^/]+/[^/]+/[^/]+$")


def _known(manager: Any, model_name: str) -> bool:
    """Whether coqui-tts has ``model_name`` in its catalogue (Fairseq names are generated, any language)."""
    kind, language, dataset, model = model_name.split("/")
    if dataset == "fairseq":
        return kind == "tts_models"
    catalogue = manager.models_dict
    return model in catalogue.get(kind, {}).get(language, {}).get(dataset, {})


def _download(model_name: str) -> tuple[Path, Path]:
    """A coqui-tts model by name through its ModelManager (cached in its user data folder)."""
    from TTS.utils.manage import ModelManager

    manager = ModelManager(progress_bar=False)
    if not _known(manager, model_name):
        raise ValueError(
            f"unknown coqui-tts model {model_name!r}: use a name from `tts --list_models` (e.g. "
            f"tts_models/multilingual/multi-dataset/xtts_v2) or a local model directory"
        )
    try:
        model_path, config_path, _ = manager.download_model(model_name)
    except (EOFError, OSError) as exc:
        if isinstance(exc, EOFError) or "terms of service" in str(exc):
            raise RuntimeError(
                f"{model_name} is under the Coqui Public Model License (non-commercial); set "
                "COQUI_TOS_AGREED=1 to accept it and download"
            ) from exc
        # requests' ConnectionError and huggingface_hub's LocalEntryNotFoundError are OSErrors
        reason = " ".join(str(exc).split())[:500]
        raise RuntimeError(
            f"coqui-tts model {model_name!r} is not in the cache {manager.output_prefix} and could not be "
            f"downloaded: {type(exc).__name__}: {reason}"
        ) from exc
    model_path = Path(model_path)
    config = Path(config_path) if config_path else model_path / "config.json"
    return model_path, config


def create_engine(settings: EngineSettings) -> TtsEngine:
    source = resolve_model_source(settings.model)
    local = Path(os.path.expanduser(source))
    piper_voice = voice_files(local) if local.exists() else None
    if settings.engine == "piper" or (settings.engine == "auto" and piper_voice is not None):
        if piper_voice is None:
            raise FileNotFoundError(
                f"--engine piper needs a Piper voice: a .onnx file with its .onnx.json beside it, or a "
                f"directory holding one; {source!r} is not one"
            )
        from voicestack_predictors.tts.engines.piper import PiperEngine, onnx_device

        device = onnx_device(settings.device)
        log.info("loading Piper voice %s on %s", piper_voice[0], device)
        return PiperEngine(*piper_voice, device)
    if piper_voice is not None:
        raise ValueError(f"{source!r} is a Piper voice; use --engine piper (or auto) for it")
    device = resolve_device(settings.device, torch_cuda)
    if local.exists():
        checkpoint, config = _local_model(local)
    elif COQUI_NAME.match(source):
        checkpoint, config = _download(source)
    else:
        raise FileNotFoundError(
            f"{source!r} is neither a local model (a Piper .onnx voice, a coqui-tts directory or checkpoint) "
            "nor a coqui-tts model name (tts_models/<language>/<dataset>/<model>)"
        )
    kind = json.loads(config.read_text(encoding="utf-8")).get("model", "")
    if settings.engine == "xtts" and kind != "xtts":
        raise ValueError(f"--engine xtts: {source!r} is a {kind or 'non-XTTS'} model, not XTTS")
    if settings.engine == "coqui" and kind == "xtts":
        raise ValueError(f"--engine coqui: {source!r} is an XTTS model; use --engine xtts (or auto)")
    log.info("loading %s model %s on %s", kind or "coqui", source, device)
    if kind == "xtts":
        from voicestack_predictors.tts.engines.xtts import XttsEngine

        directory = checkpoint if checkpoint.is_dir() else checkpoint.parent
        return XttsEngine(directory, device, settings.stream_chunk_tokens)
    from voicestack_predictors.tts.engines.coqui import CoquiEngine

    return CoquiEngine(checkpoint, config, device)
