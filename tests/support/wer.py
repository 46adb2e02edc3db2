"""Word error rate on Whisper-normalised English text (the normaliser Whisper's own WER figures use).

``EnglishTextNormalizer`` lower-cases, drops punctuation and fillers, spells out British/American variants and
standardises numbers ("1,000" and "one thousand" both become "1000"), so WER counts wrong words, not style.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import jiwer
from whisper.normalizers import EnglishTextNormalizer


@cache
def _normaliser() -> EnglishTextNormalizer:
    return EnglishTextNormalizer()


def normalise(text: str) -> str:
    """Whisper's English normal form: lower case, no punctuation, one space between words."""
    return " ".join(_normaliser()(text).split())


def normalise_reference(text: str) -> str:
    """A human transcript's normal form. The normaliser drops bracketed text (Whisper's "(music)"
    annotations); in a human transcript it is spoken ("dated (which also was printed at Maintz …)"), so it
    stays."""
    return normalise(re.sub(r"[()\[\]]", " ", text))


def wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus-level WER: all edits over all reference words (not a mean of per-utterance rates)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    refs = [normalise_reference(text) for text in references]
    if not all(refs):
        raise ValueError("a reference is empty after normalising")
    return float(jiwer.wer(refs, [normalise(text) for text in hypotheses]))


def word_errors(reference: str, hypothesis: str) -> str:
    """jiwer's aligned view of one pair, for assertion messages."""
    output = jiwer.process_words(normalise_reference(reference), normalise(hypothesis))
    return str(jiwer.visualize_alignment(output, show_measures=False))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER of one utterance (speech synthesised from ``reference`` and transcribed back as ``hypothesis``)."""
    return wer([reference], [hypothesis])
