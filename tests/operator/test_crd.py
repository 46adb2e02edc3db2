"""The VoiceStack CRD (generated, structural, documented), the examples, and the operator's spec rules."""

from __future__ import annotations

import argparse
import base64
import re
from pathlib import Path
from typing import Any

import pytest

from tests.operator.specs import (
    INVALID,
    REJECTED_BY,
    ROOT,
    SCHEMA_REJECTS,
    examples,
    full_spec,
    knative_spec,
    load_example,
    stack,
)
from tests.support.assets import k8s_root
from tests.support.k8s_schema import crd_validator, errors, load_crd, structural_problems, validate_core
from voicestack_operator import crd
from voicestack_operator.children import desired_children
from voicestack_operator.images import Images
from voicestack_operator.spec import InvalidSpec, normalize, with_defaults

CRD_FILE = ROOT / "crds" / "voicestack.io_voicestacks.yaml"
CHART_COPY = ROOT / "charts" / "voice-stack" / "crds" / "voicestack.io_voicestacks.yaml"


def schema_errors(obj: dict[str, Any]) -> list[str]:
    return errors(crd_validator(CRD_FILE), obj)


def walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, node)]
    for name, sub in node.get("properties", {}).items():
        found += walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        found += walk(node["items"], f"{path}[]")
    return found


