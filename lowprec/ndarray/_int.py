"""``LPInt``: integer quantization as an ndarray type.

An LPInt holds the dequantized values ``s * (code - z)`` and carries ``.scale`` and
``.zero_point`` (per tensor, or per channel along ``format.axis``); ``.codes`` gives the
integers. How results of operations get their quantization is the format's ``requant``:

* ``"dynamic"`` (default for calibrated formats): every result is recalibrated (min/max)
  and quantized with its own scale and zero point;
* ``"static"`` (default when the format fixes a scale, e.g. ``lp.IntFormat(8, scale=1)``):
  every result is quantized with the scale and zero point of the left-most LPInt
  operand, with the format's overflow policy.

**Integer mode.** A static format whose scale is ``2**-f`` (``f >= 0``, e.g. scale 1) with
zero point 0 is plain ``intN`` arithmetic: ``+ - * /``, sums, products and ``matmul`` run
exactly on the codes (the fixed-point kernels), each result rounded once with the mode
and then saturated or wrapped, for any width (int4, int12, ...). Otherwise results are
computed in binary64 from the values and then quantized (``x / s`` exactly rounded);
reductions and ``matmul`` are then computed in binary64 and quantized once, as integer
hardware accumulating in a wide register does. Mixing LPInt with other LP types or with
another integer format is an error that says how to cast.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from ..errors import FormatMismatchError, UnsupportedOperationError, UnsupportedTypeError
from ..formats import IntFormat
from ..promotion import result_mode
from ..quant import _kernels as K
from ..quant._common import raise_overflow, smallest_int_dtype
from ..quant.integer import calibrate, int_format, quantize_flat
from ..random import next_key, one_draw
from ..rounding import RoundingMode, rounding_mode
from ._base import LPArray, check_real_data, foreign, plain_out
from ._fixed import FIXED_PREDICATE, FIXED_ROUNDED, array_function
from ._ufuncs import EXACT

INT_ARITH = {np.add: K.ADD, np.subtract: K.SUBTRACT, np.multiply: K.MULTIPLY, np.true_divide: K.DIVIDE}
#: Ufuncs computed in binary64 from the values and re-quantized.
INT_COMPUTED = set(INT_ARITH) | EXACT | FIXED_ROUNDED | {np.square, np.reciprocal}


def _quantize(values, fmt: IntFormat, mode: RoundingMode, scale=None, zero=None, seed=None, rng=None):
    """``(values, scale, zero)`` of ``values`` quantized with the given or calibrated params."""
    a = np.asarray(values, dtype=np.float64)
    if scale is None:
        scale, zero = calibrate(a, fmt)
    key = next_key(seed, rng) if mode.is_stochastic else np.uint64(0)
    out, _ = quantize_flat(np.ascontiguousarray(a).reshape(-1), a.shape, fmt, mode, key, scale, zero, False)
    return out.reshape(a.shape), scale, zero


class LPInt(LPArray):
    """An ndarray of integer-quantized values with ``.codes``, ``.scale``, ``.zero_point``.

    Create one with :func:`lowprec.asarray` (``"int8"``, ``"uint4"``,
    ``lp.IntFormat(...)``); see the module docstring for how results are re-quantized.
    """

    _scale: Optional[np.ndarray] = None
    _zero: Optional[np.ndarray] = None

    @classmethod
    def _wrap_q(cls, values, fmt, rmode, scale, zero) -> "LPInt":
        obj = cls._wrap(values, fmt, rmode)
        obj._scale = np.asarray(scale, dtype=np.float64).reshape(-1)
        obj._zero = np.asarray(zero, dtype=np.int64).reshape(-1)
        return obj

    def __array_finalize__(self, obj) -> None:
        super().__array_finalize__(obj)
        self._scale = getattr(obj, "_scale", None)
        self._zero = getattr(obj, "_zero", None)

    def __reduce__(self):
        reconstruct, args, state = super().__reduce__()
        return reconstruct, args, (state, self._scale, self._zero)

    def __setstate__(self, state) -> None:
        base, scale, zero = state
        super().__setstate__(base)
        self._scale, self._zero = scale, zero

    # -- quantization parameters ----------------------------------------------------
    def _params(self):
        if self._scale is None:
            raise UnsupportedOperationError("this LPInt has no scale (made by .view()); use lp.asarray.")
        if self._scale.size > 1:
            axis = self.format.axis + self.ndim if self.format.axis < 0 else self.format.axis
            if not 0 <= axis < self.ndim or self.shape[axis] != self._scale.size:
                raise UnsupportedOperationError(
                    f"this LPInt slice no longer lines up with its {self._scale.size} channel scales; "
                    "re-quantize it with lp.asarray(np.asarray(x), x.format).")
        return self._scale, self._zero

    @property
    def scale(self):
        """The scale: a float per tensor, a 1-D array per channel."""
        s, _ = self._params()
        return float(s[0]) if (s.size == 1 and not self.format.per_channel) else s.copy()

    @property
    def zero_point(self):
        """The zero point: an int per tensor, a 1-D array per channel."""
        _, z = self._params()
        return int(z[0]) if (z.size == 1 and not self.format.per_channel) else z.copy()

    @property
    def codes(self) -> np.ndarray:
        """The integer codes, in the smallest integer dtype holding the format's range."""
        fmt = self._require_format()
        s, z = self._params()
        raw = np.empty(self.size, np.int64)
        vals = np.ascontiguousarray(self.values, dtype=np.float64).reshape(-1)
        out = np.empty_like(vals)
        K.quantize_int(vals, _inner(self.shape, fmt, s.size), s, z, out, raw, True, fmt.qmin, fmt.qmax, fmt.qmin,
                       fmt.bits, K.SATURATE, int(RoundingMode.NEAREST_EVEN), np.uint64(0), 0)
        return raw.reshape(self.shape).astype(smallest_int_dtype(fmt.qmin, fmt.qmax))

    def to_bits(self) -> np.ndarray:
        """The integer codes (as :attr:`codes`)."""
        return self.codes

    def _round(self, values) -> np.ndarray:
        fmt = self._require_format()
        values = np.asarray(values)
        if values.dtype.kind not in "fiu":
            raise UnsupportedTypeError(f"cannot store {values.dtype} values in an LPInt.")
        s, z = self._params()
        if s.size > 1 and np.shape(values) != self.shape:
            values = np.broadcast_to(values, self.shape)
        out, _, _ = _quantize(values, fmt, self._rmode, s, z)
        return out.astype(self.dtype, copy=False)

    # -- ufuncs -----------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        if foreign(inputs + (out or ())):
            return NotImplemented
        plain = [x.values if isinstance(x, LPArray) else x for x in inputs]
        if ufunc in FIXED_PREDICATE:
            return getattr(ufunc, method)(*plain, out=plain_out(out), **kwargs)
        if ufunc not in INT_COMPUTED and ufunc is not np.matmul:
            raise UnsupportedOperationError(
                f"np.{ufunc.__name__} is not defined for LPInt; use np.asarray(x) to leave emulation.")
        if kwargs.pop("where", True) is not True:
            raise UnsupportedOperationError(f"np.{ufunc.__name__}: where= is not supported for LPInt.")
        lead, mode = _common(inputs, ufunc.__name__)
        with one_draw():  # weak operands and result: one key from the global stream
            return self._ufunc(ufunc, method, inputs, out, lead, mode, kwargs)

    def _ufunc(self, ufunc, method, inputs, out, lead, mode, kwargs):
        fmt = lead.format
        if _integer_mode(lead):
            result = _integer_op(ufunc, method, inputs, lead, mode, kwargs)
        else:
            args = [_weak(x, lead, mode) for x in inputs]
            if method == "__call__" and ufunc in _DIVIDING:
                _check_divisor(ufunc, args, fmt)
            with np.errstate(all="ignore"):
                raw = getattr(ufunc, method)(*args, **kwargs)
            if isinstance(raw, tuple):
                raise UnsupportedOperationError(f"np.{ufunc.__name__} has several outputs; not supported for LPInt.")
            result = _requantize(raw, lead, mode)
        return _deliver(result, out, fmt, mode)

    def __array_function__(self, func, types, args, kwargs):
        return array_function(self, func, types, args, kwargs, {}, _rewrap_int)


