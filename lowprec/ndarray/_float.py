"""``LPFloat``: NumPy code running in an emulated floating-point format."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Optional

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from ..arith import binary, binary_2d
from ..chop import check_bool, chop
from ..errors import FormatMismatchError, UnsupportedOperationError, UnsupportedTypeError
from ..formats import FloatFormat, format as as_format
from ..promotion import result_format, result_mode
from ..random import derived_seed, next_key
from ..rounding import RoundingMode, _kernels, rounding_mode
from ..rounding.params import rounding_params
from ._accumulate import fold, matmul
from ._base import LPArray, _plain, check_real_data, foreign, plain_out
from ._ufuncs import CORRECTLY_ROUNDED, category


class LPFloat(LPArray):
    """An ndarray of values in an emulated float format; every result is re-rounded.

    Create one with :func:`lowprec.asarray`. Elementwise ``+ - * /`` and ``sqrt`` are
    correctly rounded in every mode; other ufuncs compute in binary64 and round the
    result; comparisons give plain booleans; indexing keeps the format.
    """

    def _round(self, values) -> np.ndarray:
        fmt = self._require_format()
        values = np.asarray(values)
        if values.dtype.kind not in "fiuc" or (values.dtype.kind == "c" and self.dtype.kind != "c"):
            raise UnsupportedTypeError(f"cannot store {values.dtype} values in an LPFloat of {self.dtype}.")
        return chop(values.astype(self.dtype, copy=False), fmt, self._rmode)

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        if foreign(inputs + (out or ())):
            return NotImplemented
        kind = category(ufunc)
        plain = [x.values if isinstance(x, LPArray) else x for x in inputs]
        if kind == "predicate":
            return getattr(ufunc, method)(*plain, out=plain_out(out), **kwargs)
        if kind in ("integer_only", "unsupported"):
            raise UnsupportedOperationError(
                f"np.{ufunc.__name__} is not defined for LPFloat (category {kind}); "
                "use np.asarray(x) to leave emulation explicitly."
            )
        if method == "at":
            return _at(ufunc, inputs, kwargs)
        fmt, mode, dtype = _common(inputs, ufunc.__name__)
        # One random key per call (stochastic modes), drawn before anything is rounded: the
        # weak operands' keys derive from it, so concurrent threads under one seed cannot
        # interleave their draws (lowprec.random).
        key = next_key() if mode.is_stochastic and method == "__call__" and kind in ("correctly_rounded", "rounded") \
            else None
        args = [_weak(x, fmt, mode, dtype, None if key is None else derived_seed(key, i))
                for i, x in enumerate(inputs)]
        where = kwargs.pop("where", True) if method == "__call__" else True
        if method == "__call__" and kind == "product":
            if kwargs:
                raise UnsupportedOperationError(f"np.matmul: arguments {sorted(kwargs)} are not supported.")
            if any(np.iscomplexobj(a) for a in args):
                raise UnsupportedOperationError("matmul of complex LPFloats is not emulated; multiply the real "
                                                "and imaginary parts explicitly.")
            result = matmul(args[0], args[1], fmt, mode)
        elif method == "__call__":
            target = _target(out, fmt, where) if kind == "correctly_rounded" else None
            result = _call(ufunc, kind, args, fmt, mode, dtype, kwargs, target, key)
            if target is not None and result is target:
                return out[0]
        elif method in ("reduce", "accumulate") and ufunc in (np.add, np.multiply):
            result = _fold(ufunc, method, args[0], fmt, mode, kwargs)
        elif method in ("reduce", "accumulate", "outer", "reduceat") and kind in ("exact", "rounded", "correctly_rounded"):
            if method == "outer":
                a, b = args
                a = a.reshape(a.shape + (1,) * np.ndim(b))
                result = _call(ufunc, kind, [a, b], fmt, mode, dtype, kwargs)
            elif kind == "exact":
                result = _round_to(getattr(ufunc, method)(*args, **kwargs), fmt, mode)
            else:
                raise UnsupportedOperationError(
                    f"np.{ufunc.__name__}.{method} has no emulated accumulation; loop explicitly.")
        else:
            raise UnsupportedOperationError(f"np.{ufunc.__name__}.{method} is not supported for LPFloat.")
        return _deliver(result, out, fmt, mode, where, dtype)

    def to_bits(self) -> np.ndarray:
        """The values' bit patterns in the format (see :func:`lowprec.to_bits`)."""
        from ..bits import to_bits
        return to_bits(self)

    # ndarray methods that NumPy implements without __array_function__
    def mean(self, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
        """Emulated mean (see ``lp.semantics(np.mean)``)."""
        return np.mean(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims, where=where)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True):
        """Emulated variance (see ``lp.semantics(np.var)``)."""
        return np.var(self, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, where=where)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True):
        """Emulated standard deviation (see ``lp.semantics(np.std)``)."""
        return np.std(self, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, where=where)

    def dot(self, b, out=None):
        """Emulated dot product (see ``lp.semantics(np.dot)``)."""
        return np.dot(self, b, out=out)

    def trace(self, offset=0, axis1=0, axis2=1, dtype=None, out=None):
        """Emulated trace (see ``lp.semantics(np.trace)``)."""
        return np.trace(self, offset, axis1, axis2, dtype, out)

    def round(self, decimals=0, out=None):
        """Round to ``decimals`` decimal digits; the result is rounded into the format."""
        return np.round(self, decimals, out)

    def clip(self, min=None, max=None, out=None, **kwargs):
        """Clip to ``[min, max]`` (bounds rounded into the format first)."""
        return np.clip(self, min, max, out=out, **kwargs)


