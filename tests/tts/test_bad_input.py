"""Every bad request is a 400 with a clear message, on the streaming route and V1/V2; never a crash."""

from __future__ import annotations

import httpx
import pytest

from tests.tts.client import TtsClient

CASES = [
    ({"text": "", "voice": "lj"}, "nothing to speak"),
    ({"text": "   \n\t ", "voice": "lj"}, "nothing to speak"),
    ({"text": "...", "voice": "lj"}, "nothing to speak"),
    ({"text": "x " * 2049, "voice": "lj"}, "the limit is 4096"),
    ({"voice": "lj"}, 'no "text"'),
    ({"text": 42, "voice": "lj"}, '"text" must be a string'),
    ({"text": "Hi.", "voice": "nobody"}, "available voices: cm, duo, jfk, lj"),
    ({"text": "Hi.", "voice": "garbage"}, "voice 'garbage': sample 'garbage.wav' is not readable audio"),
    ({"text": "Hi.", "voice": "short"}, "samples must be 3-30 s"),
    ({"text": "Hi.", "voice": "long"}, "'long.flac' is longer than 30 s; samples must be 3-30 s"),
    ({"text": "Hi.", "voice": "lowrate"}, "sample rate of 8000 Hz"),
    ({"text": "Hi.", "voice": "lj", "speed": 0.1}, '"speed" must be between 0.25 and 4.0'),
    ({"text": "Hi.", "voice": "lj", "speed": 5}, '"speed" must be between 0.25 and 4.0'),
    ({"text": "Hi.", "voice": "lj", "speed": "fast"}, '"speed" must be a number'),
    ({"text": "Hi.", "voice": "lj", "speed": True}, '"speed" must be a number'),
    ({"text": "Hi.", "voice": "lj", "language": "xx"}, "language 'xx' is not supported"),
    ({"text": "Hi.", "voice": 7}, '"voice" must be a string'),
]


@pytest.mark.parametrize(("body", "message"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_streaming_route_rejects(xtts: TtsClient, body: dict, message: str) -> None:
    result = xtts.stream(body)
    assert result.status == 400, result.body[:300]
    assert result.headers["content-type"].startswith("application/json")
    assert message in result.json()["error"]


def test_not_json(xtts: TtsClient) -> None:
    result = xtts.stream(b"text=hello")
    assert result.status == 400 and "must be JSON" in result.json()["error"]
    array = xtts.stream([1, 2])
    assert array.status == 400 and "JSON object" in array.json()["error"]


@pytest.mark.parametrize(
    ("language", "text"),
    [("ja", "こんにちは。元気ですか。"), ("zh-cn", "你好。你好吗？"), ("ko", "안녕하세요. 잘 지내요?")],
)
def test_languages_with_their_own_text_front_ends(xtts: TtsClient, language: str, text: str) -> None:
    """The ``tts`` extra brings coqui-tts's ja/zh/ko front-ends, so these speak instead of failing."""
    result = xtts.stream({"text": text, "voice": "lj", "language": language})
    assert result.status == 200, result.body[:300]
    assert result.headers["x-language"] == language
    assert result.duration > 0.1


def test_language_missing_its_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """An image built without a language's front-end says which package to add."""
    from voicestack_predictors.tts import language

    monkeypatch.setitem(language.LANGUAGE_PACKAGES, "ja", "no_such_front_end_package")
    assert language.missing_package("ja") == "no_such_front_end_package"
    assert language.missing_package("en") is None


def test_unknown_model_name(xtts: TtsClient) -> None:
    response = httpx.post(xtts.url("/v1/models/other/synthesize"), json={"text": "Hi."})
    assert response.status_code == 404


def test_v1_rejects(xtts: TtsClient) -> None:
    assert xtts.v1([]).status_code == 400
    bad = xtts.v1([{"text": "Hi.", "voice": "nobody"}])
    assert bad.status_code == 400 and "unknown voice" in bad.json()["error"]
    speed = xtts.v1([{"text": "Hi.", "voice": "lj"}], parameters={"speed": 9})
    assert speed.status_code == 400 and "speed" in speed.json()["error"]


def test_v2_rejects(xtts: TtsClient) -> None:
    empty = xtts.v2([""], {"voice": "lj"})
    assert empty.status_code == 400 and "nothing to speak" in empty.json()["error"]
    long = xtts.v2(["y" * 5000], {"voice": "lj"})
    assert long.status_code == 400 and "limit is 4096" in long.json()["error"]


def test_still_serving_after_bad_input(xtts: TtsClient) -> None:
    assert xtts.server.process.poll() is None
    assert xtts.stream({"text": "Fine.", "voice": "lj", "language": "en"}).status == 200