# ----------------------------------------------------------------------------- helpers

#: Ufuncs whose last operand (reciprocal: the only one) is a divisor.
_DIVIDING = {np.true_divide, np.floor_divide, np.remainder, np.fmod, np.reciprocal, np.divmod}


def _check_divisor(ufunc, args, fmt) -> None:
    """Division by zero is an error in every LPInt (as in the integer mode's kernels): the
    format has no infinity or NaN to hold the quotient."""
    divisor = np.asarray(args[-1])
    zeros = np.count_nonzero(np.broadcast_to(divisor == 0, np.broadcast_shapes(*[np.shape(a) for a in args])))
    if zeros:
        raise ZeroDivisionError(
            f"np.{ufunc.__name__}: {zeros} division{'s' if zeros > 1 else ''} by zero in {fmt}, which has no "
            "infinity or NaN; replace the zero divisors first, e.g. np.where(b == 0, 1, b).")


def _inner(shape, fmt: IntFormat, nch: int) -> int:
    if nch == 1:
        return 1
    axis = fmt.axis % len(shape)
    return int(np.prod(shape[axis + 1:], dtype=np.int64))


def _common(inputs, name: str):
    lps = [x for x in inputs if isinstance(x, LPArray)]
    for x in lps:
        if not isinstance(x, LPInt):
            raise FormatMismatchError(
                f"np.{name} mixes LPInt with {type(x).__name__} ({x.format}); convert one explicitly, "
                "e.g. lp.asarray(np.asarray(y), x.format).")
        if x.format != lps[0].format:
            raise FormatMismatchError(
                f"np.{name} mixes integer formats {lps[0].format} and {x.format}; re-quantize one, e.g. "
                "lp.asarray(np.asarray(y), x.format).")
        x._require_format()
    return lps[0], result_mode([x.rmode for x in lps], f"np.{name}")


