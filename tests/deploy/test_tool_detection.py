"""The install steps of the README's commands detect the programs they will run, not a sibling of them.

A machine image once shipped the Docker client without the engine: ``build-images.sh`` tested for
``docker``, never installed ``docker.io``, and every image test failed on a fresh machine. These tests run the
real scripts with ``VOICESTACK_APT_DRY_RUN=1`` (they print what they would install and stop) on a PATH that
holds exactly the programs a test chooses, so nothing is uninstalled and what this machine has cannot leak in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the scripts run before their apt step (coreutils and friends), linked into the test's PATH.
BASE_TOOLS = ("bash", "dirname", "sed", "mkdir", "id", "cat", "grep", "cut", "sha256sum", "pwd", "true")


def program_dir(tmp_path: Path, stubs: dict[str, str]) -> Path:
    """A directory with the base tools linked in and ``stubs`` (name → shell body) as executable scripts."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in BASE_TOOLS:
        found = shutil.which(tool)
        assert found, f"{tool} is needed to run the scripts"
        (bin_dir / tool).symlink_to(found)
    for name, body in stubs.items():
        stub = bin_dir / name
        stub.write_text(f"#!/bin/sh\n{body}\n")
        stub.chmod(0o755)
    return bin_dir


def apt_plan(script: str, bin_dir: Path, **env: str) -> list[str]:
    """The packages ``script`` would install with only ``bin_dir`` on PATH."""
    result = subprocess.run(
        [str(bin_dir / "bash"), str(ROOT / "scripts" / script)],
        env={"PATH": str(bin_dir), "VOICESTACK_SBIN_DIRS": "", "VOICESTACK_APT_DRY_RUN": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("apt-get install:")]
    assert len(lines) == 1, f"{script} printed no install plan:\n{result.stdout}\n{result.stderr}"
    return lines[0].removeprefix("apt-get install:").split()


def test_docker_client_without_engine_installs_docker_io(tmp_path: Path) -> None:
    bin_dir = program_dir(tmp_path, {"docker": "echo 'Docker version 28.2.2'", "debootstrap": "true"})
    assert apt_plan("build-images.sh", bin_dir) == ["docker.io"]


def test_engine_and_client_present_installs_nothing(tmp_path: Path) -> None:
    bin_dir = program_dir(tmp_path, {"docker": "true", "dockerd": "true", "debootstrap": "true"})
    assert apt_plan("build-images.sh", bin_dir) == []


def test_nothing_present_installs_engine_and_debootstrap_once(tmp_path: Path) -> None:
    assert apt_plan("build-images.sh", program_dir(tmp_path, {})) == ["docker.io", "debootstrap"]


def test_debootstrap_not_needed_with_a_given_base_image(tmp_path: Path) -> None:
    bin_dir = program_dir(tmp_path, {"docker": "true", "dockerd": "true"})
    assert apt_plan("build-images.sh", bin_dir, BASE_IMAGE="python:3.11-slim") == []


def test_dockerd_in_sbin_counts_as_installed(tmp_path: Path) -> None:
    """Debian's docker.io puts dockerd in /usr/sbin, which a non-root PATH may lack."""
    bin_dir = program_dir(tmp_path, {"docker": "true", "debootstrap": "true"})
    sbin = tmp_path / "sbin"
    sbin.mkdir()
    (sbin / "dockerd").write_text("#!/bin/sh\n")
    (sbin / "dockerd").chmod(0o755)
    result = subprocess.run(
        [str(bin_dir / "bash"), str(ROOT / "scripts" / "build-images.sh")],
        env={"PATH": str(bin_dir), "VOICESTACK_SBIN_DIRS": str(sbin), "VOICESTACK_APT_DRY_RUN": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.strip() == "apt-get install:", result.stdout + result.stderr


@pytest.mark.parametrize(
    ("present", "expected"),
    [({}, ["ffmpeg"]), ({"ffmpeg": "true"}, ["ffmpeg"]), ({"ffmpeg": "true", "ffprobe": "true"}, [])],
)
def test_install_wants_the_ffmpeg_programs(tmp_path: Path, present: dict, expected: list[str]) -> None:
    bin_dir = program_dir(tmp_path, present)
    assert apt_plan("install.sh", bin_dir, PYTHON=sys.executable) == expected


def test_python_without_ensurepip_gets_python3_venv(tmp_path: Path) -> None:
    """Debian's python3 has the venv module but not ensurepip until python3-venv is installed."""
    bin_dir = program_dir(tmp_path, {"ffmpeg": "true", "ffprobe": "true", "python3": "exit 1"})
    assert apt_plan("install.sh", bin_dir, PYTHON=str(bin_dir / "python3")) == ["python3-venv"]


@pytest.mark.parametrize(("present", "expected"), [({}, ["openssl"]), ({"openssl": "true"}, [])])
def test_control_plane_build_wants_openssl(tmp_path: Path, present: dict, expected: list[str]) -> None:
    """tests/cluster makes the test cluster's certificates with the openssl program."""
    assert apt_plan("build-control-plane.sh", program_dir(tmp_path, present)) == expected


def test_scripts_reaching_apt_use_the_shared_detection() -> None:
    """No script the README's commands reach tests for a program with a bare ``command -v`` of its own."""
    for script in ("install.sh", "build-images.sh", "test.sh", "up.sh", "build-control-plane.sh"):
        text = (ROOT / "scripts" / script).read_text()
        assert "command -v docker " not in text and "dpkg -s " not in text, script
        if "apt-get install" in text:
            pytest.fail(f"{script} calls apt-get itself instead of scripts/lib/tools.sh")
    assert os.access(ROOT / "scripts" / "lib" / "tools.sh", os.R_OK)
