"""OpenAI's newer transcription fields on real Whisper base, through the router and the SDK: what a user
notices is the words, the language and the confidence."""

from __future__ import annotations

import openai

from tests.accuracy.clients import transcribe
from tests.accuracy.conftest import Measure
from tests.support.assets import asset
from tests.support.wer import normalise

JFK = "audio/en/jfk.wav"
GERMAN = "audio/de/gaenswein15.mp3"
HOTWORDS = "audio/en/hotwords.mp3"
# measured: JFK's token log probabilities average -0.11 (most tokens above -0.05); a random model's are far
# below -2. Asserted with a wide margin: the real model is confident about clear speech.
MIN_MEAN_LOGPROB = -0.5


def test_keywords_spell_the_hotword(client: openai.OpenAI, measured: Measure) -> None:
    """Without help Whisper writes "confu i"; keywords[] (faster-whisper's hotwords) spell it."""
    favoured = transcribe(client, asset(HOTWORDS), keywords=["ComfyUI"]).text
    measured("hotwords.mp3 with keywords[]=ComfyUI", favoured)
    assert "ComfyUI" in favoured, favoured


def test_languages_limit_detection(client: openai.OpenAI, measured: Measure) -> None:
    """German speech among German and French is German; English speech offered only German and French is
    still written in one of them (the restriction holds even when it is wrong)."""
    german = transcribe(client, asset(GERMAN), languages=["fr", "de"])
    assert german.languages is not None and [language.code for language in german.languages] == ["de"]
    assert {"missale", "papst", "nicht"} <= set(normalise(german.text).split()), german.text
    forced = transcribe(client, asset(JFK), languages=["de", "fr"])
    measured("jfk.wav with languages[]=de,fr", f"{forced.languages}: {forced.text}")
    assert forced.languages is not None and forced.languages[0].code in {"de", "fr"}


def test_logprobs_are_the_words_with_confidence(client: openai.OpenAI, measured: Measure) -> None:
    result = transcribe(client, asset(JFK), include=["logprobs"], language="en")
    assert result.logprobs
    spelled = b"".join(bytes(int(b) for b in entry.bytes or []) for entry in result.logprobs).decode()
    assert spelled.strip() == result.text
    mean = sum(entry.logprob or 0.0 for entry in result.logprobs) / len(result.logprobs)
    measured("jfk.wav mean token logprob", round(mean, 3))
    assert mean > MIN_MEAN_LOGPROB, result.logprobs


def test_server_vad_keeps_the_words(client: openai.OpenAI) -> None:
    """chunking_strategy server_vad on JFK (pauses between phrases): the same words as without it."""
    plain = transcribe(client, asset(JFK), language="en").text
    chunked = transcribe(
        client, asset(JFK), language="en",
        chunking_strategy={"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 500,
                           "prefix_padding_ms": 300},
    ).text  # fmt: skip
    assert normalise(chunked) == normalise(plain), (plain, chunked)
