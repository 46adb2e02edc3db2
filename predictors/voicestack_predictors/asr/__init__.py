"""Whisper speech-to-text predictor."""
