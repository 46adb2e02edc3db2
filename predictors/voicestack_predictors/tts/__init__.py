"""Coqui TTS text-to-speech predictor."""
