"""OpenAI's newer transcription fields, read from the multipart form and checked before any work.

The SDK sends lists as ``name[]`` fields and objects as ``name[key]`` fields (``chunking_strategy[type]``);
curl users tend to send a list as one comma list or an object as a JSON string: both are read. Fields the
router does not know are ignored, as OpenAI ignores them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from voicestack.contracts.asr_options import MAX_KEYWORD_CHARS, MAX_KEYWORDS, VAD_PARAMETERS
from voicestack.contracts.languages import language_code
from voicestack.text import shown
from voicestack_router.errors import ApiError
from voicestack_router.multipart_stream import MultipartForm

INCLUDES = ("logprobs",)
# chunking_strategy's server_vad keys → the Silero VAD settings the ASR predictor takes (vad_parameters).
SERVER_VAD_KEYS = {
    "threshold": "threshold",
    "silence_duration_ms": "min_silence_duration_ms",
    "prefix_padding_ms": "speech_pad_ms",
}
DIARISATION_FIELDS = ("known_speaker_names", "known_speaker_references")


@dataclass(frozen=True)
class TranscriptionFields:
    """What the newer fields ask of the ASR predictor (``options``) and of the answer."""

    logprobs: bool = False
    languages: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)


def _values(form: MultipartForm, name: str) -> list[str]:
    """A list field: ``name[]`` and ``name`` fields, each possibly a comma list; blanks dropped."""
    items = []
    for value in form.get_all(f"{name}[]") + form.get_all(name):
        items.extend(part.strip() for part in value.split(","))
    return [item for item in items if item]


def refuse_diarisation(form: MultipartForm, response_format: str) -> None:
    """Speaker diarisation is not something Whisper does: a clear 400 rather than an answer without it."""
    asked = [name for name in DIARISATION_FIELDS if form.get_all(f"{name}[]") or form.get_all(name)]
    if response_format == "diarized_json":
        asked.insert(0, "response_format")
    if asked:
        raise ApiError(
            400,
            "Speaker diarisation (response_format=diarized_json, known_speaker_names[], "
            "known_speaker_references[]) is not supported by this server.",
            param=asked[0],
            code="unsupported_feature",
        )


def _include(form: MultipartForm, response_format: str, streaming: bool) -> bool:
    wanted = _values(form, "include")
    for item in wanted:
        if item not in INCLUDES:
            raise ApiError(
                400,
                f"Invalid include {shown(item)}: use {', '.join(INCLUDES)}.",
                param="include",
                code="invalid_value",
            )
    if wanted and response_format != "json" and not streaming:
        raise ApiError(
            400,
            "include[]=logprobs needs response_format=json (or stream=true).",
            param="include",
            code="invalid_value",
        )
    return bool(wanted)


def _languages(form: MultipartForm) -> tuple[str, ...]:
    codes: list[str] = []
    for item in _values(form, "languages"):
        code = language_code(item)
        if code is None:
            raise ApiError(
                400, f"Unsupported language {shown(item)}.", param="languages", code="unsupported_language"
            )
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def _keywords(form: MultipartForm) -> list[str]:
    # A keyword may hold a comma ("Smith, John"): only ``keywords[]``/``keywords`` fields split the list.
    keywords = [value.strip() for value in form.get_all("keywords[]") + form.get_all("keywords")]
    keywords = [keyword for keyword in keywords if keyword]
    if len(keywords) > MAX_KEYWORDS:
        raise ApiError(
            400,
            f"keywords has {len(keywords)} entries; at most {MAX_KEYWORDS}.",
            param="keywords",
            code="invalid_value",
        )
    for keyword in keywords:
        if len(keyword) > MAX_KEYWORD_CHARS:
            raise ApiError(
                400,
                f"A keyword is {len(keyword)} characters long; at most {MAX_KEYWORD_CHARS}.",
                param="keywords",
                code="invalid_value",
            )
    return keywords


def _chunking_object(form: MultipartForm) -> dict[str, Any] | str | None:
    """``chunking_strategy`` as sent: ``"auto"``, an object (bracketed fields or JSON), or None."""
    prefix = "chunking_strategy["
    bracketed = {
        name[len(prefix) : -1]: values[-1]
        for name, values in form.fields.items()
        if name.startswith(prefix) and name.endswith("]") and values
    }
    if bracketed:
        return bracketed
    raw = (form.get("chunking_strategy") or "").strip()
    if not raw:
        return None
    if raw.startswith("{"):
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            raise _chunking_error("it is not valid JSON") from exc
        if not isinstance(parsed, dict):
            raise _chunking_error('use "auto" or an object')
        return parsed
    return raw


def _chunking_error(why: str) -> ApiError:
    return ApiError(
        400,
        f'Invalid chunking_strategy: {why}. Use "auto" or '
        '{"type": "server_vad", "threshold", "silence_duration_ms", "prefix_padding_ms"}.',
        param="chunking_strategy",
        code="invalid_value",
    )


def chunking_options(form: MultipartForm) -> dict[str, Any]:
    """The ASR predictor's VAD options for ``chunking_strategy``: ``auto`` turns the VAD on with its
    defaults; ``server_vad`` sets its threshold, minimum silence and padding."""
    strategy = _chunking_object(form)
    if strategy is None:
        return {}
    if isinstance(strategy, str):
        if strategy != "auto":
            raise _chunking_error(f"unknown strategy {shown(strategy)}")
        return {"vad_filter": True}
    if strategy.get("type") != "server_vad":
        raise _chunking_error(f'type must be "server_vad", got {shown(str(strategy.get("type")))}')
    unknown = sorted(set(strategy) - set(SERVER_VAD_KEYS) - {"type"})
    if unknown:
        raise _chunking_error(f"unknown key(s) {', '.join(shown(key) for key in unknown)}")
    parameters: dict[str, float] = {}
    for key, target in SERVER_VAD_KEYS.items():
        if strategy.get(key) is None:
            continue
        try:
            value = float(strategy[key])
        except (TypeError, ValueError) as exc:
            raise _chunking_error(f"{key} must be a number") from exc
        low, high = VAD_PARAMETERS[target]
        if not low <= value <= high:
            raise _chunking_error(f"{key} must be between {low:g} and {high:g}")
        parameters[target] = value
    return {"vad_filter": True, "vad_parameters": parameters}


def transcription_fields(
    form: MultipartForm, *, task: str, response_format: str, streaming: bool
) -> TranscriptionFields:
    """Check the newer fields and turn them into ASR options. Translations take only ``chunking_strategy``
    (OpenAI's translation endpoint has no other of these fields; any sent are ignored)."""
    if task != "transcribe":
        return TranscriptionFields(options=chunking_options(form))
    refuse_diarisation(form, response_format)
    logprobs = _include(form, response_format, streaming)
    languages = _languages(form)
    options: dict[str, Any] = {**chunking_options(form)}
    if keywords := _keywords(form):
        options["keywords"] = keywords
    if languages:
        options["language_candidates"] = list(languages)
    if logprobs:
        options["logprobs"] = True
    return TranscriptionFields(logprobs=logprobs, languages=languages, options=options)
