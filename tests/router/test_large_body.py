"""A 200 MB ``encode=false`` Bazarr body goes through while the router's memory stays flat.

The predictor here is ``CountingAsrPredictorStub`` (tests/router/predictor_stub.py), a real loopback HTTP
server that only counts bytes: 200 MB of PCM is 100 minutes of audio, and what is measured is the router.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.router.conftest import Running, start_router
from tests.support.media import watch_rss
from tests.support.servers import ServerProcess, free_port

BODY_BYTES = 200 * 1024 * 1024
CHUNK = bytes(range(256)) * 256  # 64 KiB


@pytest.fixture(scope="module")
def counting_stub() -> Iterator[str]:
    import sys

    port = free_port()
    server = ServerProcess([sys.executable, "-m", "tests.router.predictor_stub", "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    server.wait_http(f"{url}/v2/health/ready", timeout=30)
    yield url
    server.stop()


@pytest.fixture(scope="module")
def stub_router(counting_stub: str) -> Iterator[Running]:
    running = start_router({"ROUTER_ASR_URLS": counting_stub})
    yield running
    running.server.stop()


def multipart_stream(boundary: str, size: int) -> tuple[Iterator[bytes], int]:
    head = (f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="audio_file"; filename="audio_file"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()  # fmt: skip
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        yield head
        left = size
        while left > 0:
            piece = CHUNK[: min(len(CHUNK), left)]
            left -= len(piece)
            yield piece
        yield tail

    return chunks(), len(head) + size + len(tail)


def test_200_mb_body_with_flat_memory(stub_router: Running) -> None:
    boundary = "voicestack-test-boundary"
    body, length = multipart_stream(boundary, BODY_BYTES)
    with watch_rss(stub_router.pid, interval=0.05) as rss:
        response = httpx.post(
            f"{stub_router.url}/asr",
            params={"encode": "false", "output": "json", "task": "transcribe", "language": "en"},
            content=body,
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length),
            },
            timeout=httpx.Timeout(10, read=None),
        )
    assert response.status_code == 200, response.text
    result = json.loads(response.text)
    assert result["text"] == f" received {BODY_BYTES} bytes"
    assert result["segments"][0]["end"] == pytest.approx(BODY_BYTES / 32000, abs=0.01)
    grew = rss.grew_mib
    assert grew < 40, f"router RSS grew by {grew:.0f} MiB while relaying {BODY_BYTES >> 20} MiB"
