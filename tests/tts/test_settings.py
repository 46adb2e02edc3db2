"""Flags and environment variables as documented in docs/tts-predictor.md, and model resolution."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.support.settings_doc import (
    check_bad_values,
    check_to_env_round_trip,
    check_variables_and_flags,
    documented_rows,
    generated_rows,
)
from voicestack_predictors.tts.__main__ import build_parser
from voicestack_predictors.tts.settings import EngineSettings, TtsServing

MODELS = (EngineSettings, TtsServing)


def test_the_docs_table_is_the_settings_models() -> None:
    """docs/tts-predictor.md lists exactly the fields, their variables, defaults and meanings."""
    assert documented_rows("tts-predictor.md") == generated_rows(*MODELS), (
        "regenerate: python -c 'from tests.support.settings_doc import rewrite_table; from tests.tts"
        '.test_settings import MODELS; rewrite_table("tts-predictor.md", *MODELS)\''
    )


def test_every_variable_sets_its_field_and_every_flag_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    check_variables_and_flags(build_parser, MODELS, monkeypatch)


def test_to_env_reproduces_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the operator writes into a pod's env is read back as the same settings."""
    check_to_env_round_trip(MODELS, monkeypatch)


def test_a_bad_value_names_the_flag_and_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    check_bad_values(build_parser, TtsServing, "TTS", monkeypatch)


# --- --model: a local directory or checkpoint, or a coqui-tts model name (never downloaded here) ----------


def test_local_model_forms(tmp_path: Path) -> None:
    from voicestack_predictors.tts.engines import _local_model

    folder = tmp_path / "xtts"
    folder.mkdir()
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        _local_model(folder)
    (folder / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"no checkpoint \(\*\.pth\)"):
        _local_model(folder)
    (folder / "other.pth").write_bytes(b"x")
    assert _local_model(folder) == (folder / "other.pth", folder / "config.json")
    (folder / "model.pth").write_bytes(b"x")
    assert _local_model(folder) == (folder / "model.pth", folder / "config.json")  # the usual name first
    assert _local_model(folder / "other.pth") == (folder / "other.pth", folder / "config.json")  # a file


def test_a_missing_local_path_is_not_sent_to_the_downloader(monkeypatch: pytest.MonkeyPatch) -> None:
    from voicestack_predictors.tts import engines

    def never(name: str) -> None:
        raise AssertionError(f"{name} was sent to the downloader")

    monkeypatch.setattr(engines, "_download", never)
    for model in ("/models/xtts-v2", "./xtts", "xtts_v2", "tts_models/en/vits"):
        with pytest.raises(FileNotFoundError, match=r"is neither a local model .* nor a coqui-tts"):
            engines.create_engine(EngineSettings(model=model, device="cpu"))


def test_unknown_coqui_names_are_refused_before_downloading(monkeypatch: pytest.MonkeyPatch) -> None:
    from TTS.utils.manage import ModelManager

    from voicestack_predictors.tts import engines

    def no_download(self: ModelManager, name: str) -> None:
        raise AssertionError(f"{name} was downloaded")

    monkeypatch.setattr(ModelManager, "download_model", no_download)
    with pytest.raises(ValueError, match="unknown coqui-tts model 'tts_models/en/ljspeech/vitz'"):
        engines._download("tts_models/en/ljspeech/vitz")


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            requests.ConnectionError("Failed to resolve 'github.com'"),
            "could not be downloaded: ConnectionError",
        ),
        (EOFError(), "set COQUI_TOS_AGREED=1 to accept it"),
    ],
)
def test_download_failures_are_clear_load_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, error: BaseException, message: str
) -> None:
    """Known names go to coqui's ModelManager; offline, or the licence not accepted, is one clear line."""
    from TTS.utils.manage import ModelManager

    from voicestack_predictors.tts import engines

    asked: list[str] = []

    def download(self: ModelManager, name: str) -> None:
        asked.append(name)
        raise error

    monkeypatch.setenv("TTS_HOME", str(tmp_path))
    monkeypatch.setattr(ModelManager, "download_model", download)
    name = "tts_models/multilingual/multi-dataset/xtts_v2"
    with pytest.raises(RuntimeError, match=message) as raised:
        engines.create_engine(EngineSettings(model=name, device="cpu"))
    assert asked == [name] and name in str(raised.value)
