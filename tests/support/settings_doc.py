"""The docs' "| flag | env | default | meaning |" tables must be what the settings models generate."""

from __future__ import annotations

import argparse
import typing
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.assets import PROJECT_ROOT
from voicestack_predictors.common.settings import PredictorSettings, SettingsError

HEADER = "| flag | env | default | meaning |"


def documented_rows(doc: str) -> list[str]:
    """The rows of the table in ``docs/<doc>`` (header and separator left out)."""
    lines = (PROJECT_ROOT / "docs" / doc).read_text(encoding="utf-8").splitlines()
    start = lines.index(HEADER) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def generated_rows(*models: type[PredictorSettings]) -> list[str]:
    return [row for model in models for row in model.doc_rows()]


def probe(model: type[PredictorSettings], name: str) -> tuple[str, object]:
    """A variable's text for field ``name`` and the value it must give, different from the default."""
    info = model.model_fields[name]
    default = info.get_default(call_default_factory=True)
    annotation = str(info.annotation)
    if "Literal" in annotation:
        choice = next(c for c in typing.get_args(info.annotation) if c != default)
        return str(choice), choice
    if "bool" in annotation:
        return ("false", False) if default else ("true", True)
    if "dict" in annotation:
        return "alloy=probe", {"alloy": "probe"}
    if "Path" in annotation:
        return "/probe", Path("/probe")
    if "int" in annotation:  # default + 1 stays inside every field's bounds
        value = (default or 6) + 1
        return str(value), value
    if "float" in annotation:
        return str(default + 0.5), default + 0.5
    return "probe-value", "probe-value"


def check_variables_and_flags(
    build_parser: Callable[[], argparse.ArgumentParser],
    models: tuple[type[PredictorSettings], ...],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each field: its variable changes the parsed settings, and its flag wins over the variable."""
    for model in models:
        for name in model.model_fields:
            monkeypatch.delenv(model.env_name(name), raising=False)
    for model in models:
        for name in model.model_fields:
            env = model.env_name(name)
            text, expected = probe(model, name)
            with monkeypatch.context() as patch:
                patch.setenv(env, text)
                parsed = model.from_args(build_parser().parse_args([]))
                assert getattr(parsed, name) == expected, f"{env}={text} did not set {name}"
                if name == "model_name" or isinstance(expected, bool | dict):
                    continue
                flag_text = _flag_text(model, name, text)
                flagged = model.from_args(build_parser().parse_args([f"--{name}", flag_text]))
                assert getattr(flagged, name) != expected, f"--{name} did not win over {env}"


def _flag_text(model: type[PredictorSettings], name: str, env_text: str) -> str:
    """A flag value other than the variable's probe (a Literal's default, other numbers, other text)."""
    info = model.model_fields[name]
    if "Literal" in str(info.annotation):
        return str(info.default)
    if "int" in str(info.annotation) or "float" in str(info.annotation):
        return str(float(env_text) + 1) if "." in env_text else str(int(env_text) + 1)
    return "/flag" if env_text == "/probe" else "flag-value"


def rewrite_table(doc: str, *models: type[PredictorSettings]) -> None:
    """Replace the table in ``docs/<doc>`` with the generated rows (after changing a field)."""
    path = PROJECT_ROOT / "docs" / doc
    old = documented_rows(doc)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\n".join(old), "\n".join(generated_rows(*models))), encoding="utf-8")


def check_to_env_round_trip(
    models: tuple[type[PredictorSettings], ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``to_env()`` of settings with every field changed names every variable and loads back equal."""
    for model in models:
        for name in model.model_fields:
            monkeypatch.delenv(model.env_name(name), raising=False)
    for model in models:
        settings = model(**{name: probe(model, name)[1] for name in model.model_fields})
        env = settings.to_env()
        assert set(env) == {model.env_name(name) for name in model.model_fields}
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            assert model.load() == settings


def check_bad_values(
    build_parser: Callable[[], argparse.ArgumentParser],
    serving: type[PredictorSettings],
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bad variable stops building the parser, a bad flag stops loading; the messages name both."""
    monkeypatch.setenv(f"{prefix}_MAX_QUEUE", "many")
    with pytest.raises(SettingsError, match=rf"--max_queue / {prefix}_MAX_QUEUE: .*integer.*'many'"):
        build_parser()
    monkeypatch.delenv(f"{prefix}_MAX_QUEUE")
    with pytest.raises(SettingsError, match=rf"--max_concurrency / {prefix}_MAX_CONCURRENCY: .*greater than"):
        serving.from_args(build_parser().parse_args(["--max_concurrency", "0"]))