def _integer_mode(lead: LPInt) -> bool:
    """Static, per tensor, zero point 0 and scale ``2**-f`` with ``f >= 0``: plain integers."""
    fmt = lead.format
    if fmt.requant != "static" or fmt.per_channel:
        return False
    s, z = lead._params()
    if s.size != 1 or z[0] != 0:
        return False
    m, e = math.frexp(float(s[0]))
    return m == 0.5 and e <= 1


def _static_params(lead: LPInt, shape):
    s, z = lead._params()
    if s.size > 1:
        axis = lead.format.axis % len(shape) if shape else 0
        if not shape or shape[axis] != s.size:
            raise UnsupportedOperationError(
                f"a result of shape {shape} does not line up with {s.size} channel scales (static requant).")
    return s, z


def _requantize(raw, lead: LPInt, mode):
    fmt = lead.format
    raw = np.asarray(raw, dtype=np.float64)
    if fmt.requant == "static":
        s, z = _static_params(lead, raw.shape)
        values, s, z = _quantize(raw, fmt, mode, s, z)
    else:
        values, s, z = _quantize(raw, fmt, mode)
    return values, s, z


def _weak(x, lead: LPInt, mode):
    """LPInt operands give their values; plain numbers are quantized as results are."""
    if isinstance(x, LPInt):
        return x.values
    check_real_data(x if isinstance(x, np.ndarray) else np.asarray(x), "LPInt arithmetic")
    a = np.asarray(x)
    if a.dtype.kind not in "fiu" or a.dtype.kind == "b":
        raise UnsupportedTypeError(f"cannot combine {a.dtype} data with an LPInt.")
    if lead.format.requant == "static" and lead._scale.size == 1:
        return _quantize(a, lead.format, mode, lead._scale, lead._zero)[0]
    return _quantize(a, lead.format, mode)[0]


