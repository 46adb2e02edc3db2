"""tests/e2e/kind-e2e.sh: well-formed, never collected by pytest, and documented as not run in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "e2e" / "kind-e2e.sh"


def test_pytest_collects_nothing_from_the_e2e_folder() -> None:
    found = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/e2e"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert found.returncode == 5, f"pytest collected something from tests/e2e:\n{found.stdout}{found.stderr}"


def test_script_is_executable_bash_doing_every_step() -> None:
    assert os.access(SCRIPT, os.X_OK)
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    text = SCRIPT.read_text()
    for step in (
        "kind create cluster",
        "deploymentMode=Standard",  # KServe in Standard mode
        'helm upgrade --install "$release" charts/voice-stack',
        "--for=condition=Ready",
        "port-forward",
        "tests/e2e/openai_smoke.py",
    ):
        assert step in text, step
    assert "from openai import OpenAI" in (ROOT / "tests" / "e2e" / "openai_smoke.py").read_text()


def test_readme_says_ci_does_not_run_it() -> None:
    readme = (ROOT / "README.md").read_text()
    line = next(line for line in readme.splitlines() if "tests/e2e/kind-e2e.sh" in line)
    assert "CI does not run it" in line, line
