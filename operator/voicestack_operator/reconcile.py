"""One level-triggered, idempotent pass over a VoiceStack: children to match the spec, status to match them.

Safe to run any number of times, from any trigger (spec change, resume, a child's event, the resync timer):
unchanged children and an unchanged status cause no writes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from voicestack_operator import kube, status
from voicestack_operator.applying import legacy_cleanup, status_handover, up_to_date, with_applied_hash
from voicestack_operator.children import Desired, desired_children
from voicestack_operator.images import Images
from voicestack_operator.manifests import labels, router
from voicestack_operator.spec import InvalidSpec, normalize

Logger = logging.Logger | logging.LoggerAdapter[Any]


def owned_by(obj: dict[str, Any], uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in obj.get("metadata", {}).get("ownerReferences") or [])


def foreign_controller(obj: dict[str, Any], uid: str) -> bool:
    """Whether another object controls ``obj`` (then it is not ours to take over)."""
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return any(ref.get("controller") and ref.get("uid") != uid for ref in refs)


async def apply(
    api: kube.KubeApi, desired: dict[str, Any], uid: str, logger: Logger
) -> dict[str, Any] | None:
    """Server-side apply the child unless it is already as wanted; returns the object as the server has it."""
    kind = kube.kind_of(desired)
    meta = desired["metadata"]
    actual = await api.get(kind, meta["namespace"], meta["name"])
    if actual is not None:
        if foreign_controller(actual, uid):
            logger.warning(f"{kind.kind} {meta['name']} is controlled by another object; leaving it alone.")
            return actual
        if up_to_date(desired, actual):
            return actual
        cleanup = legacy_cleanup(actual, kube.FIELD_MANAGER)
        if cleanup is not None:
            logger.info(f"Handing {kind.kind} {meta['name']} over to server-side apply.")
            await api.patch(kind, meta["namespace"], meta["name"], cleanup)
    applied = await api.apply(desired)
    logger.info(f"{'Applied' if actual is not None else 'Created'} {kind.kind} {meta['name']}.")
    return applied


async def delete_if_owned(
    api: kube.KubeApi, kind: kube.Kind, namespace: str, name: str, uid: str, logger: Logger
) -> None:
    actual = await api.get(kind, namespace, name)
    if actual is not None and owned_by(actual, uid):
        await api.delete(kind, namespace, name)
        logger.info(f"Deleted {kind.kind} {name}.")


async def publish_status(
    api: kube.KubeApi, stack: dict[str, Any], states: dict[str, status.State], extra: dict[str, Any]
) -> None:
    """Write conditions (and URLs) when they differ from the stored status; post an Event per transition."""
    meta = stack["metadata"]
    handover = status_handover(stack, kube.FIELD_MANAGER)
    if handover is not None:
        await api.patch(kube.VOICESTACK, meta["namespace"], meta["name"], handover)
    current = stack.get("status") or {}
    previous = current.get("conditions") or []
    generation = meta.get("generation", 0)
    conditions = status.conditions(states, previous, generation, status.now())
    wanted = {"conditions": conditions, "observedGeneration": generation, **extra}
    if not status.status_differs(wanted, current):
        return
    # Server-side apply of the status subresource under the operator's field manager: a status field it stops
    # sending (a disabled engine's entry) is removed, one another manager owns is left alone.
    applied = {key: value for key, value in wanted.items() if value is not None}
    target = kube.VOICESTACK
    await api.apply(
        {
            "apiVersion": f"{target.group}/{target.version}",
            "kind": target.kind,
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "status": applied,
        },
        subresource="status",
    )
    for condition in status.transitions(previous, conditions):
        kind = "Normal" if condition["status"] == "True" else "Warning"
        kopf.event(
            stack,
            type=kind,
            reason=condition["reason"],
            message=f"{condition['type']}: {condition['message']}",
        )


async def discover_voices(api: kube.KubeApi, namespace: str, stack: str) -> dict[str, dict[str, Any]]:
    """Voice ConfigMaps of the stack (made by the operator or the router), by name."""
    found = await api.list(kube.CONFIGMAP, namespace, labels.voice_selector(stack))
    return {
        cm["metadata"]["name"]: cm
        for cm in found
        if not cm["metadata"].get("deletionTimestamp")
        and cm["metadata"].get("labels", {}).get(labels.STACK_LABEL) == stack
    }


async def reconcile(api: kube.KubeApi, namespace: str, name: str, logger: Logger) -> None:
    """Reconcile one VoiceStack. Raises InvalidSpec (after reporting it) and kube.ApiError."""
    stack = await api.get(kube.VOICESTACK, namespace, name)
    if stack is None or stack["metadata"].get("deletionTimestamp"):
        return
    uid = stack["metadata"]["uid"]
    try:
        spec = normalize(stack.get("spec"))
    except InvalidSpec as exc:
        logger.error(f"Invalid spec: {exc.message}")
        await publish_status(api, stack, {"Ready": status.State("False", exc.reason, exc.message)}, {})
        raise

    kserve = await api.serves(kube.INFERENCESERVICE)
    voice_maps = await discover_voices(api, namespace, name)
    discovered = {cm_name: cm["metadata"]["labels"][labels.VOICE_LABEL] for cm_name, cm in voice_maps.items()}
    isvcs: dict[str, dict[str, Any] | None] = {"asr": None, "tts": None}
    if kserve:
        for engine in isvcs:
            isvcs[engine] = await api.get(kube.INFERENCESERVICE, namespace, labels.isvc_name(name, engine))
    desired = desired_children(name, namespace, spec, Images.from_env(), discovered, isvcs)

    results = await apply_children(api, stack, desired, kserve, logger)
    await remove_stale(api, namespace, desired, voice_maps, uid, logger)

    for engine in ("asr", "tts"):
        isvcs[engine] = results.get(("InferenceService", labels.isvc_name(name, engine)))
    deployment = results.get(("Deployment", labels.router_name(name)))
    asr, tts = spec.asr, spec.tts
    states = {
        "AsrReady": status.isvc_state("asr", asr.enabled, isvcs["asr"], kserve),
        "TtsReady": status.licence_hint(tts, status.isvc_state("tts", tts.enabled, isvcs["tts"], kserve)),
        "RouterReady": status.deployment_state(deployment, spec.router.replicas),
    }
    url = router.router_url(name, namespace)
    enabled = {"AsrReady": asr.enabled, "TtsReady": tts.enabled}
    states["Ready"] = status.overall_state(states, enabled, url)
    extra: dict[str, Any] = {
        "routerUrl": url,
        "externalUrl": router.external_url(spec),
        "asr": component(
            labels.isvc_name(name, "asr"),
            desired.predictor_urls["asr"],
            asr.model or asr.storageUri,
            states["AsrReady"],
        )
        if asr.enabled
        else None,
        "tts": component(
            labels.isvc_name(name, "tts"), desired.predictor_urls["tts"], tts.model, states["TtsReady"]
        )
        if tts.enabled
        else None,
        "voices": sorted(s["configMap"]["name"] for s in desired.voice_sources) if tts.enabled else None,
    }
    await publish_status(api, stack, states, extra)


def component(name: str, url: str, model: str | None, state: status.State) -> dict[str, Any]:
    return {"name": name, "url": url, "model": model, "ready": state.ready}


async def apply_children(
    api: kube.KubeApi, stack: dict[str, Any], desired: Desired, kserve: bool, logger: Logger
) -> dict[tuple[str, str], dict[str, Any] | None]:
    uid = stack["metadata"]["uid"]
    results: dict[tuple[str, str], dict[str, Any] | None] = {}
    for manifest in desired.objects:
        if manifest["kind"] == "InferenceService" and not kserve:
            continue
        kopf.adopt(manifest, owner=stack)
        applied = await apply(api, with_applied_hash(manifest), uid, logger)
        results[(manifest["kind"], manifest["metadata"]["name"])] = applied
    return results


async def remove_stale(
    api: kube.KubeApi,
    namespace: str,
    desired: Desired,
    voice_maps: dict[str, dict[str, Any]],
    uid: str,
    logger: Logger,
) -> None:
    for kind, child in desired.absent:
        if kind is kube.INFERENCESERVICE and not await api.serves(kind):
            continue
        await delete_if_owned(api, kind, namespace, child, uid, logger)
    for cm_name, cm in voice_maps.items():
        ours = cm["metadata"].get("labels", {}).get(labels.MANAGED_BY_LABEL) == labels.MANAGED_BY
        if ours and owned_by(cm, uid) and cm_name not in desired.voice_configmaps:
            await api.delete(kube.CONFIGMAP, namespace, cm_name)
            logger.info(f"Deleted voice ConfigMap {cm_name} (no longer in spec.tts.voices).")


class Reconcilers:
    """One lock per VoiceStack, and coalescing of the bursts of child events a reconcile itself causes."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._queued: set[tuple[str, str]] = set()

    def lock(self, namespace: str, name: str) -> asyncio.Lock:
        return self._locks.setdefault((namespace, name), asyncio.Lock())

    async def run(self, api: kube.KubeApi, namespace: str, name: str, logger: Logger) -> None:
        async with self.lock(namespace, name):
            await reconcile(api, namespace, name, logger)

    async def nudge(self, api: kube.KubeApi, namespace: str, name: str, logger: Logger) -> None:
        """Reconcile soon; if a pass is already waiting, that pass covers this trigger too."""
        key = (namespace, name)
        if key in self._queued:
            return
        self._queued.add(key)
        try:
            async with self.lock(namespace, name):
                self._queued.discard(key)
                await reconcile(api, namespace, name, logger)
        finally:
            self._queued.discard(key)

    def forget(self, namespace: str, name: str) -> None:
        self._locks.pop((namespace, name), None)
