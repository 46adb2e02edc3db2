"""The KServe model: validate (text, speed, language, voice) → engine work through the bounded gate."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from kserve.errors import InferenceError, InvalidInput
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

from voicestack.contracts.errors import ErrorCode
from voicestack.contracts.voices import OPENAI_VOICES
from voicestack.text import (
    DEFAULT_CHAR_LIMIT,
    UNSPEAKABLE,
    is_speakable,
    normalize_text,
    shown,
    split_sentences,
)
from voicestack_predictors.common.errors import Refused
from voicestack_predictors.common.gate import Busy
from voicestack_predictors.common.managed_model import ManagedModel
from voicestack_predictors.common.options import ServingOptions
from voicestack_predictors.tts import metrics
from voicestack_predictors.tts.engines import TtsEngine, UnspeakableText, VoiceChoice, create_engine
from voicestack_predictors.tts.language import detect_language, missing_package, normalize_code
from voicestack_predictors.tts.pcm import to_pcm16
from voicestack_predictors.tts.request import SpeechRequest, parse_v1, parse_v2
from voicestack_predictors.tts.settings import EngineSettings
from voicestack_predictors.tts.voices import Voice, VoiceLibrary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineInfo:
    """What a loaded engine offers; kept after an idle unload so listings need no reload."""

    kind: str
    sample_rate: int
    supports_cloning: bool
    languages: list[str]
    builtin_voices: list[str]
    char_limits: dict[str, int]  # longest chunk per language, so planning never needs the engine itself
    incremental: bool  # can generate a chunk incrementally (audio before it is done), at a cost


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


class TtsModel(ManagedModel[TtsEngine]):
    def __init__(self, name: str, serving: ServingOptions, settings: EngineSettings) -> None:
        super().__init__(name, serving)
        self.settings = settings
        self.library = VoiceLibrary(
            settings.voices_dir,
            min_seconds=settings.min_sample_seconds,
            max_seconds=settings.max_sample_seconds,
            min_sample_rate=settings.min_sample_rate,
        )
        self.info: EngineInfo | None = None

    # --- engine ----------------------------------------------------------------------------------
    def create_engine(self) -> TtsEngine:
        engine = create_engine(self.settings)
        self.info = EngineInfo(
            engine.kind,
            engine.sample_rate,
            engine.supports_cloning,
            list(engine.languages),
            list(engine.builtin_voices),
            {language: engine.char_limit(language) for language in engine.languages},
            engine.incremental,
        )
        return engine

    def close_engine(self, engine: TtsEngine) -> None:
        engine.close()
        super().close_engine(engine)

    async def _engine_info(self) -> EngineInfo:
        if self.info is None or not self.is_loaded:
            try:
                await asyncio.to_thread(self.ensure_engine)
            except Exception as exc:
                raise InferenceError(f"the model could not be loaded: {self.load_error or exc}") from exc
        assert self.info is not None
        return self.info

    # --- voices ----------------------------------------------------------------------------------
    async def voices(self) -> dict[str, Voice]:
        if self.info is not None and not self.info.supports_cloning:
            return {}
        return await asyncio.to_thread(self.library.scan)

    async def unclonable(self) -> dict[str, str]:
        """Sample voices on disk (name → source) that a loaded engine without cloning cannot use."""
        if self.info is None or self.info.supports_cloning:
            return {}
        return await asyncio.to_thread(self.library.names)

    def _clone_refusal(self, name: str) -> str:
        kind = self.info.kind if self.info else "this"
        return (
            f"voice {shown(name)} is cloned from samples, and the {kind} engine cannot clone voices: cloned "
            "voices need the XTTS-v2 engine (--engine xtts; through the router, the model it serves as "
            "tts-1-hd)"
        )

    def _default_voice(self, voices: dict[str, Voice], builtin: list[str]) -> str | None:
        configured = self.settings.default_voice
        if configured and (configured in voices or configured in builtin):
            return configured
        usable = [name for name, voice in voices.items() if not voice.error]
        return (usable or builtin or [None])[0]

    def aliases(self, voices: dict[str, Voice], builtin: list[str]) -> dict[str, str]:
        """Configured aliases, plus every unmapped OpenAI voice name → the default voice."""
        mapping = dict(self.settings.voice_aliases)
        default = self._default_voice(voices, builtin)
        if default is not None:
            for name in OPENAI_VOICES:
                mapping.setdefault(name, default)
        return mapping

    async def list_voices(self) -> dict[str, Any]:
        voices = await self.voices()
        builtin = self.info.builtin_voices if self.info else []
        listed = [voice.describe() for voice in voices.values()]
        listed += [_no_samples(name, "builtin") for name in builtin if name not in voices]
        # Listed with the reason, so a client sees why it cannot use them (and the router answers 400).
        listed += [
            {**_no_samples(name, source), "error": self._clone_refusal(name)}
            for name, source in (await self.unclonable()).items()
            if name not in builtin
        ]
        return {
            "voices": listed,
            "aliases": self.aliases(voices, builtin),
            "default": self._default_voice(voices, builtin),
            "engine": self.info.kind if self.info else None,  # None: not loaded yet
            "cloning": self.info.supports_cloning if self.info else None,
        }

    def _resolve_voice(
        self,
        requested: str | None,
        voices: dict[str, Voice],
        builtin: list[str],
        unclonable: dict[str, str] | None = None,
    ) -> tuple[str, VoiceChoice]:
        usable = sorted({n for n, v in voices.items() if not v.error} | set(builtin))
        if not usable:
            folder = self.settings.voices_dir
            where = f"add samples to {folder}" if folder else "set --voices_dir"
            raise Refused(f"no voices are available: {where}", ErrorCode.VOICE_NOT_FOUND)
        name = requested or self._default_voice(voices, builtin)
        aliases = self.aliases(voices, builtin)
        unclonable = unclonable or {}
        if name not in voices and name not in builtin:
            alias = (aliases.get(name) or aliases.get(name.lower())) if name else None
            if name in unclonable or alias in unclonable:
                refusal = self._clone_refusal(name if name in unclonable else str(alias))
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

    # --- language --------------------------------------------------------------------------------
    def _resolve_language(self, requested: str | None, text: str, supported: list[str]) -> str:
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
            default = normalize_code(self.settings.default_language)
            fallback = default if default in supported else supported[0]
            auto = self.settings.auto_lang
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

    # --- planning and running --------------------------------------------------------------------
    async def plan(self, request: SpeechRequest) -> Plan:
        """Validate everything a request can get wrong before any audio is produced (InvalidInput)."""
        limit = self.settings.max_input_chars
        if len(request.text) > limit:
            raise Refused(
                f"text is {len(request.text)} characters long; the limit is {limit}", ErrorCode.TEXT_TOO_LONG
            )
        text = normalize_text(request.text)
        if not is_speakable(text):
            raise Refused(UNSPEAKABLE, ErrorCode.UNSPEAKABLE_TEXT)
        info = await self._engine_info()
        language = self._resolve_language(request.language, text, info.languages)
        voices = await self.voices()
        unclonable = await self.unclonable()
        voice_name, voice = self._resolve_voice(request.voice, voices, info.builtin_voices, unclonable)
        # From the info, not the engine: an idle unload may have freed the engine since it was loaded.
        limit_chars = info.char_limits.get(language, DEFAULT_CHAR_LIMIT)
        chunks = split_sentences(text, target=self.settings.chunk_chars, limit=limit_chars)
        return Plan(
            text, chunks, language, voice_name, voice, request.speed, info.sample_rate, info.incremental
        )

    async def audio(self, plan: Plan, streaming: bool) -> AsyncIterator[np.ndarray]:
        """Audio pieces as the engine produces them (Busy when the queue is full)."""
        started = time.perf_counter()
        produced = 0

        def work(engine: TtsEngine, stop: Any) -> Any:
            return engine.synthesize(plan.chunks, plan.language, plan.voice, plan.speed, streaming, stop)

        try:
            async for piece in self.stream(work):
                produced += len(piece)
                yield piece
        finally:
            metrics.AUDIO_SECONDS.labels(self.name).inc(produced / plan.sample_rate)
            metrics.SYNTHESIS_SECONDS.labels(self.name).inc(time.perf_counter() - started)
        metrics.CHARACTERS.labels(self.name, plan.language).inc(len(plan.text))

    async def synthesize_all(self, plan: Plan) -> np.ndarray:
        pieces = [piece async for piece in self.audio(plan, streaming=False)]
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)

    # --- KServe V1 / V2 --------------------------------------------------------------------------
    async def predict(
        self,
        payload: Any,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict[str, Any] | InferResponse:
        protocol = "v2" if isinstance(payload, InferRequest) else "v1"
        request_id = (headers or {}).get("x-request-id")
        try:
            if isinstance(payload, InferRequest):
                requests = parse_v2(payload)
            elif isinstance(payload, dict):
                requests = parse_v1(payload)
            elif isinstance(payload, bytes | bytearray):
                requests = parse_v1(_json_body(payload))
            else:
                raise InvalidInput(f"unsupported request body ({type(payload).__name__}); send JSON")
            plans = [await self.plan(r) for r in requests]
        except InvalidInput:
            metrics.REQUESTS.labels(self.name, protocol, "invalid").inc()
            raise
        log.info("request %s: %s, %d text(s)", request_id or "-", protocol, len(plans))
        results: list[tuple[Plan, np.ndarray]] = []
        try:
            for plan in plans:
                results.append((plan, await self.synthesize_all(plan)))
        except Busy:
            metrics.REQUESTS.labels(self.name, protocol, "busy").inc()
            raise
        except UnspeakableText as exc:
            metrics.REQUESTS.labels(self.name, protocol, "invalid").inc()
            raise InvalidInput(str(exc)) from exc
        except Exception as exc:
            metrics.REQUESTS.labels(self.name, protocol, "error").inc()
            log.exception("request %s failed", request_id or "-")
            raise InferenceError(f"synthesis failed: {type(exc).__name__}: {exc}") from exc
        metrics.REQUESTS.labels(self.name, protocol, "ok").inc()
        if protocol == "v1":
            return {"predictions": [_prediction(plan, audio) for plan, audio in results]}
        return self._v2_response(payload, results)

    def _v2_response(self, payload: InferRequest, results: list[tuple[Plan, np.ndarray]]) -> InferResponse:
        """``audio`` plus one ``duration``/``language``/``voice`` element per text (all shape ``[n]``).

        The response ``parameters`` carry what every text shares (rate, format; language and voice when
        they are the same for all; the duration when there is one text).
        """
        count = len(results)
        audio = InferOutput(name="audio", shape=[count], datatype="BYTES")
        encoded = [base64.b64encode(to_pcm16(pcm)).decode("ascii") for _, pcm in results]
        audio.set_data_from_numpy(np.array(encoded, dtype=object), binary_data=False)
        durations = [round(len(pcm) / plan.sample_rate, 3) for plan, pcm in results]
        duration = InferOutput(name="duration", shape=[count], datatype="FP64")
        duration.set_data_from_numpy(np.array(durations, dtype=np.float64), binary_data=False)
        outputs = [audio, duration]
        for name, values in (
            ("language", [plan.language for plan, _ in results]),
            ("voice", [plan.voice_name for plan, _ in results]),
        ):
            output = InferOutput(name=name, shape=[count], datatype="BYTES")
            output.set_data_from_numpy(np.array(values, dtype=object), binary_data=False)
            outputs.append(output)
        first = results[0][0]
        parameters: dict[str, Any] = {
            "sample_rate": first.sample_rate,
            "channels": 1,
            "sample_format": "s16le",
        }
        if len({plan.language for plan, _ in results}) == 1:
            parameters["language"] = first.language
        if len({plan.voice_name for plan, _ in results}) == 1:
            parameters["voice"] = first.voice_name
        if count == 1:
            parameters["duration"] = durations[0]
        return InferResponse(
            response_id=payload.id or str(uuid.uuid4()),
            model_name=self.name,
            infer_outputs=outputs,
            parameters=parameters,
        )


def _no_samples(name: str, source: str) -> dict[str, Any]:
    """A listed voice without usable samples (a built-in speaker, or samples the engine cannot use)."""
    return {"name": name, "source": source, "duration": None, "language": None, "samples": 0}


def _json_body(body: bytes | bytearray) -> dict[str, Any]:
    """A JSON body KServe left as bytes (a client that did not say ``application/json``)."""
    try:
        loaded = json.loads(body)
    except ValueError as exc:
        raise InvalidInput(f"the body must be JSON ({exc})") from exc
    if not isinstance(loaded, dict):
        raise InvalidInput("the body must be a JSON object")
    return loaded


def _prediction(plan: Plan, audio: np.ndarray) -> dict[str, Any]:
    return {
        "audio": {"b64": base64.b64encode(to_pcm16(audio)).decode("ascii")},
        "sample_rate": plan.sample_rate,
        "channels": 1,
        "sample_format": "s16le",
        "duration": round(len(audio) / plan.sample_rate, 3),
        "language": plan.language,
        "voice": plan.voice_name,
    }
