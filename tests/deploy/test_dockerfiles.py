"""The Dockerfiles, read statically. CI builds only the router and operator images (test_images.py), so the
structure of every image is checked here: multi-stage, non-root, the base image as a build argument, only its
extra and its code, and the command and port the operator and the chart run it with.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from voicestack_operator.manifests import isvc, router

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Image:
    extra: str  # the one voicestack extra installed
    code: frozenset[str]  # the source copied besides voicestack/: its component, predictors only their engine
    command: list[str]  # the entrypoint, as the operator's containers run it
    port: int


PREDICTOR_PORT = isvc.PORT
ASR_CODE = frozenset(
    {
        "predictors/voicestack_predictors/__init__.py",
        "predictors/voicestack_predictors/common",
        "predictors/voicestack_predictors/asr",
    }
)
TTS_CODE = frozenset(
    {
        "predictors/voicestack_predictors/__init__.py",
        "predictors/voicestack_predictors/common",
        "predictors/voicestack_predictors/tts",
    }
)
IMAGES = {
    "asr": Image("asr", ASR_CODE, ["voicestack", "asr"], PREDICTOR_PORT),
    "asr-cuda": Image("asr", ASR_CODE, ["voicestack", "asr"], PREDICTOR_PORT),
    "tts": Image("tts", TTS_CODE, ["voicestack", "tts"], PREDICTOR_PORT),
    "router": Image("router", frozenset({"router"}), ["voicestack", "router"], router.PORT),
    "operator": Image(
        "operator", frozenset({"operator"}), ["voicestack", "operator"], 8080
    ),  # the chart's healthPort
}


def instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    text = (ROOT / "docker" / f"{name}.Dockerfile").read_text()
    kept = (line for line in text.splitlines() if not line.lstrip().startswith("#"))
    logical = re.sub(r"\\\n", " ", "\n".join(kept))
    found = []
    for line in logical.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def stages(name: str) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions(name):
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def test_every_image_has_a_dockerfile_and_no_other() -> None:
    assert {p.name.removesuffix(".Dockerfile") for p in (ROOT / "docker").glob("*.Dockerfile")} == set(IMAGES)


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_multi_stage_on_the_base_image_argument(name: str) -> None:
    steps = instructions(name)
    first_from = next(i for i, (word, _) in enumerate(steps) if word == "FROM")
    assert any(word == "ARG" and rest.startswith("BASE_IMAGE=") for word, rest in steps[:first_from])
    build, final = stages(name)
    assert build[0] == ("FROM", "${BASE_IMAGE} AS build")
    assert final[0] == ("FROM", "${BASE_IMAGE}"), "the runtime stage is on the same base argument"
    copies = [rest for word, rest in final if word == "COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv"], "the runtime stage gets only the built venv"
    assert not any(word == "RUN" and "pip install" in rest for word, rest in final), "no build in the runtime"


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_runs_as_a_numeric_non_root_user(name: str) -> None:
    final = stages(name)[-1]
    users = [rest for word, rest in final if word == "USER"]
    assert users == ["10001:10001"], users  # numeric: the kubelet can verify runAsNonRoot
    assert [word for word, _ in final].index("USER") > [word for word, _ in final].index("COPY")


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_installs_only_its_extra_and_copies_only_its_code(name: str) -> None:
    image = IMAGES[name]
    build = stages(name)[0]
    extras = re.findall(
        r"requirements\.py ([\w ,-]+?) >", " ".join(rest for word, rest in build if word == "RUN")
    )
    assert extras == [image.extra], extras
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert image.extra in optional
    sources = {
        source
        for word, rest in build
        if word == "COPY" and not rest.startswith("--from")
        for source in rest.split()[:-1]
    }
    metadata = {"pyproject.toml", "README.md", "docker/requirements.py"}
    code = sources - metadata - {"requirements/constraints.txt", "requirements/torch.txt"}
    assert code == {"voicestack", *image.code}, code
    assert any(word == "RUN" and "pip install --no-deps ." in rest for word, rest in build)


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_entrypoint_and_port_are_what_the_deployments_use(name: str) -> None:
    image = IMAGES[name]
    final = dict((word, rest) for word, rest in stages(name)[-1] if word in {"ENTRYPOINT", "EXPOSE"})
    assert json.loads(final["ENTRYPOINT"]) == image.command
    assert int(final["EXPOSE"]) == image.port


def test_dockerignore_lets_in_only_what_the_images_copy() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "deny everything, then allow what the images build from"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied: set[str] = set()
    for name in IMAGES:
        for word, rest in stages(name)[0]:
            if word == "COPY" and not rest.startswith("--from"):
                copied |= {source.split("/")[0] for source in rest.split()[:-1]}
    assert copied <= allowed, copied - allowed
    assert copied == allowed, "nothing let in that no image copies"
