"""The router: its config ConfigMap, Deployment, Service, optional Ingress, and RBAC for voice ConfigMaps."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import yaml

from voicestack_operator.images import Images
from voicestack_operator.manifests import labels
from voicestack_operator.manifests.isvc import (
    CONTAINER_SECURITY,
    MODEL_NAMES,
    POD_SECURITY,
    container_resources,
    merge_env,
    model_name,
    scheduling,
)
from voicestack_operator.spec_model import Ingress, RouterLimits, VoiceStackSpec

PORT = 8000
SERVICE_PORT = 80
CONFIG_DIR = "/etc/voicestack"
CONFIG_FILE = "router.yaml"
COMPONENT = "router"


def _meta(stack: str, namespace: str, name: str | None = None) -> dict[str, Any]:
    return {
        "name": name or labels.router_name(stack),
        "namespace": namespace,
        "labels": labels.standard_labels(stack, COMPONENT),
    }


def router_settings(
    stack: str, namespace: str, spec: VoiceStackSpec, predictor_urls: dict[str, str]
) -> dict[str, Any]:
    """The keys of ``router.yaml`` (docs/contracts.md, "Router configuration")."""
    limits = spec.router.limits
    return {
        "asr_urls": [predictor_urls["asr"]] if spec.asr.enabled else [],
        "asr_model_name": MODEL_NAMES["asr"],
        "asr_aliases": ["whisper-1"],
        "tts_urls": [predictor_urls["tts"]] if spec.tts.enabled else [],
        "tts_model_name": model_name(spec.tts),
        "tts_aliases": ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"],
        "cors_origins": list(spec.router.corsOrigins or []),
        "max_upload_mb": limits.maxUploadMb,
        "max_bazarr_upload_mb": limits.maxBazarrUploadMb,
        "max_input_chars": limits.maxInputChars,
        "request_timeout_seconds": limits.requestTimeoutSeconds,
        "voice_store": "configmap",
        "namespace": namespace,
        "stack_name": stack,
    }


def config_map(stack: str, namespace: str, settings: dict[str, Any]) -> dict[str, Any]:
    text = yaml.safe_dump(settings, sort_keys=True)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(stack, namespace),
        "data": {CONFIG_FILE: text},
    }


def config_checksum(config: dict[str, Any]) -> str:
    return hashlib.sha256(config["data"][CONFIG_FILE].encode()).hexdigest()


def deployment(
    stack: str, namespace: str, spec: VoiceStackSpec, images: Images, checksum: str
) -> dict[str, Any]:
    router = spec.router
    env: list[dict[str, Any]] = [{"name": "ROUTER_CONFIG_FILE", "value": f"{CONFIG_DIR}/{CONFIG_FILE}"}]
    if (ref := router.apiKeySecretRef) is not None:
        env.append(
            {"name": "ROUTER_API_KEYS", "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}
        )
    resources = container_resources(router.resources)
    ready = {"httpGet": {"path": "/health", "port": "http"}}  # 503 while no predictor is reachable
    alive = {
        "httpGet": {"path": "/healthz", "port": "http"}
    }  # 200 while serving: never restarts for a backend
    container: dict[str, Any] = {
        "name": COMPONENT,
        "image": router.image or images.router,
        "imagePullPolicy": images.router_pull_policy,
        "command": ["voicestack", "router"],
        "args": ["--host", "0.0.0.0", "--port", str(PORT)],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": merge_env(env, router.env),
        "readinessProbe": {**ready, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**alive, "initialDelaySeconds": 10, "periodSeconds": 20, "failureThreshold": 3},
        "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}],
        "securityContext": copy.deepcopy(CONTAINER_SECURITY),
    }
    if resources:
        container["resources"] = resources
    selector = labels.selector_labels(stack, COMPONENT)
    pod_spec: dict[str, Any] = {
        "serviceAccountName": labels.router_name(stack),
        "securityContext": copy.deepcopy(POD_SECURITY),
        **scheduling(router),
        "containers": [container],
        "volumes": [{"name": "config", "configMap": {"name": labels.router_name(stack)}}],
    }
    if images.pull_secrets:
        pod_spec["imagePullSecrets"] = images.pull_secret_refs()
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(stack, namespace),
        "spec": {
            "replicas": router.replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": labels.standard_labels(stack, COMPONENT),
                    "annotations": {labels.CONFIG_CHECKSUM_ANNOTATION: checksum},
                },
                "spec": pod_spec,
            },
        },
    }


def service(stack: str, namespace: str, spec: VoiceStackSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(stack, namespace),
        "spec": {
            "type": spec.router.serviceType,
            "selector": labels.selector_labels(stack, COMPONENT),
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def default_ingress_annotations(limits: RouterLimits) -> dict[str, str]:
    """ingress-nginx settings Bazarr needs: whole media files in one request, long transcriptions.

    The read/send timeouts also keep realtime WebSockets (``/v1/realtime``) open while a client is quiet:
    nginx upgrades WebSockets by itself, and 600 s by default is above the router's realtime idle limit.
    """
    timeout = str(limits.requestTimeoutSeconds)
    return {
        "nginx.ingress.kubernetes.io/proxy-body-size": f"{limits.maxBazarrUploadMb}m",
        "nginx.ingress.kubernetes.io/proxy-read-timeout": timeout,
        "nginx.ingress.kubernetes.io/proxy-send-timeout": timeout,
        "nginx.ingress.kubernetes.io/proxy-request-buffering": "off",
    }


def _ingress_host(settings: Ingress) -> str:
    if settings.host is None:  # the CRD's CEL rule refuses this spec
        raise ValueError("spec.router.ingress.host is required when the ingress is enabled")
    return settings.host


def ingress(stack: str, namespace: str, spec: VoiceStackSpec) -> dict[str, Any]:
    settings = spec.router.ingress
    host = _ingress_host(settings)
    meta = _meta(stack, namespace)
    meta["annotations"] = {**default_ingress_annotations(spec.router.limits), **(settings.annotations or {})}
    backend = {"service": {"name": labels.router_name(stack), "port": {"name": "http"}}}
    ingress_spec: dict[str, Any] = {
        "rules": [
            {
                "host": host,
                "http": {"paths": [{"path": settings.path, "pathType": "Prefix", "backend": backend}]},
            }
        ]
    }
    if settings.className:
        ingress_spec["ingressClassName"] = settings.className
    if settings.tls.enabled:
        secret = settings.tls.secretName or f"{labels.router_name(stack)}-tls"
        ingress_spec["tls"] = [{"hosts": [host], "secretName": secret}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": ingress_spec}


def service_account(stack: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(stack, namespace)}


def role(stack: str, namespace: str) -> dict[str, Any]:
    """The router's voices API manages voice ConfigMaps in its own namespace, nothing else.

    The verbs are exactly the calls of ``voicestack_router.voice_store.ConfigMapVoiceStore`` (create,
    replace on a conflict, list by label, delete); the operator holds each of them (RBAC lets it grant no
    more).
    """
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(stack, namespace),
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "verbs": ["get", "list", "create", "update", "delete"],
            }
        ],
    }


def role_binding(stack: str, namespace: str) -> dict[str, Any]:
    name = labels.router_name(stack)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(stack, namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    }


def router_url(stack: str, namespace: str) -> str:
    return f"http://{labels.router_name(stack)}.{namespace}.svc.cluster.local"


def external_url(spec: VoiceStackSpec) -> str | None:
    settings = spec.router.ingress
    if not settings.enabled:
        return None
    scheme = "https" if settings.tls.enabled else "http"
    path = settings.path.rstrip("/")
    return f"{scheme}://{_ingress_host(settings)}{path}"
