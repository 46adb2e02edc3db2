"""A request checked against the model before any audio is made: text, language, voice and chunks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from voicestack.contracts.errors import ErrorCode
from voicestack.text import DEFAULT_CHAR_LIMIT, UNSPEAKABLE, is_speakable, normalize_text, split_sentences
from voicestack_predictors.common.errors import Refused
from voicestack_predictors.tts.engines.base import EngineInfo, VoiceChoice
from voicestack_predictors.tts.language import resolve_language
from voicestack_predictors.tts.request import SpeechRequest
from voicestack_predictors.tts.settings import EngineSettings
from voicestack_predictors.tts.voice_choice import VoiceChooser


@dataclass(frozen=True)
class Plan:
    """A validated request, ready for the engine."""

    text: str
    chunks: list[str]
    language: str
    voice_name: str
    voice: VoiceChoice
    speed: float
    sample_rate: int
    incremental: bool

    def describe(self) -> dict[str, Any]:
        """The plan as the router reads it (``/plan``): chunks to synthesize one call each, in order.

        Only the first chunk is worth generating incrementally: the later ones are made while it plays,
        and whole generation costs less (incremental re-vocodes the chunk so far at every step).
        """
        return {
            "language": self.language,
            "voice": self.voice_name,
            "sample_rate": self.sample_rate,
            "chunks": [
                {"text": chunk, "stream": self.incremental and index == 0}
                for index, chunk in enumerate(self.chunks)
            ],
        }


def check_text(request: SpeechRequest, settings: EngineSettings) -> str:
    """The normalised text; ``Refused`` when it is too long or has nothing to say."""
    limit = settings.max_input_chars
    if len(request.text) > limit:
        raise Refused(
            f"text is {len(request.text)} characters long; the limit is {limit}", ErrorCode.TEXT_TOO_LONG
        )
    text = normalize_text(request.text)
    if not is_speakable(text):
        raise Refused(UNSPEAKABLE, ErrorCode.UNSPEAKABLE_TEXT)
    return text


async def make_plan(
    request: SpeechRequest, text: str, info: EngineInfo, settings: EngineSettings, chooser: VoiceChooser
) -> Plan:
    """Everything a request can get wrong, checked (``Refused``); ``text`` is from ``check_text``."""
    language = resolve_language(
        request.language, text, info.languages, settings.default_language, settings.auto_lang
    )
    voice_name, voice = await chooser.choose(request.voice, info)
    # From the info, not the engine: an idle unload may have freed the engine since it was loaded.
    limit_chars = info.char_limits.get(language, DEFAULT_CHAR_LIMIT)
    chunks = split_sentences(text, target=settings.chunk_chars, limit=limit_chars)
    return Plan(text, chunks, language, voice_name, voice, request.speed, info.sample_rate, info.incremental)
