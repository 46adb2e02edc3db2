"""A small client for the three protocols the ASR predictor speaks (docs/contracts.md)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.servers import ServerProcess

TIMEOUT = httpx.Timeout(120.0, connect=5.0)


@dataclass
class AsrClient:
    base: str
    server: ServerProcess | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        if self.model is None:
            self.model = httpx.get(f"{self.base}/v1/models", timeout=10).json()["models"][0]

    def raw(self, body: bytes | Path, content_type: str = "audio/flac", **options: Any) -> httpx.Response:
        data = body.read_bytes() if isinstance(body, Path) else body
        headers = {"Content-Type": content_type}
        if options:
            headers["X-VoiceStack-Options"] = json.dumps(options)
        url = f"{self.base}/v1/models/{self.model}:predict"
        return httpx.post(url, content=data, headers=headers, timeout=TIMEOUT)

    def v1_json(self, body: bytes | Path, **options: Any) -> httpx.Response:
        data = body.read_bytes() if isinstance(body, Path) else body
        payload = {"instances": [{"audio": {"b64": base64.b64encode(data).decode()}}], "parameters": options}
        return httpx.post(f"{self.base}/v1/models/{self.model}:predict", json=payload, timeout=TIMEOUT)

    def v2(self, body: bytes | Path, **options: Any) -> httpx.Response:
        data = body.read_bytes() if isinstance(body, Path) else body
        payload = {
            "inputs": [
                {
                    "name": "audio",
                    "datatype": "BYTES",
                    "shape": [1],
                    "data": [base64.b64encode(data).decode()],
                }
            ],
            "parameters": options,
        }
        return httpx.post(f"{self.base}/v2/models/{self.model}/infer", json=payload, timeout=TIMEOUT)

    def ready(self) -> httpx.Response:
        return httpx.get(f"{self.base}/v2/health/ready", timeout=10)

    def metric(self, name: str, **labels: str) -> float | None:
        """The value of one sample from ``/metrics`` (None if absent)."""
        text = httpx.get(f"{self.base}/metrics", timeout=10).text
        for line in text.splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            if all(f'{key}="{value}"' in line for key, value in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return None
