"""Router configuration: environment variables (``ROUTER_`` prefix) over an optional YAML file.

The keys are the ones listed in ``docs/contracts.md``; the operator writes them into ``router.yaml`` and names
the file with ``ROUTER_CONFIG_FILE``. List values accept a JSON list or a comma-separated string.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BeforeValidator, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from voicestack.contracts.models import ASR_MODEL_NAME, TTS_FAST_MODEL_NAME, TTS_MODEL_NAME
from voicestack_router.endpoints import DNS_SCHEME_PREFIX, DnsEndpoints


def _as_list(value: Any) -> list[str]:
    """Accept ``a,b``, ``["a", "b"]`` (JSON text) or a list; strip blanks and trailing slashes of URLs."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") else text.split(",")
    return [str(item).strip() for item in value if str(item).strip()]


def _as_urls(value: Any) -> list[str]:
    """Predictor URLs: ``http(s)://host:port`` as is, ``dns+http(s)://name:port`` resolved at run time."""
    urls = [url.rstrip("/") for url in _as_list(value)]
    for url in urls:
        if url.startswith(DNS_SCHEME_PREFIX):
            DnsEndpoints(url)  # raises ValueError (a settings error) for a malformed one
    return urls


StrList = Annotated[list[str], NoDecode, BeforeValidator(_as_list)]
UrlList = Annotated[list[str], NoDecode, BeforeValidator(_as_urls)]


