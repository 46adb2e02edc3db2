"""Pieces both predictors share: settings, the bounded work gate and the lazily loaded KServe model."""

from voicestack_predictors.common.gate import Busy, Gate
from voicestack_predictors.common.managed_model import ManagedModel
from voicestack_predictors.common.settings import PredictorSettings, ServingOptions

__all__ = ["Busy", "Gate", "ManagedModel", "PredictorSettings", "ServingOptions"]
