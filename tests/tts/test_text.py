"""Sentence segmentation and normalisation (``voicestack.text``): examples plus seeded property checks."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys

import pytest

from voicestack.text import (
    normalize_text,
    normalize_whitespace,
    sentences,
    split_sentences,
)

WORDS = [
    *("the quick brown fox jumps over a lazy dog while printing presses hum in old Haarlem naïve café",),
    "supercalifragilisticexpialidocious",
    "Donaudampfschifffahrtsgesellschaft",
    "straße",
]
WORDS = [w for phrase in WORDS for w in phrase.split(" ")]
PUNCT = [".", "!", "?", ",", ";", ":", "...", ""]


def random_text(rng: random.Random, overlong: bool) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(1, 80)):
        word = rng.choice(WORDS)
        if overlong and rng.random() < 0.05:
            word = "x" * rng.randint(200, 400)  # a "word" longer than any limit
        parts.append(word + rng.choice(PUNCT) * (rng.random() < 0.2))
    separators = [" ", "  ", "\n", "\t", " \n "]
    return "".join(p + rng.choice(separators) for p in parts)


def test_is_pure_python() -> None:
    code = (
        "import sys, voicestack.text; print(sorted(m for m in ('torch', 'numpy', 'TTS') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_sentences_examples() -> None:
    text = 'Hello there.  How are you?\nI am "fine." Dr. Smith paid 3.14 dollars! And then… ok'
    assert sentences(text) == [
        "Hello there.",
        "How are you?",
        'I am "fine."',
        "Dr. Smith paid 3.14 dollars!",
        "And then…",
        "ok",
    ]
    assert sentences("你好。我很好！谢谢") == ["你好。", "我很好！", "谢谢"]


def test_short_text_is_one_chunk() -> None:
    assert split_sentences("One. Two. Three.") == ["One. Two. Three."]
    assert split_sentences("   ") == []


def test_packs_near_target() -> None:
    sentence = "This sentence is exactly fifty characters long ok."
    assert len(sentence) == 50
    chunks = split_sentences(" ".join([sentence] * 10), target=180, limit=250)
    assert [len(c) for c in chunks] == [152, 152, 152, 50]


def test_long_sentence_cut_at_clauses_then_words() -> None:
    clause = "and then the quick brown fox jumped over the dog"
    sentence = ", ".join([clause] * 12) + "."
    chunks = split_sentences(sentence, target=180, limit=250)
    assert len(chunks) > 1
    assert all(len(c) <= 250 for c in chunks)
    assert all(c.endswith((",", ".")) for c in chunks)  # cut after clause punctuation


def test_normalize() -> None:
    assert normalize_whitespace(" a\n\tb\x00c  ") == "a b c"
    assert normalize_text("  hello\nworld ") == "hello world."
    assert normalize_text("Really?") == "Really?"
    assert normalize_text('He said "hi"') == 'He said "hi".'
    assert normalize_text("你好") == "你好。"
    assert normalize_text("") == ""


@pytest.mark.parametrize("seed", range(200))
def test_properties(seed: int) -> None:
    rng = random.Random(seed)
    text = random_text(rng, overlong=False)
    limit = rng.choice([71, 82, 150, 250])
    target = rng.choice([60, 120, 180])
    chunks = split_sentences(text, target=target, limit=limit)
    # Nothing lost or reordered, and every cut falls on a space (never inside a word): joining the chunks
    # with spaces gives the normalised text back.
    assert " ".join(chunks) == normalize_whitespace(text)
    assert all(chunks)
    assert all(len(c) <= limit for c in chunks)
    # Packed: two neighbours together would have exceeded the target.
    for left, right in itertools.pairwise(chunks):
        assert len(left) + 1 + len(right) > min(target, limit)


@pytest.mark.parametrize("seed", range(50))
def test_overlong_words_are_the_only_cut_inside(seed: int) -> None:
    rng = random.Random(seed)
    text = random_text(rng, overlong=True)
    chunks = split_sentences(text, limit=150)
    normalized = normalize_whitespace(text)
    assert all(0 < len(c) <= 150 for c in chunks)
    assert "".join(chunks).replace(" ", "") == normalized.replace(" ", "")
    for word in normalized.split(" "):
        if len(word) <= 150:
            assert any(word in c.split(" ") for c in chunks), word


@pytest.mark.parametrize("seed", range(30))
def test_cjk_properties(seed: int) -> None:
    rng = random.Random(seed)
    marks = ["", "", "。", "！", "，"]
    text = "".join(rng.choice("一二三四五六七八九十你好我很") + rng.choice(marks) for _ in range(300))
    chunks = split_sentences(text, target=180, limit=82)
    assert "".join(chunks) == text
    assert all(0 < len(c) <= 82 for c in chunks)
