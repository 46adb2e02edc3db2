"""Which voice a request gets: sample voices on disk, an engine's built-in speakers, aliases (OpenAI's voice
names) and the default, and the listing the router shows."""

from __future__ import annotations

import asyncio
from typing import Any

from voicestack.contracts.errors import ErrorCode
from voicestack.contracts.voices import OPENAI_VOICES
from voicestack.text import shown
from voicestack_predictors.common.errors import Refused
from voicestack_predictors.tts.engines.base import EngineInfo, VoiceChoice
from voicestack_predictors.tts.settings import EngineSettings
from voicestack_predictors.tts.voices import Voice, VoiceLibrary


class VoiceChooser:
    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.library = VoiceLibrary(
            settings.voices_dir,
            min_seconds=settings.min_sample_seconds,
            max_seconds=settings.max_sample_seconds,
            min_sample_rate=settings.min_sample_rate,
        )

    async def voices(self, info: EngineInfo | None) -> dict[str, Voice]:
        """Sample voices on disk the engine can use (none for an engine that cannot clone)."""
        if info is not None and not info.supports_cloning:
            return {}
        return await asyncio.to_thread(self.library.scan)

    async def unclonable(self, info: EngineInfo | None) -> dict[str, str]:
        """Sample voices on disk (name → source) that a loaded engine without cloning cannot use."""
        if info is None or info.supports_cloning:
            return {}
        return await asyncio.to_thread(self.library.names)

    def default_voice(self, voices: dict[str, Voice], builtin: list[str]) -> str | None:
        configured = self.settings.default_voice
        if configured and (configured in voices or configured in builtin):
            return configured
        usable = [name for name, voice in voices.items() if not voice.error]
        return (usable or builtin or [None])[0]

    def aliases(self, voices: dict[str, Voice], builtin: list[str]) -> dict[str, str]:
        """Configured aliases, plus every unmapped OpenAI voice name → the default voice."""
        mapping = dict(self.settings.voice_aliases)
        default = self.default_voice(voices, builtin)
        if default is not None:
            for name in OPENAI_VOICES:
                mapping.setdefault(name, default)
        return mapping

    async def listing(self, info: EngineInfo | None) -> dict[str, Any]:
        voices = await self.voices(info)
        builtin = info.builtin_voices if info else []
        listed = [voice.describe() for voice in voices.values()]
        listed += [_no_samples(name, "builtin") for name in builtin if name not in voices]
        # Listed with the reason, so a client sees why it cannot use them (and the router answers 400).
        listed += [
            {**_no_samples(name, source), "error": _clone_refusal(name, info)}
            for name, source in (await self.unclonable(info)).items()
            if name not in builtin
        ]
        return {
            "voices": listed,
            "aliases": self.aliases(voices, builtin),
            "default": self.default_voice(voices, builtin),
            "engine": info.kind if info else None,  # None: not loaded yet
            "cloning": info.supports_cloning if info else None,
        }

    async def choose(self, requested: str | None, info: EngineInfo) -> tuple[str, VoiceChoice]:
        """The voice's name and what the engine takes; ``Refused`` (with a code) saying what is available."""
        voices = await self.voices(info)
        unclonable = await self.unclonable(info)
        builtin = info.builtin_voices
        usable = sorted({n for n, v in voices.items() if not v.error} | set(builtin))
        if not usable:
            folder = self.settings.voices_dir
            where = f"add samples to {folder}" if folder else "set --voices_dir"
            raise Refused(f"no voices are available: {where}", ErrorCode.VOICE_NOT_FOUND)
        name = requested or self.default_voice(voices, builtin)
        aliases = self.aliases(voices, builtin)
        if name not in voices and name not in builtin:
            alias = (aliases.get(name) or aliases.get(name.lower())) if name else None
            if name in unclonable or alias in unclonable:
                refusal = _clone_refusal(name if name in unclonable else str(alias), info)
                raise Refused(refusal, ErrorCode.VOICE_UNUSABLE)
            if alias is None:
                raise Refused(
                    f"unknown voice {shown(str(requested))}; available voices: {', '.join(usable)}; "
                    f"aliases: {', '.join(sorted(aliases)) or 'none'}",
                    ErrorCode.VOICE_NOT_FOUND,
                )
            if alias not in voices and alias not in builtin:
                raise Refused(
                    f"voice {shown(str(requested))} is an alias of {shown(alias)}, which does not exist; "
                    f"available voices: {', '.join(usable)}",
                    ErrorCode.VOICE_UNUSABLE,
                )
            name = alias
        assert name is not None
        if name in voices:
            voice = voices[name]
            if voice.error:
                raise Refused(voice.error, ErrorCode.VOICE_UNUSABLE)
            return name, voice
        return name, name


def _clone_refusal(name: str, info: EngineInfo | None) -> str:
    kind = info.kind if info else "this"
    return (
        f"voice {shown(name)} is cloned from samples, and the {kind} engine cannot clone voices: cloned "
        "voices need the XTTS-v2 engine (--engine xtts; through the router, the model it serves as "
        "tts-1-hd)"
    )


def _no_samples(name: str, source: str) -> dict[str, Any]:
    """A listed voice without usable samples (a built-in speaker, or samples the engine cannot use)."""
    return {"name": name, "source": source, "duration": None, "language": None, "samples": 0}
