"""skaffold.yaml: parsed, and everything it names exists (artifacts' contexts and Dockerfiles, the chart)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

from tests.operator.test_crd import cel_violations
from tests.support.k8s_schema import crd_validator, errors
from voicestack_operator.spec import normalize
from voicestack_operator.status import is_xtts_v2

ROOT = Path(__file__).resolve().parents[2]
IMAGES = {"operator", "router", "asr", "tts"}


def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    return loaded


def artifacts(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(cfg["build"]["artifacts"])
    for profile in cfg.get("profiles", []):
        found += [p["value"] for p in profile.get("patches", []) if p["path"] == "/build/artifacts/-"]
    return found


def test_skaffold_schema_basics() -> None:
    cfg = config()
    assert re.fullmatch(r"skaffold/v\d+(beta\d+)?", cfg["apiVersion"])
    assert cfg["kind"] == "Config"
    assert {p["name"] for p in cfg["profiles"]} >= {"cpu", "gpu", "kind"}


def test_artifacts_exist() -> None:
    cfg = config()
    names = {a["image"].rsplit("/", 1)[1] for a in artifacts(cfg)}
    assert names == IMAGES | {"asr-cuda"}
    for artifact in artifacts(cfg):
        context = ROOT / artifact.get("context", ".")
        assert context.is_dir(), artifact
        dockerfile = context / artifact["docker"]["dockerfile"]
        assert dockerfile.is_file(), f"{artifact['image']}: {dockerfile} is missing"
        assert "ARG BASE_IMAGE" in dockerfile.read_text()


def test_every_image_goes_into_the_chart_values() -> None:
    cfg = config()
    (release,) = cfg["deploy"]["helm"]["releases"]
    templates = dict(release["setValueTemplates"])
    for profile in cfg["profiles"]:
        for patch in profile.get("patches", []):
            prefix = "/deploy/helm/releases/0/setValueTemplates/"
            if patch["path"].startswith(prefix):
                templates[patch["path"][len(prefix) :]] = patch["value"]
    for artifact in artifacts(cfg):
        key = re.sub(r"[^A-Za-z0-9]", "_", artifact["image"])
        assert any(f"IMAGE_REPO_{key}}}" in value for value in templates.values()), artifact["image"]
        assert any(f"IMAGE_TAG_{key}}}" in value for value in templates.values()), artifact["image"]
    # Every value path skaffold sets exists in the chart's values.
    with helm.Chart.load(ROOT / release["chartPath"]) as chart:
        defaults = chart.values
    for path in templates:
        node: Any = defaults
        for part in path.split("."):
            assert isinstance(node, dict) and part in node, f"{path} is not a chart value"
            node = node[part]


def test_chart_path_and_port_forward() -> None:
    cfg = config()
    (release,) = cfg["deploy"]["helm"]["releases"]
    chart = ROOT / release["chartPath"]
    assert (chart / "Chart.yaml").is_file()
    stack = release["setValues"]["voiceStack.name"]
    (forward,) = cfg["portForward"]
    assert forward["resourceType"] == "service"
    assert forward["resourceName"] == f"{stack}-router"
    assert forward["namespace"] == release["namespace"]
    assert forward["port"] == 80


def test_profile_values_render_a_valid_voicestack() -> None:
    cfg = config()
    (release,) = cfg["deploy"]["helm"]["releases"]
    value_sets = [release["setValues"]]
    for profile in cfg["profiles"]:
        value_sets += [p["value"] for p in profile.get("patches", []) if p["path"].endswith("/setValues")]
    validator = crd_validator(ROOT / "crds" / "voicestack.io_voicestacks.yaml")
    with helm.Chart.load(ROOT / release["chartPath"]) as chart:
        for set_values in value_sets:
            values: dict[str, Any] = {}
            for path, value in set_values.items():
                merge(values, helm.parse_set_string(f"{path}={value}"))
            chart.validate_schema(chart.merge_values(values))
            rendered = chart.render(values, name="voice-stack", namespace=release["namespace"])
            (stack,) = [
                doc
                for path, text in rendered.items()
                if not path.endswith("NOTES.txt")
                for doc in yaml.safe_load_all(text)
                if isinstance(doc, dict) and doc.get("kind") == "VoiceStack"
            ]
            assert not errors(validator, stack), set_values
            assert cel_violations(stack["spec"]) == [], set_values  # the CRD's CEL rules accept it too
            spec = normalize(stack["spec"])
            if spec.tts.enabled and is_xtts_v2(spec.tts.model or ""):
                # Else the TTS predictor refuses to download XTTS-v2 and crash-loops: never Ready.
                assert spec.tts.acceptModelLicense is True, f"{set_values}: XTTS-v2 licence not accepted"


def test_licence_acceptance_is_explained_where_it_is_set() -> None:
    lines = (ROOT / "skaffold.yaml").read_text().splitlines()
    found = [i for i, line in enumerate(lines) if "acceptModelLicense: true" in line]
    assert found, "skaffold.yaml accepts no model licence"
    for index in found:
        above = " ".join(
            line.strip() for line in lines[max(index - 8, 0) : index] if line.strip().startswith("#")
        )
        assert "Coqui Public Model License" in above and "non-commercial" in above, lines[index]


def merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value
