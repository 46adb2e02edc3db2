"""InferenceServices (serving.kserve.io/v1beta1) for the ASR and TTS predictors.

A custom predictor container (``kserve-container`` on 8080) per engine, not a ServingRuntime: see
docs/operator.md, "Why no ServingRuntime".
"""

from __future__ import annotations

import copy
from typing import Any

from voicestack.contracts.models import ASR_MODEL_NAME, TTS_FAST_MODEL_NAME, TTS_MODEL_NAME
from voicestack_operator.images import Images
from voicestack_operator.manifests import labels
from voicestack_operator.manifests.voices import VOICE_DIR, voice_mount, voice_volume

API_VERSION = "serving.kserve.io/v1beta1"
DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
MODEL_NAMES = {"asr": ASR_MODEL_NAME, "tts": TTS_MODEL_NAME}
PIPER_MODEL_NAME = TTS_FAST_MODEL_NAME  # the TTS predictor's KServe model name with spec.tts.engine piper
PORT = 8080
MODEL_MOUNT = "/mnt/models"
COQUI_TOS_VARIABLE = "COQUI_TOS_AGREED"  # coqui-tts: the CPML was accepted


def _flag(value: bool) -> str:
    return "true" if value else "false"


def serving_env(prefix: str, section: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"name": f"{prefix}_LOAD_AT_START", "value": _flag(section["loadAtStart"])},
        {"name": f"{prefix}_IDLE_UNLOAD_SECONDS", "value": str(section["idleUnloadSeconds"])},
        {"name": f"{prefix}_MAX_CONCURRENCY", "value": str(section["maxConcurrency"])},
        {"name": f"{prefix}_MAX_QUEUE", "value": str(section["maxQueue"])},
    ]


def asr_env(asr: dict[str, Any]) -> list[dict[str, str]]:
    model = MODEL_MOUNT if "storageUri" in asr else asr["model"]
    env = [
        {"name": "ASR_ENGINE", "value": asr["engine"]},
        {"name": "ASR_MODEL", "value": model},
        {"name": "ASR_DEVICE", "value": asr["device"]},
        {"name": "ASR_BEAM_SIZE", "value": str(asr["beamSize"])},
        {"name": "ASR_VAD_ENABLED", "value": _flag(asr["vad"])},
    ]
    if (
        asr["computeType"] != "default"
    ):  # unset: the predictor picks by device (float16 cuda, int8/float32 cpu)
        env.append({"name": "ASR_COMPUTE_TYPE", "value": asr["computeType"]})
    if "batchSize" in asr:
        env.append({"name": "ASR_BATCH_SIZE", "value": str(asr["batchSize"])})
    return env + serving_env("ASR", asr)


def voice_aliases(aliases: dict[str, str]) -> str:
    return ",".join(f"{alias}={voice}" for alias, voice in sorted(aliases.items()))


def model_name(engine: str, section: dict[str, Any]) -> str:
    """The KServe model name of a predictor (``engine`` is ``asr`` or ``tts``): its URLs and the router's."""
    if engine == "tts" and section.get("engine") == "piper":
        return PIPER_MODEL_NAME
    return MODEL_NAMES[engine]


def tts_env(tts: dict[str, Any]) -> list[dict[str, str]]:
    env = [
        {"name": "TTS_ENGINE", "value": tts["engine"]},
        {"name": "TTS_MODEL", "value": tts["model"]},
        {"name": "TTS_DEVICE", "value": tts["device"]},
        {"name": "TTS_VOICE_DIR", "value": VOICE_DIR},
        {"name": "TTS_AUTO_LANG", "value": _flag(tts["autoLang"])},
    ]
    if tts.get("voiceAliases"):
        env.append({"name": "TTS_VOICE_ALIASES", "value": voice_aliases(tts["voiceAliases"])})
    if tts.get("acceptModelLicense") and tts["engine"] != "piper":
        # The user accepted the Coqui Public Model License (non-commercial) in the spec: coqui-tts may then
        # download XTTS-v2. Never set otherwise; the predictor does not accept it by itself.
        env.append({"name": COQUI_TOS_VARIABLE, "value": "1"})
    return env + serving_env("TTS", tts)


