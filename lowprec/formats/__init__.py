"""Number formats: floating point, fixed point and integer quantization."""

from ._block import BlockFormat, bfp
from ._fixed import FixedFormat, IntFormat, join_fixed
from ._float import OVERFLOW_POLICIES, FloatFormat
from ._info import finfo
from .registry import (
    ALIASES,
    FLOAT_FORMATS,
    MX_FORMATS,
    bfloat16,
    binary16,
    binary32,
    binary64,
    e4m3,
    e4m3fn,
    e4m3fnuz,
    e5m2,
    e5m2fnuz,
    format,
    fp4_e2m1,
    fp6_e2m3,
    fp6_e3m2,
    known_names,
    p3109,
    tf32,
)

__all__ = [
    "ALIASES", "BlockFormat", "FLOAT_FORMATS", "MX_FORMATS", "bfp", "join_fixed", "OVERFLOW_POLICIES", "FixedFormat", "FloatFormat", "IntFormat",
    "bfloat16", "binary16", "binary32", "binary64", "e4m3", "e4m3fn", "e4m3fnuz", "e5m2",
    "e5m2fnuz", "finfo", "format", "fp4_e2m1", "fp6_e2m3", "fp6_e3m2", "known_names", "p3109",
    "tf32",
]
