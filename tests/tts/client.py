"""A small client for the TTS predictor's routes, recording when streamed bytes arrive."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.servers import ServerProcess


@dataclass
class Streamed:
    status: int
    headers: httpx.Headers
    body: bytes = b""
    arrivals: list[tuple[float, int]] = field(default_factory=list)  # (seconds since request, bytes)
    total_seconds: float = 0.0

    @property
    def sample_rate(self) -> int:
        return int(self.headers["x-sample-rate"])

    @property
    def duration(self) -> float:
        return len(self.body) / 2 / self.sample_rate

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass
class TtsClient:
    base: str
    server: ServerProcess
    model: str = "xtts"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def stream(self, body: Any, timeout: float = 120.0) -> Streamed:
        started = time.perf_counter()
        kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes | str) else {"json": body}
        with httpx.stream(
            "POST", self.url(f"/v1/models/{self.model}/synthesize"), timeout=timeout, **kwargs
        ) as response:
            result = Streamed(response.status_code, response.headers)
            parts: list[bytes] = []
            for part in response.iter_raw():
                result.arrivals.append((time.perf_counter() - started, len(part)))
                parts.append(part)
        result.body = b"".join(parts)
        result.total_seconds = time.perf_counter() - started
        return result

    def voices(self) -> dict[str, Any]:
        response = httpx.get(self.url(f"/v1/models/{self.model}/voices"), timeout=60)
        response.raise_for_status()
        return response.json()

    def v1(self, instances: list[Any], **extra: Any) -> httpx.Response:
        return httpx.post(
            self.url(f"/v1/models/{self.model}:predict"),
            json={"instances": instances, **extra},
            timeout=120,
        )

    def v2(self, texts: list[str], parameters: dict[str, Any] | None = None) -> httpx.Response:
        body = {
            "inputs": [{"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": texts}],
            "parameters": parameters or {},
        }
        return httpx.post(self.url(f"/v2/models/{self.model}/infer"), json=body, timeout=120)


def pcm_seconds(b64: str, sample_rate: int) -> float:
    return len(base64.b64decode(b64)) / 2 / sample_rate