def merge_env(generated: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Generated variables, with the user's ``env`` entries replacing same-named ones and appended after."""
    overridden = {e["name"] for e in extra}
    return [e for e in generated if e["name"] not in overridden] + [dict(e) for e in extra]


def container_resources(resources: dict[str, Any]) -> dict[str, Any]:
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    if "cpu" in resources:
        requests["cpu"] = resources["cpu"]
    if "cpuLimit" in resources:
        limits["cpu"] = resources["cpuLimit"]
    if "memory" in resources:
        requests["memory"] = resources["memory"]
    if "memoryLimit" in resources or "memory" in resources:
        limits["memory"] = resources.get("memoryLimit", resources.get("memory"))
    if resources.get("gpu"):
        requests["nvidia.com/gpu"] = resources["gpu"]
        limits["nvidia.com/gpu"] = resources["gpu"]
    return {key: value for key, value in (("requests", requests), ("limits", limits)) if value}


def probes(model_name: str) -> dict[str, Any]:
    return {
        "readinessProbe": {
            "httpGet": {"path": f"/v2/models/{model_name}/ready", "port": PORT},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": "/v2/health/live", "port": PORT},
            "initialDelaySeconds": 30,
            "periodSeconds": 20,
            "timeoutSeconds": 10,
            "failureThreshold": 6,
        },
    }


# Pod Security Standards "restricted" (the predictor images run as 10001): the predictors start in namespaces
# that enforce it, like the router. Pod-level only what also suits KServe's own containers (seccomp).
CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
}
POD_SECURITY: dict[str, Any] = {"seccompProfile": {"type": "RuntimeDefault"}}


def scheduling(section: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in ("nodeSelector", "tolerations", "affinity"):
        if section.get(key):
            fields[key] = section[key]
    return fields


def predictor_image(engine: str, section: dict[str, Any], images: Images) -> tuple[str, str]:
    """(image, imagePullPolicy): the CUDA ASR image when a GPU is wanted; a spec image keeps the policy."""
    if engine == "asr":
        uses_gpu = section["resources"].get("gpu", 0) > 0 or section["device"] == "cuda"
        if uses_gpu:
            image, policy = images.asr_cuda, images.asr_cuda_pull_policy
        else:
            image, policy = images.asr, images.asr_pull_policy
    else:
        image, policy = images.tts, images.tts_pull_policy
    return section.get("image") or image, policy


def inference_service(
    stack: str,
    namespace: str,
    spec: dict[str, Any],
    engine: str,
    images: Images,
    voice_sources: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The InferenceService of one engine (``asr`` or ``tts``) of a normalized spec."""
    section = spec[engine]
    name = model_name(engine, section)
    generated_env = asr_env(section) if engine == "asr" else tts_env(section)
    image, pull_policy = predictor_image(engine, section, images)
    container: dict[str, Any] = {
        "name": "kserve-container",
        "image": image,
        "imagePullPolicy": pull_policy,
        "command": ["voicestack", engine],
        "args": [
            f"--model_name={name}",
            f"--http_port={PORT}",
            "--enable_grpc=false",
            "--load_at_start" if section["loadAtStart"] else "--no-load_at_start",
        ],
        "ports": [{"name": "http1", "containerPort": PORT, "protocol": "TCP"}],
        "env": merge_env(generated_env, section.get("env", [])),
        **probes(name),
        "securityContext": copy.deepcopy(CONTAINER_SECURITY),
    }
    resources = container_resources(section["resources"])
    if resources:
        container["resources"] = resources
    predictor: dict[str, Any] = {
        "minReplicas": section["minReplicas"],
        "maxReplicas": section["maxReplicas"],
        **scheduling(section),
        "securityContext": copy.deepcopy(POD_SECURITY),
        "containers": [container],
    }
    if images.pull_secrets:
        predictor["imagePullSecrets"] = images.pull_secret_refs()
    if "scaleMetric" in section:
        predictor["scaleMetric"] = section["scaleMetric"]
    if "scaleTarget" in section:
        predictor["scaleTarget"] = section["scaleTarget"]
    if engine == "asr" and "storageUri" in section:
        predictor["storageUris"] = [{"uri": section["storageUri"], "mountPath": MODEL_MOUNT}]
    if engine == "tts":
        container["volumeMounts"] = [voice_mount()]
        predictor["volumes"] = [voice_volume(voice_sources or [])]
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {
            "name": labels.isvc_name(stack, engine),
            "namespace": namespace,
            "labels": labels.standard_labels(stack, engine),
            "annotations": {DEPLOYMENT_MODE_ANNOTATION: spec["deploymentMode"]},
        },
        "spec": {"predictor": predictor},
    }


def predictor_url(stack: str, namespace: str, engine: str) -> str:
    """The predictor's in-cluster URL (Standard mode's Service; Knative's cluster-local address is alike)."""
    return f"http://{labels.isvc_name(stack, engine)}-predictor.{namespace}.svc.cluster.local"