class RouterSettings(BaseSettings):
    """Everything the router can be told; see ``docs/router.md`` for the full table."""

    model_config = SettingsConfigDict(env_prefix="ROUTER_", extra="ignore")

    # Contract keys (docs/contracts.md)
    asr_urls: UrlList = Field(
        default_factory=list,
        description="ASR predictor base URLs (round-robin); dns+http://name:port: every address of name.",
    )
    asr_model_name: str = ASR_MODEL_NAME
    asr_aliases: StrList = Field(default_factory=lambda: ["whisper-1"])
    tts_urls: UrlList = Field(default_factory=list, description="TTS predictor base URLs (round-robin).")
    tts_model_name: str = TTS_MODEL_NAME
    tts_aliases: StrList = Field(default_factory=lambda: ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"])
    # An optional second TTS backend, usually Piper on CPU beside XTTS-v2 on a GPU: its ids take precedence
    # over the first backend's, so by default tts-1 means the fast one and tts-1-hd the first one.
    tts_fast_urls: UrlList = Field(default_factory=list, description="Fast TTS predictor base URLs.")
    tts_fast_model_name: str = TTS_FAST_MODEL_NAME
    tts_fast_aliases: StrList = Field(default_factory=lambda: ["tts-1"])
    api_keys: StrList = Field(default_factory=list, description="Accepted bearer keys; empty: no auth.")
    cors_origins: StrList = Field(default_factory=list, description="Explicit CORS origins; empty: none.")
    max_upload_mb: float = Field(25, gt=0)
    max_bazarr_upload_mb: float = Field(2048, gt=0)
    # The longest audio a transcription may hold (sent to the ASR predictor, which caps it by its own).
    max_audio_seconds: float = Field(2 * 3600, gt=0, description="OpenAI routes: longest audio, seconds.")
    max_bazarr_audio_seconds: float = Field(
        4 * 3600, gt=0, description="Bazarr routes (whole films): longest audio, seconds."
    )
    max_input_chars: int = Field(4096, gt=0)
    # JSON bodies (speech, voices) are refused past this size before they are parsed.
    max_json_body_bytes: int = Field(1024 * 1024, gt=0)
    request_timeout_seconds: float = Field(600, gt=0)
    voice_store: Literal["directory", "configmap"] = "directory"
    voices_dir: Path | None = None
    namespace: str = "default"
    stack_name: str = "voice-stack"

    # Router-only tuning (additions documented in docs/router.md)
    connect_timeout_seconds: float = Field(5, gt=0)
    backend_max_inflight: int = Field(4, ge=1, description="Requests in flight per predictor replica.")
    backend_max_queue: int = Field(64, ge=0, description="OpenAI requests waiting for a backend slot.")
    retry_attempts: int = Field(3, ge=1, description="Tries for requests safe to repeat.")
    retry_after_seconds: int = Field(5, ge=1)
    unavailable_wait_seconds: float = Field(
        60, ge=0, description="How long Bazarr requests wait for an unreachable predictor to come back."
    )
    health_interval_seconds: float = Field(5, gt=0)
    stall_after_probes: int = Field(
        2, ge=1, description="Liveness probes timing out in a row before a replica counts as stalled."
    )
    # Predictor deadlines (docs/reliability.md): base + per second of audio (ASR) or per character (TTS).
    deadline_base_seconds: float = Field(60, gt=0, description="Predictor call deadline: the fixed part.")
    deadline_per_audio_second: float = Field(1.0, ge=0, description="Deadline added per second of audio.")
    deadline_per_input_char: float = Field(0.05, ge=0, description="Deadline added per character spoken.")
    # Slow clients (docs/reliability.md): the request line and headers, then the body at a minimum rate.
    header_timeout_seconds: float = Field(10, gt=0, description="Time for a request's line and headers.")
    body_grace_seconds: float = Field(10, ge=0, description="Body time allowed before the rate counts.")
    body_min_bytes_per_second: int = Field(1024, ge=1, description="Slowest accepted body upload rate.")
    keep_alive_seconds: float = Field(5, gt=0, description="Idle keep-alive connections close after this.")
    max_connections: int = Field(1024, ge=1, description="Open connections; more are answered 503.")
    # An uploaded voice sample's length, as the TTS predictor checks it (--min/max_sample_seconds).
    voice_min_sample_seconds: float = Field(3.0, gt=0, description="Shortest voice sample, seconds.")
    voice_max_sample_seconds: float = Field(30.0, gt=0, description="Longest voice sample, seconds.")
    # A new voice needs the id of a consent record (OpenAI's rule); false: consent is optional (as before).
    require_voice_consent: bool = True
    tts_parallel_sentences: int = Field(0, ge=0, description="Sentences synthesised at once; 0: replicas.")
    # /docs, /redoc, /openapi.json: "key" serves them behind the API key when keys are set (open when none),
    # "open" always without a key, "off" not at all.
    api_docs: Literal["key", "open", "off"] = "key"
    # Realtime transcription sessions (/v1/realtime, docs/realtime.md)
    realtime_max_sessions: int = Field(16, ge=0, description="Open realtime sessions per router process.")
    realtime_max_session_seconds: float = Field(1800, gt=0, description="A session's longest life, seconds.")
    realtime_idle_timeout_seconds: float = Field(
        120, gt=0, description="A session with no client event for this long is closed."
    )
    realtime_max_buffer_seconds: float = Field(
        60, gt=0, description="Uncommitted audio a session may hold; a longer VAD turn is cut there."
    )
    realtime_vad_model: Path | None = Field(
        None, description="Silero VAD ONNX file; unset: faster-whisper's bundled copy, if installed."
    )
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _distinct_tts_names(self) -> RouterSettings:
        if self.tts_urls and self.tts_fast_urls and self.tts_fast_model_name == self.tts_model_name:
            raise ValueError(
                f"tts_model_name and tts_fast_model_name are both {self.tts_model_name!r}: the two TTS "
                "backends need different model names"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("ROUTER_CONFIG_FILE")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_bazarr_upload_bytes(self) -> int:
        return int(self.max_bazarr_upload_mb * 1024 * 1024)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> RouterSettings:
    """Settings from the environment, then ``config_file`` (or ``ROUTER_CONFIG_FILE``); overrides win."""
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise FileNotFoundError(f"router config file {path} not found")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"router config file {path} must hold a mapping")
        env_keys = {key[len("ROUTER_") :].lower() for key in os.environ if key.startswith("ROUTER_")}
        file_values = {key: value for key, value in data.items() if key not in env_keys}
        return RouterSettings(**{**file_values, **overrides})
    return RouterSettings(**overrides)
