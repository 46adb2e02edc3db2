"""Requests in every shape the predictor accepts, reduced to one ``SpeechRequest``.

- the streaming route's JSON body ``{"text", "voice", "language", "speed"}``;
- V1 ``{"instances": [{…same keys…}], "parameters": {defaults}}``;
- V2 ``InferRequest`` with a BYTES input ``text`` and ``parameters`` ``voice``, ``language``, ``speed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferRequest

from voicestack_predictors.common.kserve_adapter import v2_parameters

MIN_SPEED = 0.25
MAX_SPEED = 4.0


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    voice: str | None = None
    language: str | None = None
    speed: float = 1.0
    # /synthesize only: generate the first piece incrementally (early audio) or every piece whole.
    stream: bool = True


def _optional_str(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f'"{key}" must be a string')
    return value.strip() or None


def _speed(value: Any) -> float:
    if value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput('"speed" must be a number')
    try:
        speed = float(value)
    except ValueError as exc:
        raise InvalidInput(f'"speed" must be a number, got {value!r}') from exc
    if not MIN_SPEED <= speed <= MAX_SPEED:  # also rejects NaN
        raise InvalidInput(f'"speed" must be between {MIN_SPEED} and {MAX_SPEED}, got {value}')
    return speed


def parse_speech(fields: Mapping[str, Any], where: str = "request") -> SpeechRequest:
    """One request from a JSON object (``input`` is accepted as OpenAI's name for ``text``)."""
    if not isinstance(fields, Mapping):
        raise InvalidInput(f"{where} must be a JSON object")
    text = fields.get("text", fields.get("input"))
    if text is None:
        raise InvalidInput(f'{where} has no "text"')
    if not isinstance(text, str):
        raise InvalidInput(f'"text" must be a string in {where}')
    return SpeechRequest(
        text=text,
        voice=_optional_str(fields.get("voice"), "voice"),
        language=_optional_str(fields.get("language"), "language"),
        speed=_speed(fields.get("speed")),
        stream=_flag(fields.get("stream"), "stream"),
    )


def _flag(value: Any, key: str) -> bool:
    if value is None:
        return True
    if not isinstance(value, bool):
        raise InvalidInput(f'"{key}" must be true or false')
    return value


def parse_v1(payload: Mapping[str, Any]) -> list[SpeechRequest]:
    instances = payload.get("instances")
    if not isinstance(instances, list) or not instances:
        raise InvalidInput('a V1 request needs "instances": a non-empty list of {"text", "voice", …} objects')
    defaults = payload.get("parameters") or {}
    if not isinstance(defaults, Mapping):
        raise InvalidInput('"parameters" must be a JSON object')
    requests = []
    for index, instance in enumerate(instances):
        if isinstance(instance, str):
            instance = {"text": instance}
        if not isinstance(instance, Mapping):
            raise InvalidInput(f"instances[{index}] must be an object or a string")
        requests.append(parse_speech({**defaults, **instance}, f"instances[{index}]"))
    return requests


def parse_v2(request: InferRequest) -> list[SpeechRequest]:
    parameters = v2_parameters(request)
    inputs = [i for i in request.inputs if i.name == "text"] or list(request.inputs[:1])
    if not inputs:
        raise InvalidInput('a V2 request needs a BYTES input named "text"')
    data = inputs[0].data
    if not isinstance(data, list) or not data:
        raise InvalidInput('the "text" input holds no data')
    requests = []
    for item in data:
        text = item.decode("utf-8", errors="replace") if isinstance(item, bytes | bytearray) else item
        requests.append(parse_speech({**parameters, "text": text}, 'the V2 "text" input'))
    return requests
