"""Synthesised audio as KServe V1 predictions or a V2 ``InferResponse`` (base64 s16le PCM)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import numpy as np
from kserve.protocol.infer_type import InferOutput, InferResponse

from voicestack_predictors.tts.pcm import to_pcm16
from voicestack_predictors.tts.plan import Plan

Results = list[tuple[Plan, np.ndarray]]


def v1_response(results: Results) -> dict[str, Any]:
    return {"predictions": [_prediction(plan, audio) for plan, audio in results]}


def v2_response(results: Results, model_name: str, response_id: str | None) -> InferResponse:
    """``audio`` plus one ``duration``/``language``/``voice`` element per text (all shape ``[n]``).

    The response ``parameters`` carry what every text shares (rate, format; language and voice when
    they are the same for all; the duration when there is one text).
    """
    count = len(results)
    encoded = [base64.b64encode(to_pcm16(pcm)).decode("ascii") for _, pcm in results]
    durations = [_duration(plan, pcm) for plan, pcm in results]
    outputs = [
        _output("audio", "BYTES", np.array(encoded, dtype=object)),
        _output("duration", "FP64", np.array(durations, dtype=np.float64)),
        _output("language", "BYTES", np.array([plan.language for plan, _ in results], dtype=object)),
        _output("voice", "BYTES", np.array([plan.voice_name for plan, _ in results], dtype=object)),
    ]
    first = results[0][0]
    parameters: dict[str, Any] = {"sample_rate": first.sample_rate, "channels": 1, "sample_format": "s16le"}
    if len({plan.language for plan, _ in results}) == 1:
        parameters["language"] = first.language
    if len({plan.voice_name for plan, _ in results}) == 1:
        parameters["voice"] = first.voice_name
    if count == 1:
        parameters["duration"] = durations[0]
    return InferResponse(
        response_id=response_id or str(uuid.uuid4()),
        model_name=model_name,
        infer_outputs=outputs,
        parameters=parameters,
    )


def _output(name: str, datatype: str, values: np.ndarray) -> InferOutput:
    output = InferOutput(name=name, shape=[len(values)], datatype=datatype)
    output.set_data_from_numpy(values, binary_data=False)
    return output


def _duration(plan: Plan, audio: np.ndarray) -> float:
    return round(len(audio) / plan.sample_rate, 3)


def _prediction(plan: Plan, audio: np.ndarray) -> dict[str, Any]:
    return {
        "audio": {"b64": base64.b64encode(to_pcm16(audio)).decode("ascii")},
        "sample_rate": plan.sample_rate,
        "channels": 1,
        "sample_format": "s16le",
        "duration": _duration(plan, audio),
        "language": plan.language,
        "voice": plan.voice_name,
    }
