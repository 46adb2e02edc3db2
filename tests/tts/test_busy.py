"""A full queue: with one slot and no waiting room, a request while another is generating is a 503."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.assets import asset
from tests.tts.client import TtsClient
from tests.tts.conftest import _server

# Many chunks (each sentence is its own ~170-character chunk): generation lasts well beyond its first piece.
SENTENCE = (
    "Printing, in the only sense with which we are at present concerned, differs from most if not from all "
    "the arts and crafts represented in the Exhibition, in being comparatively modern."
)
LONG_TEXT = " ".join([SENTENCE] * 22)  # just under the 4096-character limit


@pytest.fixture(scope="module")
def one_slot() -> Iterator[TtsClient]:
    model = asset("models-random/coqui-vits-micro-random")
    args = ["--model", str(model), "--model_name", "vits", "--device", "cpu"]
    args += ["--max_concurrency", "1", "--max_queue", "0"]
    for client in _server(args):
        client.model = "vits"
        client.server.wait_http(f"{client.base}/v2/health/ready", timeout=180)
        yield client


def test_a_full_queue_answers_503_with_retry_after(one_slot: TtsClient) -> None:
    client = one_slot
    url = client.url("/v1/models/vits/synthesize")
    # speed 0.25 makes the random VITS work 4x as long per chunk: about 3 s in all, 0.2 s to the first piece.
    holding_body = {"text": LONG_TEXT, "speed": 0.25}
    with httpx.stream("POST", url, json=holding_body, timeout=120) as holding:
        assert holding.status_code == 200
        pieces = holding.iter_raw()
        next(pieces)  # the first chunk is out: the only slot is held until the last one is made
        streamed = client.stream({"text": "Wait your turn."})
        v1 = client.v1([{"text": "Wait your turn."}])
        for status, headers, body in (
            (streamed.status, streamed.headers, streamed.json()),
            (v1.status_code, v1.headers, v1.json()),
        ):
            assert status == 503, body
            assert headers["retry-after"].isdigit()
            assert body["error"].startswith("server busy")
        assert sum(len(piece) for piece in pieces) > 0  # the holder still gets all of its audio
    metrics = httpx.get(client.url("/metrics"), timeout=10).text
    assert 'voicestack_tts_requests_total{model_name="vits",outcome="busy",route="stream"} 1.0' in metrics
    assert 'voicestack_tts_requests_total{model_name="vits",outcome="busy",route="v1"} 1.0' in metrics
    assert client.stream({"text": "Now it is free."}).status == 200
