"""Pieces both predictors share: options, the bounded work gate and the lazily loaded KServe model."""

from predictors.common.gate import Busy, Gate
from predictors.common.managed_model import ManagedModel
from predictors.common.options import ServingOptions, env_bool, env_float, env_int, env_str

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
