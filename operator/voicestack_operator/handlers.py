"""Kopf handlers: every trigger ends in the same idempotent reconcile (voicestack_operator.reconcile)."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from voicestack_operator import crd, kube, settings
from voicestack_operator.images import Images
from voicestack_operator.manifests import labels
from voicestack_operator.reconcile import Reconcilers
from voicestack_operator.spec import InvalidSpec

STACKS = (crd.GROUP, crd.VERSION, crd.PLURAL)
OWNED = {labels.MANAGED_BY_LABEL: labels.MANAGED_BY}


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """Kopf's own readers of the pod's service account or ``KUBECONFIG`` (read now, not at import time)."""
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: logging.Logger, **_: Any) -> None:
    try:
        Images.from_env()  # a bad VOICESTACK_*_IMAGE_PULL_POLICY stops the operator now, not every reconcile
    except ValueError as exc:
        raise kopf.PermanentError(str(exc)) from exc
    settings.persistence.finalizer = "voicestack.io/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="voicestack.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="voicestack.io", key="last-handled-configuration"
    )
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 300
    memo.api = await kube.KubeApi.connect()
    memo.reconcilers = Reconcilers()
    logger.info("VoiceStack operator started.")


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    api = getattr(memo, "api", None)
    if api is not None:
        await api.close()


def backoff(retry: int) -> float:
    """Seconds before retrying after the ``retry``-th failure: doubling from the configured delay, capped."""
    return min(settings.retry_seconds() * 2 ** min(retry, 10), settings.MAX_RETRY_SECONDS)


async def _reconcile(memo: kopf.Memo, namespace: str, name: str, retry: int, logger: logging.Logger) -> None:
    try:
        await memo.reconcilers.run(memo.api, namespace, name, logger)
    except InvalidSpec as exc:
        raise kopf.PermanentError(f"{exc.reason}: {exc.message}") from exc
    except kube.ApiError as exc:
        raise kopf.TemporaryError(f"Kubernetes API: {exc}", delay=backoff(retry)) from exc


@kopf.on.resume(*STACKS)
@kopf.on.create(*STACKS)
@kopf.on.update(*STACKS)
async def stack_changed(
    memo: kopf.Memo, namespace: str, name: str, retry: int, logger: logging.Logger, **_: Any
) -> None:
    """The spec (or labels) changed, or the operator (re)started: converge."""
    await _reconcile(memo, namespace, name, retry, logger)


@kopf.timer(*STACKS, interval=settings.resync_seconds(), initial_delay=settings.resync_seconds(), idle=None)
async def resync(memo: kopf.Memo, namespace: str, name: str, logger: logging.Logger, **_: Any) -> None:
    """The backstop for drift no watch reported. An invalid spec was already reported: no retry storm."""
    try:
        await memo.reconcilers.run(memo.api, namespace, name, logger)
    except InvalidSpec:
        pass
    except kube.ApiError as exc:
        raise kopf.TemporaryError(f"Kubernetes API: {exc}", delay=backoff(0)) from exc


@kopf.on.delete(*STACKS, optional=True)
async def stack_deleted(memo: kopf.Memo, namespace: str, name: str, **_: Any) -> None:
    """Children go with the owner (garbage collection by ownerReferences); only the lock is forgotten."""
    memo.reconcilers.forget(namespace, name)


async def _nudge(memo: kopf.Memo, namespace: str | None, stack: str | None, logger: logging.Logger) -> None:
    if not namespace or not stack:
        return
    try:
        await memo.reconcilers.nudge(memo.api, namespace, stack, logger)
    except InvalidSpec:
        pass  # reported by the spec handlers
    except kube.ApiError as exc:
        logger.warning(f"Reconcile after a child's change failed; the timer retries: {exc}")


def _owner_from_labels(body: kopf.Body) -> str | None:
    return body.metadata.labels.get(labels.INSTANCE_LABEL)


def _register_child_watch(group: str, version: str, plural: str) -> None:
    @kopf.on.event(group, version, plural, labels=OWNED, id=f"child-{plural}")
    async def child_event(
        memo: kopf.Memo, body: kopf.Body, namespace: str | None, logger: logging.Logger, **_: Any
    ) -> None:
        """A child changed (its status, a hand edit, a deletion): restore it and refresh the status."""
        await _nudge(memo, namespace, _owner_from_labels(body), logger)


for _kind in (
    kube.INFERENCESERVICE,
    kube.DEPLOYMENT,
    kube.SERVICE,
    kube.SERVICEACCOUNT,
    kube.INGRESS,
    kube.ROLE,
    kube.ROLEBINDING,
    kube.CONFIGMAP,
):
    _register_child_watch(_kind.group, _kind.version, _kind.plural)


@kopf.on.event(
    "", "v1", "configmaps", labels={labels.STACK_LABEL: kopf.PRESENT, labels.VOICE_LABEL: kopf.PRESENT}
)
async def voice_event(
    memo: kopf.Memo, body: kopf.Body, namespace: str | None, logger: logging.Logger, **_: Any
) -> None:
    """A voice ConfigMap (the operator's or the router's) appeared, changed or went: remount /voices."""
    await _nudge(memo, namespace, body.metadata.labels.get(labels.STACK_LABEL), logger)
