"""Kopf handlers: every trigger ends in the same idempotent reconcile (voicestack_operator.reconcile).

Nothing registers on import: :func:`register` puts the handlers into a registry the caller owns
(``voicestack operator`` does it with settings read from the environment when it starts).
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from voicestack_operator import crd, kube
from voicestack_operator.images import Images
from voicestack_operator.manifests import labels
from voicestack_operator.reconcile import Reconcilers
from voicestack_operator.settings import OperatorSettings
from voicestack_operator.spec import InvalidSpec

STACKS = (crd.GROUP, crd.VERSION, crd.PLURAL)
OWNED = {labels.MANAGED_BY_LABEL: labels.MANAGED_BY}
CHILD_KINDS = (
    kube.INFERENCESERVICE,
    kube.DEPLOYMENT,
    kube.SERVICE,
    kube.SERVICEACCOUNT,
    kube.INGRESS,
    kube.ROLE,
    kube.ROLEBINDING,
    kube.CONFIGMAP,
)
VOICE_MAPS = {labels.STACK_LABEL: kopf.PRESENT, labels.VOICE_LABEL: kopf.PRESENT}


def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """Kopf's own readers of the pod's service account or ``KUBECONFIG`` (read now, not at import time)."""
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


async def start(
    settings: kopf.OperatorSettings, memo: kopf.Memo, logger: logging.Logger, config: OperatorSettings
) -> None:
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
    # A deleted stack waits for a resync pass in flight; Kopf checks for its end every 60 s by default.
    settings.background.cancellation_polling = 2
    memo.config = config
    memo.api = await kube.KubeApi.connect()
    memo.reconcilers = Reconcilers()
    logger.info("VoiceStack operator started.")


async def stop(memo: kopf.Memo, **_: Any) -> None:
    api = getattr(memo, "api", None)
    if api is not None:
        await api.close()


async def converge(
    memo: kopf.Memo,
    namespace: str,
    name: str,
    logger: logging.Logger,
    *,
    retry: int = 0,
    report_invalid: bool = False,
    coalesce: bool = False,
) -> None:
    """Reconcile one stack, mapping failures to Kopf's errors (the only place that does).

    An invalid spec is reported in the status by the reconcile itself; only the handlers of spec changes
    (``report_invalid``) make it a PermanentError, so timers and child events cause no retry storm. An API
    error is a TemporaryError with the doubling backoff (Kopf retries handlers and timers; from an event
    handler it is logged and the timer retries).
    """
    try:
        if coalesce:
            await memo.reconcilers.nudge(memo.api, namespace, name, logger)
        else:
            await memo.reconcilers.run(memo.api, namespace, name, logger)
    except InvalidSpec as exc:
        if report_invalid:
            raise kopf.PermanentError(f"{exc.reason}: {exc.message}") from exc
    except kube.ApiError as exc:
        config: OperatorSettings = memo.config
        raise kopf.TemporaryError(f"Kubernetes API: {exc}", delay=config.backoff(retry)) from exc


async def stack_changed(
    memo: kopf.Memo, namespace: str, name: str, retry: int, logger: logging.Logger, **_: Any
) -> None:
    """The spec (or labels) changed, or the operator (re)started: converge."""
    await converge(memo, namespace, name, logger, retry=retry, report_invalid=True)


async def resync(memo: kopf.Memo, namespace: str, name: str, logger: logging.Logger, **_: Any) -> None:
    """The backstop for drift no watch reported."""
    await converge(memo, namespace, name, logger)


async def stack_deleted(memo: kopf.Memo, namespace: str, name: str, **_: Any) -> None:
    """Children go with the owner (garbage collection by ownerReferences); only the lock is forgotten."""
    memo.reconcilers.forget(namespace, name)


async def child_event(
    memo: kopf.Memo, body: kopf.Body, namespace: str | None, logger: logging.Logger, **_: Any
) -> None:
    """A child changed (its status, a hand edit, a deletion): restore it and refresh the status."""
    stack = body.metadata.labels.get(labels.INSTANCE_LABEL)
    if namespace and stack:
        await converge(memo, namespace, stack, logger, coalesce=True)


async def voice_event(
    memo: kopf.Memo, body: kopf.Body, namespace: str | None, logger: logging.Logger, **_: Any
) -> None:
    """A voice ConfigMap (the operator's or the router's) appeared, changed or went: remount /voices."""
    stack = body.metadata.labels.get(labels.STACK_LABEL)
    if namespace and stack:
        await converge(memo, namespace, stack, logger, coalesce=True)


def register(registry: kopf.OperatorRegistry, config: OperatorSettings) -> kopf.OperatorRegistry:
    """Put every handler into ``registry``, timed by ``config``; returns the registry."""

    async def startup(
        settings: kopf.OperatorSettings, memo: kopf.Memo, logger: logging.Logger, **_: Any
    ) -> None:
        await start(settings, memo, logger, config)

    kopf.on.login(registry=registry)(login)
    kopf.on.startup(registry=registry, id="start")(startup)
    kopf.on.cleanup(registry=registry)(stop)
    for decorate in (kopf.on.resume, kopf.on.create, kopf.on.update):
        decorate(*STACKS, registry=registry)(stack_changed)
    kopf.on.delete(*STACKS, optional=True, registry=registry)(stack_deleted)
    interval = config.resync_seconds
    kopf.timer(*STACKS, interval=interval, initial_delay=interval, idle=None, registry=registry)(resync)
    for kind in CHILD_KINDS:
        on_child = kopf.on.event(
            kind.group, kind.version, kind.plural, labels=OWNED, id=f"child-{kind.plural}", registry=registry
        )
        on_child(child_event)
    kopf.on.event("", "v1", "configmaps", labels=VOICE_MAPS, registry=registry)(voice_event)
    return registry