def schema_defaults(schema: dict[str, Any], value: Any) -> Any:
    """``value`` with the schema's ``default`` values applied the way the API server applies them."""
    if isinstance(value, dict):
        value = dict(value)
        for name, sub in schema.get("properties", {}).items():
            if name not in value and "default" in sub:
                value[name] = sub["default"]
            if name in value:
                value[name] = schema_defaults(sub, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        value = [schema_defaults(schema["items"], item) for item in value]
    return value


@pytest.mark.parametrize("label", ["empty", "full", "knative", *(p.name for p in examples())])
def test_the_models_default_as_the_crd_does(label: str) -> None:
    """The operator parses with the models; the API server defaults with the CRD generated from them."""
    specs = {"empty": {}, "full": full_spec(), "knative": knative_spec()}
    spec = specs[label] if label in specs else load_example(ROOT / "examples" / label)["spec"]
    assert with_defaults(spec) == schema_defaults(crd.spec_schema(), spec)


def test_the_models_refuse_what_the_schema_refuses() -> None:
    """A spec the API server would not admit (a kubectl-less client, an old CRD) is an InvalidSpec."""
    with pytest.raises(InvalidSpec, match=r"spec\.asr\.beamSize: .*less than or equal to 10"):
        normalize({"asr": {"beamSize": 11}})
    with pytest.raises(InvalidSpec, match=r"spec\.tts\.engine"):
        normalize({"tts": {"engine": "espeak"}})


def test_crd_file_is_generated_from_crd_py() -> None:
    assert CRD_FILE.read_text() == crd.render(), "run: python -m voicestack_operator.crd > " + str(CRD_FILE)


def test_chart_copy_is_identical() -> None:
    assert CHART_COPY.read_bytes() == CRD_FILE.read_bytes(), "run scripts/sync-chart-crds.sh"


def test_names_scope_subresource_and_columns() -> None:
    loaded = load_crd(CRD_FILE)
    spec = loaded["spec"]
    assert loaded["metadata"]["name"] == "voicestacks.voicestack.io"
    assert (spec["group"], spec["scope"], spec["names"]["kind"]) == (
        "voicestack.io",
        "Namespaced",
        "VoiceStack",
    )
    assert spec["names"]["shortNames"] == ["vs"]
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns == {
        "ASR": ".status.asr.model",  # the spec has no asr.model for the default (large-v3) or a storageUri
        "TTS": ".status.tts.model",
        "Ready": '.status.conditions[?(@.type=="Ready")].status',
        "URL": ".status.routerUrl",
        "Age": ".metadata.creationTimestamp",
    }
    assert not validate_core(loaded), "the CRD itself is a valid apiextensions.k8s.io/v1 object"


def test_every_field_is_typed_and_described() -> None:
    problems = list(structural_problems(crd.openapi_schema()))
    assert not problems, problems


def test_defaults_enums_and_bounds_are_declared() -> None:
    nodes = dict(walk(crd.spec_schema()))
    assert nodes[".deploymentMode"]["enum"] == ["Standard", "Knative"]
    assert nodes[".deploymentMode"]["default"] == "Standard"
    assert nodes[".asr.engine"]["enum"] == ["faster-whisper", "whisper"]
    assert (nodes[".tts.engine"]["enum"], nodes[".tts.engine"]["default"]) == (
        ["xtts", "coqui", "piper"],
        "xtts",
    )
    assert (nodes[".asr.beamSize"]["minimum"], nodes[".asr.beamSize"]["maximum"]) == (1, 10)
    assert nodes[".tts.voices[].data"]["maxLength"] == 1024 * 1024
    assert nodes[".router.serviceType"]["default"] == "ClusterIP"
    licence = nodes[".tts.acceptModelLicense"]
    assert (licence["type"], licence["default"]) == ("boolean", False)
    for words in ("Coqui Public Model License", "NON-COMMERCIAL", "COQUI_TOS_AGREED=1", "XTTS-v2"):
        assert words in licence["description"], words
    assert sum("default" in node for _, node in walk(crd.spec_schema())) > 30


def test_cel_rules_cover_the_cross_field_constraints() -> None:
    rules = {path: node["x-kubernetes-validations"] for path, node in walk(crd.spec_schema())
             if "x-kubernetes-validations" in node}  # fmt: skip
    assert set(rules) == {"", ".asr", ".tts", ".tts.voices[]", ".router.ingress"}
    assert all(rule["rule"] and rule["message"] for found in rules.values() for rule in found)


@pytest.mark.parametrize(
    ("secret_value", "keys"),
    [
        ("change-me", ["change-me"]),
        ("change-me\n", ["change-me"]),
        ("k1,k2", ["k1", "k2"]),
        ("k1, k2\n", ["k1", "k2"]),
    ],
)
def test_api_key_secret_format_is_what_the_router_parses(
    secret_value: str, keys: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Secret's value reaches the router as ROUTER_API_KEYS verbatim: the CRD describes what it parses."""
    from voicestack_router.settings import RouterSettings

    description = dict(walk(crd.spec_schema()))[".router.apiKeySecretRef"]["description"]
    assert "commas" in description
    monkeypatch.setenv("ROUTER_API_KEYS", secret_value)
    assert RouterSettings().api_keys == keys
    monkeypatch.setenv("ROUTER_API_KEYS", "k1\nk2\n")
    if RouterSettings().api_keys != [
        "k1",
        "k2",
    ]:  # one key per line is not split: the CRD must not promise it
        assert "NOT split" in description and "newline-separated" not in description, description


def test_batch_size_description_states_the_predictors_default() -> None:
    from voicestack_predictors.asr.settings import EngineSettings

    parser = argparse.ArgumentParser()
    EngineSettings.add_arguments(parser)
    help_text = next(a.help for a in parser._actions if a.dest == "batch_size") or ""
    described = dict(walk(crd.spec_schema()))[".asr.batchSize"]["description"]
    assert (
        "0 picks 8 (CPU and CUDA" in help_text and "the predictor's default, 8 (CPU and CUDA)" in described
    ), described


class _Node:
    """A CEL ``self``: fields of an object read as attributes, the rest as plain values."""

    def __init__(self, value: dict[str, Any]) -> None:
        self._value = value

    def __getattr__(self, name: str) -> Any:
        found = self._value[name]  # a missing field is an error in CEL too
        return _Node(found) if isinstance(found, dict) else found

    def __contains__(self, name: str) -> bool:
        return name in self._value


def cel_holds(rule: str, value: dict[str, Any]) -> bool:
    """Evaluate the CEL subset the CRD's rules use (fields, has(), size(), !, &&, ||, ==, !=, <=, >=,
    in [...])."""
    expression = re.sub(r"has\(self((?:\.\w+)*)\.(\w+)\)", r"('\2' in self\1)", rule)
    expression = expression.replace("&&", " and ").replace("||", " or ")
    expression = re.sub(r"!(?!=)", " not ", expression)
    assert re.fullmatch(r"[\w\s.'()\[\],<>=!-]+", expression), f"outside the evaluated subset: {rule}"
    return bool(eval(expression, {"__builtins__": {}}, {"self": _Node(value), "size": len}))


def cel_violations(spec: dict[str, Any]) -> list[str]:
    """The messages of the CEL rules a spec breaks, evaluated on the defaulted spec as the API server does."""
    full = with_defaults(spec)
    broken = []
    for path, node in walk(crd.spec_schema()):
        values = [full]
        for part in [p for p in path.split(".") if p]:
            name, many = part.removesuffix("[]"), part.endswith("[]")
            values = [v[name] for v in values if name in v]
            if many:
                values = [item for v in values for item in v]
        for rule in node.get("x-kubernetes-validations", []):
            broken += [rule["message"] for v in values if not cel_holds(rule["rule"], v)]
    return broken


@pytest.mark.parametrize("case", list(INVALID))
def test_the_cel_rules_reject_each_invalid_spec(case: str) -> None:
    assert cel_violations(INVALID[case]) == [REJECTED_BY[case]]


@pytest.mark.parametrize("label", ["empty", "full", "knative", *(p.name for p in examples())])
def test_the_cel_rules_accept_valid_specs(label: str) -> None:
    specs = {"empty": {}, "full": full_spec(), "knative": knative_spec()}
    spec = specs[label] if label in specs else load_example(ROOT / "examples" / label)["spec"]
    normalize(spec)
    assert cel_violations(spec) == []


@pytest.mark.parametrize("case", list(INVALID))
def test_the_operator_leaves_the_cel_rules_to_the_api_server(case: str) -> None:
    """Each cross-field rule lives once, in the CRD: the operator's own check does not repeat it."""
    assert not schema_errors(stack(spec=INVALID[case])), "structurally fine: only a CEL rule catches it"
    normalize(INVALID[case])  # no InvalidSpec: the API server refused it already (tests/cluster)


def test_operator_rejects_bad_inline_samples() -> None:
    """What no CRD rule can say: the sample must be base64 and fit a ConfigMap once decoded."""
    with pytest.raises(InvalidSpec, match="base64"):
        normalize({"tts": {"voices": [{"name": "a", "data": "not base64!"}]}})
    too_big = base64.b64encode(b"\0" * 1_000_001).decode()  # also over the CRD's maxLength: refused first
    with pytest.raises(InvalidSpec, match=r"data: .*at most 1048576 characters"):
        normalize({"tts": {"voices": [{"name": "a", "data": too_big}]}})


@pytest.mark.parametrize(("spec", "fragment", "server_says"), SCHEMA_REJECTS)
def test_schema_rejects(spec: dict[str, Any], fragment: str, server_says: str) -> None:
    assert any(fragment in problem for problem in schema_errors(stack(spec=spec))), schema_errors(
        stack(spec=spec)
    )


def test_defaults() -> None:
    spec = normalize({})
    assert spec.deploymentMode == "Standard"
    assert (spec.asr.model, spec.asr.engine, spec.asr.resources.gpu) == (
        "large-v3",
        "faster-whisper",
        0,
    )
    assert (spec.tts.engine, spec.tts.model) == (
        "xtts",
        "tts_models/multilingual/multi-dataset/xtts_v2",
    )
    assert spec.tts.acceptModelLicense is False, "nobody accepts the CPML unless the spec says so"
    piper = normalize({"tts": {"engine": "piper"}}).tts
    assert (piper.model, piper.resources.gpu, piper.acceptModelLicense) == (
        "piper-en_US-joe-medium",
        0,
        False,
    ), "a Piper stack needs no GPU and no licence acceptance"
    assert normalize({"tts": {"engine": "coqui", "model": "tts_models/en/ljspeech/vits"}}).tts.model
    assert spec.router.limits.maxBazarrUploadMb == 2048
    assert normalize(full_spec()).asr.model is None  # storageUri instead
    assert normalize(knative_spec()).asr.minReplicas == 0


def test_examples_exist() -> None:
    assert {p.name for p in examples()} >= {"gpu.yaml", "cpu.yaml", "bazarr.yaml"}


@pytest.mark.parametrize("path", examples(), ids=lambda p: p.name)
def test_example_is_valid(path: Path) -> None:
    example = load_example(path)
    assert not schema_errors(example)
    spec = normalize(example["spec"])
    assert not schema_errors({**example, "spec": spec.model_dump(exclude_none=True)}), (
        "defaults keep it valid"
    )
    desired = desired_children(example["metadata"]["name"], "default", spec, Images.from_env(), {}, {})
    isvc_validator = crd_validator(k8s_root() / "kserve-crds" / "serving.kserve.io_inferenceservices.yaml")
    for obj in desired.objects:
        if obj["kind"] == "InferenceService":
            assert not errors(isvc_validator, obj), obj["metadata"]["name"]
        else:
            assert not validate_core(obj, ("1.37.0",)), obj["metadata"]["name"]


@pytest.mark.parametrize("name", ["gpu"])
def test_licence_accepting_examples_explain_it(name: str) -> None:
    lines = (ROOT / "examples" / f"{name}.yaml").read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if "acceptModelLicense: true" in line)
    comment = " ".join(
        line.strip() for line in lines[max(index - 4, 0) : index] if line.strip().startswith("#")
    )
    assert "Coqui Public Model License" in comment and "non-commercial" in comment, comment


def test_examples_say_what_they_are() -> None:
    gpu, cpu, bazarr = (
        normalize(load_example(ROOT / "examples" / f"{n}.yaml")["spec"]) for n in ("gpu", "cpu", "bazarr")
    )
    assert gpu.asr.resources.gpu == 1 and gpu.tts.resources.gpu == 1
    assert (gpu.tts.voiceAliases or {})["alloy"] == "anna"
    # The XTTS-v2 example says, with a comment, that applying it accepts the CPML; the CPU one uses Piper.
    assert "xtts_v2" in (gpu.tts.model or "") and gpu.tts.acceptModelLicense is True
    assert cpu.tts.engine == "piper" and cpu.tts.acceptModelLicense is False
    assert cpu.asr.resources.gpu == 0 and cpu.tts.resources.gpu == 0
    assert cpu.asr.device == "cpu" and cpu.asr.computeType == "int8"
    assert bazarr.router.ingress.enabled and not bazarr.tts.enabled
    assert bazarr.router.limits.maxBazarrUploadMb >= 2048
