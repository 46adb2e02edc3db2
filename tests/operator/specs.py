"""VoiceStack specs and manifests shared by the operator tests (pure data, no cluster)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from tests.operator.cluster import wav_base64

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def stack(
    name: str = "demo", spec: dict[str, Any] | None = None, namespace: str = "default"
) -> dict[str, Any]:
    """A VoiceStack object."""
    return {
        "apiVersion": "voicestack.io/v1alpha1",
        "kind": "VoiceStack",
        "metadata": {"name": name, "namespace": namespace},
        "spec": copy.deepcopy(spec or {}),
    }


def full_spec() -> dict[str, Any]:
    """A spec touching every builder branch: GPU, storageUri, scaling, scheduling, voices, ingress, auth."""
    scheduling = {
        "nodeSelector": {"nvidia.com/gpu.present": "true"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "gpu", "operator": "In", "values": ["a100"]}]}
                    ]
                }
            }
        },
    }
    return {
        "asr": {
            "storageUri": "s3://models/whisper-large-v3-ct2",
            "computeType": "float16",
            "batchSize": 8,
            "vad": True,
            "resources": {"gpu": 1, "cpu": "2", "memory": "8Gi", "cpuLimit": "4"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "scaleMetric": "cpu",
            "scaleTarget": 80,
            "env": [{"name": "ASR_MAX_NEW_TOKENS", "value": "0"}, {"name": "ASR_BEAM_SIZE", "value": "3"}],
            **scheduling,
        },
        "tts": {
            "resources": {"gpu": 1, "memory": "12Gi"},
            "voices": [
                {"name": "anna", "data": wav_base64()},
                {"name": "ben", "configMapKeyRef": {"name": "my-samples", "key": "ben-clean.flac"}},
            ],
            "voiceAliases": {"alloy": "anna", "echo": "ben"},
            **scheduling,
        },
        "router": {
            "replicas": 2,
            "serviceType": "LoadBalancer",
            "apiKeySecretRef": {"name": "voicestack-keys"},
            "corsOrigins": ["https://app.example.com"],
            "ingress": {
                "enabled": True,
                "host": "voice.example.com",
                "className": "nginx",
                "tls": {"enabled": True},
                "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
            },
            "resources": {"cpu": "250m", "memory": "512Mi"},
            "env": [{"name": "ROUTER_LOG_LEVEL", "value": "DEBUG"}],
        },
    }


def knative_spec() -> dict[str, Any]:
    return {
        "deploymentMode": "Knative",
        "asr": {"model": "small", "minReplicas": 0, "maxReplicas": 2, "scaleMetric": "concurrency"},
        "tts": {"enabled": False},
    }


def examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*.yaml"))


def load_example(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict)
    return loaded


# The operator enforces each CEL rule itself too (a cluster may not run CEL): one invalid spec per rule.
INVALID = {
    "nothing enabled": {"asr": {"enabled": False}, "tts": {"enabled": False}},
    "scale to zero needs Knative": {"asr": {"minReplicas": 0}},
    "min over max": {"tts": {"minReplicas": 3, "maxReplicas": 2}},
    "model and storageUri": {"asr": {"model": "small", "storageUri": "s3://bucket/model"}},
    "whisper compute type": {"asr": {"engine": "whisper", "computeType": "int8"}},
    "voice with two sources": {
        "tts": {
            "voices": [{"name": "a", "data": "UklGRg==", "configMapKeyRef": {"name": "x", "key": "a.wav"}}]
        }
    },
    "voice without source": {"tts": {"voices": [{"name": "a"}]}},
    "ingress without host": {"router": {"ingress": {"enabled": True}}},
    "coqui without a model": {"tts": {"engine": "coqui"}},
    "piper with voices": {"tts": {"engine": "piper", "voices": [{"name": "a", "data": "UklGRg=="}]}},
    "piper on a GPU": {"tts": {"engine": "piper", "resources": {"gpu": 1}}},
    "piper on cuda": {"tts": {"engine": "piper", "device": "cuda"}},
}

# The CEL rule (by its message) that rejects each invalid spec, and nothing else does.
PIPER_ON_CPU = "the piper engine runs on CPU: set tts.resources.gpu to 0 and tts.device to auto or cpu"
REJECTED_BY = {
    "nothing enabled": "enable at least one of asr and tts",
    "scale to zero needs Knative": "minReplicas 0 (scale to zero) needs deploymentMode Knative",
    "min over max": "minReplicas must not exceed maxReplicas",
    "model and storageUri": "set model or storageUri, not both",
    "whisper compute type": "engine whisper (openai-whisper) supports computeType float16 or float32 only",
    "voice with two sources": "a voice needs exactly one source: configMapKeyRef or data",
    "voice without source": "a voice needs exactly one source: configMapKeyRef or data",
    "ingress without host": "ingress.host is required when the ingress is enabled",
    "coqui without a model": "engine coqui needs a model (a coqui-tts model name or directory)",
    "piper with voices": "the piper engine cannot clone voices: remove tts.voices or use engine xtts",
    "piper on a GPU": PIPER_ON_CPU,
    "piper on cuda": PIPER_ON_CPU,
}

# Specs the structural schema rejects: (spec, what the offline jsonschema check says, the field the real API
# server names in its error; tests/cluster/test_crd.py).
SCHEMA_REJECTS = [
    ({"asr": {"engine": "nemo"}}, "asr/engine", "spec.asr.engine"),
    ({"asr": {"beamSize": 11}}, "asr/beamSize", "spec.asr.beamSize"),
    ({"asr": {"gpus": 1}}, "Additional properties", 'unknown field "spec.asr.gpus"'),
    ({"deploymentMode": "Serverless"}, "deploymentMode", "spec.deploymentMode"),
    (
        {"tts": {"voices": [{"name": "bad name", "data": "UklGRg=="}]}},
        "voices/0/name",
        "spec.tts.voices[0].name",
    ),
    ({"router": {"serviceType": "ExternalName"}}, "serviceType", "spec.router.serviceType"),
    ({"tts": {"acceptModelLicense": "yes"}}, "acceptModelLicense", "spec.tts.acceptModelLicense"),
    ({"tts": {"voiceAliases": {"alloy": ""}}}, "voiceAliases/alloy", "spec.tts.voiceAliases.alloy"),
]


# The children every stack of the default spec owns (one engine each, no ingress, no voices).
CHILDREN = {
    ("ServiceAccount", "demo-router"),
    ("Role", "demo-router"),
    ("RoleBinding", "demo-router"),
    ("InferenceService", "demo-asr"),
    ("InferenceService", "demo-tts"),
    ("ConfigMap", "demo-router"),
    ("Deployment", "demo-router"),
    ("Service", "demo-router"),
}
# One inline voice: adds its ConfigMap to the children.
VOICE_SPEC = {"tts": {"voices": [{"name": "anna", "data": wav_base64()}]}}
