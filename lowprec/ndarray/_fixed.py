"""``LPFixed``: NumPy code running in binary fixed point.

Values live in float64 (float32 for words of at most 24 bits made from float32 data)
on the grid ``2**-frac_bits``; the arithmetic runs on the integer codes
``value * 2**frac_bits`` in the kernels of :mod:`lowprec.quant._kernels`.

| category | what happens |
|---|---|
| ``arith`` | ``+ - * /`` (and ``square``, ``reciprocal``): exact integer arithmetic on the codes, the exact result rounded once to the grid with the mode, then the overflow policy |
| ``sqrt`` | ``sqrt``: the exact integer square root with its remainder, rounded once (a negative operand is an error) |
| ``exact`` | sign changes, max/min, floor/ceil/trunc/rint: exact values, then the overflow policy (``-min`` of a signed format overflows) |
| ``rounded`` | ``exp``, ``sin``, ``cbrt``, ...: computed in binary64 from the values, then rounded to the grid (two roundings) |
| ``predicate`` | comparisons and tests: plain booleans |
| ``product`` | ``matmul``: products rounded, sums left to right with the overflow policy at every step |

Reductions ``np.sum``/``np.prod``/``cumsum``/``cumprod`` run sequentially with every
step rounded and its overflow policy applied (``lp.accumulate("exact")``: the exact
sum, overflow applied once). Mixed fixed formats promote to the join (most integer and
fraction bits); fixed with float or integer arrays is an error that says how to cast.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional

import numpy as np

from ..errors import FormatMismatchError, FormatRangeError, UnsupportedOperationError, UnsupportedTypeError
from ..formats import FixedFormat, join_fixed
from ..policy import accumulation_model
from ..promotion import result_mode
from ..quant import _kernels as K
from ..quant._common import raise_overflow, smallest_int_dtype
from ..quant.fixed import fixed_format, round_flat
from ..random import next_key, one_draw
from ..rounding import RoundingMode, rounding_mode
from ._base import LPArray, check_real_data, foreign, plain_out
from ._float import kept_shape_of, reduced_axes
from ._functions import (MUTATORS, PLAIN_RESULT, SAVERS, STRUCTURAL, UFUNC_ROUTED, _leaves, _map_data, _unwrap,
                         refuse_save)
from ._ufuncs import EXACT, PREDICATE, ROUNDED

ARITH: Dict[np.ufunc, int] = {
    np.add: K.ADD, np.subtract: K.SUBTRACT, np.multiply: K.MULTIPLY, np.true_divide: K.DIVIDE,
    np.square: K.MULTIPLY, np.reciprocal: K.DIVIDE,
}
FIXED_EXACT = EXACT - {np.sign}  # sign's 1 may not exist in the format (q0.8): rounded instead
FIXED_ROUNDED = (ROUNDED | {np.sign, np.cbrt}) - {np.divmod}
FIXED_SQRT = {np.sqrt}
FIXED_PREDICATE = PREDICATE


def _category(ufunc) -> str:
    for name, group in (("arith", ARITH), ("exact", FIXED_EXACT), ("rounded", FIXED_ROUNDED),
                        ("predicate", FIXED_PREDICATE), ("sqrt", FIXED_SQRT)):
        if ufunc in group:
            return name
    if ufunc is np.matmul:
        return "product"
    return "unsupported"


def codes_of(values: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """The int64 codes of grid values (exact)."""
    return np.ldexp(np.asarray(values, dtype=np.float64), fmt.frac_bits).astype(np.int64)


def values_of(codes: np.ndarray, fmt: FixedFormat, dtype=np.float64) -> np.ndarray:
    """Grid values of int64 codes (exact)."""
    return np.ldexp(codes.astype(np.float64), -fmt.frac_bits).astype(dtype, copy=False)


def _quantize(values, fmt: FixedFormat, mode: RoundingMode, seed=None, rng=None) -> np.ndarray:
    """``values`` rounded onto ``fmt`` (float64 array of the same shape)."""
    a = np.asarray(values, dtype=np.float64)
    key = next_key(seed, rng) if mode.is_stochastic else np.uint64(0)
    out, _ = round_flat(np.ascontiguousarray(a).reshape(-1), fmt, mode, key, False)
    return out.reshape(a.shape)


class LPFixed(LPArray):
    """An ndarray of fixed-point values; every result is rounded to the grid and its
    overflow policy applied. Create one with :func:`lowprec.asarray` (``"q8.8"``,
    ``"fixed(8,8)"``, ``lp.FixedFormat(...)``); see the module docstring for the rules.
    """

    def _round(self, values) -> np.ndarray:
        fmt = self._require_format()
        values = np.asarray(values)
        if values.dtype.kind not in "fiu":
            raise UnsupportedTypeError(f"cannot store {values.dtype} values in an LPFixed.")
        return _quantize(values, fmt, self._rmode).astype(self.dtype, copy=False)

    def to_bits(self) -> np.ndarray:
        """The integer codes ``value * 2**frac_bits`` in the smallest integer dtype."""
        fmt = self._require_format()
        return codes_of(self.values, fmt).astype(smallest_int_dtype(fmt.code_min, fmt.code_max))

    @classmethod
    def from_bits(cls, codes, fmt, rmode=1) -> "LPFixed":
        """The LPFixed whose codes are ``codes`` (range-checked against ``fmt``)."""
        f = fixed_format(fmt)
        c = np.asarray(codes)
        if c.dtype.kind not in "iu":
            raise UnsupportedTypeError(f"codes are integers, got {c.dtype}.")
        if c.size and (c.min() < f.code_min or c.max() > f.code_max):
            raise ValueError(f"codes outside [{f.code_min}, {f.code_max}] of {f}.")
        return cls._wrap(values_of(c.astype(np.int64), f), f, rounding_mode(rmode))

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        if foreign(inputs + (out or ())):
            return NotImplemented
        kind = _category(ufunc)
        plain = [x.values if isinstance(x, LPArray) else x for x in inputs]
        if kind == "predicate":
            return getattr(ufunc, method)(*plain, out=plain_out(out), **kwargs)
        if kind == "unsupported":
            raise UnsupportedOperationError(
                f"np.{ufunc.__name__} is not defined for LPFixed; use np.asarray(x) to leave emulation.")
        fmt, mode = _common(inputs, ufunc.__name__)
        if kwargs.get("where", True) is not True:
            raise UnsupportedOperationError(f"np.{ufunc.__name__}: where= is not supported for LPFixed.")
        kwargs.pop("where", None)
        handler = _METHODS.get((kind, method))
        if handler is None:
            raise UnsupportedOperationError(f"np.{ufunc.__name__}.{method} is not supported for LPFixed.")
        with one_draw():  # weak operands and result: one key from the global stream
            args = [_weak(x, fmt, mode) for x in inputs]
            result = handler(ufunc, args, fmt, mode, kwargs)
        return _deliver(result, out, fmt, mode)

    def __array_function__(self, func, types, args, kwargs):
        return array_function(self, func, types, args, kwargs, FIXED_FUNCTIONS, _rewrap_fixed)


# ----------------------------------------------------------------------------- operands

def _common(inputs, name: str):
    lps = [x for x in inputs if isinstance(x, LPArray)]
    for x in lps:
        if not isinstance(x, LPFixed):
            raise FormatMismatchError(
                f"np.{name} mixes LPFixed with {type(x).__name__} ({x.format}); convert one explicitly, "
                "e.g. lp.asarray(np.asarray(y), x.format) or lp.asarray(np.asarray(x), 'half')."
            )
        x._require_format()
    fmt = lps[0].format
    for x in lps[1:]:
        fmt = join_fixed(fmt, x.format)
    return fmt, result_mode([x.rmode for x in lps], f"np.{name}")


def _weak(x, fmt: FixedFormat, mode):
    """LPFixed operands give ``(codes, frac_bits)``; plain numbers are rounded into ``fmt``."""
    if isinstance(x, LPFixed):
        return codes_of(x.values, x.format), x.format.frac_bits
    check_real_data(x if isinstance(x, np.ndarray) else np.asarray(x), "LPFixed arithmetic")
    a = np.asarray(x)
    if a.dtype.kind not in "fiu" or a.dtype.kind == "b":
        raise UnsupportedTypeError(f"cannot combine {a.dtype} data with an LPFixed.")
    return codes_of(_quantize(a, fmt, mode), fmt), fmt.frac_bits


def _flat_pair(a, b):
    shape = np.broadcast_shapes(a.shape, b.shape)
    flat = [np.ascontiguousarray(np.broadcast_to(v, shape)).reshape(-1) for v in (a, b)]
    return flat, shape


def _check(over: int, fmt: FixedFormat) -> None:
    if fmt.overflow == "error":
        raise_overflow(over, fmt, fmt.min, fmt.max)


def _params(fmt: FixedFormat, mode):
    key = next_key() if mode.is_stochastic else np.uint64(0)
    return fmt.code_min, fmt.code_max, fmt.bits, K.OVERFLOW_CODES[fmt.overflow], int(mode), key


# ----------------------------------------------------------------------------- handlers

def _arith(ufunc, args, fmt, mode, kwargs):
    if kwargs:
        raise UnsupportedOperationError(f"np.{ufunc.__name__}: arguments {sorted(kwargs)} are not supported.")
    if ufunc is np.square:
        args = [args[0], args[0]]
    elif ufunc is np.reciprocal:
        args = [(np.ones(np.shape(args[0][0]), np.int64), 0), args[0]]
    (ca, fa), (cb, fb) = args
    (ca, cb), shape = _flat_pair(ca, cb)
    out = np.empty(ca.size, np.int64)
    zero_div, over = K.fixed_binary(ARITH[ufunc], ca, cb, fa, fb, fmt.frac_bits, out, *_params(fmt, mode), 0)
    if zero_div:
        raise ZeroDivisionError(f"np.{ufunc.__name__}: {zero_div} divisions by zero in {fmt}.")
    _check(over, fmt)
    return values_of(out.reshape(shape), fmt)


def _sqrt(ufunc, args, fmt, mode, kwargs):
    """Correctly rounded square root (stochastic: the probability from the exact residual,
    ``floor((sqrt(N) - r) * 2**62)`` by an integer square root)."""
    if kwargs:
        raise UnsupportedOperationError(f"np.sqrt: arguments {sorted(kwargs)} are not supported.")
    (c, f), = args
    c = (c << (fmt.frac_bits - f)).reshape(-1)
    F = fmt.frac_bits
    thr = np.zeros(c.size, np.int64)
    if mode == RoundingMode.STOCHASTIC:
        for i, v in enumerate(c.tolist()):
            if v > 0:
                n = v << F
                r = math.isqrt(n)
                thr[i] = math.isqrt(n << 124) - (r << 62)
    out = np.empty(c.size, np.int64)
    neg, over = K.fixed_sqrt(c, F, thr, out, *_params(fmt, mode))
    if neg:
        raise FormatRangeError(f"np.sqrt: {neg} negative elements; {fmt} has no NaN.")
    _check(over, fmt)
    return values_of(out.reshape(np.shape(args[0][0])), fmt)


def _exact(ufunc, args, fmt, mode, kwargs):
    vals = [np.ldexp(c.astype(np.float64), -f) for c, f in args]
    return _quantize(ufunc(*vals, **kwargs), fmt, mode)


def _exact_method(method):
    def run(ufunc, args, fmt, mode, kwargs):
        vals = [np.ldexp(c.astype(np.float64), -f) for c, f in args]
        return _quantize(getattr(ufunc, method)(*vals, **kwargs), fmt, mode)
    return run


def _rounded(ufunc, args, fmt, mode, kwargs):
    vals = [np.ldexp(c.astype(np.float64), -f) for c, f in args]
    with np.errstate(all="ignore"):
        raw = ufunc(*vals, **kwargs)
    if isinstance(raw, tuple):
        return tuple(_quantize(r, fmt, mode) for r in raw)
    return _quantize(raw, fmt, mode)


def _fold(ufunc, args, fmt, mode, kwargs, keep=False):
    (c, f), = args
    c = c << (fmt.frac_bits - f)
    axis = kwargs.pop("axis", 0)
    keepdims = kwargs.pop("keepdims", False)
    kwargs.pop("dtype", None)
    if kwargs.pop("initial", np._NoValue) is not np._NoValue or kwargs:
        raise UnsupportedOperationError(f"np.{ufunc.__name__} reduction: initial= and {sorted(kwargs)} unsupported.")
    if ufunc not in (np.add, np.multiply):
        raise UnsupportedOperationError(f"np.{ufunc.__name__}.reduce is not supported for LPFixed.")
    if keep and axis is None:
        c, axis = c.reshape(-1), 0
    axes = reduced_axes(axis, c.ndim, ufunc_reduce=True)
    if not keep and len(axes) != 1:  # several axes (or all, or none): one, in row-major order
        moved = np.moveaxis(c, axes, range(-len(axes), 0))
        kept = moved.shape[:c.ndim - len(axes)]
        merged = moved.reshape(kept + (math.prod(c.shape[ax] for ax in axes),))
        result = _fold(ufunc, [(merged, fmt.frac_bits)], fmt, mode, {"axis": -1})
        return result.reshape(kept_shape_of(c.shape, axes)) if keepdims else result
    axis = axes[0]
    moved = np.moveaxis(c, axis, -1)
    rows = np.ascontiguousarray(moved).reshape(math.prod(moved.shape[:-1]), moved.shape[-1])
    op = K.ADD if ufunc is np.add else K.MULTIPLY
    final = np.empty(rows.shape[0], np.int64)
    partials = np.empty(rows.shape if keep else (1, 1), np.int64)
    if op == K.ADD and accumulation_model() == "exact" and not keep:
        total = rows.sum(axis=1)
        out = np.empty(total.size, np.int64)
        zero = np.zeros(total.size, np.int64)
        _, over = K.fixed_binary(K.ADD, total, zero, fmt.frac_bits, fmt.frac_bits, fmt.frac_bits, out,
                                 *_params(fmt, mode), 0)
        final = out
    else:
        mn, mx, bits, policy, m, key = _params(fmt, mode)
        over = K.fixed_fold(op, rows, fmt.frac_bits, final, partials, keep, mn, mx, bits, policy, m, key)
    _check(over, fmt)
    if keep:
        return np.moveaxis(values_of(partials.reshape(moved.shape), fmt), -1, axis)
    result = values_of(final.reshape(moved.shape[:-1]), fmt)
    return np.expand_dims(result, axis) if keepdims else result


def _accumulate(ufunc, args, fmt, mode, kwargs):
    kwargs.setdefault("axis", 0)
    return _fold(ufunc, args, fmt, mode, kwargs, keep=True)


def _matmul(ufunc, args, fmt, mode, kwargs):
    if kwargs:
        raise UnsupportedOperationError(f"np.matmul: arguments {sorted(kwargs)} are not supported for LPFixed.")
    (a, fa), (b, fb) = args
    if a.ndim == 0 or b.ndim == 0:
        raise UnsupportedOperationError("matmul of a 0-d operand: use * instead.")
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a2.ndim > 2 or b2.ndim > 2:
        raise UnsupportedOperationError("LPFixed matmul takes 1-D and 2-D operands.")
    if a2.shape[1] != b2.shape[0]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align.")
    out = np.empty((a2.shape[0], b2.shape[1]), np.int64)
    over = K.fixed_matmul(np.ascontiguousarray(a2), np.ascontiguousarray(b2), fa, fb, fmt.frac_bits, out,
                          *_params(fmt, mode))
    _check(over, fmt)
    result = values_of(out, fmt)
    if a.ndim == 1:
        result = result[0]
    if b.ndim == 1:
        result = result[..., 0]
    return result


_METHODS: Dict[tuple, Callable] = {
    ("arith", "__call__"): _arith,
    ("exact", "__call__"): _exact,
    ("exact", "reduce"): _exact_method("reduce"),
    ("exact", "accumulate"): _exact_method("accumulate"),
    ("rounded", "__call__"): _rounded,
    ("sqrt", "__call__"): _sqrt,
    ("arith", "reduce"): _fold,
    ("arith", "accumulate"): _accumulate,
    ("product", "__call__"): _matmul,
}


def _deliver(result, out, fmt, mode):
    if isinstance(result, tuple):
        outs = out or (None,) * len(result)
        return tuple(_deliver(r, (o,) if o is not None else None, fmt, mode) for r, o in zip(result, outs))
    result = np.asarray(result)
    target = out[0] if out else None
    if target is None:
        return LPFixed._wrap(result, fmt, mode)
    if isinstance(target, LPArray):
        np.copyto(target.values, target._round(result))
    else:
        np.copyto(target, result, casting="same_kind")
    return target


# ----------------------------------------------------------------------------- functions

def _mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    """Emulated mean. **Rounding:** the sum (as np.sum: sequential, overflow at every
    step), then one exact division by the count rounded to the grid."""
    if where is not True or out is not None or dtype is not None:
        raise UnsupportedOperationError("np.mean of an LPFixed: where=, out= and dtype= are not supported.")
    total = np.sum(a, axis=axis, keepdims=keepdims)
    count = math.prod(a.shape[i] for i in reduced_axes(axis, a.ndim))
    fmt, mode = total.format, total.rmode
    c = codes_of(total.values, fmt).reshape(-1)
    out_codes = np.empty(c.size, np.int64)
    zero_div, over = K.fixed_binary(K.DIVIDE, c, np.full(c.size, count, np.int64), fmt.frac_bits, 0,
                                    fmt.frac_bits, out_codes, *_params(fmt, mode), 0)
    if zero_div:
        raise ZeroDivisionError("np.mean of an empty LPFixed: fixed point has no NaN for the mean of "
                                "nothing (NumPy's result); test x.size first.")
    _check(over, fmt)
    return LPFixed._wrap(values_of(out_codes.reshape(np.shape(total)), fmt), fmt, mode)


def _dot(a, b, out=None):
    """Emulated dot product: ``np.matmul`` for 1-D/2-D (sequential, see LPFixed)."""
    if out is not None:
        raise UnsupportedOperationError("np.dot of an LPFixed: out= is not supported.")
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return np.multiply(a, b)
    return np.matmul(a, b)


FIXED_FUNCTIONS: Dict[Callable, Callable] = {np.mean: _mean, np.dot: _dot}


def _rewrap_fixed(result, lps):
    """Float results of a structural function as LPFixed of the operands' common format."""
    fmt, mode = _common(lps, "structural function")
    if any(x.format != fmt for x in lps):
        raise FormatMismatchError(f"{[str(x.format) for x in lps]}: join the formats explicitly first.")
    return lps[0], (lambda r: LPFixed._wrap(r, fmt, mode))


