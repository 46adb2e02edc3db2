"""The ASR predictor's settings (``--<name>`` / ``ASR_<NAME>``), defined in
``voicestack/contracts/asr_settings.py``: the operator writes the environment they read."""

from voicestack.contracts.asr_settings import (
    DEFAULT_MODEL_NAME,
    DEVICES,
    ENGINES,
    ENV_PREFIX,
    MAX_NEW_TOKENS_LIMIT,
    AsrServing,
    EngineSettings,
)

__all__ = [
    "DEFAULT_MODEL_NAME",
    "DEVICES",
    "ENGINES",
    "ENV_PREFIX",
    "MAX_NEW_TOKENS_LIMIT",
    "AsrServing",
    "EngineSettings",
]
