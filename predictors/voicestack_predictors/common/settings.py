"""The predictors' settings machinery; it lives in ``voicestack/contracts/predictor_settings.py`` because the
operator writes the environment these models read."""

from voicestack.contracts.predictor_settings import (
    DEFAULT_DOC,
    KSERVE_FLAG,
    PredictorSettings,
    ServingOptions,
    SettingsError,
)

__all__ = ["DEFAULT_DOC", "KSERVE_FLAG", "PredictorSettings", "ServingOptions", "SettingsError"]
