"""Which language a text is in: a script heuristic first (reliable even for a few characters), then
``langdetect`` for Latin script, restricted to the languages the model supports."""

from __future__ import annotations

import importlib.util
import re
import threading

from voicestack.contracts.errors import ErrorCode
from voicestack.text import shown
from voicestack_predictors.common.errors import Refused

_SCRIPTS: list[tuple[str, re.Pattern[str]]] = [
    ("ja", re.compile(r"[\u3040-\u30ff]")),  # kana: Japanese even when mixed with kanji
    ("ko", re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")),
    ("zh-cn", re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")),
    ("ar", re.compile(r"[\u0600-\u06ff\u0750-\u077f]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
]
_LETTER = re.compile(r"[^\W\d_]")
# Packages coqui-tts needs for some languages' text cleaners (in our `tts` extra; checked in case an
# image was built without them).
LANGUAGE_PACKAGES = {"ja": "cutlet", "zh-cn": "pypinyin"}
_langdetect_lock = threading.Lock()


def normalize_code(language: str) -> str:
    """``EN-us`` → ``en``; ``zh``/``zh-CN``/``zh-tw`` → ``zh-cn`` (XTTS's code for Chinese)."""
    code = language.strip().lower().replace("_", "-")
    if code.startswith("zh"):
        return "zh-cn"
    return code.split("-")[0]


def missing_package(language: str) -> str | None:
    """The Python package the language's text cleaner needs, when it is not installed."""
    package = LANGUAGE_PACKAGES.get(language)
    if package and importlib.util.find_spec(package) is None:
        return package
    return None


def script_language(text: str) -> str | None:
    """The language a non-Latin script implies, if at least a fifth of the letters are in it."""
    letters = len(_LETTER.findall(text))
    if letters == 0:
        return None
    for language, pattern in _SCRIPTS:
        if len(pattern.findall(text)) * 5 >= letters:
            return language
    return None


def detect_language(text: str, supported: list[str], fallback: str) -> str:
    """The most likely supported language; ``fallback`` when nothing supported is likely."""
    by_script = script_language(text)
    if by_script is not None:
        return by_script
    if len(_LETTER.findall(text)) < 12:
        return fallback  # too short for a statistical guess
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    with _langdetect_lock:
        DetectorFactory.seed = 0  # deterministic answers
        try:
            guesses = detect_langs(text)
        except LangDetectException:
            return fallback
    for guess in guesses:
        code = normalize_code(guess.lang)
        if code in supported and guess.prob >= 0.2:
            return code
    return fallback


def resolve_language(requested: str | None, text: str, supported: list[str], default: str, auto: bool) -> str:
    """The language to speak ``text`` in: the one asked for, the model's only one, or detected (``auto``)
    among the supported ones, else ``default``. ``Refused`` when it is unsupported or unusable here."""
    listed = ", ".join(supported)
    if requested and requested.lower() != "auto":
        language = normalize_code(requested)
        if language not in supported:
            raise Refused(
                f"language {shown(requested)} is not supported by this model; supported: {listed}",
                ErrorCode.UNSUPPORTED_LANGUAGE,
            )
    elif len(supported) == 1:
        language = supported[0]
    else:
        code = normalize_code(default)
        fallback = code if code in supported else supported[0]
        language = detect_language(text, supported, fallback) if auto else fallback
        if language not in supported:
            raise Refused(
                f"the text looks like language {language!r}, which this model does not support "
                f'(supported: {listed}); pass "language" explicitly',
                ErrorCode.UNSUPPORTED_LANGUAGE,
            )
    package = missing_package(language)
    if package:
        raise Refused(
            f"language {language!r} needs the Python package {package!r}, which this server lacks",
            ErrorCode.UNSUPPORTED_LANGUAGE,
        )
    return language
