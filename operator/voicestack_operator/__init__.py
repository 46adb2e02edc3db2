"""Kopf operator: VoiceStack custom resources into InferenceServices, voice ConfigMaps and the router.

Importing the package registers the handlers, so ``kopf run -m voicestack_operator`` works as well as
``voicestack operator``. The manifest builders (``voicestack_operator.manifests``) are pure and import-light.
"""

from voicestack_operator import handlers as handlers
