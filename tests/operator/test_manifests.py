"""The pure manifest builders: what each child looks like, and that every one is valid for its real schema."""

from __future__ import annotations

import argparse
import base64
import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.operator.specs import full_spec, knative_spec
from tests.support.assets import k8s_root
from tests.support.k8s_schema import crd_validator, errors, validate_core
from voicestack.contracts.tts_settings import parse_aliases
from voicestack_operator.children import Desired, desired_children
from voicestack_operator.images import Images
from voicestack_operator.manifests import isvc, labels, router, voices
from voicestack_operator.spec import normalize

PULL_SECRETS = ("ghcr-credentials", "mirror-credentials")
IMAGES = Images(
    asr="r/asr:1",
    asr_cuda="r/asr-cuda:1",
    tts="r/tts:1",
    router="r/router:1",
    asr_pull_policy="Always",
    asr_cuda_pull_policy="IfNotPresent",
    tts_pull_policy="Never",
    router_pull_policy="Always",
    pull_secrets=PULL_SECRETS,
)
NO_ISVCS: dict[str, dict[str, Any] | None] = {"asr": None, "tts": None}
OVERRIDES = {
    "asr": {"image": "mine/asr:dev", "device": "cuda"},
    "tts": {"image": "mine/tts:dev", "acceptModelLicense": True},
    "router": {"image": "mine/router:dev"},
}
PIPER = {
    "tts": {"engine": "piper", "acceptModelLicense": True, "voiceAliases": {"alloy": "en_US-joe-medium"}}
}
TOLERATION = {"key": "spot", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}  # no value
TOKEN = {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}
OPTIONAL = {  # optional fields no other spec sets (test_optional_fields_render_as_written)
    "asr": {
        "resources": {"memory": 2147483648, "memoryLimit": "3Gi"},
        "tolerations": [TOLERATION],
        "env": [TOKEN],
    },
    "router": {
        "apiKeySecretRef": {"name": "keys", "key": "router-keys"},
        "ingress": {
            "enabled": True,
            "host": "voice.example.com",
            "path": "/speech/",
            "tls": {"enabled": True, "secretName": "voice-cert"},
        },
        "resources": {"cpuLimit": "1", "memoryLimit": "1Gi"},
    },
}
SPECS = {
    "default": {},
    "full": full_spec(),
    "knative": knative_spec(),
    "overrides": OVERRIDES,
    "piper": PIPER,
    "optional": OPTIONAL,
}


def build(spec: dict[str, Any], discovered: dict[str, str] | None = None, images: Images = IMAGES) -> Desired:
    return desired_children("demo", "default", normalize(spec), images, discovered or {}, NO_ISVCS)


def by_kind(desired: Desired, kind: str) -> list[dict[str, Any]]:
    return [o for o in desired.objects if o["kind"] == kind]


def one(desired: Desired, kind: str, name: str) -> dict[str, Any]:
    return next(o for o in desired.objects if o["kind"] == kind and o["metadata"]["name"] == name)


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def all_manifests() -> Iterator[tuple[str, dict[str, Any]]]:
    for label, spec in SPECS.items():
        for obj in build(spec, {"demo-voice-uploaded": "uploaded"}).objects:
            yield f"{label}:{obj['kind']}:{obj['metadata']['name']}", obj


MANIFESTS = dict(all_manifests())


@pytest.fixture(scope="module")
def isvc_validator() -> jsonschema.Draft7Validator:
    return crd_validator(k8s_root() / "kserve-crds" / "serving.kserve.io_inferenceservices.yaml")


@pytest.mark.parametrize("key", [k for k, o in MANIFESTS.items() if o["kind"] == "InferenceService"])
def test_inference_services_validate_against_kserve_crd(key: str, isvc_validator: Any) -> None:
    assert not errors(isvc_validator, MANIFESTS[key])


def test_kserve_schema_rejects_unknown_fields(isvc_validator: Any) -> None:
    manifest = copy.deepcopy(MANIFESTS["default:InferenceService:demo-asr"])
    manifest["spec"]["predictor"]["gpuCount"] = 1
    assert any("gpuCount" in e for e in errors(isvc_validator, manifest))


