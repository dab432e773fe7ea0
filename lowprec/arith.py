"""Correctly rounded elementwise arithmetic on plain arrays: ``lp.add`` ... ``lp.fma``.

Each function returns the exact real result of the operation on its (float) operands,
rounded once into the format in the chosen mode. This is what the emulated array
types call for their ``+ - * / sqrt``; it is usable directly on NumPy arrays too.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Any, Optional

import numpy as np

from .chop import fast_range, make_spec
from .errors import UnsupportedTypeError
from .rounding import _kernels as _arith
from .rounding.modes import RoundingMode
from .rounding.params import rounding_params
from .rounding.reference import round_value

__all__ = ["add", "subtract", "multiply", "divide", "sqrt", "fma"]


def _operands(*xs):
    arrays = [np.asarray(x) for x in xs]
    for a in arrays:
        if a.dtype.kind not in "fiu" or (a.dtype.kind == "f" and a.dtype.itemsize > 8):
            raise UnsupportedTypeError(
                f"correctly rounded arithmetic takes real integer or float data, got {a.dtype}."
            )
        if a.dtype.kind in "iu" and a.dtype.itemsize == 8 and a.size and (np.any(a > 2**53) or (
                a.dtype.kind == "i" and np.any(a < -(2**53)))):
            # the operands are read as binary64: such integers would be rounded before the operation
            raise UnsupportedTypeError(
                "integer operands beyond 2**53 are not exact in binary64; round them into the format "
                "first (lp.chop(x, fmt) rounds integers exactly) or pass float64 data.")
    dtype = np.result_type(*[a.dtype if a.dtype.kind == "f" else np.float64 for a in arrays])
    if dtype == np.float16:
        dtype = np.dtype(np.float32)
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    flat = [np.ascontiguousarray(np.broadcast_to(a, shape), dtype=np.float64).reshape(-1) for a in arrays]
    return flat, shape, np.dtype(dtype)


def _finish(result, shape, dtype, out, scalar):
    result = result.reshape(shape)
    if out is not None:
        np.copyto(out, result, casting="same_kind")
        return out
    result = result.astype(dtype, copy=False)
    return result[()] if scalar else result


def _run(op, xs, fmt, rmode, subnormal, explim, seed, rng, out):
    spec = make_spec(fmt, rmode, subnormal=subnormal, explim=explim, seed=seed, rng=rng)
    flat, shape, dtype = _operands(*xs)
    p = rounding_params(spec.fmt, spec.explim, dtype, spec.subnormal)
    second = flat[1] if len(flat) > 1 else flat[0]
    result = binary(op, flat[0], second, p, spec.mode, spec.key())
    scalar = all(np.ndim(x) == 0 for x in xs) and out is None
    return _finish(result, shape, dtype, out, scalar)


#: Below this many elements one thread is faster than starting the parallel loop.
_SERIAL_BELOW = 16384
_SIGN64 = np.int64(-(2**63))


def binary(op: int, a: np.ndarray, b: np.ndarray, p, mode, key, on_grid: bool = False,
           out: Optional[np.ndarray] = None) -> np.ndarray:
    """``round(a op b)`` for flat float64 or float32 arrays of one size: the one driver of
    the correctly rounded kernels (``op`` is ``_kernels.ADD`` ... ``SQRT``; ``p`` the
    :class:`~lowprec.rounding.params.RoundingParams`; ``key`` the stochastic stream).
    Formats narrower than binary64 take the kernel with the branch-free fast path;
    ``on_grid`` promises that the operands are values of the format (as in the emulated
    array types), which lets the ops of :func:`rounds_from_binary64` take the row-wise
    kernel. ``out`` (flat, float64, or float32 when the format fits it) receives the
    result; by default a new float64 array."""
    if out is None:
        out = np.empty(a.size)
    common = (p.t, p.emin, p.subnormal, p.xmax, p.overflow_value, p.inf_value, p.negzero, p.signed, int(mode),
              key, 0)
    if on_grid and rounds_from_binary64(op, p, mode):  # rows of the flat arrays through the row-wise kernel
        full = a.size - a.size % _ROW
        if full:
            binary_2d(op, a[:full].reshape(-1, _ROW), b[:full].reshape(-1, _ROW), p, mode, key,
                      out[:full].reshape(-1, _ROW))
        if full < a.size:
            binary_2d(op, a[full:].reshape(1, -1), b[full:].reshape(1, -1), p, mode, key,
                      out[full:].reshape(1, -1), offset=full)
        return out
    wide = out if out.dtype == np.float64 else np.empty(a.size)
    if p.t >= 52:
        _arith.binary_op(op, a, b, wide, *common)
    else:
        lo, hi, top = fast_range(p, np.dtype(np.float64))
        sign_bit = _SIGN64 if p.signed else np.int64(0)
        s = 52 - (p.t - 1)
        flip = -1 if p.t > 1 else (1022 + p.emin) & 1
        kernel = _arith.binary_op_fast_serial if a.size < _SERIAL_BELOW else _arith.binary_op_fast
        kernel(op, a, b, wide, wide.view(np.int64), *common, lo, hi, top, sign_bit, s, flip)
    if wide is not out:
        out[...] = wide
    return out


#: Row length when flat arrays go through the row-wise kernels.
_ROW = 4096


def binary_2d(op: int, a: np.ndarray, b: np.ndarray, p, mode, key, out: np.ndarray, offset: int = 0) -> np.ndarray:
    """:func:`binary` for 2-D float64 or float32 arrays of one shape and any strides
    (broadcast views, slices) into the 2-D ``out`` (float64, or float32 when the format
    fits it; it may be a view; it must not overlap ``a`` or ``b`` except by being the very
    same view, e.g. in-place ``a += b``). Needs ``p.t < 52`` and operands that are values of the format
    (``on_grid``)."""
    lo, hi, top = fast_range(p, np.dtype(np.float64))
    sign_bit = _SIGN64 if p.signed else np.int64(0)
    flip = -1 if p.t > 1 else (1022 + p.emin) & 1
    common = (p.t, p.emin, p.subnormal, p.xmax, p.overflow_value, p.inf_value, p.negzero, p.signed, int(mode), key,
              offset, lo, hi, top, sign_bit, 52 - (p.t - 1), flip)
    serial = out.size < _SERIAL_BELOW
    if rounds_from_binary64(op, p, mode):
        check = op in (_arith.ADD, _arith.SUBTRACT) and not exact_in_binary64(op, p)
        # A zero sum, difference, (exact) product or root is exact in binary64, with the
        # right sign except for x - x rounded down; a zero quotient may be an underflow.
        zero_ok = bool(p.negzero and p.signed and mode != RoundingMode.DOWN and op != _arith.DIVIDE)
        kernel = _arith.row_op_2d_serial if serial else _arith.row_op_2d
        if np.may_share_memory(out, a) or np.may_share_memory(out, b):  # the kernel re-reads operands
            result = np.empty(out.shape, dtype=out.dtype)
            kernel(op, a, b, result, check, zero_ok, *common)
            out[...] = result
        else:
            kernel(op, a, b, out, check, zero_ok, *common)
        return out
    wide = out if out.dtype == np.float64 else np.empty(out.shape)
    (_arith.binary_op_2d_serial if serial else _arith.binary_op_2d)(op, a, b, wide, wide.view(np.int64), *common)
    if wide is not out:
        out[...] = wide
    return out


@lru_cache(maxsize=256)
def exact_in_binary64(op: int, p) -> bool:
    """Whether ``op`` of two values of the format is exact in binary64: sums when the
    format's bits from ``xmax``'s carry down to its smallest quantum span at most 53,
    products when ``2t <= 53`` and every product stays inside binary64's normal range."""
    top_exp = int(np.floor(np.log2(p.xmax))) + 1 if np.isfinite(p.xmax) else 1024
    quantum = p.emin - p.t + 1  # the spacing of the lowest binade, with or without subnormals
    if op in (_arith.ADD, _arith.SUBTRACT):
        return top_exp - quantum + 1 <= 53
    if op == _arith.MULTIPLY:
        return 2 * p.t <= 53 and 2 * top_exp < 1000 and 2 * quantum > -1000
    return False


