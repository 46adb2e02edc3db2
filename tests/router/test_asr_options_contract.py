"""The ASR options contract (``voicestack.contracts.asr_options``): what the router writes is what the
predictor reads, and a bad option is refused where it is built, with the message the predictor would give."""

from __future__ import annotations

import pytest

from voicestack.contracts.asr_options import AsrOptions, AsrOptionsError, header_fields
from voicestack_router.asr_client import asr_options
from voicestack_router.errors import ApiError


def test_the_header_round_trips_and_is_ascii() -> None:
    sent = asr_options(task="transcribe", language="de", initial_prompt="Grüße aus Köln", temperature=0.2,
                       word_timestamps=True, vad_filter=None, max_audio_seconds=7200)  # fmt: skip
    header = sent.header_value()
    assert header.isascii()
    assert "vad_filter" not in header and "stream" not in header  # defaults and None are left out
    assert AsrOptions.parse(header_fields(header)) == sent
    assert header_fields(sent.model_copy(update={"stream": True}).header_value())["stream"] is True


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"temperature": 1.5}, "temperature must be between 0 and 1"),
        ({"initial_prompt": "x" * 2001}, "initial_prompt is too long"),
        ({"language": "klingon"}, "is not one Whisper knows"),
        ({"detect_lang_length": 0}, "detect_lang_length must be more than 0"),
    ],
)
def test_the_router_refuses_what_the_predictor_would(fields: dict, message: str) -> None:
    with pytest.raises(ApiError) as refused:
        asr_options(**fields)
    assert refused.value.status == 400 and message in refused.value.message
    with pytest.raises(AsrOptionsError, match=message):
        AsrOptions.parse(fields)


def test_unknown_keys_and_bad_headers_are_named() -> None:
    with pytest.raises(AsrOptionsError, match="unknown option"):
        AsrOptions.parse({"temprature": 0})
    with pytest.raises(AsrOptionsError, match="not valid JSON"):
        header_fields("{oops")
    # KServe clients' own parameters are accepted and ignored; null counts as absent.
    assert AsrOptions.parse({"content_type": "x", "language": None}) == AsrOptions()