@pytest.mark.parametrize("key", [k for k, o in MANIFESTS.items() if o["kind"] != "InferenceService"])
def test_core_kinds_validate_strictly(key: str) -> None:
    assert not validate_core(MANIFESTS[key])


def test_every_child_has_standard_labels_and_names() -> None:
    for key, obj in MANIFESTS.items():
        meta = obj["metadata"]
        assert meta["namespace"] == "default", key
        assert meta["labels"][labels.INSTANCE_LABEL] == "demo", key
        assert meta["labels"][labels.PART_OF_LABEL] == "voice-stack", key
        assert meta["labels"][labels.MANAGED_BY_LABEL] == "voicestack-operator", key
        assert meta["labels"][labels.NAME_LABEL].startswith("voicestack-"), key


def test_default_spec_children() -> None:
    desired = build({})
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in desired.objects)
    assert kinds == [
        ("ConfigMap", "demo-router"),
        ("Deployment", "demo-router"),
        ("InferenceService", "demo-asr"),
        ("InferenceService", "demo-tts"),
        ("Role", "demo-router"),
        ("RoleBinding", "demo-router"),
        ("Service", "demo-router"),
        ("ServiceAccount", "demo-router"),
    ]
    assert [(k.kind, n) for k, n in desired.absent] == [("Ingress", "demo-router")]