def _integer_op(ufunc, method, inputs, lead: LPInt, mode, kwargs):
    """Plain ``intN`` arithmetic on the codes with the fixed-point kernels (``f`` fraction
    bits for a scale ``2**-f``)."""
    from ._fixed import _fold, _matmul  # the fixed-point handlers, on a fixed view of the format
    fmt = lead.format
    s = float(lead._scale[0])
    f = -(math.frexp(s)[1] - 1)
    view = _IntAsFixed(fmt, f)
    codes = []
    for x in inputs:
        v = x.values if isinstance(x, LPInt) else _weak(x, lead, mode)
        codes.append((np.rint(np.ldexp(np.asarray(v, dtype=np.float64), f)).astype(np.int64), f))
    if method == "__call__" and ufunc in INT_ARITH:
        (ca, fa), (cb, fb) = codes
        shape = np.broadcast_shapes(ca.shape, cb.shape)
        ca = np.ascontiguousarray(np.broadcast_to(ca, shape)).reshape(-1)
        cb = np.ascontiguousarray(np.broadcast_to(cb, shape)).reshape(-1)
        out = np.empty(ca.size, np.int64)
        key = next_key() if mode.is_stochastic else np.uint64(0)
        zero_div, over = K.fixed_binary(INT_ARITH[ufunc], ca, cb, f, f, f, out, fmt.qlo, fmt.qmax, fmt.bits,
                                        K.OVERFLOW_CODES[fmt.overflow], int(mode), key, 0)
        if zero_div:
            raise ZeroDivisionError(f"np.{ufunc.__name__}: {zero_div} divisions by zero in {fmt}.")
        if fmt.overflow == "error":
            raise_overflow(over, fmt, fmt.qlo * s, fmt.qmax * s)
        return np.ldexp(out.reshape(shape).astype(np.float64), -f), lead._scale, lead._zero
    if method in ("reduce", "accumulate") and ufunc in (np.add, np.multiply):
        values = _fold(ufunc, codes, view, mode, kwargs, keep=method == "accumulate")
        return values, lead._scale, lead._zero
    if method == "__call__" and ufunc is np.matmul:
        return _matmul(ufunc, codes, view, mode, kwargs), lead._scale, lead._zero
    vals = [np.ldexp(c.astype(np.float64), -f) for c, _ in codes]
    if method == "__call__" and ufunc in _DIVIDING:
        _check_divisor(ufunc, vals, fmt)
    with np.errstate(all="ignore"):
        raw = getattr(ufunc, method)(*vals, **kwargs)
    return _requantize(raw, lead, mode)


class _IntAsFixed:
    """The fixed-point view of a plain integer format (scale ``2**-f``): what the fixed
    handlers need (``frac_bits``, code range, overflow policy)."""

    def __init__(self, fmt: IntFormat, f: int):
        self.frac_bits = f
        self.code_min = fmt.qlo
        self.code_max = fmt.qmax
        self.bits = fmt.bits
        self.overflow = fmt.overflow
        self.min = fmt.qlo * 2.0**-f
        self.max = fmt.qmax * 2.0**-f
        self._label = fmt.label

    def __str__(self) -> str:
        return self._label


def _rewrap_int(result, lps):
    """Float results of a structural function as LPInt: with the operands' scale and zero
    point when they share one per-tensor quantization, else re-quantized (the format's
    requant rule, the first operand leading)."""
    lead, mode = _common(lps, "structural function")
    same = all(x._scale is not None and x._scale.size == 1 and np.array_equal(x._scale, lead._scale)
               and np.array_equal(x._zero, lead._zero) for x in lps)
    if same:
        return lead, (lambda r: LPInt._wrap_q(r, lead.format, mode, lead._scale, lead._zero))
    return lead, (lambda r: _deliver(_requantize(r, lead, mode), None, lead.format, mode))


def _deliver(result, out, fmt, mode):
    values, s, z = result
    target = out[0] if out else None
    if target is None:
        return LPInt._wrap_q(np.asarray(values), fmt, mode, s, z)
    if isinstance(target, LPArray):
        np.copyto(target.values, target._round(values))
    else:
        np.copyto(target, values, casting="same_kind")
    return target


def asarray_int(x: Any, fmt, rmode=1, *, dtype=None, scale=None, zero_point=None, seed: Optional[int] = None,
                rng=None) -> LPInt:
    """Quantize ``x`` into the integer format ``fmt`` as an :class:`LPInt` (calibrated,
    or with the given ``scale``/``zero_point``)."""
    from ..quant.integer import _params
    f = int_format(fmt)
    mode = rounding_mode(rmode)
    check_real_data(x if isinstance(x, np.ndarray) else np.asarray(x), "lp.asarray")
    a = x.values if isinstance(x, LPArray) else np.asarray(x)
    if a.dtype.kind not in "fiu" or a.dtype.kind == "b":
        raise UnsupportedTypeError(f"lp.asarray takes real numbers, got {a.dtype}.")
    a = a.astype(np.float64)
    s, z = _params(a, f, scale, zero_point)
    values, s, z = _quantize(a, f, mode, s, z, seed, rng)
    storage = np.dtype(dtype) if dtype is not None else np.dtype(np.float64)
    return LPInt._wrap_q(values.astype(storage), f, mode, s, z)