@lru_cache(maxsize=512)
def rounds_from_binary64(op: int, p, mode) -> bool:
    """Whether the row-wise kernel may round ``op`` of two values of the format from the
    binary64 result (plus, for sums, a TwoSum test of its exactness).

    Sums and differences always (``t < 52``): an inexact binary64 sum is detected and
    recomputed. Products when exact in binary64. Quotients and square roots of
    ``t``-bit values in the deterministic modes when ``2t + 5 <= 53``: a quotient or
    root that is not itself a value or midpoint of the format lies at a relative
    distance of at least about ``2**-(2t + 3)`` from every value and midpoint, more than
    binary64's rounding error ``2**-53``, so the binary64 result lies strictly inside
    the same interval between them as the exact one (or on it, exactly) and every
    deterministic mode rounds both alike. Stochastic modes need the exact residual.
    """
    if p.t >= 52:
        return False
    if op in (_arith.ADD, _arith.SUBTRACT):
        return True
    if op == _arith.MULTIPLY:
        return exact_in_binary64(op, p)
    return not mode.is_stochastic and 2 * p.t + 5 <= 53


_DOC = """Correctly rounded {what} in a low-precision format.

    Parameters
    ----------
    {params}
    fmt : str or FloatFormat, default "half"
    rmode : int or str, default 1
    subnormal, explim, seed, rng
        As in :func:`lowprec.chop`.
    out : ndarray, optional

    Returns
    -------
    ndarray or scalar
        float32 for float32 operands, float64 otherwise.

    Notes
    -----
    **Rounding.** One rounding of the exact real result: correct in every deterministic
    mode, including directed modes across wide exponent ranges; the stochastic modes use
    the exact residual ({residual}).
"""


