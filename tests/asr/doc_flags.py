"""Check a predictor's documented flag/environment table against the argument parser it really builds.

Each documented row names flags and their environment variables; the check sets each variable and expects
the parsed flag to change, and expects every engine/serving flag the parser has to be documented.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.assets import PROJECT_ROOT

_CODE = re.compile(r"`([^`]+)`")


def documented_flags(doc: str, env_prefix: str) -> dict[str, str]:
    """``{"--flag": "ENV"}`` from the rows of the "| flag | env | …" table in ``docs/<doc>``."""
    text = (PROJECT_ROOT / "docs" / doc).read_text(encoding="utf-8")
    rows: dict[str, str] = {}
    in_table = False
    for line in text.splitlines():
        if line.startswith("| flag | env |"):
            in_table = True
            continue
        if not in_table:
            continue
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if set(cells[0]) <= {"-", " "}:
            continue
        flags = [code.split("/")[0] for code in _CODE.findall(cells[0]) if code.startswith("--")]
        envs = [code for code in _CODE.findall(cells[1]) if not code.endswith("…")]
        if not envs:  # "`TTS_…`": each flag's variable is the prefix plus its name
            envs = [f"{env_prefix}_{flag[2:].upper()}" for flag in flags]
        assert len(flags) == len(envs), f"cannot pair flags and variables in: {line}"
        rows.update(zip(flags, envs, strict=True))
    assert rows, f"no flag table found in docs/{doc}"
    return rows


def _probe(action: argparse.Action, default: Any) -> tuple[str, Any]:
    """An environment value for ``action`` and the parsed value it must give, different from ``default``."""
    if action.nargs == 0:  # --x/--no-x
        return ("false", False) if default else ("true", True)
    if action.choices:
        choice = next(c for c in action.choices if c != default)
        return str(choice), choice
    if action.type is int:
        return "7", 7
    if action.type is float:
        return "7.5", 7.5
    return "probe-value", "probe-value"


def check_documented_flags(
    doc: str,
    env_prefix: str,
    build_parser: Callable[[], argparse.ArgumentParser],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = documented_flags(doc, env_prefix)
    for env in rows.values():
        monkeypatch.delenv(env, raising=False)
    parser = build_parser()
    by_option = {option: action for action in parser._actions for option in action.option_strings}
    ours = {"--model_name", "--http_host"} | {
        action.option_strings[0]
        for group in parser._action_groups
        if group.title in {"engine", "serving"}
        for action in group._group_actions
    }
    undocumented = sorted(ours - set(rows))
    assert not undocumented, f"flags missing from docs/{doc}: {undocumented}"
    defaults = parser.parse_args([])
    for flag, env in rows.items():
        assert flag in by_option, f"docs/{doc} documents {flag}, which the parser does not have"
        action = by_option[flag]
        default = getattr(defaults, action.dest)
        value, expected = _probe(action, default)
        with monkeypatch.context() as patch:
            patch.setenv(env, value)
            parsed = getattr(build_parser().parse_args([]), action.dest)
        assert parsed == expected, f"{env}={value} did not set {flag} (got {parsed!r}, default {default!r})"


__all__ = ["check_documented_flags", "documented_flags"]
