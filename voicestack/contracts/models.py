"""The KServe model names the predictors serve under by default, and the router and the operator address."""

from __future__ import annotations

ASR_MODEL_NAME = "whisper"
TTS_MODEL_NAME = "xtts"  # whatever the engine: the TTS predictor's default name
TTS_FAST_MODEL_NAME = "piper"  # a second, fast TTS backend beside the first (the operator's Piper predictor)
