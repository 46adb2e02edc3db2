"""English accuracy through the OpenAI SDK: exact words on JFK in three containers, WER on the rest."""

from __future__ import annotations

import openai
import pytest

from tests.accuracy.clients import transcribe
from tests.accuracy.conftest import Clip, Measure, reference
from tests.support.assets import asset
from tests.support.wer import normalise, normalise_reference, wer, word_errors

OSR_MAX_WER = 0.05  # measured 0.0135 (1 error in 74 words: "she called" → "he called")
LJSPEECH_MAX_WER = 0.08  # measured 0.0494 over the 32 clips (corpus-level: 28 errors in 567 words)


@pytest.mark.parametrize("name", ["jfk.flac", "jfk.wav", "jfk.mp3"])
def test_jfk_exact_words(client: openai.OpenAI, name: str) -> None:
    """44.1 kHz stereo FLAC, 16 kHz WAV and MP3 all give JFK's words exactly (case and punctuation aside)."""
    path = asset(f"audio/en/{name}")
    text = transcribe(client, path).text
    assert normalise(text) == normalise_reference(reference(path)), word_errors(reference(path), text)


def test_8khz_telephone_audio(client: openai.OpenAI, measured: Measure) -> None:
    """8 kHz audio is resampled to 16 kHz before Whisper sees it: ten Harvard sentences."""
    path = asset("audio/en/OSR_us_000_0034_8k.wav")
    text = transcribe(client, path).text
    rate = wer([reference(path)], [text])
    measured("OSR_us_000_0034_8k WER", round(rate, 4))
    assert rate <= OSR_MAX_WER, word_errors(reference(path), text)


def test_ljspeech_corpus_wer(client: openai.OpenAI, ljspeech: list[Clip], measured: Measure) -> None:
    texts = [transcribe(client, clip.path).text for clip in ljspeech]
    references = [clip.reference for clip in ljspeech]
    errors = "\n".join(word_errors(ref, hyp) for ref, hyp in zip(references, texts, strict=True))
    rate = wer(references, texts)
    measured("LJSpeech 32 clips corpus WER", round(rate, 4))
    assert rate <= LJSPEECH_MAX_WER, errors
