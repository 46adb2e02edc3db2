"""The TTS predictor's settings: each field is a flag ``--<name>`` and a variable ``TTS_<NAME>``.

The operator writes them into the predictor's ``env`` (``predictor_settings.py`` says why they live here).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from voicestack.contracts.models import TTS_MODEL_NAME
from voicestack.contracts.predictor_settings import (
    DEFAULT_DOC,
    KSERVE_FLAG,
    PredictorSettings,
    ServingOptions,
)

DEFAULT_MODEL = "tts_models/multilingual/multi-dataset/xtts_v2"
DEFAULT_MODEL_NAME = TTS_MODEL_NAME
# auto: a Piper voice (.onnx + .onnx.json) → piper; a coqui-tts model → xtts or coqui by its config.json.
ENGINES = ("auto", "piper", "xtts", "coqui")
ENV_PREFIX = "TTS"


def parse_aliases(text: str | None) -> dict[str, str]:
    """``alloy=name,echo=name`` or a JSON object → ``{"alloy": "name", …}``."""
    if not text or not text.strip():
        return {}
    text = text.strip()
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"voice aliases are not valid JSON: {exc}") from exc
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise ValueError("voice aliases JSON must be an object of strings")
        return {str(k).strip(): v.strip() for k, v in loaded.items()}
    aliases: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        alias, sep, voice = item.partition("=")
        if not sep or not alias.strip() or not voice.strip():
            raise ValueError(f"voice alias {item.strip()!r} is not of the form alias=voice")
        aliases[alias.strip()] = voice.strip()
    return aliases


class EngineSettings(PredictorSettings):
    """The model, its voices and languages, and the limits on requests."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}_")
    flag_group: ClassVar[str] = "engine"

    model_name: str = Field(
        DEFAULT_MODEL_NAME,
        description="The KServe model name in the URLs",
        json_schema_extra={KSERVE_FLAG: True},
    )
    model: str = Field(
        DEFAULT_MODEL,
        description="A Piper voice (.onnx file, or a directory with one .onnx + .onnx.json), a coqui-tts "
        "model name (downloaded by its ModelManager) or a local directory with config.json and the "
        "checkpoint (XTTS: model.pth and vocab.json)",
    )
    engine: Literal["auto", "piper", "xtts", "coqui"] = Field(
        "auto",
        description="piper (ONNX Runtime, no cloning), xtts (XTTS-v2: cloning, streaming) or coqui (other "
        "coqui-tts models); auto picks from the model's files",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description="Where the model runs; auto picks CUDA when present (Piper: when ONNX Runtime has its "
        "CUDA provider, i.e. onnxruntime-gpu)",
    )
    voices_dir: Path | None = Field(
        None,
        validation_alias="TTS_VOICE_DIR",
        description="Voice samples: `<name>.wav` (or other audio) or a folder `<name>/` of samples",
    )
    auto_lang: bool = Field(True, description="Detect the language when a request says 'auto' or none")
    default_language: str = Field(
        "en", description="Language used when none is given and detection is off or has no good guess"
    )
    voice_aliases: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="OpenAI voice names mapped to voices: 'alloy=name,echo=name' or JSON",
    )
    default_voice: str | None = Field(
        None,
        description="Voice for requests without one, and for unmapped OpenAI voice names",
        json_schema_extra={DEFAULT_DOC: "first voice by name"},
    )
    max_input_chars: int = Field(
        4096, ge=1, description="Longest text accepted (the router's max_input_chars is the same by default)"
    )
    chunk_chars: int = Field(
        180,
        ge=20,
        description="Target length of the sentence chunks synthesised one at a time (never above the "
        "language's limit)",
    )
    stream_chunk_tokens: int = Field(
        20, ge=1, description="XTTS streaming: GPT tokens per audio chunk (smaller: earlier first audio)"
    )
    min_sample_seconds: float = Field(3.0, gt=0, description="Shortest accepted voice sample")
    max_sample_seconds: float = Field(30.0, gt=0, description="Longest accepted voice sample")
    min_sample_rate: ClassVar[int] = 16000

    @field_validator("voice_aliases", mode="before")
    @classmethod
    def _aliases(cls, value: Any) -> Any:
        return parse_aliases(value) if value is None or isinstance(value, str) else value

    @model_validator(mode="after")
    def _sample_range(self) -> Self:
        if not self.min_sample_seconds < self.max_sample_seconds:
            raise ValueError("need min_sample_seconds < max_sample_seconds")
        return self


class TtsServing(ServingOptions):
    """The serving settings, read from ``TTS_*``."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}_")
