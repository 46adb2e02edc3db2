"""The three ways audio arrives (docs/contracts.md) and the matching response shapes.

- V1 raw body: ``bytes`` from KServe for any non-JSON content type; options in ``X-VoiceStack-Options``.
- V1 JSON: ``{"instances": [{"audio": {"b64": …}}], "parameters": {…}}`` → ``{"predictions": [result]}``.
- V2: an ``InferRequest`` with a BYTES input ``audio`` (base64) → a BYTES output ``result`` (JSON text).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

from voicestack.contracts.asr_options import OPTIONS_HEADER, AsrOptions, AsrOptionsError, header_fields
from voicestack.contracts.audio import ASR_SAMPLE_RATE, PCM_CONTENT_TYPE
from voicestack_predictors.common.audio import (
    AudioDecodeError,
    AudioTooLong,
    DecodedAudio,
    check_pcm_s16le,
    decode_audio,
    decode_pcm_s16le,
    probe_audio,
)
from voicestack_predictors.common.errors import PayloadTooLarge
from voicestack_predictors.common.kserve_adapter import v2_input_values, v2_parameters

PCM_CONTENT_TYPES = {PCM_CONTENT_TYPE, "audio/l16", "audio/x-raw"}


@dataclass(frozen=True)
class AudioRequest:
    """An upload taken apart: the audio bytes, how to read them, the options and the protocol used."""

    data: bytes
    pcm: bool
    options: AsrOptions
    protocol: str  # v1-raw | v1-json | v2
    request_id: str | None = None

    def decode(self, server_limit: float) -> DecodedAudio:
        """16 kHz mono samples; ``InvalidInput`` with the decoder's message when the audio is bad,
        ``PayloadTooLarge`` (413) when it is longer than the caller's ``max_audio_seconds`` capped by the
        server's ``server_limit``."""
        limit = self._limit(server_limit)
        with _refusals():
            if self.pcm:
                return decode_pcm_s16le(self.data, ASR_SAMPLE_RATE, max_seconds=limit)
            return decode_audio(self.data, ASR_SAMPLE_RATE, max_seconds=limit)

    def check(self, server_limit: float) -> None:
        """What ``decode`` refuses without decoding (the container's header, the declared duration, raw
        PCM's length), with the same errors: cheap, so bad media is refused before the request queues."""
        limit = self._limit(server_limit)
        with _refusals():
            if self.pcm:
                check_pcm_s16le(len(self.data), ASR_SAMPLE_RATE, max_seconds=limit)
            else:
                probe_audio(self.data, max_seconds=limit)

    def _limit(self, server_limit: float) -> float:
        requested = self.options.max_audio_seconds
        return server_limit if requested is None else min(requested, server_limit)


@contextmanager
def _refusals() -> Iterator[None]:
    """The decoder's errors as the caller's: 413 past the duration limit, 400 for anything else."""
    try:
        yield
    except AudioTooLong as exc:
        raise PayloadTooLarge(str(exc)) from exc
    except AudioDecodeError as exc:
        raise InvalidInput(str(exc)) from exc


def parse_request(payload: Any, headers: Mapping[str, str] | None) -> AudioRequest:
    headers = {key.lower(): value for key, value in (headers or {}).items()}
    if isinstance(payload, bytes | bytearray):
        return _v1_raw(bytes(payload), headers)
    if isinstance(payload, InferRequest):
        return _v2(payload)
    if isinstance(payload, dict):
        return _v1_json(payload, headers)
    raise InvalidInput(f"unsupported request body ({type(payload).__name__})")


def respond(request: AudioRequest, result: dict[str, Any], model_name: str) -> dict[str, Any] | InferResponse:
    if request.protocol == "v1-raw":
        return result
    if request.protocol == "v1-json":
        return {"predictions": [result]}
    output = InferOutput(name="result", shape=[1], datatype="BYTES")
    output.set_data_from_numpy(
        np.array([json.dumps(result, ensure_ascii=False)], dtype=object), binary_data=False
    )
    return InferResponse(
        response_id=request.request_id or str(uuid.uuid4()), model_name=model_name, infer_outputs=[output]
    )


def parse_options(raw: Mapping[str, Any] | None) -> AsrOptions:
    """The request's options (``voicestack.contracts.asr_options``); a bad one is a 400."""
    try:
        return AsrOptions.parse(raw)
    except AsrOptionsError as exc:
        raise InvalidInput(str(exc)) from exc


def _header_options(headers: Mapping[str, str]) -> dict[str, Any]:
    try:
        return header_fields(headers.get(OPTIONS_HEADER.lower()))
    except AsrOptionsError as exc:
        raise InvalidInput(str(exc)) from exc


def _v1_raw(body: bytes, headers: Mapping[str, str]) -> AudioRequest:
    options = parse_options(_header_options(headers))
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    pcm = content_type in PCM_CONTENT_TYPES or options.audio_format == "pcm_s16le"
    if not body:
        raise InvalidInput("the request body is empty: send the audio as the body")
    return AudioRequest(body, pcm, options, "v1-raw", headers.get("x-request-id"))


def _v1_json(payload: Mapping[str, Any], headers: Mapping[str, str]) -> AudioRequest:
    instances = payload.get("instances")
    if not isinstance(instances, list) or len(instances) != 1:
        raise InvalidInput('send exactly one instance: {"instances": [{"audio": {"b64": "<base64>"}}]}')
    parameters = payload.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInput('"parameters" must be a JSON object')
    options = parse_options({**_header_options(headers), **parameters})
    instance = instances[0]
    audio = instance.get("audio") if isinstance(instance, dict) else None
    if isinstance(audio, dict):
        audio = audio.get("b64")
    if not isinstance(audio, str):
        raise InvalidInput('the instance needs "audio": {"b64": "<base64 of the audio file>"}')
    data = _b64(audio, "instances[0].audio.b64")
    return AudioRequest(
        data, options.audio_format == "pcm_s16le", options, "v1-json", headers.get("x-request-id")
    )


def _v2(request: InferRequest) -> AudioRequest:
    options = parse_options(v2_parameters(request))
    if options.stream:
        raise InvalidInput("stream is available on the V1 predict endpoint only")
    inputs = [item for item in request.inputs if item.name == "audio"] or (
        request.inputs if len(request.inputs) == 1 else []
    )
    if not inputs:
        raise InvalidInput('the request needs one BYTES input named "audio" holding the base64 audio file')
    item = inputs[0]
    if item.datatype != "BYTES":
        raise InvalidInput(f'input "audio" must have datatype BYTES, got {item.datatype}')
    values = v2_input_values(item)
    if len(values) != 1:
        raise InvalidInput(f'input "audio" must hold exactly one element (shape [1]), got {len(values)}')
    value = values[0]
    data = _b64(value.decode("ascii", "replace") if isinstance(value, bytes) else str(value), 'input "audio"')
    return AudioRequest(data, options.audio_format == "pcm_s16le", options, "v2", request.id)


def _b64(text: str, where: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"{where} is not valid base64: {exc}") from exc
    if not data:
        raise InvalidInput(f"{where} is empty: the audio is 0 bytes")
    return data