def test_asr_inference_service() -> None:
    asr = one(build({"asr": {"model": "small", "device": "cpu"}}), "InferenceService", "demo-asr")
    assert asr["metadata"]["annotations"] == {"serving.kserve.io/deploymentMode": "Standard"}
    predictor = asr["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 1)
    (container,) = predictor["containers"]
    assert container["name"] == "kserve-container"
    assert container["image"] == "r/asr:1"
    assert container["ports"] == [{"name": "http1", "containerPort": 8080, "protocol": "TCP"}]
    assert "--model_name=whisper" in container["args"] and "--http_port=8080" in container["args"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/models/whisper/ready", "port": 8080}
    assert container["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": 8080}
    env = env_of(container)
    assert (
        env["ASR_MODEL"] == "small" and env["ASR_DEVICE"] == "cpu" and env["ASR_ENGINE"] == "faster-whisper"
    )
    assert "ASR_COMPUTE_TYPE" not in env  # "default": the predictor picks by device
    assert "resources" not in container


def test_asr_defaults_are_the_predictors_measured_ones() -> None:
    """An unset vad or beamSize writes no variable, so a cluster decodes like ``voicestack up``: VAD and
    greedy batches for long audio, beam 5 without VAD for short audio (the operator once forced both on)."""
    (default,) = one(build({}), "InferenceService", "demo-asr")["spec"]["predictor"]["containers"]
    env = env_of(default)
    assert not {"ASR_VAD_ENABLED", "ASR_BEAM_SIZE", "ASR_CROSS_REQUEST_WAIT_MS"} & set(env)
    assert env["ASR_CROSS_REQUEST_BATCHING"] == "auto"
    spec = {
        "asr": {"vad": False, "beamSize": 2, "crossRequestBatching": "on", "crossRequestWaitMs": 50},
    }
    (chosen,) = one(build(spec), "InferenceService", "demo-asr")["spec"]["predictor"]["containers"]
    env = env_of(chosen)
    assert (env["ASR_VAD_ENABLED"], env["ASR_BEAM_SIZE"]) == ("false", "2")
    assert (env["ASR_CROSS_REQUEST_BATCHING"], env["ASR_CROSS_REQUEST_WAIT_MS"]) == ("on", "50")


def test_gpu_storage_uri_scaling_and_scheduling() -> None:
    desired = build(full_spec())
    predictor = one(desired, "InferenceService", "demo-asr")["spec"]["predictor"]
    (container,) = predictor["containers"]
    assert container["image"] == "r/asr-cuda:1"
    assert container["resources"] == {
        "requests": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": 1},
        "limits": {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": 1},
    }
    assert predictor["storageUris"] == [
        {"uri": "s3://models/whisper-large-v3-ct2", "mountPath": "/mnt/models"}
    ]
    assert (predictor["scaleMetric"], predictor["scaleTarget"], predictor["maxReplicas"]) == ("cpu", 80, 3)
    assert predictor["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert predictor["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert "nodeAffinity" in predictor["affinity"]
    env = env_of(container)
    assert env["ASR_MODEL"] == "/mnt/models" and env["ASR_COMPUTE_TYPE"] == "float16"
    assert env["ASR_BEAM_SIZE"] == "3"  # the user's env wins over the generated variable
    assert [e["name"] for e in container["env"]].count("ASR_BEAM_SIZE") == 1
    assert env["ASR_MAX_NEW_TOKENS"] == "0"


def test_knative_mode_scale_to_zero() -> None:
    desired = build(knative_spec())
    asr = one(desired, "InferenceService", "demo-asr")
    assert asr["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
    assert asr["spec"]["predictor"]["minReplicas"] == 0
    assert by_kind(desired, "InferenceService") == [asr]
    assert ("InferenceService", "demo-tts") in [(k.kind, n) for k, n in desired.absent]
    assert isvc.predictor_url("demo", "default", "asr") == desired.predictor_urls["asr"]


def test_knative_router_uses_the_reported_address() -> None:
    reported = {"status": {"address": {"url": "http://demo-asr.default.svc.cluster.local"}}}
    desired = desired_children("demo", "default", normalize(knative_spec()), IMAGES, {}, {"asr": reported})
    assert desired.predictor_urls["asr"] == "http://demo-asr.default.svc.cluster.local"


def test_tts_voices_projected_at_voices() -> None:
    desired = build(full_spec(), {"demo-voice-uploaded": "uploaded", "demo-voice-anna": "anna"})
    tts = one(desired, "InferenceService", "demo-tts")
    (container,) = tts["spec"]["predictor"]["containers"]
    assert container["volumeMounts"] == [{"name": "voices", "mountPath": "/voices", "readOnly": True}]
    env = env_of(container)
    assert env["TTS_VOICE_DIR"] == "/voices"
    assert parse_aliases(env["TTS_VOICE_ALIASES"]) == {"alloy": "anna", "echo": "ben"}
    (volume,) = tts["spec"]["predictor"]["volumes"]
    assert volume["projected"]["sources"] == [
        {"configMap": {"name": "demo-voice-anna", "optional": True}},
        {"configMap": {"name": "demo-voice-uploaded", "optional": True}},
        {"configMap": {"name": "my-samples", "items": [{"key": "ben-clean.flac", "path": "ben.flac"}],
                       "optional": True}},
    ]  # fmt: skip
    assert desired.voice_configmaps == {"demo-voice-anna"}


def test_voice_sources_are_order_independent() -> None:
    tts = normalize(full_spec()).tts
    reversed_tts = tts.model_copy(update={"voices": list(reversed(tts.voices or []))})
    found = {"demo-voice-b": "b", "demo-voice-a": "a"}
    assert voices.voice_sources("demo", tts, found) == voices.voice_sources(
        "demo", reversed_tts, dict(reversed(list(found.items())))
    )


def test_no_voices_is_an_empty_dir() -> None:
    tts = one(build({}), "InferenceService", "demo-tts")
    assert tts["spec"]["predictor"]["volumes"] == [{"name": "voices", "emptyDir": {}}]


def test_voice_configmap_contract() -> None:
    sample = b"RIFF....WAVEfmt "
    spec = {"voices": [{"name": "Anna_1", "data": base64.encodebytes(sample).decode(), "format": "flac"}]}
    (configmap,) = voices.inline_voice_configmaps("demo", "default", normalize({"tts": spec}).tts)
    assert configmap["metadata"]["name"] == labels.voice_configmap_name("demo", "Anna_1")
    assert configmap["metadata"]["labels"][labels.STACK_LABEL] == "demo"
    assert configmap["metadata"]["labels"][labels.VOICE_LABEL] == "Anna_1"
    assert configmap["metadata"]["labels"][labels.PART_OF_LABEL] == "voice-stack"
    assert configmap["binaryData"] == {"Anna_1.flac": base64.b64encode(sample).decode()}  # canonical base64


def test_router_deployment_service_ingress() -> None:
    desired = build(full_spec())
    deployment = one(desired, "Deployment", "demo-router")
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert deployment["spec"]["replicas"] == 2
    assert pod["spec"]["serviceAccountName"] == "demo-router"
    assert container["image"] == "r/router:1"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    keys = next(e for e in container["env"] if e["name"] == "ROUTER_API_KEYS")
    assert keys["valueFrom"] == {"secretKeyRef": {"name": "voicestack-keys", "key": "api-keys"}}
    checksum = router.config_checksum(one(desired, "ConfigMap", "demo-router"))
    assert pod["metadata"]["annotations"][labels.CONFIG_CHECKSUM_ANNOTATION] == checksum
    service = one(desired, "Service", "demo-router")
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    ingress = one(desired, "Ingress", "demo-router")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "2048m"
    assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert ingress["spec"]["tls"] == [{"hosts": ["voice.example.com"], "secretName": "demo-router-tls"}]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert router.external_url(normalize(full_spec())) == "https://voice.example.com"


def test_optional_fields_render_as_written() -> None:
    """Fields no other spec here sets: each reaches its child as written, no default or null added."""
    desired = build(OPTIONAL)
    predictor = one(desired, "InferenceService", "demo-asr")["spec"]["predictor"]
    (asr,) = predictor["containers"]
    assert asr["resources"] == {"requests": {"memory": 2147483648}, "limits": {"memory": "3Gi"}}
    assert predictor["tolerations"] == [TOLERATION]
    assert asr["env"][-1] == TOKEN
    (container,) = one(desired, "Deployment", "demo-router")["spec"]["template"]["spec"]["containers"]
    assert container["resources"] == {"limits": {"cpu": "1", "memory": "1Gi"}}
    keys = next(e for e in container["env"] if e["name"] == "ROUTER_API_KEYS")
    assert keys["valueFrom"] == {"secretKeyRef": {"name": "keys", "key": "router-keys"}}
    ingress = one(desired, "Ingress", "demo-router")["spec"]
    assert "ingressClassName" not in ingress
    assert ingress["tls"] == [{"hosts": ["voice.example.com"], "secretName": "voice-cert"}]
    assert ingress["rules"][0]["http"]["paths"][0]["path"] == "/speech/"
    assert router.external_url(normalize(OPTIONAL)) == "https://voice.example.com/speech"


def test_config_change_changes_the_checksum() -> None:
    first = one(build({}), "Deployment", "demo-router")
    second = one(build({"router": {"limits": {"maxUploadMb": 50}}}), "Deployment", "demo-router")
    key = labels.CONFIG_CHECKSUM_ANNOTATION
    assert (
        first["spec"]["template"]["metadata"]["annotations"][key]
        != (second["spec"]["template"]["metadata"]["annotations"][key])
    )


def test_router_role_covers_the_voice_store_only() -> None:
    role = one(build({}), "Role", "demo-router")
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "verbs": ["get", "list", "create", "update", "delete"],
        }
    ]
    binding = one(build({}), "RoleBinding", "demo-router")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "demo-router", "namespace": "default"}]


@pytest.mark.parametrize("label", list(SPECS))
def test_router_yaml_loads_with_the_router_settings(
    label: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voicestack_router.settings import RouterSettings, load_settings

    for variable in list(os.environ):
        if variable.startswith("ROUTER_"):
            monkeypatch.delenv(variable)
    configmap = one(build(SPECS[label]), "ConfigMap", "demo-router")
    text = configmap["data"]["router.yaml"]
    unknown = set(yaml.safe_load(text)) - set(RouterSettings.model_fields)
    assert not unknown, f"router.yaml keys the router does not know: {unknown}"
    path = tmp_path / "router.yaml"
    path.write_text(text)
    loaded = load_settings(path)
    monkeypatch.setenv("ROUTER_CONFIG_FILE", str(path))
    from_env = RouterSettings()  # the way the router pod reads it (ROUTER_CONFIG_FILE)
    assert loaded.model_dump() == from_env.model_dump()
    assert loaded.voice_store == "configmap" and loaded.stack_name == "demo" and loaded.namespace == "default"
    assert loaded.asr_urls == ["http://demo-asr-predictor.default.svc.cluster.local"]
    expected_tts = [] if label == "knative" else ["http://demo-tts-predictor.default.svc.cluster.local"]
    assert loaded.tts_urls == expected_tts
    if label == "full":
        assert loaded.cors_origins == ["https://app.example.com"]


def pod_specs(desired: Desired) -> dict[str, dict[str, Any]]:
    """Every pod spec the operator creates (the predictors' and the router's), by component."""
    found = {}
    for obj in desired.objects:
        if obj["kind"] == "InferenceService":
            found[obj["metadata"]["labels"]["app.kubernetes.io/component"]] = obj["spec"]["predictor"]
        elif obj["kind"] == "Deployment":
            found["router"] = obj["spec"]["template"]["spec"]
    return found


CHART_ENV = {
    "VOICESTACK_ASR_IMAGE": "reg.example.com/asr:2",
    "VOICESTACK_ASR_IMAGE_PULL_POLICY": "Always",
    "VOICESTACK_ASR_CUDA_IMAGE": "reg.example.com/asr-cuda:2",
    "VOICESTACK_ASR_CUDA_IMAGE_PULL_POLICY": "IfNotPresent",
    "VOICESTACK_TTS_IMAGE": "reg.example.com/tts:2",
    "VOICESTACK_TTS_IMAGE_PULL_POLICY": "Never",
    "VOICESTACK_ROUTER_IMAGE": "reg.example.com/router:2",
    "VOICESTACK_ROUTER_IMAGE_PULL_POLICY": "Always",
    "VOICESTACK_IMAGE_PULL_SECRETS": " ghcr-credentials, ,mirror-credentials,ghcr-credentials ",
}


def test_images_from_the_charts_environment() -> None:
    images = Images.from_env(CHART_ENV)
    assert (images.asr, images.asr_cuda, images.tts, images.router) == (
        "reg.example.com/asr:2",
        "reg.example.com/asr-cuda:2",
        "reg.example.com/tts:2",
        "reg.example.com/router:2",
    )
    assert (
        images.asr_pull_policy,
        images.asr_cuda_pull_policy,
        images.tts_pull_policy,
        images.router_pull_policy,
    ) == ("Always", "IfNotPresent", "Never", "Always")
    assert images.pull_secrets == PULL_SECRETS, "trimmed, blanks dropped, each name once, order kept"


def test_images_defaults_without_environment() -> None:
    images = Images.from_env({})
    assert images.router.startswith("ghcr.io/voice-stack/router:")
    assert {images.asr_pull_policy, images.asr_cuda_pull_policy, images.tts_pull_policy} == {"IfNotPresent"}
    assert images.router_pull_policy == "IfNotPresent" and images.pull_secrets == ()
    for spec in SPECS.values():
        for component, pod in pod_specs(build(spec, images=images)).items():
            assert "imagePullSecrets" not in pod, component
            assert all(c["imagePullPolicy"] == "IfNotPresent" for c in pod["containers"]), component


@pytest.mark.parametrize("value", ["always", "Sometimes", "IfNotPresent,Always"])
def test_images_reject_a_bad_pull_policy(value: str) -> None:
    with pytest.raises(ValueError, match="VOICESTACK_TTS_IMAGE_PULL_POLICY"):
        Images.from_env({**CHART_ENV, "VOICESTACK_TTS_IMAGE_PULL_POLICY": value})


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        # (component → (image, pull policy)); full: GPU ASR (the CUDA image); overrides: spec images.
        (
            "default",
            {"asr": ("r/asr:1", "Always"), "tts": ("r/tts:1", "Never"), "router": ("r/router:1", "Always")},
        ),
        (
            "full",
            {
                "asr": ("r/asr-cuda:1", "IfNotPresent"),
                "tts": ("r/tts:1", "Never"),
                "router": ("r/router:1", "Always"),
            },
        ),
        (
            "overrides",
            {
                "asr": ("mine/asr:dev", "IfNotPresent"),
                "tts": ("mine/tts:dev", "Never"),
                "router": ("mine/router:dev", "Always"),
            },
        ),
    ],
)
def test_every_pod_gets_the_pull_policy_and_secrets(label: str, expected: dict[str, tuple[str, str]]) -> None:
    pods = pod_specs(build(SPECS[label]))
    assert set(pods) == set(expected)
    for component, pod in pods.items():
        assert pod["imagePullSecrets"] == [{"name": name} for name in PULL_SECRETS], component
        (container,) = pod["containers"]
        assert (container["image"], container["imagePullPolicy"]) == expected[component], component


