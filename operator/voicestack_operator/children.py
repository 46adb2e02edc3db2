"""Everything one VoiceStack should own, in creation order (pure: the reconciler does the I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voicestack_operator import kube
from voicestack_operator.images import Images
from voicestack_operator.manifests import isvc, labels, router, voices
from voicestack_operator.spec_model import ENGINES, VoiceStackSpec


@dataclass
class Desired:
    objects: list[dict[str, Any]] = field(default_factory=list)
    # Children that exist only for some specs (a disabled engine, a disabled ingress): delete if present.
    absent: list[tuple[kube.Kind, str]] = field(default_factory=list)
    voice_configmaps: set[str] = field(default_factory=set)
    predictor_urls: dict[str, str] = field(default_factory=dict)
    voice_sources: list[dict[str, Any]] = field(default_factory=list)


def predictor_urls(
    stack: str, namespace: str, spec: VoiceStackSpec, isvcs: dict[str, dict[str, Any] | None]
) -> dict[str, str]:
    """Standard mode: the predictor Service (stable). Knative: the ISVC's reported address once it has one."""
    urls = {}
    for engine in ENGINES:
        url = isvc.predictor_url(stack, namespace, engine)
        if spec.deploymentMode == "Knative":
            reported = (((isvcs.get(engine) or {}).get("status") or {}).get("address") or {}).get("url")
            url = reported or url
        urls[engine] = url
    return urls


def desired_children(
    stack: str,
    namespace: str,
    spec: VoiceStackSpec,
    images: Images,
    discovered_voices: dict[str, str],
    isvcs: dict[str, dict[str, Any] | None],
) -> Desired:
    desired = Desired()
    name = labels.router_name(stack)
    desired.objects += [
        router.service_account(stack, namespace),
        router.role(stack, namespace),
        router.role_binding(stack, namespace),
    ]
    tts = spec.tts
    if tts.enabled:
        for configmap in voices.inline_voice_configmaps(stack, namespace, tts):
            desired.objects.append(configmap)
            desired.voice_configmaps.add(configmap["metadata"]["name"])
        desired.voice_sources = voices.voice_sources(stack, tts, discovered_voices)
    for engine in ENGINES:
        if spec.predictor(engine).enabled:
            sources = desired.voice_sources if engine == "tts" else None
            desired.objects.append(isvc.inference_service(stack, namespace, spec, engine, images, sources))
        else:
            desired.absent.append((kube.INFERENCESERVICE, labels.isvc_name(stack, engine)))
    desired.predictor_urls = predictor_urls(stack, namespace, spec, isvcs)
    settings = router.router_settings(stack, namespace, spec, desired.predictor_urls)
    config = router.config_map(stack, namespace, settings)
    desired.objects += [
        config,
        router.deployment(stack, namespace, spec, images, router.config_checksum(config)),
        router.service(stack, namespace, spec),
    ]
    if spec.router.ingress.enabled:
        desired.objects.append(router.ingress(stack, namespace, spec))
    else:
        desired.absent.append((kube.INGRESS, name))
    return desired
