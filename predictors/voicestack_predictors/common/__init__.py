"""Pieces both predictors share: options, the bounded work gate and the lazily loaded KServe model."""

from voicestack_predictors.common.gate import Busy, Gate
from voicestack_predictors.common.managed_model import ManagedModel
from voicestack_predictors.common.options import ServingOptions, env_bool, env_float, env_int, env_str

__all__ = [
    "Busy",
    "Gate",
    "ManagedModel",
    "ServingOptions",
    "env_bool",
    "env_float",
    "env_int",
    "env_str",
]
