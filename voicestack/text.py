"""Text normalisation and sentence segmentation for speech synthesis, in pure Python (no torch).

The TTS predictor segments text with this; the router uses its checks (``is_speakable``, ``shown``). Chunks
are built from whole sentences, packed up to about ``target`` characters and never longer than ``limit``
(the engine's: XTTS truncates audio above its per-language character limit). A sentence longer than the
limit is cut at clause punctuation, then between words; only a single "word" longer than the limit (a URL,
or unspaced CJK text) is cut inside, because nothing else would fit.
"""

from __future__ import annotations

import re
import unicodedata

DEFAULT_CHAR_LIMIT = 250  # an engine's longest chunk when it names none (XTTS names its own per language)

_CJK_TERMINALS = "。！？"
_TERMINALS = ".!?…" + _CJK_TERMINALS
_CLOSERS = "\"'”’»)]}」』）"
# A sentence ends with terminal punctuation (plus closing quotes/brackets) followed by whitespace or the
# end; CJK terminal punctuation ends one even without a following space.
_SENTENCE_END = re.compile(
    rf"[{re.escape(_TERMINALS)}]+[{re.escape(_CLOSERS)}]*(?:\s+|$)|[{_CJK_TERMINALS}][{re.escape(_CLOSERS)}]*"
)
# Words whose full stop does not end a sentence (titles, common Latin abbreviations, single initials).
_ABBREVIATION = re.compile(
    r"(?:^|\s)(?:mr|mrs|ms|dr|prof|sr|jr|st|vs|etc|e\.g|i\.e|no|fig|[a-z])\.$", re.IGNORECASE
)
_CLAUSE_END = re.compile(r"(?<=[,;:，、；：])\s*|\s+(?=[—–-]\s)")
_WHITESPACE = re.compile(r"\s+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def normalize_whitespace(text: str) -> str:
    """NFC, control characters dropped, every run of whitespace (newlines too) one space, trimmed."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(c if c.isspace() or unicodedata.category(c)[0] != "C" else " " for c in text)
    return _WHITESPACE.sub(" ", text).strip()


def normalize_text(text: str) -> str:
    """Whitespace normalised and terminal punctuation added, so the model hears the sentence end."""
    text = normalize_whitespace(text)
    if not text:
        return text
    stripped = text.rstrip(_CLOSERS)
    if stripped and stripped[-1] not in _TERMINALS:
        text += "。" if _CJK.search(stripped[-1]) else "."
    return text


SHOWN_CHARS = 64


def shown(value: str, limit: int = SHOWN_CHARS) -> str:
    """A caller's value quoted for an error message, cut to ``limit`` characters and "…".

    Names, languages and model ids come from the request: a 10,000-character one must not be echoed whole
    (once or twice) into every error and log line.
    """
    return repr(value if len(value) <= limit else f"{value[:limit]}…")


UNSPEAKABLE = (
    "nothing to speak: the text has no letters or digits (only whitespace, punctuation, control, "
    "zero-width or combining characters)"
)


def is_speakable(text: str) -> bool:
    """Whether ``text`` holds a letter or digit once control and zero-width characters are dropped.

    Text without one (NUL, zero-width spaces, lone combining marks, punctuation) would make no audio, or
    crash a model on an empty input; both the router and the predictor refuse it with ``UNSPEAKABLE``.
    """
    return any(c.isalnum() for c in normalize_whitespace(text))


def _pack(pieces: list[str], target: int, joiner: str = " ") -> list[str]:
    """Greedily join consecutive pieces while the result stays within ``target``."""
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if not current:
            current = piece
        elif len(current) + len(joiner) + len(piece) <= target:
            current = f"{current}{joiner}{piece}"
        else:
            chunks.append(current)
            current = piece
    if current:
        chunks.append(current)
    return chunks


def _split_words(text: str, target: int, limit: int) -> list[str]:
    """Cut between words; a single word longer than ``limit`` is cut at ``limit`` (no other way)."""
    words: list[str] = []
    for word in text.split(" "):
        if not word:
            continue
        while len(word) > limit:
            words.append(word[:limit])
            word = word[limit:]
        words.append(word)
    joiner = "" if _CJK.search(text) and " " not in text else " "
    return _pack(words, target, joiner)


def _split_long_sentence(sentence: str, target: int, limit: int) -> list[str]:
    """A sentence over ``limit``: cut at clause punctuation, then between words."""
    clauses = [c.strip() for c in _CLAUSE_END.split(sentence) if c and c.strip()]
    pieces: list[str] = []
    for clause in clauses:
        if len(clause) <= limit:
            pieces.append(clause)
        else:
            pieces.extend(_split_words(clause, target, limit))
    joiner = "" if _CJK.search(sentence) and " " not in sentence else " "
    return _pack(pieces, target, joiner)


def sentences(text: str) -> list[str]:
    """The text's sentences (whitespace normalised), in order, none empty."""
    text = normalize_whitespace(text)
    found: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        found.append(text[start : match.end()].strip())
        start = match.end()
    found.append(text[start:].strip())
    merged: list[str] = []
    for sentence in filter(None, found):
        if merged and _ABBREVIATION.search(merged[-1]):
            merged[-1] = f"{merged[-1]} {sentence}"
        else:
            merged.append(sentence)
    return merged


def split_sentences(text: str, target: int = 180, limit: int = DEFAULT_CHAR_LIMIT) -> list[str]:
    """Split ``text`` into chunks of whole sentences near ``target`` characters, none over ``limit``.

    Whitespace is normalised first; joining the chunks with single spaces gives the normalised text back
    (except around cuts inside unspaced CJK text, which are joined without a space).
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    target = max(1, min(target, limit))
    pieces: list[str] = []
    for sentence in sentences(text):
        if len(sentence) <= limit:
            pieces.append(sentence)
        else:
            pieces.extend(_split_long_sentence(sentence, target, limit))
    cjk_only = bool(_CJK.search(text)) and " " not in normalize_whitespace(text)
    return _pack(pieces, target, "" if cjk_only else " ")
