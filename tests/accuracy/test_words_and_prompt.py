"""Word timestamps (``verbose_json`` with ``timestamp_granularities=["word"]``) and the ``prompt`` bias."""

from __future__ import annotations

import itertools

import openai

from tests.accuracy.clients import transcribe
from tests.accuracy.conftest import Measure
from tests.support.assets import asset
from tests.support.wer import normalise

TIME_EPSILON = 0.001  # timestamps are rounded in the result object
HOTWORDS = "audio/en/hotwords.mp3"
PROMPT = "A video about ComfyUI."
# measured: without a prompt "Then you go into your confu i folder again in the confu i"; with PROMPT
# "Then you go into your ComfyUI folder, again in the ComfyUI." Each was run twice with the same text:
# decoding at temperature 0 is deterministic, so the difference is the prompt's, not chance.


def test_word_timestamps(client: openai.OpenAI) -> None:
    """Ten Harvard sentences, one segment each: every word in order, inside its own segment and the audio,
    and the words spell the transcript."""
    result = transcribe(
        client, asset("audio/en/OSR_us_000_0034_8k.wav"),
        response_format="verbose_json", timestamp_granularities=["word", "segment"],
    )  # fmt: skip
    words, segments = result.words, result.segments
    assert words and segments
    assert normalise(" ".join(word.word for word in words)) == normalise(result.text)
    assert all(0.0 <= word.start <= word.end <= result.duration + TIME_EPSILON for word in words), words
    assert all(a.end <= b.start + TIME_EPSILON for a, b in itertools.pairwise(words)), words
    at = 0
    for segment in segments:  # the words of each segment, in order
        count = len(segment.text.split())
        own = words[at : at + count]
        at += count
        assert " ".join(word.word for word in own) == segment.text.strip()
        inside = (segment.start - TIME_EPSILON, segment.end + TIME_EPSILON)
        assert all(inside[0] <= word.start and word.end <= inside[1] for word in own), (segment, own)
    assert at == len(words)


def test_prompt_spells_the_hotword(client: openai.OpenAI, measured: Measure) -> None:
    plain = transcribe(client, asset(HOTWORDS)).text
    prompted = transcribe(client, asset(HOTWORDS), prompt=PROMPT).text
    measured("hotwords.mp3 without a prompt", plain)
    measured(f"hotwords.mp3 with prompt {PROMPT!r}", prompted)
    assert "ComfyUI" in prompted, prompted
    assert "ComfyUI" not in plain, plain  # measured: the prompt is what changes it
