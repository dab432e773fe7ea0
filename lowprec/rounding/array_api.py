"""The rounding written once in whole-array operations, for every array library.

NumPy uses the numba kernels; PyTorch and JAX use this module through a small
:class:`Ops` shim of the few operations whose spelling differs between libraries
(bit casts, ``ldexp``). Every float operation here is exact (scaling by powers of two,
``floor``, subtracting the floor), so the result is bit-identical to
:func:`lowprec.rounding.reference.round_value` and to the numba kernels, including the
stochastic decisions when the same 62-bit random integers are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .modes import RoundingMode, rounding_mode
from .params import RoundingParams

#: Bits of storage significand and exponent bias, by the float width in bits.
_STORAGE = {64: (52, 1023), 32: (23, 127)}


@dataclass(frozen=True)
class Ops:
    """What differs between array libraries; everything else is operators and ``where``."""

    where: Callable[[Any, Any, Any], Any]
    floor: Callable[[Any], Any]
    ldexp: Callable[[Any, Any], Any]  #: x * 2**k, exact, k an integer array
    to_int: Callable[[Any], Any]  #: same-width signed integer view of a float array
    to_float_int: Callable[[Any, Any], Any]  #: integer array -> float array like the second
    float_to_int64: Callable[[Any], Any]  #: exact conversion of integer-valued floats
    bits: Callable[[Any], int]  #: width of the float dtype in bits


NUMPY_OPS = Ops(
    where=np.where,
    floor=np.floor,
    ldexp=lambda x, k: np.ldexp(x, k.astype(np.int32)),
    to_int=lambda x: x.view(np.int64 if x.dtype == np.float64 else np.int32),
    to_float_int=lambda k, like: k.astype(like.dtype),
    float_to_int64=lambda x: x.astype(np.int64),
    bits=lambda x: x.dtype.itemsize * 8,
)


def _decision(mode: RoundingMode, kept, frac, negative, r62, ops: Ops):
    """Boolean array: round the magnitude up from ``kept`` gaps (``reference.round_up``)."""
    inexact = frac != 0
    odd = (kept - 2 * ops.floor(kept / 2)) == 1
    if mode == RoundingMode.NEAREST_EVEN:
        return (frac > 0.5) | ((frac == 0.5) & odd)
    if mode == RoundingMode.NEAREST_AWAY:
        return frac >= 0.5
    if mode == RoundingMode.NEAREST_ZERO:
        return frac > 0.5
    if mode == RoundingMode.TOWARD_ZERO:
        return frac != frac  # all False, same shape
    if mode == RoundingMode.UP:
        return inexact & ~negative
    if mode == RoundingMode.DOWN:
        return inexact & negative
    if mode == RoundingMode.ODD:
        return inexact & ~odd
    if mode == RoundingMode.STOCHASTIC:
        threshold = ops.float_to_int64(ops.floor(ops.ldexp(frac, _full_int(frac, 62, ops))))
        return inexact & (r62 < threshold)
    if mode == RoundingMode.STOCHASTIC_UNIFORM:
        return inexact & (((r62 >> 61) & 1) == 1)
    raise AssertionError(mode)


def _full_int(like, value: int, ops: Ops):
    """An integer array shaped like ``like`` filled with ``value``."""
    return ops.float_to_int64(like * 0) + value


def round_array(x, p: RoundingParams, mode, r62=None, ops: Ops = NUMPY_OPS):
    """Round a float32 or float64 array into the format described by ``p``.

    Parameters
    ----------
    x : array
        float32 or float64 values of any array library that ``ops`` describes.
    p : RoundingParams
    mode : int, str or RoundingMode
    r62 : int64 array, optional
        Random integers in ``[0, 2**62)``, one per element; required by the stochastic modes.
    ops : Ops
        The library shim (NumPy's by default).

    Returns
    -------
    array
        Same library, dtype and shape as ``x``.
    """
    mode = rounding_mode(mode)
    if mode.is_stochastic and r62 is None:
        raise ValueError(f"rounding mode {mode.name.lower()} needs random bits (r62).")
    ssig, sbias = _STORAGE[ops.bits(x)]
    b = ops.to_int(x)
    negative = b < 0
    a = ops.where(negative, -x, x)
    zeros = ops.to_float_int(b * 0, x)  # +0.0 everywhere; constants are built from it
    finite_nonzero = (a > 0) & (a < float("inf"))  # NaN compares False
    safe = ops.where(finite_nonzero, a, zeros + 1)  # specials are replaced at the end
    # exponent of each value, exact even for storage subnormals (scaled up first)
    boost = 64
    scaled_up = ops.where(safe < 2.0 ** (1 - sbias), ops.ldexp(safe, _full_int(safe, boost, ops)), safe)
    e = ((ops.to_int(scaled_up) >> ssig) & (2 * sbias + 1)) - sbias
    e = ops.where(safe < 2.0 ** (1 - sbias), e - boost, e)
    gap = e - (p.t - 1)
    below = p.emin - (p.t - 1) if p.subnormal else p.emin
    q = ops.where(e >= p.emin, gap, gap * 0 + below)
    # magnitude in gaps: exact scaling in two halves so that no power of two overflows
    half_q = q // 2
    m = ops.ldexp(ops.ldexp(safe, -half_q), -(q - half_q))
    kept = ops.floor(m)
    frac = m - kept
    up = _decision(mode, kept, frac, negative, r62, ops)
    k = kept + ops.where(up, zeros + 1, zeros)
    value = ops.ldexp(ops.ldexp(k, half_q), q - half_q)
    outward = _outward(mode, negative, ops)
    value = ops.where(value > p.xmax, ops.where(outward, zeros + p.overflow_value, zeros + p.xmax), value)
    keep_sign = negative & (p.negzero and p.signed)
    zero_out = ops.where(keep_sign, -zeros, zeros)
    result = ops.where(negative, -value, value)
    result = ops.where(k == 0, zero_out, result)
    inf_out = ops.where(negative, -(zeros + p.inf_value), zeros + p.inf_value)
    result = ops.where(a == float("inf"), inf_out, result)
    result = ops.where(a == 0, zero_out, result)
    if not p.signed:  # a nonzero negative result does not exist: NaN, or 0 when saturating
        neg_result = 0.0 if p.overflow_value == p.xmax else float("nan")
        result = ops.where(negative & (result != 0), zeros + neg_result, result)
    return ops.where(x != x, x, result)


def _outward(mode: RoundingMode, negative, ops: Ops):
    """Where an overflow goes to the overflow value rather than stopping at ``xmax``."""
    if mode == RoundingMode.UP:
        return ~negative
    if mode == RoundingMode.DOWN:
        return negative
    if mode in (RoundingMode.TOWARD_ZERO, RoundingMode.ODD):
        return negative & ~negative
    return negative | ~negative
