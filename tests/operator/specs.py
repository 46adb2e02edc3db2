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
