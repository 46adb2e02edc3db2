"""The ASR predictor's engine flags, each with an ``ASR_*`` environment variable as its default."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from voicestack.contracts.models import ASR_MODEL_NAME
from voicestack_predictors.common.audio import DEFAULT_MAX_SECONDS
from voicestack_predictors.common.options import env_bool, env_float, env_int, env_str

ENGINES = ("faster-whisper", "whisper")
DEVICES = ("auto", "cpu", "cuda")
DEFAULT_MODEL_NAME = ASR_MODEL_NAME
# Whisper's decoder context is 448 tokens; a prompt of previous text may take up to 224 of them.
MAX_NEW_TOKENS_LIMIT = 220


@dataclass(frozen=True)
class EngineSettings:
    """What the engine is built from and the server-wide decoding defaults."""

    engine: str = "faster-whisper"
    model: str = "base"
    device: str = "auto"
    compute_type: str | None = None  # None: float16 on CUDA, int8 (faster-whisper) / float32 on CPU
    beam_size: int = 0  # 0: per path and device (engines/faster_whisper_engine.py, docs/asr-predictor.md)
    vad: bool | None = None  # None: on for audio the batched pipeline takes, off for the sequential path
    batch_size: int = 0  # 0: per device (engines/faster_whisper_engine.py); 1 keeps everything sequential
    max_new_tokens: int | None = None
    cpu_threads: int = 0
    download_root: str | None = None
    local_files_only: bool = False
    # The longest audio any request may send; a request's own max_audio_seconds can only lower it.
    max_audio_seconds: float = DEFAULT_MAX_SECONDS

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("engine")
        group.add_argument(
            "--engine",
            choices=ENGINES,
            default=env_str("ASR_ENGINE", "faster-whisper"),
            help="faster-whisper (CTranslate2) or whisper (openai-whisper, PyTorch) [ASR_ENGINE].",
        )
        group.add_argument(
            "--model",
            default=env_str("ASR_MODEL", "base"),
            help="A size (tiny … large-v3, turbo), a Hugging Face repo id, or a local directory or "
            "checkpoint file [ASR_MODEL].",
        )
        group.add_argument(
            "--device",
            choices=DEVICES,
            default=env_str("ASR_DEVICE", "auto"),
            help="Where to run the model [ASR_DEVICE].",
        )
        group.add_argument(
            "--compute_type",
            default=env_str("ASR_COMPUTE_TYPE"),
            help="CTranslate2 compute type (float16, int8, int8_float16, float32, …); default float16 "
            "on CUDA, int8 on CPU. openai-whisper: float16 or float32 [ASR_COMPUTE_TYPE].",
        )
        group.add_argument(
            "--beam_size",
            type=int,
            default=env_int("ASR_BEAM_SIZE", 0),
            help="Default beam size (a request may ask for 1–10); 0 picks per path and device: 5 for "
            "the sequential path, and for the batched one 5 on CUDA and 1 on CPU [ASR_BEAM_SIZE].",
        )
        group.add_argument(
            "--vad",
            action=argparse.BooleanOptionalAction,
            default=_env_optional_bool("ASR_VAD_ENABLED"),
            help="Default for the Silero VAD filter (a request may override); unset: on for audio the "
            "batched pipeline takes (> 30 s), off for shorter audio [ASR_VAD_ENABLED].",
        )
        group.add_argument(
            "--batch_size",
            type=int,
            default=env_int("ASR_BATCH_SIZE", 0),
            help="faster-whisper: audio longer than 30 s is transcribed by BatchedInferencePipeline "
            "with this many windows per batch; 1 keeps the sequential loop; 0 picks 8 (CPU and CUDA; "
            "see docs/asr-predictor.md) [ASR_BATCH_SIZE].",
        )
        group.add_argument(
            "--max_new_tokens",
            type=int,
            default=env_int("ASR_MAX_NEW_TOKENS", 0),
            help="Cap on tokens decoded per 30 s window; 0 means the model's own limit [ASR_MAX_NEW_TOKENS].",
        )
        group.add_argument(
            "--cpu_threads",
            type=int,
            default=env_int("ASR_CPU_THREADS", 0),
            help="Threads per inference on CPU; 0 lets the engine decide [ASR_CPU_THREADS].",
        )
        group.add_argument(
            "--download_root",
            default=env_str("ASR_DOWNLOAD_ROOT"),
            help="Where downloaded models are cached (default: the Hugging Face / whisper cache) "
            "[ASR_DOWNLOAD_ROOT].",
        )
        group.add_argument(
            "--local_files_only",
            action=argparse.BooleanOptionalAction,
            default=env_bool("ASR_LOCAL_FILES_ONLY", False),
            help="Never download: use only models already in the cache [ASR_LOCAL_FILES_ONLY].",
        )
        limits = parser.add_argument_group("input limits")
        limits.add_argument(
            "--max_audio_seconds",
            type=float,
            default=env_float("ASR_MAX_AUDIO_SECONDS", DEFAULT_MAX_SECONDS),
            help="The longest audio a request may send (checked against what the file declares before "
            "decoding and enforced while decoding: 413 past it); a request's max_audio_seconds option "
            "can only lower it (docs/audio-decoding.md) [ASR_MAX_AUDIO_SECONDS].",
        )
        parser.set_defaults(model_name=env_str("ASR_MODEL_NAME", DEFAULT_MODEL_NAME))

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> EngineSettings:
        if args.engine not in ENGINES:
            raise SystemExit(f"--engine must be one of {', '.join(ENGINES)}, got {args.engine!r}")
        if args.device not in DEVICES:
            raise SystemExit(f"--device must be one of {', '.join(DEVICES)}, got {args.device!r}")
        if not 0 <= args.beam_size <= 10:
            raise SystemExit(f"--beam_size must be between 1 and 10 (0: automatic), got {args.beam_size}")
        if args.batch_size < 0:
            raise SystemExit(f"--batch_size must not be negative, got {args.batch_size}")
        if not 0 <= args.max_new_tokens <= MAX_NEW_TOKENS_LIMIT:
            raise SystemExit(
                f"--max_new_tokens must be between 0 and {MAX_NEW_TOKENS_LIMIT} (the prompt takes the rest "
                f"of Whisper's 448-token context), got {args.max_new_tokens}"
            )
        if args.cpu_threads < 0:
            raise SystemExit(f"--cpu_threads must not be negative, got {args.cpu_threads}")
        if not 0 < args.max_audio_seconds < math.inf:
            raise SystemExit(f"--max_audio_seconds must be a positive number, got {args.max_audio_seconds}")
        return cls(
            engine=args.engine,
            model=args.model,
            device=args.device,
            compute_type=args.compute_type,
            beam_size=args.beam_size,
            vad=args.vad,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens or None,
            cpu_threads=args.cpu_threads,
            download_root=args.download_root,
            local_files_only=args.local_files_only,
            max_audio_seconds=args.max_audio_seconds,
        )


def _env_optional_bool(name: str) -> bool | None:
    """A boolean variable that may be left unset (None: the engine decides)."""
    return None if env_str(name) is None else env_bool(name, False)
