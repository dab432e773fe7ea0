"""``finfo``: the parameters of a float format under NumPy's and MATLAB chop's names."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Union

from ..errors import FormatError
from ._float import FloatFormat
from .registry import format as _format


@dataclass(frozen=True)
class finfo:  # noqa: N801 - mirrors numpy.finfo
    """Machine limits of a float format, like :class:`numpy.finfo`.

    Attributes use NumPy's names (``bits``, ``eps``, ``max``, ``min``, ``tiny``,
    ``smallest_normal``, ``smallest_subnormal``, ``nmant``, ``nexp``, ``machep``,
    ``minexp``, ``maxexp``, ``precision``, ``resolution``) and MATLAB chop's
    ``float_params`` names (``t``, ``emin``, ``emax``, ``xmin``, ``xmins``, ``xmax``, ``u``).

    Examples
    --------
    >>> import lowprec as lp
    >>> lp.finfo("half").max
    65504.0
    """

    format: FloatFormat

    def __new__(cls, fmt: Union[str, FloatFormat]):  # cached: finfo("half") is finfo("fp16")
        return _finfo_cached(_as_float_format(fmt))

    def __init__(self, fmt):  # fields are set by _finfo_cached
        pass

    def __getnewargs__(self):
        return (self.format,)

    bits = property(lambda self: self.format.bits)
    t = property(lambda self: self.format.t)
    emin = property(lambda self: self.format.emin)
    emax = property(lambda self: self.format.emax)
    xmin = property(lambda self: self.format.xmin)
    xmins = property(lambda self: self.format.xmins)
    xmax = property(lambda self: self.format.xmax)
    u = property(lambda self: self.format.u)
    eps = property(lambda self: self.format.eps)
    epsneg = property(lambda self: self.format.u)
    max = property(lambda self: self.format.xmax)
    min = property(lambda self: -self.format.xmax if self.format.signed else 0.0)
    tiny = property(lambda self: self.format.xmin)
    smallest_normal = property(lambda self: self.format.xmin)
    smallest_subnormal = property(lambda self: self.format.xmins)
    nmant = property(lambda self: self.format.sig_bits)
    nexp = property(lambda self: self.format.exp_bits)
    machep = property(lambda self: 1 - self.format.t)
    negep = property(lambda self: -self.format.t)
    minexp = property(lambda self: self.format.emin)
    maxexp = property(lambda self: self.format.emax + 1)
    precision = property(lambda self: int(math.floor((self.format.t - 1) * math.log10(2))))
    resolution = property(lambda self: 10.0 ** -self.precision)

    def __repr__(self) -> str:
        return (
            f"finfo(format={self.format.label}, t={self.t}, emin={self.emin}, emax={self.emax}, "
            f"xmin={self.xmin:.6g}, xmins={self.xmins:.6g}, xmax={self.xmax:.6g}, u={self.u:.6g})"
        )


def _as_float_format(fmt) -> FloatFormat:
    f = _format(fmt)
    if not isinstance(f, FloatFormat):
        raise FormatError(f"finfo takes a float format, got {f}; fixed and integer formats have .min/.max.")
    return f


@lru_cache(maxsize=None)
def _finfo_cached(fmt: FloatFormat) -> finfo:
    obj = object.__new__(finfo)
    object.__setattr__(obj, "format", fmt)
    return obj