def _at(ufunc, inputs, kwargs):
    """``ufunc.at(a, indices[, b])``: unbuffered, so repeated indices apply one after the
    other, each step rounded into ``a``'s format."""
    a, indices, *rest = inputs
    if not isinstance(a, LPFloat) or kwargs:
        raise UnsupportedOperationError(f"np.{ufunc.__name__}.at: the target must be an LPFloat.")
    positions = np.arange(a.size).reshape(a.shape)[indices]
    flat = positions.reshape(-1)
    other = np.broadcast_to(_plain(rest[0]), positions.shape).reshape(-1) if rest else None
    values = a.values
    pending = np.arange(flat.size)
    while pending.size:  # one batch per repetition of an index, in order
        _, first = np.unique(flat[pending], return_index=True)
        batch = pending[np.sort(first)]
        current = LPFloat._wrap(values.flat[flat[batch]], a.format, a.rmode)
        operands = (current,) if other is None else (current, other[batch])
        values.flat[flat[batch]] = getattr(ufunc(*operands), "values")
        pending = np.delete(pending, np.sort(first))


def _common(inputs, name: str):
    """Result format (the join), mode and storage dtype of the LP operands."""
    lps = [x for x in inputs if isinstance(x, LPArray)]
    for x in lps:
        if not isinstance(x, LPFloat):
            raise FormatMismatchError(
                f"np.{name} mixes LPFloat with {type(x).__name__}; convert one explicitly, e.g. "
                "lp.asarray(np.asarray(x), 'half')."
            )
        x._require_format()
    fmt = result_format([x.format for x in lps])
    mode = result_mode([x.rmode for x in lps], f"np.{name}")
    dtype = np.result_type(*[x.dtype for x in lps], *_plain_dtypes(inputs))
    if dtype.kind not in "fc":
        dtype = np.dtype(np.float64)
    try:
        rounding_params(fmt, True, _real(dtype))
    except ValueError:
        dtype = np.dtype(np.complex128 if dtype.kind == "c" else np.float64)
    return fmt, mode, dtype


def _plain_dtypes(inputs) -> list:
    """The storage dtypes the plain operands bring to NumPy's promotion (NEP 50): arrays and
    NumPy scalars are strong (``float64`` storage + ``np.float32(1)`` stays float64, float32
    storage + ``np.float64(1)`` becomes float64, as NumPy); Python numbers are weak and
    never widen real storage (a Python complex makes it complex)."""
    found = []
    for x in inputs:
        if isinstance(x, LPArray) or type(x) in (int, float, bool) or x is None:
            continue
        if type(x) is complex:
            found.append(x)
            continue
        d = getattr(x, "dtype", None)
        if not isinstance(d, np.dtype):
            try:
                d = np.asarray(x).dtype
            except (ValueError, TypeError, OverflowError):  # _weak says what is wrong
                continue
        if d.kind in "biufc" and d.itemsize <= (16 if d.kind == "c" else 8):
            found.append(d)
    return found


def _real(dtype) -> np.dtype:
    """The component dtype of a (complex) storage dtype."""
    return np.empty(0, dtype).real.dtype


