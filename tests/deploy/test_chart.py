"""The Helm chart, rendered and linted with Helm's own Go code (helm-python-sdk), validated offline.

- ``helm lint --strict`` is clean for the default values and for ``values-all.yaml`` (every option on),
  for the oldest and newest supported Kubernetes versions;
- every rendered object of a core kind is valid under ``kubernetes-validate`` (strict: unknown fields are
  errors) for each supported Kubernetes version; the VoiceStack is valid against its CRD; ServiceMonitor and
  PodMonitor (no Prometheus Operator schema is available offline) get a check of the fields the chart sets;
- ``values.schema.json`` accepts both values files and rejects a set of bad values;
- the chart's CRDs are identical to ``crds/``; the ClusterRole's rules are ``files/operator-rbac-rules.yaml``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import pytest
import yaml

from tests.support.k8s_schema import crd_validator, errors, validate_core

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "voice-stack"
VALUES_ALL = Path(__file__).with_name("values-all.yaml")
# Kubernetes versions the chart supports (Chart.yaml kubeVersion >=1.30) and is validated against.
KUBE_VERSIONS = ("1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0", "1.35.0", "1.36.0", "1.37.0")
RELEASE = "vs"
NAMESPACE = "speech"


def values_all() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(VALUES_ALL.read_text())
    return loaded


VALUE_SETS = {"defaults": dict[str, Any](), "all": values_all()}


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def render(chart: helm.Chart, values: dict[str, Any]) -> dict[str, str]:
    return chart.render(copy.deepcopy(values), name=RELEASE, namespace=NAMESPACE, is_install=True)


def objects(rendered: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                assert isinstance(doc, dict), f"{path}: not a mapping"
                found.append(doc)
    return found


def by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objs if obj["kind"] == kind]


def the(objs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    matches = by_kind(objs, kind)
    assert len(matches) == 1, f"expected one {kind}, found {len(matches)}"
    return matches[0]


# ---- lint ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kube_version", [KUBE_VERSIONS[0], KUBE_VERSIONS[-1]])
@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_lint_strict_is_clean(value_set: str, kube_version: str) -> None:
    report = helm.lint(
        CHART,
        copy.deepcopy(VALUE_SETS[value_set]),
        strict=True,
        namespace=NAMESPACE,
        kube_version=f"v{kube_version}",
    )
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not report["errors"], report["errors"]
    assert not problems, problems


# ---- rendered objects ----------------------------------------------------------------------------


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_core_objects_valid_for_every_supported_kubernetes(chart: helm.Chart, value_set: str) -> None:
    objs = objects(render(chart, VALUE_SETS[value_set]))
    custom_groups = {"voicestack.io", "monitoring.coreos.com"}
    core = [obj for obj in objs if obj["apiVersion"].split("/")[0] not in custom_groups]
    assert core
    problems = [
        f"{obj['kind']}/{obj['metadata']['name']}: {problem}"
        for obj in core
        for problem in validate_core(obj, KUBE_VERSIONS)
    ]
    assert not problems, "\n".join(problems)


def test_crds_valid_for_every_supported_kubernetes(chart: helm.Chart) -> None:
    assert chart.crds, "the chart ships no CRDs"
    for entry in chart.crds:
        crd = yaml.safe_load(entry["data"])
        assert not validate_core(crd, KUBE_VERSIONS), entry["filename"]


def test_default_values_render_the_operator_only(chart: helm.Chart) -> None:
    objs = objects(render(chart, {}))
    kinds = sorted(obj["kind"] for obj in objs)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "Deployment", "Pod", "ServiceAccount"]


def test_everything_on_renders_every_kind(chart: helm.Chart) -> None:
    kinds = {obj["kind"] for obj in objects(render(chart, values_all()))}
    assert kinds >= {"VoiceStack", "ServiceMonitor", "PodMonitor", "NetworkPolicy", "Deployment", "Pod"}


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_object_carries_the_standard_labels(chart: helm.Chart, value_set: str) -> None:
    for obj in objects(render(chart, VALUE_SETS[value_set])):
        labels = obj["metadata"]["labels"]
        for key in (
            "helm.sh/chart",
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/version",
            "app.kubernetes.io/managed-by",
            "app.kubernetes.io/part-of",
        ):
            assert key in labels, f"{obj['kind']}/{obj['metadata']['name']} lacks {key}"
        assert labels["app.kubernetes.io/instance"] == RELEASE


def test_voicestack_valid_against_its_crd(chart: helm.Chart) -> None:
    validator = crd_validator(CHART / "crds" / "voicestack.io_voicestacks.yaml")
    stack = the(objects(render(chart, values_all())), "VoiceStack")
    assert stack["spec"] == values_all()["voiceStack"]["spec"]
    assert not errors(validator, stack)
    empty = the(objects(render(chart, {"voiceStack": {"create": True, "name": "s"}})), "VoiceStack")
    assert empty["spec"] == {}
    assert not errors(validator, empty)
    # The CRD check is strict: a misspelt voiceStack.spec field is caught here, not pruned by the API server.
    bad = copy.deepcopy(stack)
    bad["spec"]["asr"]["modle"] = "small"
    assert errors(validator, bad)


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_examples_install_through_the_chart_values(chart: helm.Chart, example: Path) -> None:
    """Each example's spec works as voiceStack.spec: values schema, render, and the CRD agree."""
    manifest = yaml.safe_load(example.read_text())
    values = {"voiceStack": {"create": True, "name": manifest["metadata"]["name"], "spec": manifest["spec"]}}
    chart.validate_schema(chart.merge_values(values))
    stack = the(objects(render(chart, values)), "VoiceStack")
    assert stack["spec"] == manifest["spec"]
    assert not errors(crd_validator(CHART / "crds" / "voicestack.io_voicestacks.yaml"), stack)


