"""What every rounding implementation needs to know, derived once from a format.

The reference rounder, the numba kernels and the torch/JAX backends all take a
:class:`RoundingParams` rather than a format object, so they agree by construction
on the effective exponent range (``explim``), the subnormal rule and the overflow
policy.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple, Optional

import numpy as np

from ..errors import FormatError
from ..formats import FloatFormat


class Storage(NamedTuple):
    """A binary floating-point storage type (the dtype holding emulated values)."""

    name: str
    sig_bits: int  #: stored significand bits (52 for float64)
    emin: int
    emax: int


STORAGES = {
    np.dtype(np.float64): Storage("float64", 52, -1022, 1023),
    np.dtype(np.float32): Storage("float32", 23, -126, 127),
    np.dtype(np.float16): Storage("float16", 10, -14, 15),
}


class RoundingParams(NamedTuple):
    """The effective parameters of one rounding: a format seen through the options."""

    t: int  #: precision, hidden bit included
    emin: int  #: exponent of the smallest normal value
    subnormal: bool  #: gradual underflow (else values below xmin go to 0 or xmin)
    xmax: float  #: largest finite value
    overflow_value: float  #: what an outward overflow gives (inf, nan or xmax)
    inf_value: float  #: what an infinite input gives (inf, nan or xmax)
    negzero: bool  #: whether -0 exists
    signed: bool  #: whether negative values exist


def check_storage(fmt: FloatFormat, dtype: np.dtype) -> Storage:
    """Return the storage description of ``dtype`` after checking it can hold ``fmt``.

    Raises
    ------
    FormatError
        If some value of ``fmt`` is not exactly representable in ``dtype``.
    """
    dtype = np.dtype(dtype)
    storage = STORAGES.get(dtype)
    if storage is None:
        raise FormatError(f"no rounding kernel for storage dtype {dtype}; use float32 or float64.")
    problems = []
    if fmt.t > storage.sig_bits + 1:
        problems.append(f"precision t={fmt.t} > {storage.sig_bits + 1}")
    if fmt.emax > storage.emax:
        problems.append(f"emax={fmt.emax} > {storage.emax}")
    if fmt.emin < storage.emin:
        problems.append(f"emin={fmt.emin} < {storage.emin}")
    if problems:
        wider = "float64" if dtype != np.float64 else "no NumPy dtype (the format is wider than binary64)"
        raise FormatError(
            f"format {fmt.label} does not fit in {storage.name} storage ({', '.join(problems)}); "
            f"use {wider}" + (" input, e.g. x.astype(np.float64)." if dtype != np.float64 else ".")
        )
    return storage


@lru_cache(maxsize=1024)
def rounding_params(
    fmt: FloatFormat, explim: bool = True, dtype: np.dtype = np.dtype(np.float64),
    subnormal: Optional[bool] = None,
) -> RoundingParams:
    """Derive the kernel parameters for rounding into ``fmt`` held in ``dtype``.

    ``explim=False`` keeps the precision and drops the format's exponent range: the
    range becomes the storage's, with IEEE subnormals and overflow to infinity.
    ``subnormal`` overrides the format's own flag when given.
    """
    storage = check_storage(fmt, dtype)
    if subnormal is None:
        subnormal = fmt.subnormal
    if not explim:
        # The largest t-bit value of the storage range: everything above overflows.
        big = float(np.ldexp(2.0 - 2.0 ** (1 - fmt.t), storage.emax))
        # t significant bits at every exponent, down to where the storage itself
        # underflows: the format's subnormal gap is the storage's smallest subnormal.
        emin = storage.emin - storage.sig_bits + fmt.t - 1
        return RoundingParams(fmt.t, emin, True, big, np.inf, np.inf, True, True)
    xmax = fmt.xmax
    by_policy = {"inf": np.inf, "nan": np.nan, "saturate": xmax}
    overflow_value = by_policy[fmt.overflow]
    inf_value = np.inf if fmt.infs and fmt.overflow != "saturate" else overflow_value
    return RoundingParams(
        fmt.t, fmt.emin, bool(subnormal), xmax, overflow_value, inf_value, fmt.negzero, fmt.signed
    )