def _weak(x, fmt, mode, dtype, seed=None):
    """Plain operands are weak: rounded into the result format first, like a typed
    language converting a constant. LP operands are already format values. Each value is
    rounded once, from its exact value (a Python float from binary64, never through the
    float32 storage first); ``seed`` is the stochastic stream of this operand."""
    if isinstance(x, LPArray):
        return x.values
    if type(x) in (int, float) and not mode.is_stochastic:  # Python constants: round once, remember
        # the sign is part of the key: 0.0 == -0.0 (and hash alike), but they round apart
        return _weak_constant(x, type(x), math.copysign(1.0, x) if type(x) is float else 1.0,
                              fmt, mode, np.dtype(dtype))
    if type(x) in (int, float):
        return np.asarray(chop(x, fmt, mode, seed=seed), dtype=_real(dtype))
    a = np.asarray(x)
    check_real_data(x if isinstance(x, np.ndarray) else a, "LPFloat arithmetic")
    if a.dtype.kind == "O":  # Fractions, Decimals, huge ints: rounded exactly by lp.chop (or its clear error)
        return chop(a, fmt, mode, seed=seed)
    if a.dtype.kind == "c":
        return chop(a.astype(np.complex128 if _real(dtype) == np.float64 else np.complex64), fmt, mode, seed=seed)
    if a.dtype.kind in "fiu" and a.dtype != bool:
        # rounded from their own dtype (exact; never through a narrower storage first), then
        # cast into the storage exactly; integers are rounded exactly by chop (int64 too)
        if a.dtype == np.float16:
            a = a.astype(np.float32)  # exact; float16 storage is narrower than many formats
        if a.dtype.kind == "f" and not _fits(fmt, a.dtype):
            a = a.astype(np.float64)  # exact: float32 data of a format wider than float32
        return chop(a, fmt, mode, seed=seed)
    if a.dtype.kind == "b":
        return a
    raise UnsupportedTypeError(f"cannot combine {a.dtype} data with an LPFloat.")


def _fits(fmt, dtype) -> bool:
    """Whether ``fmt``'s values are exact in float ``dtype``."""
    try:
        rounding_params(fmt, True, dtype)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4096)
def _weak_constant(x, kind, sign, fmt, mode, dtype) -> np.ndarray:
    # chop of a Python number rounds its exact value (binary64 for a float, the integer
    # itself for an int) once; the cast to the storage is exact (the format fits it)
    value = np.asarray(chop(x, fmt, mode), dtype=_real(dtype))
    value.flags.writeable = False
    return value


def _round_to(values, fmt, mode, seed=None):
    return chop(np.asarray(values), fmt, mode, seed=seed)


def _target(out, fmt, where):
    """The plain values of ``out`` when a kernel may write the result straight into it."""
    if out is None or len(out) != 1 or where is not True:
        return None
    o = out[0]
    return o.values if isinstance(o, LPFloat) and o.format == fmt and o.dtype in (np.float64, np.float32) else None


def _call(ufunc, kind, args, fmt, mode, dtype, kwargs, target=None, key=None):
    if kwargs:
        raise UnsupportedOperationError(f"np.{ufunc.__name__}: arguments {sorted(kwargs)} are not supported.")
    if kind == "correctly_rounded" and any(np.iscomplexobj(a) for a in args):
        result = _complex_op(ufunc, args, fmt, mode, dtype)
    elif kind == "correctly_rounded":
        op = CORRECTLY_ROUNDED[ufunc]
        if ufunc is np.square:
            args = [args[0], args[0]]
        elif ufunc is np.reciprocal:
            args = [np.ones_like(args[0]), args[0]]
        result = _exact_then_round(op, args, fmt, mode, dtype, target, key)
    elif kind == "grid":
        result = _grid(ufunc, args, fmt, mode)
    else:
        with np.errstate(all="ignore"):
            raw = ufunc(*args)
        # Exact ufuncs (abs, maximum, floor, ...) give values of the format: their rounding
        # is the identity and takes no key from the global stream (as on LPTensor).
        seed = 0 if kind == "exact" else (None if key is None else derived_seed(key, -1))
        result = tuple(_round_to(r, fmt, mode, seed) for r in raw) if isinstance(raw, tuple) \
            else _round_to(raw, fmt, mode, seed)
    return result


