"""Per-request options (``X-VoiceStack-Options`` header or KServe ``parameters``), validated up front.

Everything here runs before the audio is decoded or the engine is touched, so a bad option costs a 400
and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kserve.errors import InvalidInput

from voicestack_predictors.asr.languages import WHISPER_LANGUAGES

TASKS = ("transcribe", "translate", "detect_language")
AUDIO_FORMATS = ("auto", "pcm_s16le")
MAX_PROMPT_CHARS = 2000
DEFAULT_DETECT_LANG_LENGTH = 90.0  # seconds: three 30 s windows vote on the language
MAX_DETECT_LANG_LENGTH = 600.0
MAX_KEYWORDS = 100
MAX_KEYWORD_CHARS = 200
# Silero VAD settings a request may set (faster-whisper's ``VadOptions`` names), with their ranges.
VAD_PARAMETERS = {
    "threshold": (0.0, 1.0),
    "min_silence_duration_ms": (0.0, 60_000.0),
    "speech_pad_ms": (0.0, 10_000.0),
}
# Keys KServe clients add on their own; accepted and ignored.
_PROTOCOL_KEYS = {"binary_data_output", "content_type", "headers"}


@dataclass(frozen=True)
class AsrOptions:
    task: str = "transcribe"
    language: str | None = None
    initial_prompt: str | None = None
    temperature: float | None = None
    beam_size: int | None = None
    word_timestamps: bool = False
    vad_filter: bool | None = None
    detect_lang_length: float = DEFAULT_DETECT_LANG_LENGTH
    detect_lang_offset: float = 0.0
    stream: bool = False
    audio_format: str = "auto"
    # The caller's duration limit (the router sends the OpenAI or the Bazarr one); the server's caps it.
    max_audio_seconds: float | None = None
    # Terms to favour (faster-whisper: ``hotwords``; openai-whisper: appended to the prompt).
    keywords: tuple[str, ...] = ()
    # When the language is detected, only these may win (empty: any).
    language_candidates: tuple[str, ...] = ()
    # Per-token log probabilities in the result (faster-whisper only).
    logprobs: bool = False
    # Silero VAD settings (``VAD_PARAMETERS``); setting any turns ``vad_filter`` on.
    vad_parameters: dict[str, float] | None = None


KNOWN_OPTIONS = tuple(AsrOptions.__dataclass_fields__)


def parse_options(raw: Mapping[str, Any] | None) -> AsrOptions:
    """Build ``AsrOptions`` from a JSON object; raises ``InvalidInput`` naming the bad option."""
    if raw is None:
        return AsrOptions()
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"options must be a JSON object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(KNOWN_OPTIONS) - _PROTOCOL_KEYS)
    if unknown:
        raise InvalidInput(
            f"unknown option(s) {', '.join(unknown)}; known options: {', '.join(KNOWN_OPTIONS)}"
        )
    values: dict[str, Any] = {}
    if (task := raw.get("task")) is not None:
        values["task"] = _choice("task", task, TASKS)
    if (language := raw.get("language")) is not None:
        values["language"] = _language(language)
    if (prompt := raw.get("initial_prompt")) is not None:
        if not isinstance(prompt, str):
            raise InvalidInput("initial_prompt must be a string")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise InvalidInput(
                f"initial_prompt is too long ({len(prompt)} characters; at most {MAX_PROMPT_CHARS})"
            )
        values["initial_prompt"] = prompt or None
    if (temperature := raw.get("temperature")) is not None:
        values["temperature"] = _number("temperature", temperature, 0.0, 1.0)
    if (beam_size := raw.get("beam_size")) is not None:
        values["beam_size"] = _integer("beam_size", beam_size, 1, 10)
    for flag in ("word_timestamps", "vad_filter", "stream", "logprobs"):
        if (value := raw.get(flag)) is not None:
            values[flag] = _boolean(flag, value)
    if (length := raw.get("detect_lang_length")) is not None:
        values["detect_lang_length"] = _seconds("detect_lang_length", length, MAX_DETECT_LANG_LENGTH)
    if (offset := raw.get("detect_lang_offset")) is not None:
        values["detect_lang_offset"] = _number("detect_lang_offset", offset, 0.0, math.inf)
    if (max_audio := raw.get("max_audio_seconds")) is not None:
        values["max_audio_seconds"] = _seconds("max_audio_seconds", max_audio, math.inf)
    if (audio_format := raw.get("audio_format")) is not None:
        values["audio_format"] = _choice("audio_format", audio_format, AUDIO_FORMATS)
    if (keywords := raw.get("keywords")) is not None:
        values["keywords"] = _keywords(keywords)
    if (candidates := raw.get("language_candidates")) is not None:
        values["language_candidates"] = _language_candidates(candidates)
    if (vad := raw.get("vad_parameters")) is not None:
        values["vad_parameters"] = _vad_parameters(vad)
        if values.get("vad_filter") is False:
            raise InvalidInput("vad_parameters need the VAD: do not send them with vad_filter=false")
        values["vad_filter"] = True
    return AsrOptions(**values)


def _strings(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput(f"{name} must be a list of strings; got {value!r}")
    return [item.strip() for item in value if item.strip()]


def _keywords(value: Any) -> tuple[str, ...]:
    keywords = _strings("keywords", value)
    if len(keywords) > MAX_KEYWORDS:
        raise InvalidInput(f"keywords has {len(keywords)} entries; at most {MAX_KEYWORDS}")
    for keyword in keywords:
        if len(keyword) > MAX_KEYWORD_CHARS:
            raise InvalidInput(
                f"a keyword is too long ({len(keyword)} characters; at most {MAX_KEYWORD_CHARS})"
            )
    return tuple(keywords)


def _language_candidates(value: Any) -> tuple[str, ...]:
    codes = []
    for item in _strings("language_candidates", value):
        code = _language(item)
        if code is None:
            raise InvalidInput("language_candidates lists languages; 'auto' is not one")
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def _vad_parameters(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"vad_parameters must be a JSON object; got {value!r}")
    unknown = sorted(set(value) - set(VAD_PARAMETERS))
    if unknown:
        raise InvalidInput(f"unknown vad_parameters {', '.join(unknown)}; known: {', '.join(VAD_PARAMETERS)}")
    return {key: _number(f"vad_parameters.{key}", item, *VAD_PARAMETERS[key]) for key, item in value.items()}


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _language(value: Any) -> str | None:
    if not isinstance(value, str):
        raise InvalidInput(f"language must be a string language code such as 'en'; got {value!r}")
    code = value.strip().lower()
    if code in {"", "auto"}:
        return None
    if code not in WHISPER_LANGUAGES:
        raise InvalidInput(
            f"language {value!r} is not one Whisper knows; use a code such as en, de, fr, es, ja, zh "
            "(or 'auto' to detect it)"
        )
    return code


def _number(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be a number; got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must be a number; got {value!r}") from exc
    if not math.isfinite(number) or not low <= number <= high:
        upper = "" if math.isinf(high) else f" and {high:g}"
        raise InvalidInput(
            f"{name} must be {'at least' if not upper else 'between'} {low:g}{upper}; got {value!r}"
        )
    return number


def _seconds(name: str, value: Any, high: float) -> float:
    """A duration more than 0 and at most ``high``."""
    number = _number(name, value, 0.0, high)
    if number == 0:
        raise InvalidInput(f"{name} must be more than 0 seconds")
    return number


def _integer(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise InvalidInput(f"{name} must be an integer between {low} and {high}; got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must be an integer between {low} and {high}; got {value!r}") from exc
    if not low <= number <= high:
        raise InvalidInput(f"{name} must be an integer between {low} and {high}; got {value!r}")
    return number


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0"}:
        return value.strip().lower() in {"true", "1"}
    raise InvalidInput(f"{name} must be true or false; got {value!r}")
