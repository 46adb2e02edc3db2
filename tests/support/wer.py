"""Word error rate for checking synthesised speech by transcribing it back (no extra dependency).

Both texts are normalised the same way (lower case, punctuation dropped, hyphens split, digits kept), then
WER = (substitutions + deletions + insertions) / reference words, from the word-level edit distance.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-case words without punctuation (``Don't`` stays one word, ``well-known`` becomes two)."""
    return [word.strip("'") for word in _WORD.findall(text.lower().replace("-", " ")) if word.strip("'")]


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        raise ValueError("the reference has no words")
    previous = list(range(len(hyp) + 1))  # distance from ref[:0] to hyp[:j]
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(
                min(
                    previous[j] + 1,  # deletion
                    current[j - 1] + 1,  # insertion
                    previous[j - 1] + (ref_word != hyp_word),  # substitution or match
                )
            )
        previous = current
    return previous[-1] / len(ref)