def test_model_licence_is_accepted_only_when_the_spec_says_so() -> None:
    def tts_env(spec: dict[str, Any]) -> dict[str, str]:
        (container,) = one(build(spec), "InferenceService", "demo-tts")["spec"]["predictor"]["containers"]
        return env_of(container)

    assert "COQUI_TOS_AGREED" not in tts_env({})
    assert "COQUI_TOS_AGREED" not in tts_env({"tts": {"acceptModelLicense": False}})
    assert tts_env({"tts": {"acceptModelLicense": True}})["COQUI_TOS_AGREED"] == "1"
    (asr,) = one(build(OVERRIDES), "InferenceService", "demo-asr")["spec"]["predictor"]["containers"]
    assert "COQUI_TOS_AGREED" not in env_of(asr), "the ASR predictor downloads no Coqui model"
    assert "COQUI_TOS_AGREED" not in tts_env(PIPER), "Piper has no Coqui licence to accept"


def test_piper_stack_predictor_and_router() -> None:
    """engine piper: the predictor is told so, is named piper (args, probe, router.yaml) and asks no GPU."""
    desired = build({"tts": {"engine": "piper"}})
    predictor = one(desired, "InferenceService", "demo-tts")["spec"]["predictor"]
    (container,) = predictor["containers"]
    env = env_of(container)
    assert (env["TTS_ENGINE"], env["TTS_MODEL"]) == ("piper", "piper-en_US-joe-medium")
    assert "--model_name=piper" in container["args"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/models/piper/ready"
    assert "nvidia.com/gpu" not in str(container.get("resources", {}))
    settings = yaml.safe_load(one(desired, "ConfigMap", "demo-router")["data"]["router.yaml"])
    assert settings["tts_model_name"] == "piper"
    assert "tts-1-hd" in settings["tts_aliases"], "one TTS backend answers every TTS model id"
    default = one(build({}), "InferenceService", "demo-tts")["spec"]["predictor"]["containers"][0]
    assert env_of(default)["TTS_ENGINE"] == "xtts" and "--model_name=xtts" in default["args"]


def predictor_parser(engine: str) -> argparse.ArgumentParser:
    from voicestack_predictors.common.settings import ServingOptions

    if engine == "asr":
        from voicestack_predictors.asr.settings import EngineSettings
    else:
        from voicestack_predictors.tts.settings import EngineSettings  # type: ignore[assignment]
    parser = argparse.ArgumentParser()
    EngineSettings.add_arguments(parser)
    ServingOptions.add_arguments(parser, engine.upper())
    return parser


@pytest.mark.parametrize("engine", ["asr", "tts"])
def test_predictor_env_is_read_by_the_predictors(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = full_spec()
    spec["asr"]["env"] = []
    spec["tts"]["loadAtStart"] = False
    (container,) = one(build(spec), "InferenceService", f"demo-{engine}")["spec"]["predictor"]["containers"]
    env = env_of(container)
    known = {
        a.help.rsplit("[", 1)[1].rstrip("].")
        for a in predictor_parser(engine)._actions
        if "[" in (a.help or "")
    }
    assert set(env) <= known, f"variables the {engine} predictor does not read: {set(env) - known}"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    parsed = predictor_parser(engine).parse_args(container["args"][3:])  # engine flags; KServe's own aside
    if engine == "asr":
        assert (parsed.model, parsed.engine, parsed.compute_type) == (
            "/mnt/models",
            "faster-whisper",
            "float16",
        )
        assert (parsed.batch_size, parsed.vad) == (8, True)
    else:
        assert parsed.voices_dir in ("/voices", Path("/voices"))
        assert parsed.load_at_start is False
        assert "alloy" in str(parsed.voice_aliases)


def matching_routes(app: Any, path: str) -> list[Any]:
    """The routes of a FastAPI app that fully match ``GET path``."""
    from starlette.routing import Match

    scope = {"type": "http", "path": path, "method": "GET"}
    return [route for route in app.routes if route.matches(scope)[0] == Match.FULL]


@pytest.mark.parametrize("engine", ["asr", "tts"])
def test_predictor_command_line_and_probes_are_the_predictors_own(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every arg (KServe's and ours) parses with the predictor's real parser; both probe paths are served."""
    import importlib
    from unittest import mock

    from fastapi import FastAPI
    from kserve import model_server
    from kserve.protocol.rest import v2_endpoints

    from voicestack_predictors.common import server

    (container,) = one(build({}), "InferenceService", f"demo-{engine}")["spec"]["predictor"]["containers"]
    assert container["command"] == ["voicestack", engine]
    parser = importlib.import_module(f"voicestack_predictors.{engine}.__main__").build_parser()
    parsed = parser.parse_args(container["args"])
    model = isvc.MODEL_NAMES[engine]
    assert (parsed.model_name, parsed.http_port, parsed.enable_grpc) == (model, isvc.PORT, False)
    assert parsed.http_host == "0.0.0.0", "in a pod the predictor listens on every address"
    assert parsed.load_at_start is True
    assert container["ports"][0]["containerPort"] == parsed.http_port

    ours, kserves = FastAPI(), FastAPI()
    monkeypatch.setattr(model_server, "app", ours)
    server.install_routes(mock.MagicMock(name=model))  # the predictor's routes (model-aware readiness)
    v2_endpoints.register_v2_endpoints(kserves, mock.MagicMock(), mock.MagicMock())  # KServe's own
    ready = container["readinessProbe"]["httpGet"]
    alive = container["livenessProbe"]["httpGet"]
    assert ready["port"] == alive["port"] == parsed.http_port
    assert matching_routes(ours, ready["path"]), f"{ready['path']}: not a route of the {engine} predictor"
    assert matching_routes(kserves, alive["path"]), f"{alive['path']}: not a route of KServe's server"


def test_router_command_line_and_probes_are_the_routers_own() -> None:
    from voicestack_router.__main__ import build_parser
    from voicestack_router.app import create_app
    from voicestack_router.settings import RouterSettings

    (container,) = one(build({}), "Deployment", "demo-router")["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["voicestack", "router"]
    parsed = build_parser().parse_args(container["args"])
    (port,) = container["ports"]
    assert (parsed.host, parsed.port) == ("0.0.0.0", port["containerPort"])
    app = create_app(RouterSettings())
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["port"] == port["name"], probe
        assert matching_routes(app, get["path"]), f"{get['path']}: not a route of the router"


def restricted_problems(pod: dict[str, Any]) -> list[str]:
    """Where a pod spec breaks Pod Security Standards "restricted" (the checks that apply to it)."""
    problems = []
    pod_security = pod.get("securityContext", {})
    for container in pod["containers"]:
        security = container.get("securityContext", {})
        name = container["name"]
        if security.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation not false")
        if security.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{name}: capabilities not dropped")
        if not security.get("runAsNonRoot", pod_security.get("runAsNonRoot")):
            problems.append(f"{name}: runAsNonRoot not true")
        seccomp = security.get("seccompProfile", pod_security.get("seccompProfile", {}))
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: no RuntimeDefault seccomp profile")
    return problems


@pytest.mark.parametrize("label", list(SPECS))
def test_every_pod_meets_the_restricted_pod_security_standard(label: str) -> None:
    pods = pod_specs(build(SPECS[label]))
    assert set(pods) >= {"router", "asr"}
    assert [problem for pod in pods.values() for problem in restricted_problems(pod)] == []
