"""Kopf operator: VoiceStack custom resources into InferenceServices, voice ConfigMaps and the router.

Importing the package (or any module of it) registers nothing and reads no environment:
``voicestack operator`` (``voicestack_operator.__main__``) reads :class:`~voicestack_operator.settings.
OperatorSettings` and calls :func:`voicestack_operator.handlers.register` on a registry of its own.
"""
