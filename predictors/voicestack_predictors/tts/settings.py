"""The TTS engine's settings: flags that fall back to ``TTS_*`` environment variables."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

from voicestack.contracts.models import TTS_MODEL_NAME
from voicestack.models import CATALOGUE, resolve_model
from voicestack_predictors.common.options import env_bool, env_float, env_int, env_str

DEFAULT_MODEL = "tts_models/multilingual/multi-dataset/xtts_v2"
DEFAULT_MODEL_NAME = TTS_MODEL_NAME
# auto: a Piper voice (.onnx + .onnx.json) → piper; a coqui-tts model → xtts or coqui by its config.json.
ENGINES = ("auto", "piper", "xtts", "coqui")


def parse_aliases(text: str | None) -> dict[str, str]:
    """``alloy=name,echo=name`` or a JSON object → ``{"alloy": "name", …}``."""
    if not text or not text.strip():
        return {}
    text = text.strip()
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"voice aliases are not valid JSON: {exc}") from exc
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise SystemExit("voice aliases JSON must be an object of strings")
        return {str(k).strip(): v.strip() for k, v in loaded.items()}
    aliases: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        alias, sep, voice = item.partition("=")
        if not sep or not alias.strip() or not voice.strip():
            raise SystemExit(f"voice alias {item.strip()!r} is not of the form alias=voice")
        aliases[alias.strip()] = voice.strip()
    return aliases


def resolve_model_source(model: str) -> str:
    """Where the weights ``--model`` names are: a local path, or a coqui-tts model name for its downloader.

    A model catalogue name (``piper-en_US-joe-medium``) is pulled into the model cache on first use and
    becomes its directory (``docs/models.md``). Called once per engine load, before the engine is chosen
    from the files.
    """
    entry = CATALOGUE.get(model)
    if entry is not None and entry.kind != "tts":
        raise ValueError(f"catalogue model {model!r} is an {entry.kind} model, not a TTS voice")
    return resolve_model(model)


@dataclass(frozen=True)
class EngineSettings:
    model: str = DEFAULT_MODEL
    engine: str = "auto"
    device: str = "auto"
    voices_dir: Path | None = None
    auto_lang: bool = True
    default_language: str = "en"
    voice_aliases: dict[str, str] = field(default_factory=dict)
    default_voice: str | None = None
    max_input_chars: int = 4096
    chunk_chars: int = 180
    stream_chunk_tokens: int = 20
    min_sample_seconds: float = 3.0
    max_sample_seconds: float = 30.0
    min_sample_rate: int = 16000

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("engine")
        group.add_argument(
            "--model",
            default=env_str("TTS_MODEL", DEFAULT_MODEL),
            help="A Piper voice (.onnx file, or a directory with one .onnx + .onnx.json), a coqui-tts "
            "model name (downloaded by its ModelManager) or a local directory with config.json and the "
            "checkpoint (XTTS: model.pth and vocab.json) [TTS_MODEL].",
        )
        group.add_argument(
            "--engine",
            choices=ENGINES,
            default=env_str("TTS_ENGINE", "auto"),
            help="piper (ONNX Runtime, no cloning), xtts (XTTS-v2: cloning, streaming) or coqui (other "
            "coqui-tts models); auto picks from the model's files [TTS_ENGINE].",
        )
        group.add_argument(
            "--device",
            default=env_str("TTS_DEVICE", "auto"),
            choices=["auto", "cpu", "cuda"],
            help="Where the model runs; auto picks CUDA when available [TTS_DEVICE].",
        )
        group.add_argument(
            "--voices_dir",
            default=env_str("TTS_VOICE_DIR"),
            help="Voice samples: <name>.wav (or other audio) or a folder <name>/ of samples [TTS_VOICE_DIR].",
        )
        group.add_argument(
            "--auto_lang",
            action=argparse.BooleanOptionalAction,
            default=env_bool("TTS_AUTO_LANG", True),
            help="Detect the language when a request says 'auto' or none [TTS_AUTO_LANG].",
        )
        group.add_argument(
            "--default_language",
            default=env_str("TTS_DEFAULT_LANGUAGE", "en"),
            help="Language used when none is given and detection is off [TTS_DEFAULT_LANGUAGE].",
        )
        group.add_argument(
            "--voice_aliases",
            default=env_str("TTS_VOICE_ALIASES", ""),
            help="OpenAI voice names mapped to voices: 'alloy=name,echo=name' or JSON [TTS_VOICE_ALIASES].",
        )
        group.add_argument(
            "--default_voice",
            default=env_str("TTS_DEFAULT_VOICE"),
            help="Voice for requests without one, and for unmapped OpenAI voice names; default: the first "
            "voice by name [TTS_DEFAULT_VOICE].",
        )
        group.add_argument(
            "--max_input_chars",
            type=int,
            default=env_int("TTS_MAX_INPUT_CHARS", 4096),
            help="Longest text accepted (the router's limit is the same by default) [TTS_MAX_INPUT_CHARS].",
        )
        group.add_argument(
            "--chunk_chars",
            type=int,
            default=env_int("TTS_CHUNK_CHARS", 180),
            help="Target length of the sentence chunks synthesised one at a time [TTS_CHUNK_CHARS].",
        )
        group.add_argument(
            "--stream_chunk_tokens",
            type=int,
            default=env_int("TTS_STREAM_CHUNK_TOKENS", 20),
            help="XTTS streaming: GPT tokens per audio chunk (smaller: earlier first audio) "
            "[TTS_STREAM_CHUNK_TOKENS].",
        )
        group.add_argument(
            "--min_sample_seconds",
            type=float,
            default=env_float("TTS_MIN_SAMPLE_SECONDS", 3.0),
            help="Shortest accepted voice sample [TTS_MIN_SAMPLE_SECONDS].",
        )
        group.add_argument(
            "--max_sample_seconds",
            type=float,
            default=env_float("TTS_MAX_SAMPLE_SECONDS", 30.0),
            help="Longest accepted voice sample [TTS_MAX_SAMPLE_SECONDS].",
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> EngineSettings:
        if args.engine not in ENGINES:
            raise SystemExit(f"--engine must be one of {', '.join(ENGINES)}, got {args.engine!r}")
        if args.max_input_chars < 1:
            raise SystemExit("--max_input_chars must be at least 1")
        if args.chunk_chars < 20:
            raise SystemExit("--chunk_chars must be at least 20")
        if args.stream_chunk_tokens < 1:
            raise SystemExit("--stream_chunk_tokens must be at least 1")
        if not 0 < args.min_sample_seconds < args.max_sample_seconds:
            raise SystemExit("need 0 < --min_sample_seconds < --max_sample_seconds")
        return cls(
            model=args.model,
            engine=args.engine,
            device=args.device,
            voices_dir=Path(args.voices_dir) if args.voices_dir else None,
            auto_lang=args.auto_lang,
            default_language=args.default_language,
            voice_aliases=parse_aliases(args.voice_aliases),
            default_voice=args.default_voice,
            max_input_chars=args.max_input_chars,
            chunk_chars=args.chunk_chars,
            stream_chunk_tokens=args.stream_chunk_tokens,
            min_sample_seconds=args.min_sample_seconds,
            max_sample_seconds=args.max_sample_seconds,
        )
