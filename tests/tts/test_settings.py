"""Flags and environment variables as documented in docs/tts-predictor.md, and model resolution."""

from __future__ import annotations

import pytest

from predictors.tts.__main__ import build_parser
from tests.asr.doc_flags import check_documented_flags, documented_flags


def test_every_documented_variable_sets_its_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    check_documented_flags("tts-predictor.md", "TTS", build_parser, monkeypatch)


def test_the_issue_variables_are_documented() -> None:
    envs = set(documented_flags("tts-predictor.md", "TTS").values())
    assert {"TTS_MODEL", "TTS_DEVICE", "TTS_VOICE_DIR", "TTS_AUTO_LANG"} <= envs