def array_function(self, func, types, args, kwargs, own: Dict, rewrap: Callable):
    """The ``__array_function__`` driver of LPFixed and LPInt.

    ``own`` functions have an emulated implementation; structural functions (reshape,
    concatenate, where, ...) run on the plain values, with plain data rounded into the
    destination first, and their float results keep the (common) format; mutators round
    what they store; question-answering functions give plain results; ufunc-routed
    functions (sum, max, ...) run as is, their ufuncs emulated. Everything else raises.
    """
    if any(issubclass(t, LPArray) and not issubclass(t, type(self)) for t in types):
        raise FormatMismatchError(
            f"np.{func.__name__} mixes {type(self).__name__} with "
            f"{', '.join(t.__name__ for t in types if issubclass(t, LPArray) and t is not type(self))}; "
            "convert explicitly, e.g. lp.asarray(np.asarray(x), fmt).")
    if func in SAVERS:
        refuse_save(func)
    if func in own:
        return own[func](*args, **kwargs)
    if func in STRUCTURAL:
        data = []
        _map_data(args, kwargs, STRUCTURAL[func], lambda x: data.append(x) if isinstance(x, LPArray) else None)
        lps = _leaves(data, [])
        if not lps:
            return func(*_unwrap(list(args)), **{k: _unwrap(v) for k, v in kwargs.items()})
        lead, wrap = rewrap(None, lps)

        def to_format(x):
            if isinstance(x, LPArray) or x is None or isinstance(x, (str, bool, np.bool_)):
                return _unwrap(x)
            a = np.asarray(x)
            return a if a.dtype.kind in "bO" else lead._round(a)

        args, kwargs = _map_data(args, kwargs, STRUCTURAL[func], to_format)
        if "out" in kwargs:
            raise UnsupportedOperationError(f"np.{func.__name__}: out= is not supported for {type(self).__name__}.")
        result = func(*[_unwrap(a) for a in args], **{k: _unwrap(v) for k, v in kwargs.items()})
        return _rewrap_results(result, wrap)
    if func in MUTATORS:
        return MUTATORS[func](*args, **kwargs)
    if func in PLAIN_RESULT:
        return func(*_unwrap(list(args)), **{k: _unwrap(v) for k, v in kwargs.items()})
    if func in UFUNC_ROUTED:
        return super(type(self), self).__array_function__(func, types, args, kwargs)
    raise UnsupportedOperationError(
        f"np.{getattr(func, '__name__', func)} has no emulated implementation for {type(self).__name__}; "
        "use np.asarray(x) to compute in binary64 explicitly.")


