"""Flags and environment variables as documented in docs/tts-predictor.md, and model resolution."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.asr.doc_flags import check_documented_flags, documented_flags
from voicestack_predictors.tts.__main__ import build_parser
from voicestack_predictors.tts.settings import EngineSettings


def test_every_documented_variable_sets_its_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    check_documented_flags("tts-predictor.md", "TTS", build_parser, monkeypatch)


def test_the_issue_variables_are_documented() -> None:
    envs = set(documented_flags("tts-predictor.md", "TTS").values())
    assert {"TTS_MODEL", "TTS_DEVICE", "TTS_VOICE_DIR", "TTS_AUTO_LANG"} <= envs


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
