"""KServe custom predictors for Voice Stack: Whisper ASR and Coqui TTS."""
