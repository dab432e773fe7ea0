"""Rounding of real numbers into formats: modes, parameters, reference and kernels."""

from .modes import DETERMINISTIC_MODES, MODE_NAMES, RoundingMode, rounding_mode
from .params import RoundingParams, check_storage, rounding_params

__all__ = [
    "DETERMINISTIC_MODES", "MODE_NAMES", "RoundingMode", "RoundingParams", "check_storage",
    "rounding_mode", "rounding_params",
]
