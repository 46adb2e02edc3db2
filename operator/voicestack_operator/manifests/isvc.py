"""InferenceServices (serving.kserve.io/v1beta1) for the ASR and TTS predictors.

A custom predictor container (``kserve-container`` on 8080) per engine, not a ServingRuntime: see
docs/operator.md, "Why no ServingRuntime". The container's environment is built from the predictors' settings
models (``voicestack/contracts``), so no variable name is written here by hand.
"""

from __future__ import annotations

import copy
from typing import Any

from voicestack.contracts import asr_settings, tts_settings
from voicestack.contracts.models import ASR_MODEL_NAME, TTS_FAST_MODEL_NAME, TTS_MODEL_NAME
from voicestack.contracts.predictor_settings import PredictorSettings
from voicestack_operator.images import Images
from voicestack_operator.manifests import labels
from voicestack_operator.manifests.voices import VOICE_DIR, voice_mount, voice_volume
from voicestack_operator.spec_model import (
    AsrSpec,
    Engine,
    EnvVar,
    PredictorResources,
    PredictorSpec,
    RouterResources,
    Scheduling,
    TtsSpec,
    VoiceStackSpec,
)

API_VERSION = "serving.kserve.io/v1beta1"
DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
MODEL_NAMES = {"asr": ASR_MODEL_NAME, "tts": TTS_MODEL_NAME}
PIPER_MODEL_NAME = TTS_FAST_MODEL_NAME  # the TTS predictor's KServe model name with spec.tts.engine piper
PORT = 8080
MODEL_MOUNT = "/mnt/models"
COQUI_TOS_VARIABLE = "COQUI_TOS_AGREED"  # coqui-tts: the CPML was accepted


Env = list[dict[str, str]]


def settings_env(*settings: PredictorSettings) -> Env:
    """The ``env`` entries that give a predictor these settings (variable names and value text are the
    settings models' own: ``voicestack/contracts/*_settings.py``)."""
    return [{"name": name, "value": value} for one in settings for name, value in one.to_env().items()]


def _present(**values: Any) -> dict[str, Any]:
    """The values that are set: an unset one leaves the predictor's own default."""
    return {name: value for name, value in values.items() if value is not None}


def serving_values(section: PredictorSpec) -> dict[str, Any]:
    return {
        "load_at_start": section.loadAtStart,
        "idle_unload_seconds": section.idleUnloadSeconds,
        "max_concurrency": section.maxConcurrency,
        "max_queue": section.maxQueue,
    }


def asr_env(asr: AsrSpec) -> Env:
    engine = asr_settings.EngineSettings.of(
        **_present(
            engine=asr.engine,
            model=MODEL_MOUNT if asr.storageUri is not None else asr.model,
            device=asr.device,
            beam_size=asr.beamSize,
            vad=asr.vad,
            # "default": the predictor picks by device (float16 cuda, int8/float32 cpu)
            compute_type=None if asr.computeType == "default" else asr.computeType,
            batch_size=asr.batchSize,
            cross_request_batching=asr.crossRequestBatching,
            cross_request_wait_ms=asr.crossRequestWaitMs,
        )
    )
    return settings_env(engine, asr_settings.AsrServing.of(**serving_values(asr)))


def model_name(section: AsrSpec | TtsSpec) -> str:
    """The KServe model name of a predictor: its URLs and the router's."""
    if isinstance(section, TtsSpec):
        return PIPER_MODEL_NAME if section.engine == "piper" else MODEL_NAMES["tts"]
    return MODEL_NAMES["asr"]


def tts_env(tts: TtsSpec) -> Env:
    engine = tts_settings.EngineSettings.of(
        **_present(
            engine=tts.engine,
            model=tts.model,
            device=tts.device,
            voices_dir=VOICE_DIR,
            auto_lang=tts.autoLang,
            voice_aliases=tts.voiceAliases or None,
        )
    )
    env = settings_env(engine, tts_settings.TtsServing.of(**serving_values(tts)))
    if tts.acceptModelLicense and tts.engine != "piper":
        # The user accepted the Coqui Public Model License (non-commercial) in the spec: coqui-tts may then
        # download XTTS-v2. Never set otherwise; the predictor does not accept it by itself.
        env.append({"name": COQUI_TOS_VARIABLE, "value": "1"})
    return env


