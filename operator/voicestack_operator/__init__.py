"""Kopf operator: VoiceStack custom resources into InferenceServices, voice ConfigMaps and the router."""