def _exact_then_round(op, args, fmt, mode, dtype, target=None, key=None):
    """The correctly rounded ``op`` of the operands; written into ``target`` (an array of
    the result's shape and dtype) when one is given and usable. float32 operands of a
    float32 result stay float32 from end to end (the kernels read and write it)."""
    real = _kernel_dtype(args, dtype)
    a = np.asarray(args[0], dtype=real)
    b = np.asarray(args[1] if len(args) > 1 else args[0], dtype=real)
    shape = a.shape if a.shape == b.shape else np.broadcast_shapes(a.shape, b.shape)
    p = rounding_params(fmt, True, dtype)
    if key is None:
        key = next_key() if mode.is_stochastic else np.uint64(0)
    if len(shape) <= 2 and p.t < 52:  # strided 2-D kernel: no contiguous copies
        shape2 = (1,) * (2 - len(shape)) + shape
        a2, b2 = _as_2d(a, shape, shape2), _as_2d(b, shape, shape2)
        out = target if _usable(target, shape, real, a, b) else np.empty(shape2, dtype=real)
        binary_2d(op, a2, b2, p, mode, key, out.reshape(shape2))
        return out.reshape(shape) if out.dtype == dtype or out is target else out.reshape(shape).astype(dtype)
    a = np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1)
    b = np.ascontiguousarray(np.broadcast_to(b, shape)).reshape(-1)
    out = binary(op, a, b, p, mode, key, on_grid=True, out=np.empty(a.size, dtype=real))
    return out.reshape(shape).astype(dtype, copy=False)


def _kernel_dtype(args, dtype) -> np.dtype:
    """float32 when the result is float32 and every operand array is float32 (one kernel
    signature, no conversion passes); float64 otherwise."""
    if dtype == np.float32 and all(getattr(x, "dtype", None) == np.float32 for x in args):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _complex_op(ufunc, args, fmt, mode, dtype):
    """Complex ``+ - * /`` from correctly rounded real operations: sums componentwise
    (each component correctly rounded); products ``(ac - bd) + (ad + bc)i`` and
    quotients ``((ac + bd) + (bc - ad)i) / (c*c + d*d)`` with every real product, sum
    and quotient rounded (the textbook formulas, as C without fma); ``sqrt`` computed in
    binary64 and its parts rounded."""
    real = _real(dtype)

    def op(code, x, y):
        return _exact_then_round(code, [x, y], fmt, mode, real)

    if ufunc is np.sqrt:
        with np.errstate(all="ignore"):
            return _round_to(np.sqrt(np.asarray(args[0], dtype=np.complex128)), fmt, mode)
    if ufunc is np.square:
        args = [args[0], args[0]]
    elif ufunc is np.reciprocal:
        args = [np.ones_like(args[0]), args[0]]
    x, y = (np.asarray(v) for v in args)
    a, b, c, d = x.real, (x.imag if np.iscomplexobj(x) else np.zeros_like(x.real)), y.real, \
        (y.imag if np.iscomplexobj(y) else np.zeros_like(y.real))
    if ufunc in (np.add, np.subtract):
        code = CORRECTLY_ROUNDED[ufunc]
        re, im = op(code, a, c), op(code, b, d)
    elif ufunc in (np.multiply, np.square):
        re = op(_kernels.SUBTRACT, op(_kernels.MULTIPLY, a, c), op(_kernels.MULTIPLY, b, d))
        im = op(_kernels.ADD, op(_kernels.MULTIPLY, a, d), op(_kernels.MULTIPLY, b, c))
    else:  # true_divide, reciprocal
        den = op(_kernels.ADD, op(_kernels.MULTIPLY, c, c), op(_kernels.MULTIPLY, d, d))
        re = op(_kernels.DIVIDE, op(_kernels.ADD, op(_kernels.MULTIPLY, a, c), op(_kernels.MULTIPLY, b, d)), den)
        im = op(_kernels.DIVIDE, op(_kernels.SUBTRACT, op(_kernels.MULTIPLY, b, c), op(_kernels.MULTIPLY, a, d)), den)
    result = np.empty(np.shape(re), dtype)
    result.real, result.imag = re, im
    return result


def _as_2d(x, shape, shape2):
    """``x`` broadcast to ``shape`` as a 2-D view of shape ``shape2`` (no copy)."""
    if x.shape == shape:
        return x.reshape(shape2)
    if x.ndim == 0:  # a constant: a zero-stride view, much cheaper than np.broadcast_to
        return np.ndarray(shape2, x.dtype, buffer=np.ascontiguousarray(x), strides=(0, 0))
    return np.broadcast_to(x, shape).reshape(shape2)


