"""One transcription session: the client's events in, VAD turns or commits to the ASR predictor, events out.

Turns are transcribed one after another by a worker task (in commit order, so each item's deltas and its
``completed`` arrive together and a slow predictor queues turns rather than piling up requests); the reader
task only receives. Everything the session holds (its buffer, the worker and a predictor stream in flight)
belongs to ``run``, which cancels it all when the client goes away or a limit closes the session.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import TypeAdapter, ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from voicestack.contracts.asr_options import AsrOptions
from voicestack.contracts.languages import language_code
from voicestack.text import shown
from voicestack_router import asr_client
from voicestack_router.backends import BackendBusy, BackendError, BackendPool, BackendUnavailable
from voicestack_router.errors import ApiError
from voicestack_router.models_registry import resolve_model
from voicestack_router.realtime.audio import TARGET_RATE, InputDecoder, InputFormat
from voicestack_router.realtime.protocol import (
    LOGPROBS,
    BufferAppend,
    BufferClear,
    BufferCommit,
    ClientEvent,
    NoiseReduction,
    PcmFormat,
    ServerVad,
    SessionUpdate,
    Transcription,
    error_event,
    new_id,
    server_event,
)
from voicestack_router.realtime.vad import SAMPLES_PER_MS, WINDOW, SileroModel, TurnDetector, TurnRules
from voicestack_router.settings import RouterSettings
from voicestack_router.timeouts import openai_timeout

log = logging.getLogger(__name__)

CLIENT_EVENT: TypeAdapter[Any] = TypeAdapter(ClientEvent)
MIN_COMMIT_SAMPLES = 100 * SAMPLES_PER_MS  # OpenAI refuses to commit less than 100 ms
POLICY_CLOSE = 1008  # a session limit (length, idle time)


@dataclass
class Turn:
    item_id: str
    pcm: bytes  # s16le 16 kHz mono

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (2 * TARGET_RATE)


class SessionClosed(Exception):
    """The session ends: tell the client why (an ``error`` event), then close with ``code``."""

    def __init__(self, event: dict[str, Any], code: int) -> None:
        super().__init__(event["error"]["message"])
        self.event = event
        self.code = code


class ClientError(Exception):
    """A client event the session refuses: answered with an ``error`` event; the session goes on."""

    def __init__(self, message: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param


class RealtimeSession:
    def __init__(
        self, websocket: WebSocket, settings: RouterSettings, pool: BackendPool, vad: SileroModel | None
    ) -> None:
        self.websocket = websocket
        self.settings = settings
        self.pool = pool
        self.vad = vad
        self.send_lock = asyncio.Lock()
        # Configuration (the effective session, as session.created/updated show it)
        self.format: InputFormat = "audio/pcm"
        self.transcription: Transcription | None = None
        self.model_name: str | None = None
        self.language: str | None = None
        self.turn_detection: ServerVad | None = ServerVad(type="server_vad") if vad else None
        self.noise_reduction: NoiseReduction | None = None
        self.include: list[str] = []
        # Audio: ``buffer`` holds the session's samples from ``buffer_start`` up to ``written``
        self.decoder = InputDecoder(self.format)
        self.buffer = bytearray()
        self.buffer_start = 0
        self.written = 0
        self.vad_stream = vad.stream() if vad else None
        self.detector = TurnDetector(self._rules()) if self.turn_detection else None
        self.turn_item: str | None = None
        self.turn_start = 0
        self.previous_item: str | None = None
        self.turns: asyncio.Queue[Turn] = asyncio.Queue()
        self.transcribing = False
        self.last_activity = time.monotonic()  # a client event or a finished transcription

    # ---- sending -------------------------------------------------------------------------------------
    async def send(self, event: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.websocket.send_text(json.dumps(event, ensure_ascii=False))

    async def send_error(self, error: ClientError, event_id: str | None) -> None:
        await self.send(error_event(error.message, code=error.code, param=error.param, event_id=event_id))

    def describe(self) -> dict[str, Any]:
        turn = self.turn_detection.model_dump(exclude_none=True) if self.turn_detection else None
        audio_input = {
            "format": {"type": "audio/pcm", "rate": 24000}
            if self.format == "audio/pcm"
            else {"type": self.format},
            "transcription": self.transcription.model_dump() if self.transcription else None,
            "turn_detection": turn,
            "noise_reduction": self.noise_reduction.model_dump(exclude_none=True)
            if self.noise_reduction
            else None,
        }
        return {"type": "transcription", "audio": {"input": audio_input}, "include": list(self.include)}

    # ---- the session's life --------------------------------------------------------------------------
    async def run(self) -> None:
        """Serve until the client leaves or a limit ends the session; frees everything on the way out."""
        limits = self.settings
        deadline = time.monotonic() + limits.realtime_max_session_seconds
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=64)
        reader = asyncio.create_task(self._read(inbox))
        worker = asyncio.create_task(self._work())
        try:
            await self.send(server_event("session.created", session=self.describe()))
            while True:
                now = time.monotonic()
                idle_left = limits.realtime_idle_timeout_seconds - (now - self.last_activity)
                if self.transcribing or not self.turns.empty():
                    idle_left = limits.realtime_idle_timeout_seconds  # waiting for words is not idle
                try:
                    if deadline <= now or idle_left <= 0:
                        raise TimeoutError
                    message = await asyncio.wait_for(inbox.get(), min(deadline - now, idle_left))
                except TimeoutError:
                    if time.monotonic() >= deadline or self._idle():
                        raise self._limit_reached(deadline) from None
                    continue
                self.last_activity = time.monotonic()
                if message["type"] == "websocket.disconnect":
                    return
                await self._dispatch(message)
        except SessionClosed as closed:
            with contextlib.suppress(Exception):
                await self.send(closed.event)
                await self.websocket.close(code=closed.code, reason=closed.event["error"]["code"])
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the client went away while we were sending
        finally:
            for task in (reader, worker):
                task.cancel()
            for task in (reader, worker):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _idle(self) -> bool:
        if self.transcribing or not self.turns.empty():
            return False
        return time.monotonic() - self.last_activity >= self.settings.realtime_idle_timeout_seconds

    def _limit_reached(self, deadline: float) -> SessionClosed:
        if time.monotonic() >= deadline:
            minutes = self.settings.realtime_max_session_seconds / 60
            message = f"Your session hit the maximum duration of {minutes:g} minutes."
            return SessionClosed(error_event(message, code="session_expired"), POLICY_CLOSE)
        seconds = self.settings.realtime_idle_timeout_seconds
        message = f"No event from the client for {seconds:g} seconds: the session is closed."
        return SessionClosed(error_event(message, code="idle_timeout"), POLICY_CLOSE)

    async def _read(self, inbox: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            message = await self.websocket.receive()
            await inbox.put(message)
            if message["type"] == "websocket.disconnect":
                return

    async def _dispatch(self, message: dict[str, Any]) -> None:
        event_id: str | None = None
        try:
            text = message.get("text")
            if text is None:
                raise ClientError(
                    "Binary frames are not accepted: send JSON events as text.", "invalid_event"
                )
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise ClientError(f"The event is not valid JSON: {exc}.", "invalid_json") from exc
            if not isinstance(data, dict):
                raise ClientError("An event must be a JSON object with a 'type'.", "invalid_event")
            event_id = data.get("event_id") if isinstance(data.get("event_id"), str) else None
            await self._handle(self._parse(data))
        except ClientError as error:
            await self.send_error(error, event_id)

    @staticmethod
    def _parse(data: dict[str, Any]) -> Any:
        try:
            return CLIENT_EVENT.validate_python(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            if first["type"] in ("union_tag_invalid", "union_tag_not_found") and not first["loc"]:
                kind = shown(str(data.get("type"))) if "type" in data else "missing"
                raise ClientError(
                    f"Unknown event type {kind}: a transcription session accepts session.update, "
                    "input_audio_buffer.append, input_audio_buffer.commit and input_audio_buffer.clear.",
                    "invalid_event",
                    param="type",
                ) from exc
            path = ".".join(str(part) for part in first["loc"][1:])
            raise ClientError(f"{path}: {first['msg']}", "invalid_value", param=path or None) from exc

    async def _handle(self, event: Any) -> None:
        if isinstance(event, SessionUpdate):
            self._update(event)
            await self.send(server_event("session.updated", session=self.describe()))
        elif isinstance(event, BufferAppend):
            await self._append(event)
        elif isinstance(event, BufferCommit):
            await self._commit_buffer()
        elif isinstance(event, BufferClear):
            self.buffer.clear()
            self.buffer_start = self.written
            if self.detector:
                self.detector.cut()
            self.turn_item = None
            await self.send(server_event("input_audio_buffer.cleared"))

    # ---- configuration -------------------------------------------------------------------------------
    def _update(self, event: SessionUpdate) -> None:
        """Apply the fields present (null turn_detection: manual commits); all or nothing."""
        config = event.session
        include = list(config.include) if config.include is not None else self.include
        audio_input = config.audio.input if config.audio and config.audio.input else None
        fields = audio_input.model_fields_set if audio_input else set()
        transcription, model_name, language = self.transcription, self.model_name, self.language
        if audio_input and "transcription" in fields:
            transcription = audio_input.transcription
            model_name, language = self._resolve(transcription)
        turn_detection = self.turn_detection
        if audio_input and "turn_detection" in fields:
            turn_detection = audio_input.turn_detection
            if turn_detection and self.vad is None:
                raise ClientError(
                    "server_vad is not available on this router (no Silero VAD model): set "
                    "turn_detection to null and commit turns with input_audio_buffer.commit.",
                    "vad_unavailable",
                    param="session.audio.input.turn_detection",
                )
        self.include = include
        self.transcription, self.model_name, self.language = transcription, model_name, language
        if audio_input and "noise_reduction" in fields:
            self.noise_reduction = audio_input.noise_reduction
        if audio_input and audio_input.format is not None:
            fmt = audio_input.format.type if not isinstance(audio_input.format, PcmFormat) else "audio/pcm"
            if fmt != self.format:
                self.format = fmt
                self.decoder = InputDecoder(fmt)
        if turn_detection != self.turn_detection:
            self.turn_detection = turn_detection
            self.turn_item = None
            self.detector, self.vad_stream = None, None
            if turn_detection is not None and self.vad is not None:  # VAD starts afresh at the next sample
                self.detector = TurnDetector(self._rules(), self.written)
                self.vad_stream = self.vad.stream()

    def _resolve(self, transcription: Transcription | None) -> tuple[str | None, str | None]:
        if transcription is None:
            return None, None
        param = "session.audio.input.transcription"
        if not transcription.model:
            raise ClientError(
                "transcription.model is required (e.g. whisper-1).", "invalid_value", f"{param}.model"
            )
        try:
            model_name = resolve_model(self.settings, transcription.model, kind="asr")
        except ApiError as exc:
            raise ClientError(exc.message, exc.code or "invalid_value", f"{param}.model") from exc
        language = None
        if transcription.language:
            language = language_code(transcription.language)
            if language is None:
                raise ClientError(
                    f"Unsupported language {shown(transcription.language)}.",
                    "unsupported_language",
                    f"{param}.language",
                )
        return model_name, language

    def _rules(self) -> TurnRules:
        vad = self.turn_detection or ServerVad(type="server_vad")
        idle = vad.idle_timeout_ms * SAMPLES_PER_MS if vad.idle_timeout_ms else None
        return TurnRules(
            threshold=vad.threshold,
            prefix_padding=vad.prefix_padding_ms * SAMPLES_PER_MS,
            silence=vad.silence_duration_ms * SAMPLES_PER_MS,
            idle_timeout=idle,
        )

    # ---- audio ---------------------------------------------------------------------------------------
    @property
    def max_buffer_samples(self) -> int:
        return int(self.settings.realtime_max_buffer_seconds * TARGET_RATE)

    async def _append(self, event: BufferAppend) -> None:
        if self.model_name is None:
            raise ClientError(
                "Audio before the session is configured: send session.update with "
                "audio.input.transcription.model (e.g. whisper-1) first.",
                "session_not_configured",
            )
        try:
            data = base64.b64decode(event.audio, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ClientError("audio is not valid base64.", "invalid_audio", param="audio") from exc
        samples = self.decoder.decode(data)
        if self.detector is None and len(self.buffer) // 2 + samples.size > self.max_buffer_samples:
            raise ClientError(
                f"The input audio buffer is full ({self.settings.realtime_max_buffer_seconds:g} s): commit "
                "or clear it; this chunk was dropped.",
                "input_audio_buffer_full",
                param="audio",
            )
        self.buffer.extend(samples.tobytes())
        self.written += samples.size
        if self.detector is not None and self.vad_stream is not None and samples.size:
            probs = await asyncio.to_thread(self.vad_stream.feed, samples)
            await self._turn_events(self.detector, probs)

    async def _turn_events(self, detector: TurnDetector, probs: Any) -> None:
        for turn in detector.windows(probs, floor=self.buffer_start):
            if turn.kind == "started":
                self.turn_item, self.turn_start = new_id("item"), turn.sample
                await self.send(
                    server_event(
                        "input_audio_buffer.speech_started",
                        audio_start_ms=turn.sample // SAMPLES_PER_MS,
                        item_id=self.turn_item,
                    )
                )
            elif turn.kind == "stopped" and self.turn_item:
                await self._end_turn(self.turn_item, turn.sample)
            elif turn.kind == "idle":
                await self.send(
                    server_event(
                        "input_audio_buffer.timeout_triggered",
                        audio_start_ms=turn.since // SAMPLES_PER_MS,
                        audio_end_ms=turn.sample // SAMPLES_PER_MS,
                        item_id=new_id("item"),
                    )
                )
        if detector.speaking and self.turn_item and self.written - self.turn_start >= self.max_buffer_samples:
            await self._end_turn(self.turn_item, self.written)  # a turn longer than the buffer: cut here
            detector.cut()
        if not detector.speaking:  # keep only what a next turn's prefix padding may need
            keep_from = max(self.buffer_start, self.written - detector.rules.prefix_padding - 2 * WINDOW)
            self._drop_before(keep_from)

    async def _end_turn(self, item_id: str, end: int) -> None:
        await self.send(
            server_event(
                "input_audio_buffer.speech_stopped", audio_end_ms=end // SAMPLES_PER_MS, item_id=item_id
            )
        )
        await self._commit(item_id, self.turn_start, end)
        self.turn_item = None

    async def _commit_buffer(self) -> None:
        start = self.turn_start if self.detector and self.detector.speaking else self.buffer_start
        if self.written - start < MIN_COMMIT_SAMPLES:
            held = (self.written - start) / SAMPLES_PER_MS
            raise ClientError(
                f"Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                f"but buffer only has {held:.2f}ms of audio.",
                "input_audio_buffer_commit_empty",
            )
        item_id = self.turn_item or new_id("item")
        if self.detector:
            self.detector.cut()
        self.turn_item = None
        await self._commit(item_id, start, self.written)

    async def _commit(self, item_id: str, start: int, end: int) -> None:
        offset = 2 * (max(start, self.buffer_start) - self.buffer_start)
        pcm = bytes(self.buffer[offset : 2 * (end - self.buffer_start)])
        self._drop_before(end)
        await self.send(
            server_event("input_audio_buffer.committed", item_id=item_id, previous_item_id=self.previous_item)
        )
        self.previous_item = item_id
        await self.turns.put(Turn(item_id, pcm))

    def _drop_before(self, sample: int) -> None:
        if sample > self.buffer_start:
            del self.buffer[: 2 * (sample - self.buffer_start)]
            self.buffer_start = sample

    # ---- transcription -------------------------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            turn = await self.turns.get()
            self.transcribing = True
            try:
                await self._transcribe(turn)
            except (WebSocketDisconnect, RuntimeError, OSError):
                return  # the client is gone: ``run`` ends the session
            except Exception as exc:  # a bug must not silence every later turn
                log.exception("realtime transcription of %s", turn.item_id)
                base = {"item_id": turn.item_id, "content_index": 0}
                await self._failed(base, f"internal error: {type(exc).__name__}", "internal_error")
            finally:
                self.transcribing = False
                self.last_activity = time.monotonic()

    async def _transcribe(self, turn: Turn) -> None:
        assert self.model_name is not None
        want_logprobs = LOGPROBS in self.include
        options = AsrOptions(
            task="transcribe",
            language=self.language,
            initial_prompt=(self.transcription.prompt or None) if self.transcription else None,
            word_timestamps=want_logprobs,
            max_audio_seconds=self.settings.max_audio_seconds,
        )
        base = {"item_id": turn.item_id, "content_index": 0}
        try:
            events = asr_client.transcribe_pcm_stream(
                self.pool, self.model_name, turn.pcm, options, http_timeout=openai_timeout(self.settings)
            )
            async for event in events:
                kind = event.get("type")
                if kind == "segment":
                    segment = event.get("segment") or {}
                    extra = {"logprobs": _logprobs(segment)} if want_logprobs else {}
                    text = str(segment.get("text", ""))
                    if text:
                        await self.send(
                            server_event(
                                "conversation.item.input_audio_transcription.delta",
                                delta=text,
                                **base,
                                **extra,
                            )
                        )
                elif kind == "done":
                    result = event.get("result") or {}
                    extra = {}
                    if want_logprobs:
                        extra = {"logprobs": [p for s in result.get("segments") or [] for p in _logprobs(s)]}
                    await self.send(
                        server_event(
                            "conversation.item.input_audio_transcription.completed",
                            transcript=str(result.get("text", "")).strip(),
                            usage={"type": "duration", "seconds": round(turn.seconds, 3)},
                            **base,
                            **extra,
                        )
                    )
                    return
                elif kind == "error":
                    await self._failed(base, str(event.get("error", "transcription failed")), "backend_error")
                    return
        except (BackendBusy, BackendUnavailable, BackendError, httpx.HTTPError, ApiError) as exc:
            code = {BackendBusy: "backend_busy", BackendUnavailable: "backend_unavailable"}.get(
                type(exc), "backend_error"
            )
            if isinstance(exc, httpx.TimeoutException):
                code = "backend_timeout"
            await self._failed(base, str(exc) or type(exc).__name__, code)

    async def _failed(self, base: dict[str, Any], message: str, code: str) -> None:
        log.warning("realtime transcription failed: %s", message, extra={"item_id": base["item_id"]})
        error = {"type": "server_error", "code": code, "message": message, "param": None}
        await self.send(
            server_event("conversation.item.input_audio_transcription.failed", error=error, **base)
        )


def _logprobs(segment: dict[str, Any]) -> list[dict[str, Any]]:
    """Whisper's per-word probabilities as OpenAI's logprob entries (a token here is a word)."""
    entries = []
    for word in segment.get("words") or []:
        token = str(word.get("word", ""))
        probability = max(float(word.get("probability", 0.0)), 1e-12)
        entries.append(
            {"token": token, "bytes": list(token.encode()), "logprob": round(math.log(probability), 6)}
        )
    return entries
