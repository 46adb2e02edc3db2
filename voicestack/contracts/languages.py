"""Whisper's languages (the same 100 in faster-whisper and openai-whisper): codes and the lower-case English
names OpenAI and whisper-asr-webservice answer with. The router validates requests against this table and the
ASR predictor validates options against it without loading an engine."""

from __future__ import annotations

_PAIRS = (
    "en english|zh chinese|de german|es spanish|ru russian|ko korean|fr french|ja japanese|pt portuguese|"
    "tr turkish|pl polish|ca catalan|nl dutch|ar arabic|sv swedish|it italian|id indonesian|hi hindi|"
    "fi finnish|vi vietnamese|he hebrew|uk ukrainian|el greek|ms malay|cs czech|ro romanian|da danish|"
    "hu hungarian|ta tamil|no norwegian|th thai|ur urdu|hr croatian|bg bulgarian|lt lithuanian|la latin|"
    "mi maori|ml malayalam|cy welsh|sk slovak|te telugu|fa persian|lv latvian|bn bengali|sr serbian|"
    "az azerbaijani|sl slovenian|kn kannada|et estonian|mk macedonian|br breton|eu basque|is icelandic|"
    "hy armenian|ne nepali|mn mongolian|bs bosnian|kk kazakh|sq albanian|sw swahili|gl galician|"
    "mr marathi|pa punjabi|si sinhala|km khmer|sn shona|yo yoruba|so somali|af afrikaans|oc occitan|"
    "ka georgian|be belarusian|tg tajik|sd sindhi|gu gujarati|am amharic|yi yiddish|lo lao|uz uzbek|"
    "fo faroese|ht haitian creole|ps pashto|tk turkmen|nn nynorsk|mt maltese|sa sanskrit|"
    "lb luxembourgish|my myanmar|bo tibetan|tl tagalog|mg malagasy|as assamese|tt tatar|haw hawaiian|"
    "ln lingala|ha hausa|ba bashkir|jw javanese|su sundanese|yue cantonese"
)

LANGUAGES: dict[str, str] = dict(pair.split(" ", 1) for pair in _PAIRS.split("|"))  # type: ignore[misc]
"""Code → name, e.g. ``"en"`` → ``"english"``."""

WHISPER_LANGUAGES: frozenset[str] = frozenset(LANGUAGES)

_BY_NAME = {name: code for code, name in LANGUAGES.items()}


def language_name(code: str | None) -> str | None:
    """The full name for a code (``en`` → ``english``); unknown codes come back unchanged."""
    if code is None:
        return None
    return LANGUAGES.get(code.lower(), code)


def language_code(value: str | None) -> str | None:
    """Normalise a code or a full name (``English``, ``en``, ``en-US``) to Whisper's code; None if unknown."""
    if value is None or not value.strip():
        return None
    lowered = value.strip().lower().replace("_", "-")
    if lowered in LANGUAGES:
        return lowered
    if lowered in _BY_NAME:
        return _BY_NAME[lowered]
    base = lowered.split("-")[0]
    return base if base in LANGUAGES else None