def _usable(target, shape, real, *operands) -> bool:
    """Whether the kernel may write straight into ``target``: of the kernel's dtype
    ``real``, the result's shape, writeable, and overlapping an operand only as the very
    same view."""
    if target is None or target.dtype != real or target.shape != shape or not target.flags.writeable:
        return False
    if target.ndim < 2 and len(shape) == 2:
        return False
    for x in operands:
        if np.may_share_memory(target, x):
            same = (x.__array_interface__["data"][0] == target.__array_interface__["data"][0]
                    and x.strides == target.strides and x.shape == target.shape)
            if not same:
                return False
    return True


def _grid(ufunc, args, fmt, mode):
    """Grid functions on the emulated format's grid."""
    x = np.asarray(args[0], dtype=np.float64)
    if ufunc is np.nextafter:
        y = np.asarray(args[1], dtype=np.float64)
        up = chop(np.nextafter(x, np.inf), fmt, RoundingMode.UP)
        down = chop(np.nextafter(x, -np.inf), fmt, RoundingMode.DOWN)
        return np.where(y > x, up, np.where(y < x, down, np.where(np.isnan(x), x, y)))
    if ufunc is np.spacing:
        toward = np.where(np.signbit(x), -np.inf, np.inf)
        nxt = np.where(np.signbit(x), chop(np.nextafter(x, toward), fmt, RoundingMode.DOWN),
                       chop(np.nextafter(x, toward), fmt, RoundingMode.UP))
        with np.errstate(invalid="ignore"):
            return chop(nxt - x, fmt, mode)
    if ufunc is np.ldexp:
        with np.errstate(all="ignore"):
            return chop(np.ldexp(x, np.asarray(args[1])), fmt, mode)
    if ufunc is np.frexp:
        mantissa, exponent = np.frexp(x)
        return chop(mantissa, fmt, mode), exponent
    mantissa, whole = np.modf(x)  # np.modf: exact parts
    return chop(mantissa, fmt, mode), chop(whole, fmt, mode)


def _fold(ufunc, method, a, fmt, mode, kwargs):
    """``add``/``multiply`` ``reduce``/``accumulate`` under the accumulation model."""
    if np.iscomplexobj(a):
        if ufunc is not np.add:
            raise UnsupportedOperationError(f"np.{ufunc.__name__}.{method} of a complex LPFloat is not "
                                            "emulated (only sums are: they are componentwise).")
        re = _fold(ufunc, method, np.real(a), fmt, mode, dict(kwargs))
        im = _fold(ufunc, method, np.imag(a), fmt, mode, dict(kwargs))
        result = np.empty(np.shape(re), np.complex128)
        result.real, result.imag = re, im
        return result
    axis = kwargs.pop("axis", 0)
    keepdims = kwargs.pop("keepdims", False)
    initial = kwargs.pop("initial", np._NoValue)
    kwargs.pop("dtype", None)
    where = _plain(kwargs.pop("where", True))
    if where is not True:
        if method != "reduce":
            raise UnsupportedOperationError(f"np.{ufunc.__name__}.{method}: where= is not supported.")
        # excluded elements become the identity (-0 for sums, 1 for products): every partial
        # result is then unchanged (in round-down mode +0 + -0 is -0: only a zero's sign differs);
        # the mask broadcasts to a's shape, never a to the mask's (NumPy's rule)
        a = np.where(np.broadcast_to(where, np.shape(a)), a, -0.0 if ufunc is np.add else 1.0)
    if kwargs:
        raise UnsupportedOperationError(f"np.{ufunc.__name__}.{method}: {sorted(kwargs)} not supported.")
    a = np.asarray(a, dtype=np.float64)
    if method == "accumulate" and axis is None:
        a, axis = a.reshape(-1), 0
    axes = reduced_axes(axis, a.ndim, ufunc_reduce=True)
    if method == "reduce" and len(axes) != 1:  # several axes (or all, or none): one, in row-major order
        moved = np.moveaxis(a, axes, range(-len(axes), 0))
        kept_shape = moved.shape[:a.ndim - len(axes)]
        moved = moved.reshape(kept_shape + (math.prod(a.shape[ax] for ax in axes),))
        result = _fold(ufunc, method, moved, fmt, mode, {"axis": -1, "initial": initial})
        return result.reshape(kept_shape_of(a.shape, axes)) if keepdims else result
    axis = axes[0]
    moved = np.moveaxis(a, axis, -1)
    if initial is not np._NoValue:
        start = np.full(moved.shape[:-1] + (1,), chop(float(initial), fmt, mode))
        moved = np.concatenate([start, moved], axis=-1)
    rows = np.ascontiguousarray(moved).reshape(int(np.prod(moved.shape[:-1])), moved.shape[-1])
    keep = method == "accumulate"
    final, partials = fold(ufunc is np.add, rows, fmt, mode, keep)
    if keep:
        result = partials.reshape(moved.shape)
        if initial is not np._NoValue:
            result = result[..., 1:]
        return np.moveaxis(result, -1, axis)
    result = final.reshape(moved.shape[:-1])
    return np.expand_dims(result, axis) if keepdims else result