def _binary(op, what, residual):
    def f(x: Any, y: Any, fmt="half", rmode=1, *, subnormal: Optional[bool] = None, explim: bool = True,
          seed: Optional[int] = None, rng=None, out: Optional[np.ndarray] = None):
        return _run(op, (x, y), fmt, rmode, subnormal, explim, seed, rng, out)

    f.__doc__ = _DOC.format(what=what, params="x, y : array_like", residual=residual)
    return f


add = _binary(_arith.ADD, "sum ``x + y``", "exactly, from TwoSum")
subtract = _binary(_arith.SUBTRACT, "difference ``x - y``", "exactly, from TwoSum")
multiply = _binary(_arith.MULTIPLY, "product ``x * y``", "exactly, from TwoProduct")
divide = _binary(_arith.DIVIDE, "quotient ``x / y``", "from the exact remainder, probability within 2**-62")
for _f, _n in ((add, "add"), (subtract, "subtract"), (multiply, "multiply"), (divide, "divide")):
    _f.__name__ = _f.__qualname__ = _n


def sqrt(x: Any, fmt="half", rmode=1, *, subnormal: Optional[bool] = None, explim: bool = True,
         seed: Optional[int] = None, rng=None, out: Optional[np.ndarray] = None):
    return _run(_arith.SQRT, (x,), fmt, rmode, subnormal, explim, seed, rng, out)


sqrt.__doc__ = _DOC.format(what="square root", params="x : array_like",
                           residual="from the exact remainder, probability within 2**-62")


def fma(x: Any, y: Any, z: Any, fmt=None, rmode=None, *, subnormal: Optional[bool] = None,
        explim: bool = True, seed: Optional[int] = None, rng=None, out: Optional[np.ndarray] = None):
    lps = [v for v in (x, y, z) if hasattr(v, "format") and hasattr(v, "rmode") and hasattr(v, "values")]
    if lps:  # emulated arrays: their format and mode (unless given), and an emulated result
        from .ndarray._float import LPFloat, _common, array_format
        lp_fmt, lp_mode, _ = _common(lps, "lp.fma")
        f, mode = array_format(lp_fmt if fmt is None else fmt, lp_mode if rmode is None else rmode, subnormal)
        values = fma(*(getattr(v, "values", v) for v in (x, y, z)), f, mode, explim=explim, seed=seed, rng=rng)
        result = LPFloat._wrap(np.asarray(values), f, mode)
        if out is not None:
            out[...] = result
            return out
        return result
    fmt = "half" if fmt is None else fmt
    rmode = 1 if rmode is None else rmode
    spec = make_spec(fmt, rmode, subnormal=subnormal, explim=explim, seed=seed, rng=rng)
    flat, shape, dtype = _operands(x, y, z)
    p = rounding_params(spec.fmt, spec.explim, dtype, spec.subnormal)
    result = np.empty(flat[0].size)
    inexact = np.zeros(flat[0].size, dtype=np.bool_)
    key = spec.key()
    _arith.fma_op(flat[0], flat[1], flat[2], result, inexact, p.t, p.emin, p.subnormal, p.xmax,
                  p.overflow_value, p.inf_value, p.negzero, p.signed, int(spec.mode), key, 0)
    for i in np.flatnonzero(inexact):  # products wider than binary64: exact rationals
        r62 = int(_random62(key, i))
        if not np.isfinite(flat[2][i]):  # a finite nonzero product plus inf or NaN: z itself
            result[i] = round_value(float(flat[2][i]), p, spec.mode, r62)
            continue
        exact = Fraction(float(flat[0][i])) * Fraction(float(flat[1][i])) + Fraction(float(flat[2][i]))
        result[i] = round_value(exact, p, spec.mode, r62) if exact != 0 else _fma_zero(flat, i, spec.mode)
    scalar = all(np.ndim(v) == 0 for v in (x, y, z)) and out is None
    return _finish(result, shape, dtype, out, scalar)


fma.__doc__ = _DOC.format(what="fused multiply-add ``x*y + z``", params="x, y, z : array_like",
                          residual="exactly").replace(
    'fmt : str or FloatFormat, default "half"\n    rmode : int or str, default 1',
    'fmt : str or FloatFormat, optional\n        Default: the join of the LPFloat operands\' formats, else "half".\n'
    '    rmode : int or str, optional\n        Default: the LPFloat operands\' mode, else 1.') + \
    "\n    With LPFloat operands the result is an LPFloat.\n"


def _random62(key, i):
    return int(_arith.random_bits(key, i)) >> 2


def _fma_zero(flat, i, mode):
    product_negative = (np.signbit(flat[0][i]) != np.signbit(flat[1][i]))
    both_negative = product_negative and np.signbit(flat[2][i])
    return -0.0 if both_negative or int(mode) == 3 else 0.0