def test_prometheus_monitors_are_well_formed(chart: helm.Chart) -> None:
    # No Prometheus Operator CRD schema is available offline; check the fields the chart relies on.
    objs = objects(render(chart, values_all()))
    monitor = the(objs, "ServiceMonitor")
    pod_monitor = the(objs, "PodMonitor")
    for obj in (monitor, pod_monitor):
        assert obj["apiVersion"] == "monitoring.coreos.com/v1"
        assert obj["metadata"]["namespace"] == "monitoring"
        assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert obj["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        assert set(obj["spec"]) <= {"namespaceSelector", "selector", "endpoints", "podMetricsEndpoints"}
    assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "router"
    # With API keys set the routers' /metrics needs one: the monitor sends it from a Secret.
    bearer = {"type": "Bearer", "credentials": {"name": "voice-stack-metrics-key", "key": "api-key"}}
    assert monitor["spec"]["endpoints"] == [
        {
            "port": "http",
            "path": "/metrics",
            "interval": "15s",
            "scrapeTimeout": "10s",
            "authorization": bearer,
        }
    ]
    keyless = the(objects(render(chart, {"serviceMonitor": {"enabled": True}})), "ServiceMonitor")
    assert "authorization" not in keyless["spec"]["endpoints"][0]
    assert pod_monitor["spec"]["podMetricsEndpoints"][0]["port"] == "http1"
    without_predictors = {"serviceMonitor": {"enabled": True, "predictors": False}}
    assert not by_kind(objects(render(chart, without_predictors)), "PodMonitor")


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (matchLabels, matchExpressions with In) selects an object with ``labels``."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def test_monitor_and_policy_selectors_match_the_operators_labels(chart: helm.Chart) -> None:
    from voicestack_operator.manifests.labels import standard_labels

    router, asr, tts = (standard_labels("s", component) for component in ("router", "asr", "tts"))
    objs = objects(render(chart, values_all()))
    operator_pod = the(objs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert selects(the(objs, "ServiceMonitor")["spec"]["selector"], router)
    pod_monitor = the(objs, "PodMonitor")["spec"]["selector"]
    assert selects(pod_monitor, asr) and selects(pod_monitor, tts) and not selects(pod_monitor, router)
    policies = {p["metadata"]["name"].rsplit("-", 1)[1]: p["spec"] for p in by_kind(objs, "NetworkPolicy")}
    assert selects(policies["routers"]["podSelector"], router)
    assert not selects(policies["routers"]["podSelector"], operator_pod)
    predictors = policies["predictors"]
    assert selects(predictors["podSelector"], asr) and selects(predictors["podSelector"], tts)
    assert not selects(predictors["podSelector"], router)
    assert selects(predictors["ingress"][0]["from"][0]["podSelector"], router)
    assert selects(policies["operator"]["podSelector"], operator_pod)


# ---- the operator --------------------------------------------------------------------------------


def operator_container(objs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    deployment = the(objs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return pod, container


def test_operator_is_hardened_and_probed(chart: helm.Chart) -> None:
    pod, container = operator_container(objects(render(chart, {})))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "health", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in container["args"]


def test_operator_gets_every_image(chart: helm.Chart) -> None:
    pod, container = operator_container(objects(render(chart, values_all())))
    env = {item["name"]: item.get("value") for item in container["env"]}
    registry = "registry.example.com:5000/voice-stack"
    assert env["VOICESTACK_ASR_IMAGE"] == f"{registry}/asr:0.1.0-cpu"
    assert env["VOICESTACK_ASR_CUDA_IMAGE"] == f"{registry}/asr-cuda@sha256:{'0123456789abcdef' * 4}"
    assert env["VOICESTACK_TTS_IMAGE"] == f"{registry}/tts:0.1.0"
    assert env["VOICESTACK_ROUTER_IMAGE"] == f"{registry}/router:0.1.0"
    assert env["VOICESTACK_ASR_IMAGE_PULL_POLICY"] == "Always"
    assert env["VOICESTACK_TTS_IMAGE_PULL_POLICY"] == "Never"
    assert env["VOICESTACK_IMAGE_PULL_SECRETS"] == "ghcr-credentials,mirror-credentials"
    assert env["VOICESTACK_EXTRA"] == "1"
    assert container["image"] == f"{registry}/operator:0.1.0"
    assert container["imagePullPolicy"] == "Always"
    assert pod["imagePullSecrets"] == [{"name": "ghcr-credentials"}, {"name": "mirror-credentials"}]
    assert pod["serviceAccountName"] == "speech-operator"
    assert "--namespace=speech" in container["args"] and "--namespace=speech-staging" in container["args"]
    assert "--all-namespaces" not in container["args"]
    assert "--verbose" in container["args"] and "--debug" in container["args"]


def test_default_images_follow_the_contract(chart: helm.Chart) -> None:
    version = chart.metadata["appVersion"]
    _, container = operator_container(objects(render(chart, {})))
    env = {item["name"]: item.get("value") for item in container["env"]}
    for variable, name in (
        ("VOICESTACK_ASR_IMAGE", "asr"),
        ("VOICESTACK_ASR_CUDA_IMAGE", "asr-cuda"),
        ("VOICESTACK_TTS_IMAGE", "tts"),
        ("VOICESTACK_ROUTER_IMAGE", "router"),
    ):
        assert env[variable] == f"ghcr.io/voice-stack/{name}:{version}"
    assert container["image"] == f"ghcr.io/voice-stack/operator:{version}"


def test_cluster_role_rules_come_from_the_rules_file(chart: helm.Chart) -> None:
    rules = yaml.safe_load((CHART / "files" / "operator-rbac-rules.yaml").read_text())
    objs = objects(render(chart, {}))
    assert the(objs, "ClusterRole")["rules"] == rules
    binding = the(objs, "ClusterRoleBinding")
    account = the(objs, "ServiceAccount")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": NAMESPACE}
    ]
    assert binding["roleRef"]["name"] == the(objs, "ClusterRole")["metadata"]["name"]
    for rule in rules:
        assert "*" not in rule.get("verbs", []), f"wildcard verbs are not least privilege: {rule}"
        assert "*" not in rule.get("resources", []), f"wildcard resources are not least privilege: {rule}"
    assert not by_kind(objects(render(chart, {"operator": {"rbac": {"create": False}}})), "ClusterRole")


def test_network_policies(chart: helm.Chart) -> None:
    rendered = by_kind(objects(render(chart, values_all())), "NetworkPolicy")
    policies = {p["metadata"]["name"]: p for p in rendered}
    assert len(policies) == 3
    operator = next(p for name, p in policies.items() if name.endswith("-operator"))
    assert operator["spec"]["policyTypes"] == ["Ingress", "Egress"]
    predictors = next(p for name, p in policies.items() if name.endswith("-predictors"))
    sources = predictors["spec"]["ingress"][0]["from"]
    assert sources[0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "router"
    assert len(sources) == 2


def test_router_policy_lets_the_helm_test_pod_in(chart: helm.Chart) -> None:
    """With routerFrom set, the routers' policy still admits this release's test pod (for helm test)."""
    for values in (values_all(), {**values_all(), "tests": {"enabled": False}}):
        objs = objects(render(chart, values))
        routers = next(
            p for p in by_kind(objs, "NetworkPolicy") if p["metadata"]["name"].endswith("-routers")
        )
        peers = routers["spec"]["ingress"][0]["from"]
        pods = by_kind(objs, "Pod")
        same_namespace = [p["podSelector"]["matchLabels"] for p in peers if set(p) == {"podSelector"}]
        admitted = [
            pod
            for pod in pods
            if any(selector.items() <= pod["metadata"]["labels"].items() for selector in same_namespace)
        ]
        assert admitted == pods, "the helm test pod is admitted exactly when it is rendered"
    assert len(values_all()["networkPolicy"]["routerFrom"]) == 2  # the user's peers are kept as they are


# ---- helm test and NOTES -------------------------------------------------------------------------


def test_helm_test_hook_checks_router_health(chart: helm.Chart) -> None:
    pod = the(objects(render(chart, {})), "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    assert f"http://voice-stack-router.{NAMESPACE}.svc.cluster.local/health" in container["command"]
    assert container["image"].startswith("ghcr.io/voice-stack/router:")
    custom = the(objects(render(chart, values_all())), "Pod")
    url = "http://speech-router.speech.svc.cluster.local/health"
    assert url in custom["spec"]["containers"][0]["command"]
    assert not by_kind(objects(render(chart, {"tests": {"enabled": False}})), "Pod")


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_notes_show_how_to_reach_the_router(chart: helm.Chart, value_set: str) -> None:
    rendered = render(chart, VALUE_SETS[value_set])
    notes = next(text for path, text in rendered.items() if path.endswith("NOTES.txt"))
    stack = chart.merge_values(VALUE_SETS[value_set])["voiceStack"]["name"]
    assert f"port-forward svc/{stack}-router 8000:80" in notes
    assert "curl http://127.0.0.1:8000/v1/audio/transcriptions" in notes
    assert "from openai import OpenAI" in notes
    assert 'base_url="http://127.0.0.1:8000/v1"' in notes


@pytest.mark.parametrize(
    ("tts", "warned"),
    [
        ({}, True),  # the default model is XTTS-v2
        ({"acceptModelLicense": True}, False),
        ({"model": "coqui/XTTS-v2"}, True),
        ({"model": "tts_models/en/ljspeech/vits"}, False),
        ({"enabled": False}, False),
        ({"engine": "piper"}, False),  # a Piper voice has no licence to accept
    ],
)
def test_notes_warn_when_the_default_stack_does_not_accept_the_xtts_licence(
    chart: helm.Chart, tts: dict[str, Any], warned: bool
) -> None:
    values = {"voiceStack": {"create": True, "spec": {"tts": tts}}}
    notes = next(text for path, text in render(chart, values).items() if path.endswith("NOTES.txt"))
    assert ("Coqui Public Model License" in notes) is warned, notes
    assert ("--set voiceStack.spec.tts.acceptModelLicense=true" in notes) is warned


def test_notes_stack_snippet_is_a_valid_voicestack_that_can_get_ready(chart: helm.Chart) -> None:
    from voicestack_operator.spec import normalize

    notes = next(text for path, text in render(chart, {}).items() if path.endswith("NOTES.txt"))
    snippet = notes.split("<<'YAML'\n", 1)[1].split("   YAML", 1)[0]
    stack = yaml.safe_load("\n".join(line.removeprefix("   ") for line in snippet.splitlines()))
    assert not errors(crd_validator(ROOT / "crds" / "voicestack.io_voicestacks.yaml"), stack)
    assert normalize(stack["spec"]).tts.acceptModelLicense is True  # else XTTS-v2 is never downloaded
    assert "Coqui Public Model License" in snippet, "the acceptance is explained where it is set"


# ---- values and their schema ---------------------------------------------------------------------


def test_values_schema_is_valid_and_accepts_the_value_files(chart: helm.Chart) -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(chart.values, schema)
    jsonschema.validate(chart.merge_values(values_all()), schema)
    chart.validate_schema(values_all())


BAD_VALUES: list[tuple[str, dict[str, Any]]] = [
    ("unknown top-level key", {"operatorr": {}}),
    ("unknown operator key", {"operator": {"replicas": 1}}),
    ("replicaCount not an integer", {"operator": {"replicaCount": "one"}}),
    ("negative replicaCount", {"operator": {"replicaCount": -1}}),
    ("two operator replicas (Kopf runs standalone)", {"operator": {"replicaCount": 2}}),
    ("bad pull policy", {"images": {"router": {"pullPolicy": "Sometimes"}}}),
    ("tag not a string", {"images": {"tts": {"tag": 1.0}}}),
    ("upper-case repository", {"images": {"asr": {"repository": "GHCR.io/Voice/ASR"}}}),
    ("digest without algorithm", {"images": {"asrCuda": {"digest": "0123abcd"}}}),
    ("pull secrets as strings", {"imagePullSecrets": ["ghcr-credentials"]}),
    ("health port out of range", {"operator": {"healthPort": 70000}}),
    ("bad log level", {"operator": {"logLevel": "loud"}}),
    ("bad resource quantity", {"operator": {"resources": {"limits": {"memory": "lots"}}}}),
    ("watchNamespaces not a list", {"operator": {"watchNamespaces": "speech"}}),
    ("voiceStack.create not a boolean", {"voiceStack": {"create": "yes"}}),
    ("voiceStack name not a DNS label", {"voiceStack": {"name": "Voice_Stack"}}),
    ("voiceStack spec not an object", {"voiceStack": {"spec": "asr: small"}}),
    ("serviceMonitor interval not a duration", {"serviceMonitor": {"interval": 30}}),
    ("networkPolicy.enabled not a boolean", {"networkPolicy": {"enabled": "true"}}),
    ("empty apiServerPorts", {"networkPolicy": {"apiServerPorts": []}}),
    ("tests URL without scheme", {"tests": {"routerUrl": "router/health"}}),
    ("tests timeout zero", {"tests": {"timeoutSeconds": 0}}),
    ("labels with non-string values", {"commonLabels": {"tier": 1}}),
]


@pytest.mark.parametrize(("why", "bad"), BAD_VALUES, ids=[why for why, _ in BAD_VALUES])
def test_values_schema_rejects(chart: helm.Chart, why: str, bad: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema(chart.merge_values(bad))
    with pytest.raises(helm.HelmError):  # rendering (install/template) refuses them too
        render(chart, bad)


def test_values_are_documented_line_by_line() -> None:
    """Every key in values.yaml that is not inside an example default map has a comment just above it."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented: list[str] = []
    documented_parent_indent: int | None = None
    for index, line in enumerate(lines):
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#") or stripped.startswith("- ") or ":" not in stripped:
            continue
        indent = len(line) - len(stripped)
        if documented_parent_indent is not None and indent > documented_parent_indent:
            continue  # the contents of a documented default (resources, security contexts, probes)
        documented_parent_indent = None
        above = lines[index - 1].lstrip() if index else ""
        has_comment = above.startswith("#")
        key, _, value = stripped.partition(":")
        is_section = not value.strip()
        if is_section and not has_comment:
            continue  # a plain grouping key: its children carry the documentation
        if not has_comment:
            undocumented.append(f"values.yaml:{index + 1}: {key}")
        if is_section:
            documented_parent_indent = indent
    assert not undocumented, "\n".join(undocumented)


# ---- CRDs ----------------------------------------------------------------------------------------


def test_chart_crds_are_identical_to_the_source() -> None:
    source = sorted(p.name for p in (ROOT / "crds").glob("*.yaml"))
    copies = sorted(p.name for p in (CHART / "crds").glob("*.yaml"))
    how = "run scripts/sync-chart-crds.sh to copy crds/ into charts/voice-stack/crds/"
    assert source, "no CRDs in crds/"
    assert copies == source, f"chart CRD files differ from crds/: {how}"
    for name in source:
        same = (ROOT / "crds" / name).read_bytes() == (CHART / "crds" / name).read_bytes()
        assert same, f"charts/voice-stack/crds/{name} differs from crds/{name}: {how}"