def reduced_axes(axis, ndim: int, ufunc_reduce: bool = False) -> tuple:
    """``axis`` of a reduction as a sorted tuple of distinct non-negative axes (``None``: all of
    them); out of range is ``np.exceptions.AxisError``, repeated a ``ValueError`` (NumPy's).
    ``ufunc_reduce``: NumPy's ``ufunc.reduce`` (np.sum, np.prod, ...) also takes the integer
    axis 0 or -1 of a 0-d array (reducing nothing)."""
    if axis is None:
        return tuple(range(ndim))
    if ufunc_reduce and ndim == 0 and isinstance(axis, (int, np.integer)) and axis in (0, -1):
        return ()
    return tuple(sorted(normalize_axis_tuple(axis, ndim)))  # the order of the sum: row-major, whatever the spelling


def kept_shape_of(shape, axes) -> tuple:
    """The ``keepdims=True`` shape of reducing ``shape`` over ``axes``."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _deliver(result, out, fmt, mode, where=True, dtype=None):
    """Wrap results as LPFloat in the operands' storage ``dtype`` (exact: the values are
    in the format), or write them into ``out`` (rounded to out's format; only where
    ``where`` holds, the rest of ``out`` untouched, as NumPy)."""
    if isinstance(result, tuple):
        outs = out or (None,) * len(result)
        return tuple(_deliver_one(_in_storage(r, dtype), o, fmt, mode, where) for r, o in zip(result, outs))
    return _deliver_one(_in_storage(result, dtype), out[0] if out else None, fmt, mode, where)


def _in_storage(result, dtype):
    r = np.asarray(result)
    if dtype is None or r.dtype.kind not in "fc" or r.dtype == dtype:
        return r
    return r.astype(dtype if r.dtype.kind == dtype.kind else _real(dtype))


def _deliver_one(result, out, fmt, mode, where=True):
    result = np.asarray(result)
    where = _plain(where)
    if out is None and where is not True:  # NumPy leaves the rest uninitialised; we give zeros
        out = LPFloat._wrap(np.zeros(result.shape, result.dtype), fmt, mode) if result.dtype.kind in "fc" \
            else np.zeros_like(result)
    if result.dtype.kind not in "fc":  # e.g. frexp's exponents
        if out is not None:
            np.copyto(out, result, where=where)
            return out
        return result
    if out is None:
        return LPFloat._wrap(result, fmt, mode)
    if isinstance(out, LPFloat):  # already in fmt: round again only into another format
        np.copyto(out.values, result if out.format == fmt else out._round(result), where=where, casting="unsafe")
    else:
        np.copyto(out, result, casting="same_kind", where=where)
    return out


def array_format(fmt, rmode, subnormal: Optional[bool]):
    """The format (with the subnormal override stored in it) and mode of a new emulated
    array; shared by every backend's ``asarray``."""
    f = as_format(fmt)
    if not isinstance(f, FloatFormat):
        raise UnsupportedTypeError(f"lp.asarray({f}): no array type for this format here; block formats "
                                   "are applied with lp.quantize_mx(x, fmt, axis=...).")
    if subnormal is not None:
        check_bool(subnormal, "subnormal", " (or None)")
        f = f.replace(subnormal=bool(subnormal))
    return f, rounding_mode(rmode)