def merge_env(generated: list[dict[str, Any]], extra: list[EnvVar] | None) -> list[dict[str, Any]]:
    """Generated variables, with the user's ``env`` entries replacing same-named ones and appended after."""
    user = [e.model_dump(exclude_none=True) for e in extra or []]
    overridden = {e["name"] for e in user}
    return [e for e in generated if e["name"] not in overridden] + user


def container_resources(resources: PredictorResources | RouterResources) -> dict[str, Any]:
    """Requests and limits; the memory request is the memory limit too unless ``memoryLimit`` is set."""
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    if resources.cpu is not None:
        requests["cpu"] = resources.cpu
    if resources.cpuLimit is not None:
        limits["cpu"] = resources.cpuLimit
    if resources.memory is not None:
        requests["memory"] = resources.memory
    memory_limit = resources.memoryLimit if resources.memoryLimit is not None else resources.memory
    if memory_limit is not None:
        limits["memory"] = memory_limit
    gpu = resources.gpu if isinstance(resources, PredictorResources) else 0
    if gpu:
        requests["nvidia.com/gpu"] = gpu
        limits["nvidia.com/gpu"] = gpu
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


def scheduling(section: Scheduling) -> dict[str, Any]:
    """The pod's nodeSelector, tolerations and affinity, those that are set and not empty."""
    placement = section.model_dump(include={"nodeSelector", "tolerations", "affinity"}, exclude_none=True)
    return {key: value for key, value in placement.items() if value}


def predictor_image(section: AsrSpec | TtsSpec, images: Images) -> tuple[str, str]:
    """(image, imagePullPolicy): the CUDA ASR image when a GPU is wanted; a spec image keeps the policy."""
    if isinstance(section, AsrSpec):
        uses_gpu = section.resources.gpu > 0 or section.device == "cuda"
        if uses_gpu:
            image, policy = images.asr_cuda, images.asr_cuda_pull_policy
        else:
            image, policy = images.asr, images.asr_pull_policy
    else:
        image, policy = images.tts, images.tts_pull_policy
    return section.image or image, policy


def inference_service(
    stack: str,
    namespace: str,
    spec: VoiceStackSpec,
    engine: Engine,
    images: Images,
    voice_sources: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The InferenceService of one engine (``asr`` or ``tts``) of a normalized spec."""
    section = spec.predictor(engine)
    name = model_name(section)
    generated_env = asr_env(section) if isinstance(section, AsrSpec) else tts_env(section)
    image, pull_policy = predictor_image(section, images)
    container: dict[str, Any] = {
        "name": "kserve-container",
        "image": image,
        "imagePullPolicy": pull_policy,
        "command": ["voicestack", engine],
        "args": [
            f"--model_name={name}",
            f"--http_port={PORT}",
            "--enable_grpc=false",
            "--load_at_start" if section.loadAtStart else "--no-load_at_start",
        ],
        "ports": [{"name": "http1", "containerPort": PORT, "protocol": "TCP"}],
        "env": merge_env(generated_env, section.env),
        **probes(name),
        "securityContext": copy.deepcopy(CONTAINER_SECURITY),
    }
    resources = container_resources(section.resources)
    if resources:
        container["resources"] = resources
    predictor: dict[str, Any] = {
        "minReplicas": section.minReplicas,
        "maxReplicas": section.maxReplicas,
        **scheduling(section),
        "securityContext": copy.deepcopy(POD_SECURITY),
        "containers": [container],
    }
    if images.pull_secrets:
        predictor["imagePullSecrets"] = images.pull_secret_refs()
    if section.scaleMetric is not None:
        predictor["scaleMetric"] = section.scaleMetric
    if section.scaleTarget is not None:
        predictor["scaleTarget"] = section.scaleTarget
    if isinstance(section, AsrSpec) and section.storageUri is not None:
        predictor["storageUris"] = [{"uri": section.storageUri, "mountPath": MODEL_MOUNT}]
    if isinstance(section, TtsSpec):
        container["volumeMounts"] = [voice_mount()]
        predictor["volumes"] = [voice_volume(voice_sources or [])]
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {
            "name": labels.isvc_name(stack, engine),
            "namespace": namespace,
            "labels": labels.standard_labels(stack, engine),
            "annotations": {DEPLOYMENT_MODE_ANNOTATION: spec.deploymentMode},
        },
        "spec": {"predictor": predictor},
    }


def predictor_url(stack: str, namespace: str, engine: str) -> str:
    """The predictor's in-cluster URL (Standard mode's Service; Knative's cluster-local address is alike)."""
    return f"http://{labels.isvc_name(stack, engine)}-predictor.{namespace}.svc.cluster.local"
