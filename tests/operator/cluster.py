"""A running API-server emulator on its own thread, with a kubeconfig, for the real Kopf operator to talk to.

Tests are synchronous: Kopf runs in KopfRunner's thread, the emulator in this one, and the test drives both.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kmock
import yaml

from tests.operator.fake_apiserver import WRITE_METHODS, FakeApiServer, Recorded, ResourceSpec
from tests.support.assets import k8s_root
from tests.support.k8s_schema import crd_validator, errors
from tests.support.media import pcm16_wav

ROOT = Path(__file__).resolve().parents[2]
VOICESTACK_CRD = ROOT / "crds" / "voicestack.io_voicestacks.yaml"

VOICESTACKS = ResourceSpec("voicestack.io", "v1alpha1", "voicestacks", "VoiceStack", status_subresource=True)
ISVCS = ResourceSpec(
    "serving.kserve.io", "v1beta1", "inferenceservices", "InferenceService", status_subresource=True
)
CONFIGMAPS = ResourceSpec("", "v1", "configmaps", "ConfigMap")
SERVICES = ResourceSpec("", "v1", "services", "Service", status_subresource=True)
SERVICEACCOUNTS = ResourceSpec("", "v1", "serviceaccounts", "ServiceAccount")
EVENTS = ResourceSpec("", "v1", "events", "Event")
NAMESPACES = ResourceSpec("", "v1", "namespaces", "Namespace", namespaced=False, status_subresource=True)
DEPLOYMENTS = ResourceSpec("apps", "v1", "deployments", "Deployment", status_subresource=True)
INGRESSES = ResourceSpec("networking.k8s.io", "v1", "ingresses", "Ingress", status_subresource=True)
ROLES = ResourceSpec("rbac.authorization.k8s.io", "v1", "roles", "Role")
ROLEBINDINGS = ResourceSpec("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding")
CRDS = ResourceSpec(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    namespaced=False,
    status_subresource=True,
)
EVENTS_K8S = ResourceSpec("events.k8s.io", "v1", "events", "Event")

CORE = [
    CONFIGMAPS,
    SERVICES,
    SERVICEACCOUNTS,
    EVENTS,
    NAMESPACES,
    DEPLOYMENTS,
    INGRESSES,
    ROLES,
    ROLEBINDINGS,
    CRDS,
    EVENTS_K8S,
]
BY_KIND = {spec.kind: spec for spec in [VOICESTACKS, ISVCS, *CORE] if spec.group != "events.k8s.io"}


def schema_validator(path: Path) -> Any:
    validator = crd_validator(path)
    return lambda obj: errors(validator, obj)


class Cluster:
    """The emulator served on 127.0.0.1 from a background event loop."""

    def __init__(self, tmp: Path) -> None:
        isvc_crd = k8s_root() / "kserve-crds" / "serving.kserve.io_inferenceservices.yaml"
        validators = {"voicestacks": schema_validator(VOICESTACK_CRD), "isvcs": schema_validator(isvc_crd)}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.emulator: FakeApiServer = self.call(self._start(validators))
        self.kubeconfig = tmp / "kubeconfig"
        self.kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "emulator",
                    "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
                    "users": [{"name": "tester", "user": {"token": "test-token"}}],
                    "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "tester"}}],
                }
            )
        )

    async def _start(self, validators: dict[str, Any]) -> FakeApiServer:
        emulator = FakeApiServer()
        await emulator.__aenter__()
        emulator.add_resource(VOICESTACKS, validators["voicestacks"])
        emulator.add_resource(ISVCS, validators["isvcs"])
        for spec in CORE:
            emulator.add_resource(spec)
        self.server = kmock.Server(emulator)
        await self.server.__aenter__()
        self.url = str(self.server.url).rstrip("/")
        return emulator

    def call(self, coroutine: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        async def stop() -> None:
            await self.server.__aexit__(None, None, None)
            with contextlib.suppress(Exception):
                await self.emulator.__aexit__(None, None, None)

        async def cancel_the_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.call(stop())
        with contextlib.suppress(Exception):
            self.call(cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.loop.is_running():
            self.loop.close()

    # -- objects --

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self.call(self.emulator.put_object(BY_KIND[obj["kind"]], obj))

    def get(self, kind: str, name: str, namespace: str | None = "default") -> dict[str, Any] | None:
        return self.emulator.objects.get((BY_KIND[kind].key, namespace, name))

    def list(self, kind: str, namespace: str | None = "default") -> list[dict[str, Any]]:
        key = BY_KIND[kind].key
        return [
            obj for (k, ns, _), obj in list(self.emulator.objects.items()) if k == key and ns == namespace
        ]

    def patch(
        self,
        kind: str,
        name: str,
        patch: dict[str, Any],
        *,
        status: bool = False,
        namespace: str | None = "default",
    ) -> dict[str, Any]:
        return self.call(self.emulator.patch_object(BY_KIND[kind], namespace, name, patch, status=status))

    def delete(self, kind: str, name: str, namespace: str | None = "default") -> None:
        self.call(self.emulator.delete_object(BY_KIND[kind], namespace, name))

    # -- calls --

    def mark(self) -> int:
        return len(self.emulator.calls)

    def writes(self, since: int = 0, *, exclude: Callable[[Recorded], bool] | None = None) -> list[Recorded]:
        calls = self.emulator.calls[since:]
        return [c for c in calls if c.method in WRITE_METHODS and not (exclude and exclude(c))]

    def child_writes(self, since: int = 0) -> list[Recorded]:
        """Writes to anything but the VoiceStacks themselves and Events."""
        return self.writes(since, exclude=lambda c: c.plural in {"voicestacks", "events"})

    def events(self, namespace: str = "default") -> list[dict[str, Any]]:
        return self.list("Event", namespace)


def wait_for(condition: Callable[[], Any], timeout: float = 20, interval: float = 0.1, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(interval)


@contextlib.contextmanager
def emulated_cluster(tmp: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp)
    try:
        yield cluster
    finally:
        cluster.close()


def wav_bytes(seconds: float = 0.1, rate: int = 16000) -> bytes:
    return pcm16_wav(b"\x00\x00" * int(seconds * rate), rate)


def wav_base64(seconds: float = 0.1) -> str:
    return base64.b64encode(wav_bytes(seconds)).decode()
