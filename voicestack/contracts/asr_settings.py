"""The ASR predictor's settings: each field is a flag ``--<name>`` and a variable ``ASR_<NAME>``.

The operator writes them into the predictor's ``env`` (``predictor_settings.py`` says why they live here).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from voicestack.contracts.audio import DEFAULT_MAX_SECONDS
from voicestack.contracts.models import ASR_MODEL_NAME
from voicestack.contracts.predictor_settings import (
    DEFAULT_DOC,
    KSERVE_FLAG,
    PredictorSettings,
    ServingOptions,
)

ENGINES = ("faster-whisper", "whisper")
DEVICES = ("auto", "cpu", "cuda")
ENV_PREFIX = "ASR"
DEFAULT_MODEL_NAME = ASR_MODEL_NAME
# Whisper's decoder context is 448 tokens; a prompt of previous text may take up to 224 of them.
MAX_NEW_TOKENS_LIMIT = 220


class EngineSettings(PredictorSettings):
    """What the engine is built from and the server-wide decoding defaults."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}_")
    flag_group: ClassVar[str] = "engine"

    model_name: str = Field(
        DEFAULT_MODEL_NAME,
        description="The KServe model name in the URLs",
        json_schema_extra={KSERVE_FLAG: True},
    )
    engine: Literal["faster-whisper", "whisper"] = Field(
        "faster-whisper", description="faster-whisper (CTranslate2) or whisper (openai-whisper, PyTorch)"
    )
    model: str = Field(
        "base",
        description="A size (tiny … large-v3, turbo), a Hugging Face repo id, or a local directory or "
        "checkpoint file",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where to run the model: auto (CUDA if visible), cpu or cuda"
    )
    compute_type: str | None = Field(
        None,
        description="CTranslate2 compute type (float16, int8, int8_float16, float32, …); openai-whisper: "
        "float16 or float32",
        json_schema_extra={DEFAULT_DOC: "float16 on CUDA; int8 (faster-whisper) / float32 (whisper) on CPU"},
    )
    beam_size: int = Field(
        0,
        ge=0,
        le=10,
        description="Default beam size (a request may ask for 1–10)",
        json_schema_extra={
            DEFAULT_DOC: "0 = auto: 5 on the sequential path; batched path 1 on CPU, 5 on CUDA"
        },
    )
    vad: bool | None = Field(
        None,
        validation_alias="ASR_VAD_ENABLED",
        description="Default of the Silero VAD filter (a request may override)",
        json_schema_extra={
            DEFAULT_DOC: "unset = auto: on for the batched path (audio > 30 s), off for shorter audio and "
            "for `--engine whisper`"
        },
    )
    batch_size: int = Field(
        0,
        ge=0,
        description="faster-whisper: audio longer than 30 s is transcribed by BatchedInferencePipeline with "
        "this many windows per batch; 1 keeps the sequential loop; 0 picks 8 (CPU and CUDA; see "
        "docs/asr-predictor.md)",
        json_schema_extra={DEFAULT_DOC: "0 = auto (8, CPU and CUDA)"},
    )
    cross_request_batching: Literal["auto", "on", "off"] = Field(
        "auto",
        description="faster-whisper: decode the 30 s windows of concurrent long requests with equal decoding "
        "options in shared batched passes of up to `--batch_size` windows (matters only with "
        "`--max_concurrency` > 1)",
        json_schema_extra={DEFAULT_DOC: "auto: on for CUDA, off for CPU"},
    )
    cross_request_wait_ms: float = Field(
        20.0,
        ge=0,
        le=5000,
        allow_inf_nan=False,
        description="With cross-request batching: how long a pass that is not full waits for the windows of "
        "another request already being prepared",
    )
    max_new_tokens: int | None = Field(
        None,
        ge=1,
        le=MAX_NEW_TOKENS_LIMIT,
        description=f"Cap on tokens decoded per 30 s window (0–{MAX_NEW_TOKENS_LIMIT}; the prompt takes the "
        "rest of Whisper's 448-token context); 0 means the model's own limit",
        json_schema_extra={DEFAULT_DOC: "0 (model limit)"},
    )
    cpu_threads: int = Field(
        0,
        ge=0,
        description="Threads per inference on CPU; 0 lets the engine decide",
        json_schema_extra={
            DEFAULT_DOC: "0: faster-whisper min(4, usable cores / `--max_concurrency`); "
            "whisper: torch's default"
        },
    )
    download_root: str | None = Field(
        None,
        description="Where downloaded models are cached",
        json_schema_extra={DEFAULT_DOC: "HF / whisper cache"},
    )
    local_files_only: bool = Field(False, description="Never download: use only models already in the cache")
    # The longest audio any request may send; a request's own max_audio_seconds can only lower it.
    max_audio_seconds: float = Field(
        DEFAULT_MAX_SECONDS,
        gt=0,
        allow_inf_nan=False,
        description="The longest audio a request may send (checked against what the file declares before "
        "decoding and enforced while decoding: 413 past it); a request's max_audio_seconds option can only "
        "lower it (docs/audio-decoding.md)",
        json_schema_extra={DEFAULT_DOC: "14400 (4 h)"},
    )

    @field_validator("max_new_tokens", mode="before")
    @classmethod
    def _zero_is_unset(cls, value: Any) -> Any:
        return None if value in (0, "0") else value


class AsrServing(ServingOptions):
    """The serving settings, read from ``ASR_*``."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}_")
