"""A small generic Kubernetes API client (dicts in, dicts out) over kubernetes_asyncio's ApiClient.

Generic on purpose: the operator handles core kinds and custom resources (InferenceService, VoiceStack) the
same way, and compares plain dicts with the manifests the builders return.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"  # JSON is YAML: the body is sent as JSON
FIELD_MANAGER = "voicestack-operator"


@dataclass(frozen=True)
class Kind:
    """An API resource: where its objects live."""

    group: str
    version: str
    plural: str
    kind: str

    @property
    def base(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def path(self, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        path = f"{self.base}/namespaces/{namespace}/{self.plural}"
        if name:
            path += f"/{name}"
        if subresource:
            path += f"/{subresource}"
        return path


VOICESTACK = Kind("voicestack.io", "v1alpha1", "voicestacks", "VoiceStack")
INFERENCESERVICE = Kind("serving.kserve.io", "v1beta1", "inferenceservices", "InferenceService")
CONFIGMAP = Kind("", "v1", "configmaps", "ConfigMap")
SERVICE = Kind("", "v1", "services", "Service")
SERVICEACCOUNT = Kind("", "v1", "serviceaccounts", "ServiceAccount")
DEPLOYMENT = Kind("apps", "v1", "deployments", "Deployment")
INGRESS = Kind("networking.k8s.io", "v1", "ingresses", "Ingress")
ROLE = Kind("rbac.authorization.k8s.io", "v1", "roles", "Role")
ROLEBINDING = Kind("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding")

KINDS = {
    k.kind: k
    for k in (
        VOICESTACK,
        INFERENCESERVICE,
        CONFIGMAP,
        SERVICE,
        SERVICEACCOUNT,
        DEPLOYMENT,
        INGRESS,
        ROLE,
        ROLEBINDING,
    )
}


def kind_of(manifest: dict[str, Any]) -> Kind:
    return KINDS[manifest["kind"]]


class ApiError(Exception):
    """An API call failed (status 0: no answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class KubeApi:
    def __init__(self, api_client: client.ApiClient) -> None:
        self._client = api_client

    @classmethod
    async def connect(cls) -> KubeApi:
        """In-cluster credentials when running in a pod, else the kubeconfig (``KUBECONFIG``)."""
        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:
            # KUBECONFIG is read now, not when kubernetes_asyncio was imported (tests switch clusters).
            await config.load_kube_config(
                config_file=os.environ.get("KUBECONFIG") or None, client_configuration=configuration
            )
        api_client = client.ApiClient(configuration)
        # The field manager of the non-apply writes (status, JSON patches), not "OpenAPI-Generator".
        api_client.user_agent = FIELD_MANAGER
        return cls(api_client)

    async def close(self) -> None:
        await self._client.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        try:
            return await self._client.call_api(
                path,
                method,
                query_params=list((query or {}).items()),
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                body=body,
                auth_settings=["BearerToken"],
                response_types_map={200: "object", 201: "object", 202: "object"},
                _return_http_data_only=True,
            )
        except ApiException as exc:
            raise ApiError(exc.status or 0, _message(exc)) from exc
        except (OSError, TimeoutError) as exc:
            raise ApiError(0, f"{type(exc).__name__}: {exc}") from exc

    async def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.request("GET", kind.path(namespace, name))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def list(
        self, kind: Kind, namespace: str, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        query = {"labelSelector": label_selector} if label_selector else None
        found = await self.request("GET", kind.path(namespace), query=query)
        return list((found or {}).get("items") or [])

    async def apply(self, manifest: dict[str, Any], subresource: str | None = None) -> dict[str, Any]:
        """Server-side apply (creates the object if missing); conflicts with other managers are forced."""
        meta = manifest["metadata"]
        return await self.request(
            "PATCH",
            kind_of(manifest).path(meta["namespace"], meta["name"], subresource),
            body=manifest,
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
            content_type=APPLY_PATCH,
        )

    async def patch(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        patch: dict[str, Any] | list[dict[str, Any]],
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """A JSON merge patch (a dict) or a JSON patch (a list of operations)."""
        path = kind.path(namespace, name, subresource)
        content_type = JSON_PATCH if isinstance(patch, list) else MERGE_PATCH
        return await self.request("PATCH", path, body=patch, content_type=content_type)

    async def delete(self, kind: Kind, namespace: str, name: str) -> bool:
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        try:
            await self.request("DELETE", kind.path(namespace, name), body=body)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def serves(self, kind: Kind) -> bool:
        """Whether the cluster has this API (e.g. KServe's CRDs are installed)."""
        try:
            found = await self.request("GET", kind.base)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return any(r.get("name") == kind.plural for r in (found or {}).get("resources") or [])


def _message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body).get("message") or exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)
