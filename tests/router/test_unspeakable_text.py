"""Speech input with nothing to say is a 400 in OpenAI's shape: never a 502, never an empty 200 body."""

from __future__ import annotations

import httpx
import pytest

from tests.router.conftest import API_KEY, Running

UNSPEAKABLE = {
    "combining marks": "\u0301\u0302\u0303" * 20,
    "NUL": "\x00\x00\x00",
    "zero-width": "\u200b\u200c\u200d\ufeff",
    "punctuation": "... !? ---",
    # An English character set has none of these: the model crashed on an empty input (a 502).
    "4000 CJK characters": "中" * 4000,
}


@pytest.mark.parametrize("text", list(UNSPEAKABLE.values()), ids=list(UNSPEAKABLE))
@pytest.mark.parametrize("stream_format", ["audio", "sse"])
def test_unspeakable_input_is_a_400(router: Running, text: str, stream_format: str) -> None:
    body = {"model": "tts-1", "voice": "alloy", "input": text, "stream_format": stream_format}
    response = httpx.post(
        f"{router.url}/v1/audio/speech",
        json=body,
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=120,
    )
    assert response.status_code == 400, response.text[:300]
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "unspeakable_text" and error["param"] == "input"
    assert "nothing to speak" in error["message"]


def test_speakable_text_around_zero_width_characters_still_speaks(router: Running) -> None:
    response = httpx.post(
        f"{router.url}/v1/audio/speech",
        json={"model": "tts-1", "voice": "alloy", "input": "\u200bHi\x00 there.", "response_format": "pcm"},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=120,
    )
    assert response.status_code == 200 and len(response.content) > 4800  # over 0.1 s at 24 kHz