def asarray(x: Any, fmt="half", rmode=1, *, dtype=None, subnormal: Optional[bool] = None,
            seed: Optional[int] = None, rng=None, **torch_options) -> LPFloat:
    """Round ``x`` into ``fmt`` and return an emulated array.

    Parameters
    ----------
    x : array_like
        Numbers; integers and float16 become float64/float32 storage.
    fmt : str or FloatFormat, default "half"
    rmode : int or str, default 1
        The rounding mode of this rounding and of every result computed from the array.
    dtype : {float64, float32}, optional
        Storage dtype; by default float32 stays float32 and everything else is float64.
    subnormal : bool, optional
        Override the format's subnormal flag (stored in the format).
    seed, rng
        For stochastic modes, as in :func:`lowprec.chop`.
    **torch_options
        For torch tensors only: ``grad_format``, ``grad_rmode`` (see ``lp.torch.as_lp``);
        JAX arrays take ``grad_format`` (see ``lp.jax.asarray``).

    Returns
    -------
    LPFloat
    """
    if _is_torch_tensor(x):  # torch tensors become lp.torch.LPTensor (imports torch lazily)
        if type(as_format(fmt)) in _OTHER_KINDS:
            raise UnsupportedTypeError(
                f"lp.asarray(tensor, {fmt!r}): LPTensor holds floating-point formats. Quantize a tensor into "
                "a fixed-point or integer format with lp.quantize_fixed / lp.quantize_int: they return a tensor "
                "of the same dtype and device on the format's grid (straight-through gradient).")
        from ..torch import as_lp
        return as_lp(x, fmt, rmode, dtype=dtype, subnormal=subnormal, seed=seed, rng=rng, **torch_options)
    if _is_jax_array(x):  # JAX arrays and tracers become lp.jax.LPArray (imports jax lazily)
        from ..jax import asarray as jax_asarray
        grad_format = torch_options.pop("grad_format", None)  # the one gradient option JAX has
        if torch_options:
            raise TypeError(f"lp.asarray: {sorted(torch_options)} apply to torch tensors only.")
        return jax_asarray(x, fmt, rmode, dtype=dtype, subnormal=subnormal, seed=seed, rng=rng,
                           grad_format=grad_format)
    if type(x).__module__.startswith("dask."):  # a lazy dask array of LPFloat chunks
        from .._dask import asarray_dask
        return asarray_dask(x, fmt, rmode, dtype=dtype, subnormal=subnormal, seed=seed, rng=rng)
    if torch_options:
        raise TypeError(f"lp.asarray: {sorted(torch_options)} apply to torch tensors only.")
    kind = type(as_format(fmt))
    if kind in _OTHER_KINDS:  # fixed point -> LPFixed, integer -> LPInt (lowprec.ndarray._fixed/_int)
        return _OTHER_KINDS[kind](x, fmt, rmode, dtype=dtype, seed=seed, rng=rng)
    f, mode = array_format(fmt, rmode, subnormal)
    check_real_data(x if isinstance(x, np.ndarray) else np.asarray(x), "lp.asarray")
    a = x.values if isinstance(x, LPArray) else np.asarray(x)
    if a.dtype.kind == "O":  # Fractions, Decimals, huge ints: lp.chop rounds them exactly (float64)
        a = np.asarray(chop(a, f, mode, seed=seed, rng=rng))
    if a.dtype.kind not in "fiuc" or a.dtype in (np.longdouble, np.clongdouble):
        raise UnsupportedTypeError(f"lp.asarray takes real or complex numbers, got {a.dtype}.")
    if dtype is None:
        dtype = {np.dtype(np.float32): np.float32, np.dtype(np.complex64): np.complex64}.get(
            a.dtype, np.complex128 if a.dtype.kind == "c" else np.float64)
    a = a.astype(dtype, copy=False)
    return LPFloat._wrap(chop(a, f, mode, seed=seed, rng=rng), f, mode)


#: asarray for the other format kinds, filled in by lowprec.ndarray.__init__.
_OTHER_KINDS: dict = {}


def _is_jax_array(x) -> bool:
    names = {"jaxlib._jax.ArrayImpl", "jaxlib.xla_extension.ArrayImpl", "jax._src.core.Tracer",
             "lowprec.jax._array.LPArray"}
    return any(f"{c.__module__}.{c.__qualname__}" in names for c in type(x).__mro__)


def _is_torch_tensor(x) -> bool:
    return any(c.__module__ == "torch" and c.__qualname__ == "Tensor" for c in type(x).__mro__)
