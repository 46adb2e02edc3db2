"""Flags and environment variables as documented, and how ``--model`` values are resolved (no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.settings_doc import (
    check_bad_values,
    check_to_env_round_trip,
    check_variables_and_flags,
    documented_rows,
    generated_rows,
)
from voicestack_predictors.asr.__main__ import build_parser
from voicestack_predictors.asr.settings import AsrServing, EngineSettings

MODELS = (EngineSettings, AsrServing)


def test_the_docs_table_is_the_settings_models() -> None:
    """docs/asr-predictor.md lists exactly the fields, their variables, defaults and meanings."""
    assert documented_rows("asr-predictor.md") == generated_rows(*MODELS), (
        "regenerate: python -c 'from tests.support.settings_doc import rewrite_table; from tests.asr"
        '.test_settings import MODELS; rewrite_table("asr-predictor.md", *MODELS)\''
    )


def test_every_variable_sets_its_field_and_every_flag_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    check_variables_and_flags(build_parser, MODELS, monkeypatch)


def test_to_env_reproduces_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the operator writes into a pod's env is read back as the same settings."""
    check_to_env_round_trip(MODELS, monkeypatch)


def test_a_bad_value_names_the_flag_and_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    check_bad_values(build_parser, AsrServing, "ASR", monkeypatch)


# --- --model: size name, Hugging Face repo id, local directory, local file --------------------------------


def test_faster_whisper_model_forms(tmp_path: Path, micro_ct2: Path) -> None:
    from voicestack_predictors.asr.engines.faster_whisper_engine import check_model_source, hub_repo

    assert check_model_source("tiny") == "tiny"  # a size: faster-whisper's own Hub repo
    assert hub_repo("tiny") == "Systran/faster-whisper-tiny" and hub_repo("large-v3").startswith("Systran/")
    assert check_model_source("Systran/faster-whisper-small") == "Systran/faster-whisper-small"
    assert hub_repo("org/name") == "org/name"
    assert check_model_source(str(micro_ct2)) == str(micro_ct2)  # a CTranslate2 directory
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="not a CTranslate2 Whisper model directory"):
        check_model_source(str(empty))
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"x")
    with pytest.raises(ValueError, match="--engine whisper"):
        check_model_source(str(checkpoint))
    with pytest.raises(ValueError, match="model directory not found"):
        check_model_source(str(tmp_path / "missing"))  # a path, not a repo id: never sent to the Hub


def test_openai_whisper_model_forms(tmp_path: Path, micro_pt: Path) -> None:
    from voicestack_predictors.asr.engines.openai_whisper_engine import check_model_source

    assert check_model_source("tiny") == "tiny"
    assert check_model_source("turbo") == "turbo"
    assert check_model_source(str(micro_pt)) == str(micro_pt)  # a .pt file
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "small.pt").symlink_to(micro_pt)
    assert check_model_source(str(folder)) == str(folder / "small.pt")  # a folder with exactly one .pt
    (folder / "other.pt").symlink_to(micro_pt)
    with pytest.raises(ValueError, match=r"exactly one openai-whisper \.pt checkpoint, found 2"):
        check_model_source(str(folder))
    with pytest.raises(ValueError, match="Hugging Face repos are for --engine faster-whisper"):
        check_model_source("Systran/faster-whisper-tiny")


def test_openai_whisper_local_files_only_needs_the_cached_checkpoint(tmp_path: Path) -> None:
    from voicestack_predictors.asr.engines.openai_whisper_engine import check_model_source

    with pytest.raises(ValueError, match=r"'tiny' is not in the cache .* --local_files_only forbids"):
        check_model_source("tiny", str(tmp_path), local_files_only=True)
    (tmp_path / "tiny.pt").write_bytes(b"cached")  # whisper's own file name for the size
    assert check_model_source("tiny", str(tmp_path), local_files_only=True) == "tiny"
    assert check_model_source("base", str(tmp_path)) == "base"  # downloads allowed: left to whisper


@pytest.mark.parametrize(
    ("engine", "model"),
    [
        ("faster-whisper", "tiny"),
        ("faster-whisper", "Systran/faster-whisper-base.en"),
        ("whisper", "tiny"),
    ],
)
@pytest.mark.parametrize("local_files_only", [True, False])
def test_an_uncached_hub_model_is_a_clear_load_error(
    tmp_path: Path, engine: str, model: str, local_files_only: bool
) -> None:
    """Nothing can be downloaded here: with or without --local_files_only the error names model and cache."""
    from voicestack_predictors.asr.engines import create_engine

    settings = EngineSettings(
        engine=engine,
        model=model,
        device="cpu",
        download_root=str(tmp_path),
        local_files_only=local_files_only,
    )
    with pytest.raises((RuntimeError, ValueError)) as raised:
        create_engine(settings)
    message = str(raised.value)
    assert f"model {model!r}" in message and str(tmp_path) in message, message
    if local_files_only:
        assert "--local_files_only forbids downloading it" in message
    else:
        assert "could not be downloaded" in message
    if engine == "faster-whisper" and model == "tiny":
        assert "Systran/faster-whisper-tiny" in message


def test_compute_type_defaults_to_int8_on_cpu(micro_ct2: Path, micro_pt: Path) -> None:
    from voicestack_predictors.asr.engines import create_engine

    faster = create_engine(EngineSettings(model=str(micro_ct2), device="cpu"))
    assert (faster.device, faster.compute_type) == ("cpu", "int8")  # type: ignore[attr-defined]
    reference = create_engine(EngineSettings(engine="whisper", model=str(micro_pt), device="cpu"))
    assert reference.fp16 is False  # type: ignore[attr-defined]