def _rewrap_results(result, wrap):
    if isinstance(result, np.ndarray) and result.dtype.kind == "f" and not isinstance(result, LPArray):
        return wrap(result)
    if isinstance(result, (list, tuple)) and not hasattr(result, "_fields"):
        return type(result)(_rewrap_results(r, wrap) for r in result)
    return result


def asarray_fixed(x: Any, fmt, rmode=1, *, dtype=None, seed: Optional[int] = None, rng=None) -> LPFixed:
    """Round ``x`` onto the fixed-point format ``fmt`` as an :class:`LPFixed`."""
    f = fixed_format(fmt)
    mode = rounding_mode(rmode)
    check_real_data(x if isinstance(x, np.ndarray) else np.asarray(x), "lp.asarray")
    a = x.values if isinstance(x, LPArray) else np.asarray(x)
    if a.dtype.kind not in "fiu" or a.dtype.kind == "b":
        raise UnsupportedTypeError(f"lp.asarray takes real numbers, got {a.dtype}.")
    storage = np.dtype(dtype) if dtype is not None else (
        np.dtype(np.float32) if a.dtype == np.float32 and f.bits <= 24 else np.dtype(np.float64))
    if storage == np.float32 and f.bits > 24:
        raise UnsupportedTypeError(f"{f} has {f.bits}-bit words; float32 storage holds 24 bits exactly.")
    values = _quantize(a, f, mode, seed, rng).astype(storage)
    return LPFixed._wrap(values, f, mode)
