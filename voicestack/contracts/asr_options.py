"""The options of an ASR request, typed, with the one serialiser the router sends them with and the one
parser the ASR predictor reads them with (header ``X-VoiceStack-Options``, or KServe ``parameters``).

The checks run wherever an ``AsrOptions`` is built: in the router before the upload is forwarded, in the
predictor before the audio is decoded, so a bad option costs a 400 and nothing else. A failed check raises
``AsrOptionsError`` naming the option and the accepted values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from voicestack.contracts.languages import WHISPER_LANGUAGES

OPTIONS_HEADER = "X-VoiceStack-Options"
TASKS = ("transcribe", "translate", "detect_language")
AUDIO_FORMATS = ("auto", "pcm_s16le")
MAX_PROMPT_CHARS = 2000
DEFAULT_DETECT_LANG_LENGTH = 90.0  # seconds: three 30 s windows vote on the language
MAX_DETECT_LANG_LENGTH = 600.0
# Keys KServe clients add to ``parameters`` on their own; accepted and ignored.
PROTOCOL_KEYS = frozenset({"binary_data_output", "content_type", "headers"})


class AsrOptionsError(ValueError):
    """An option the ASR predictor does not accept; the message says which and why."""


class AsrOptions(BaseModel):
    """Per-request ASR options; every field at its default means "the predictor's own setting"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: Literal["transcribe", "translate", "detect_language"] = "transcribe"
    language: str | None = None  # a Whisper code; None: detect it
    initial_prompt: str | None = None
    temperature: float | None = None
    beam_size: int | None = None
    word_timestamps: bool = False
    vad_filter: bool | None = None
    detect_lang_length: float = DEFAULT_DETECT_LANG_LENGTH
    detect_lang_offset: float = 0.0
    stream: bool = False
    audio_format: Literal["auto", "pcm_s16le"] = "auto"
    # The caller's duration limit (the router sends the OpenAI or the Bazarr one); the predictor's caps it.
    max_audio_seconds: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _checked(cls, raw: Any) -> Any:
        if isinstance(raw, Mapping):
            return _check(raw)
        return raw

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> AsrOptions:
        """Options from a JSON object (null values count as absent; unknown keys are refused)."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise AsrOptionsError(f"options must be a JSON object, got {type(raw).__name__}")
        try:
            return cls.model_validate({key: value for key, value in raw.items() if key not in PROTOCOL_KEYS})
        except ValidationError as exc:
            raise AsrOptionsError(_message(exc)) from exc

    def header_value(self) -> str:
        """The ``X-VoiceStack-Options`` value: the options that are not defaults, ASCII-escaped JSON."""
        return json.dumps(self.model_dump(exclude_defaults=True), ensure_ascii=True)


def header_fields(value: str | None) -> dict[str, Any]:
    """The JSON object an ``X-VoiceStack-Options`` header holds (``{}`` without one), not yet checked."""
    if not value:
        return {}
    try:
        fields = json.loads(value)
    except json.JSONDecodeError as exc:
        raise AsrOptionsError(f"the {OPTIONS_HEADER} header is not valid JSON: {exc}") from exc
    if not isinstance(fields, dict):
        raise AsrOptionsError(f"the {OPTIONS_HEADER} header must hold a JSON object")
    return fields


def _message(exc: ValidationError) -> str:
    """The first error's own message (a check's ``ValueError``), without pydantic's decoration."""
    error = exc.errors()[0]
    original = (error.get("ctx") or {}).get("error")
    if isinstance(original, ValueError):
        return str(original)
    where = ".".join(str(part) for part in error.get("loc", ())) or "options"
    return f"{where}: {error.get('msg', 'invalid')}"


def _check(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The options normalised, with a clear message for the first bad one (null values dropped)."""
    raw = {key: value for key, value in raw.items() if value is not None}
    known = tuple(AsrOptions.model_fields)
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise AsrOptionsError(f"unknown option(s) {', '.join(unknown)}; known options: {', '.join(known)}")
    values = dict(raw)
    if "task" in raw:
        values["task"] = _choice("task", raw["task"], TASKS)
    if "language" in raw:
        values["language"] = _language(raw["language"])
    if "initial_prompt" in raw:
        values["initial_prompt"] = _prompt(raw["initial_prompt"])
    if "temperature" in raw:
        values["temperature"] = _number("temperature", raw["temperature"], 0.0, 1.0)
    if "beam_size" in raw:
        values["beam_size"] = _integer("beam_size", raw["beam_size"], 1, 10)
    for flag in ("word_timestamps", "vad_filter", "stream"):
        if flag in raw:
            values[flag] = _boolean(flag, raw[flag])
    if "detect_lang_length" in raw:
        values["detect_lang_length"] = _seconds(
            "detect_lang_length", raw["detect_lang_length"], MAX_DETECT_LANG_LENGTH
        )
    if "detect_lang_offset" in raw:
        values["detect_lang_offset"] = _number("detect_lang_offset", raw["detect_lang_offset"], 0.0, math.inf)
    if "max_audio_seconds" in raw:
        values["max_audio_seconds"] = _seconds("max_audio_seconds", raw["max_audio_seconds"], math.inf)
    if "audio_format" in raw:
        values["audio_format"] = _choice("audio_format", raw["audio_format"], AUDIO_FORMATS)
    return values


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise AsrOptionsError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _language(value: Any) -> str | None:
    if not isinstance(value, str):
        raise AsrOptionsError(f"language must be a string language code such as 'en'; got {value!r}")
    code = value.strip().lower()
    if code in {"", "auto"}:
        return None
    if code not in WHISPER_LANGUAGES:
        raise AsrOptionsError(
            f"language {value!r} is not one Whisper knows; use a code such as en, de, fr, es, ja, zh "
            "(or 'auto' to detect it)"
        )
    return code


def _prompt(value: Any) -> str | None:
    if not isinstance(value, str):
        raise AsrOptionsError("initial_prompt must be a string")
    if len(value) > MAX_PROMPT_CHARS:
        raise AsrOptionsError(
            f"initial_prompt is too long ({len(value)} characters; at most {MAX_PROMPT_CHARS})"
        )
    return value or None


def _number(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool):
        raise AsrOptionsError(f"{name} must be a number; got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise AsrOptionsError(f"{name} must be a number; got {value!r}") from exc
    if not math.isfinite(number) or not low <= number <= high:
        upper = "" if math.isinf(high) else f" and {high:g}"
        raise AsrOptionsError(
            f"{name} must be {'at least' if not upper else 'between'} {low:g}{upper}; got {value!r}"
        )
    return number


def _seconds(name: str, value: Any, high: float) -> float:
    """A duration more than 0 and at most ``high``."""
    number = _number(name, value, 0.0, high)
    if number == 0:
        raise AsrOptionsError(f"{name} must be more than 0 seconds")
    return number


def _integer(name: str, value: Any, low: int, high: int) -> int:
    problem = f"{name} must be an integer between {low} and {high}; got {value!r}"
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise AsrOptionsError(problem)
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise AsrOptionsError(problem) from exc
    if not low <= number <= high:
        raise AsrOptionsError(problem)
    return number


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0"}:
        return value.strip().lower() in {"true", "1"}
    raise AsrOptionsError(f"{name} must be true or false; got {value!r}")
