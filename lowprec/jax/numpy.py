"""``lp.jax.numpy``: NumPy-style functions on :class:`~lowprec.jax.LPArray`, every result rounded.

Functions are grouped by what they do to values (the tables below drive everything):

| kind | functions | rounding |
|---|---|---|
| correctly rounded | ``add subtract multiply divide true_divide sqrt square reciprocal`` | the exact result rounded once, in every mode |
| rounded | trig, hyperbolic, exp/log family, ``cbrt hypot power mod ...`` | computed in the working precision (float64 under ``jax_enable_x64``, else the storage), rounded once |
| exact | ``abs negative floor ceil round sign clip maximum minimum ...`` | the result is a format value already; rounded anyway (identity except for formats without -0) |
| predicate | comparisons, ``isnan isinf isfinite signbit`` | plain boolean arrays |
| structural | ``reshape transpose concatenate stack where take max min sort ...`` | values moved, format kept, nothing rounded |
| accumulating | ``sum prod mean cumsum cumprod dot matmul linalg.norm`` | the accumulation model of :func:`lowprec.accumulate` (or ``model=``) |

Accumulation models give the same bits as ``LPFloat`` (deterministic modes):
``"sequential"`` runs a ``lax.scan`` over the reduced axis, every product and partial sum
correctly rounded, left to right; ``"pairwise"`` a balanced tree of rounded sums;
``"fma"`` one rounding per ``acc + a*b`` step (the exact product); ``"exact"`` the
exact sum of exact products rounded once (:mod:`lowprec.jax._superacc`: an integer
superaccumulator on the bits, a plain float sum where a bound proves it exact; IEEE
signed zeros), with and without ``jax_enable_x64`` (without it: ``t <= 22`` and
deterministic modes); a wider format accumulates in that format and rounds the result
once. ``fma`` and wider formats need ``jax_enable_x64``.

Every function takes ``key=`` for the stochastic modes (else the ``lp.jax.rng`` block's).
Operands: LPArrays of one mode; their formats promote to the join
(:mod:`lowprec.promotion`); Python numbers and plain arrays are weak, rounded into the
result format first.
"""

from __future__ import annotations

import builtins
import math
from functools import partial
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..errors import FormatError, UnsupportedOperationError, UnsupportedTypeError
from ..formats import FloatFormat
from ..policy import accumulation_model
from ..promotion import result_format, result_mode
from ..rounding.modes import RoundingMode
from ._array import LPArray, asarray, emulated, storage_dtype  # noqa: F401 - asarray re-exported
from ._arith import ADD, DIVIDE, MULTIPLY, SQRT, SUBTRACT, correctly_rounded, round_values, to_storage, widen
from . import _host, _superacc
from ._keys import key_for, split_key
from ._ops import x64_enabled

# ------------------------------------------------------------------ operands


class _Ctx:
    """Result format, mode, gradient format and storage dtype of one operation."""

    __slots__ = ("fmt", "mode", "grad_fmt", "dtype")

    def __init__(self, fmt, mode, grad_fmt, dtype):
        self.fmt, self.mode, self.grad_fmt, self.dtype = fmt, mode, grad_fmt, dtype


def _context(args, name: str) -> _Ctx:
    lps = [a for a in args if isinstance(a, LPArray)]
    if not lps:
        raise UnsupportedTypeError(f"lp.jax.numpy.{name} needs at least one LPArray operand.")
    fmt = result_format([a.format for a in lps])
    mode = result_mode([a.rmode for a in lps], f"lp.jax.numpy.{name}")
    grads = [a.grad_format for a in lps if a.grad_format is not None]
    grad_fmt = result_format(grads) if grads else None
    return _Ctx(fmt, mode, grad_fmt, storage_dtype(fmt, *[a.dtype for a in lps]))


def weak(x, fmt: FloatFormat, mode: RoundingMode, dtype, key=None):
    """Plain values of an operand in ``dtype``: LPArrays as they are, anything else rounded
    into ``fmt`` first (weak operands, like a typed language converting a constant)."""
    if isinstance(x, LPArray):
        return x.values.astype(dtype)
    if type(x) in (int, float):
        # a Python constant is rounded once from its exact value (not through a float32 array
        # first: that would round twice), stochastic modes too (lowprec.jax._constants)
        from ._constants import constant
        return constant(x, fmt, mode, dtype, key)
    a = jnp.asarray(x)
    if a.dtype == jnp.bool_:
        return a
    if not (jnp.issubdtype(a.dtype, jnp.floating) or jnp.issubdtype(a.dtype, jnp.integer)):
        raise UnsupportedTypeError(f"cannot combine {a.dtype} data with an LPArray.")
    return round_values(a.astype(dtype), fmt, mode, key)


def _operands(args, ctx: _Ctx, key):
    """Plain values of every operand; weak operands get their own subkeys."""
    return [weak(a, ctx.fmt, ctx.mode, ctx.dtype, split_key(key, 1000 + i)) for i, a in enumerate(args)]


def _finish(ctx: _Ctx, raw: Callable, emulate: Callable, values, key) -> LPArray:
    out = emulated(raw, emulate, tuple(values), key, ctx.grad_fmt)
    return LPArray._make(out, ctx.fmt, ctx.mode, ctx.grad_fmt)


def _wide(x):
    """The working precision of rounded functions: float64 when available."""
    return widen(x) if x64_enabled() else x


# ------------------------------------------------------------------ correctly rounded

def _correctly_rounded(op: int, raw: Callable, name: str, unary: bool = False):
    def function(*args, key=None):
        ctx = _context(args, name)
        k = key_for(ctx.mode, key, f"lp.jax.numpy.{name}")
        values = _operands(args, ctx, k)

        def emulate(*v):
            x, y = (v[0], v[0]) if unary else (v[0], v[1])
            if op == DIVIDE and unary:  # reciprocal: 1 / x
                x = jnp.ones_like(y)
            return to_storage(correctly_rounded(op, x, y, ctx.fmt, ctx.mode, v[-1]), ctx.dtype)

        return _finish(ctx, raw, emulate, values, k)

    function.__name__ = name
    function.__doc__ = (f"Emulated ``{name}``: the exact result rounded once into the format "
                        "(correctly rounded in every mode).")
    return function


add = _correctly_rounded(ADD, jnp.add, "add")
subtract = _correctly_rounded(SUBTRACT, jnp.subtract, "subtract")
multiply = _correctly_rounded(MULTIPLY, jnp.multiply, "multiply")
divide = _correctly_rounded(DIVIDE, jnp.divide, "divide")
true_divide = divide
sqrt = _correctly_rounded(SQRT, jnp.sqrt, "sqrt", unary=True)
square = _correctly_rounded(MULTIPLY, jnp.square, "square", unary=True)
reciprocal = _correctly_rounded(DIVIDE, jnp.reciprocal, "reciprocal", unary=True)


# ------------------------------------------------------------------ rounded once / exact

def _rounded(fn: Callable, name: str, kind: str):
    def function(*args, key=None, **kwargs):
        ctx = _context(args, name)
        k = key_for(ctx.mode, key, f"lp.jax.numpy.{name}")
        values = _operands(args, ctx, k)
        raw = lambda *v: fn(*v, **kwargs)  # noqa: E731
        if kind == "rounded":
            def emulate(*v):
                return to_storage(round_values(fn(*[_wide(x) for x in v[:-1]], **kwargs), ctx.fmt, ctx.mode,
                                               v[-1]), ctx.dtype)
        else:
            def emulate(*v):
                return round_values(fn(*v[:-1], **kwargs).astype(ctx.dtype), ctx.fmt, ctx.mode, v[-1])
        return _finish(ctx, raw, emulate, values, k)

    function.__name__ = name
    where = ("computed in float64 (float32 without jax_enable_x64), rounded once" if kind == "rounded"
             else "the result is a format value; rounded anyway")
    function.__doc__ = f"Emulated ``jnp.{fn.__name__}``: {where}."
    return function


ROUNDED = {
    "exp": jnp.exp, "exp2": jnp.exp2, "expm1": jnp.expm1, "log": jnp.log, "log2": jnp.log2,
    "log10": jnp.log10, "log1p": jnp.log1p, "sin": jnp.sin, "cos": jnp.cos, "tan": jnp.tan,
    "arcsin": jnp.arcsin, "arccos": jnp.arccos, "arctan": jnp.arctan, "arctan2": jnp.arctan2,
    "sinh": jnp.sinh, "cosh": jnp.cosh, "tanh": jnp.tanh, "arcsinh": jnp.arcsinh,
    "arccosh": jnp.arccosh, "arctanh": jnp.arctanh, "hypot": jnp.hypot, "power": jnp.power,
    "float_power": jnp.float_power, "cbrt": jnp.cbrt, "logaddexp": jnp.logaddexp,
    "logaddexp2": jnp.logaddexp2, "deg2rad": jnp.deg2rad, "rad2deg": jnp.rad2deg,
    "degrees": jnp.degrees, "radians": jnp.radians, "mod": jnp.mod, "remainder": jnp.remainder,
    "fmod": jnp.fmod, "floor_divide": jnp.floor_divide, "heaviside": jnp.heaviside,
}
EXACT = {
    "negative": jnp.negative, "positive": jnp.positive, "abs": jnp.abs, "absolute": jnp.absolute,
    "fabs": jnp.fabs, "copysign": jnp.copysign, "maximum": jnp.maximum, "minimum": jnp.minimum,
    "fmax": jnp.fmax, "fmin": jnp.fmin, "floor": jnp.floor, "ceil": jnp.ceil, "trunc": jnp.trunc,
    "rint": jnp.rint, "round": jnp.round, "sign": jnp.sign, "clip": jnp.clip,
}
PREDICATE = {
    "isnan": jnp.isnan, "isinf": jnp.isinf, "isfinite": jnp.isfinite, "signbit": jnp.signbit,
    "equal": jnp.equal, "not_equal": jnp.not_equal, "less": jnp.less, "less_equal": jnp.less_equal,
    "greater": jnp.greater, "greater_equal": jnp.greater_equal,
}
#: Functions that only move values (or select them): format kept, nothing rounded.
STRUCTURAL = {
    "reshape": jnp.reshape, "transpose": jnp.transpose, "ravel": jnp.ravel, "squeeze": jnp.squeeze,
    "expand_dims": jnp.expand_dims, "moveaxis": jnp.moveaxis, "swapaxes": jnp.swapaxes,
    "broadcast_to": jnp.broadcast_to, "flip": jnp.flip, "roll": jnp.roll, "take": jnp.take,
    "take_along_axis": jnp.take_along_axis, "tile": jnp.tile, "repeat": jnp.repeat,
    "diagonal": jnp.diagonal, "tril": jnp.tril, "triu": jnp.triu, "sort": jnp.sort,
    "max": jnp.max, "min": jnp.min, "amax": jnp.amax, "amin": jnp.amin, "atleast_1d": jnp.atleast_1d,
    "atleast_2d": jnp.atleast_2d,
}
#: Structural functions taking a sequence of arrays.
STRUCTURAL_SEQ = {"concatenate": jnp.concatenate, "stack": jnp.stack, "hstack": jnp.hstack,
                  "vstack": jnp.vstack}
#: Index-valued results: plain integer arrays.
INDEX = {"argmax": jnp.argmax, "argmin": jnp.argmin, "argsort": jnp.argsort, "nonzero": jnp.nonzero}

#: Every table-made function by name (they are also module attributes).
FUNCTIONS = {}
FUNCTIONS.update({name: _rounded(fn, name, "rounded") for name, fn in ROUNDED.items()})
FUNCTIONS.update({name: _rounded(fn, name, "exact") for name, fn in EXACT.items()})


def _predicate(fn, name):
    def function(*args):
        plain = [a.values if isinstance(a, LPArray) else a for a in args]
        return fn(*plain)
    function.__name__ = name
    function.__doc__ = f"``jnp.{name}`` of the values: a plain boolean array."
    return function


#: Functions whose second positional parameter is ``axis``: an axis out of range is
#: NumPy's ``AxisError`` (as for LPFloat and the reductions here), not JAX's ValueError.
_AXIS_SECOND = {"max", "min", "amax", "amin", "argmax", "argmin", "sort", "argsort", "ptp", "nanmax", "nanmin",
                "nanargmax", "nanargmin"}


def _check_axis(name, ndim, args, kwargs):
    axis = kwargs.get("axis", args[0] if (name in _AXIS_SECOND and args) else None)
    if axis is not None and name in _AXIS_SECOND:
        from numpy.lib.array_utils import normalize_axis_tuple
        normalize_axis_tuple(axis, max(ndim, 1) if name in ("sort", "argsort") else ndim)


def _structural(fn, name):
    def function(a, *args, **kwargs):
        if not isinstance(a, LPArray):
            raise UnsupportedTypeError(f"lp.jax.numpy.{name} takes an LPArray first.")
        _check_axis(name, a.ndim, args, kwargs)
        return a._like(fn(a.values, *args, **kwargs))
    function.__name__ = name
    function.__doc__ = f"``jnp.{name}`` of the values; the format is kept, nothing is rounded."
    return function


def _structural_seq(fn, name):
    def function(arrays: Sequence, *args, key=None, **kwargs):
        ctx = _context(list(arrays), name)
        k = key_for(ctx.mode, key, f"lp.jax.numpy.{name}") if any(not isinstance(a, LPArray) for a in arrays) else None
        values = _operands(list(arrays), ctx, k)
        return LPArray._make(fn(values, *args, **kwargs), ctx.fmt, ctx.mode, ctx.grad_fmt)
    function.__name__ = name
    function.__doc__ = f"``jnp.{name}`` of the values (operands promoted); nothing else is rounded."
    return function


def _index(fn, name):
    def function(a, *args, **kwargs):
        _check_axis(name, jnp.ndim(a.values if isinstance(a, LPArray) else a), args, kwargs)
        return fn(a.values if isinstance(a, LPArray) else a, *args, **kwargs)
    function.__name__ = name
    function.__doc__ = f"``jnp.{name}`` of the values: plain integer indices."
    return function


FUNCTIONS.update({name: _predicate(fn, name) for name, fn in PREDICATE.items()})
FUNCTIONS.update({name: _structural(fn, name) for name, fn in STRUCTURAL.items()})
FUNCTIONS.update({name: _structural_seq(fn, name) for name, fn in STRUCTURAL_SEQ.items()})
FUNCTIONS.update({name: _index(fn, name) for name, fn in INDEX.items()})
globals().update(FUNCTIONS)


def where(condition, x, y, *, key=None) -> LPArray:
    """``jnp.where`` choosing between format values (weak operands rounded first)."""
    ctx = _context([x, y], "where")
    k = key_for(ctx.mode, key, "lp.jax.numpy.where") if not (isinstance(x, LPArray) and isinstance(y, LPArray)) else None
    vx, vy = _operands([x, y], ctx, k)
    cond = condition.values if isinstance(condition, LPArray) else condition
    return LPArray._make(jnp.where(cond, vx, vy), ctx.fmt, ctx.mode, ctx.grad_fmt)


# ------------------------------------------------------------------ accumulation

def _need_x64(what: str):
    if not x64_enabled():
        raise FormatError(f"{what} accumulates exactly in float64, which needs jax_enable_x64 "
                          "(jax.config.update('jax_enable_x64', True)).")


def _cr(op, a, b, fmt, mode, key, dtype):
    return to_storage(correctly_rounded(op, a, b, fmt, mode, key), dtype)


def _sequential(rows, op, fmt, mode, key, keep: bool, dtype):
    """``acc = round(acc op x[:, j])`` for j = 1, 2, ... (``lax.scan``): final and partials."""
    cols = rows.T
    if cols.shape[0] == 1:
        return cols[0], (rows if keep else None)

    def step(acc, item):
        j, col = item
        new = _cr(op, acc, col, fmt, mode, split_key(key, j), dtype)
        return new, (new if keep else None)

    final, parts = lax.scan(step, cols[0], (jnp.arange(1, cols.shape[0]), cols[1:]))
    partials = jnp.concatenate([cols[:1], parts], axis=0).T if keep else None
    return final, partials


def _pairwise(rows, op, fmt, mode, key, dtype):
    """A balanced tree over each row, every node rounded (the order of ``LPFloat``): at each
    level neighbours ``(0, 1), (2, 3), ...`` combine and an odd last element moves up as
    it is. Fixed shapes in a ``fori_loop`` over the levels, so one level is compiled."""
    n = rows.shape[1]
    if n == 1:
        return rows[:, 0]
    width = (n + 1) // 2
    idx = jnp.arange(width)

    def level(i, state):
        buf, count = state
        left = buf[:, jnp.minimum(2 * idx, n - 1)]
        right = buf[:, jnp.minimum(2 * idx + 1, n - 1)]
        combined = _cr(op, left, right, fmt, mode, split_key(key, i), dtype)
        new = jnp.where((2 * idx + 1 < count)[None, :], combined, left)
        buf = buf.at[:, :width].set(new)
        return buf, (count + 1) // 2

    levels = builtins.max(1, math.ceil(math.log2(n)))
    buf, _ = lax.fori_loop(0, levels, level, (rows, jnp.int32(n)))
    return buf[:, 0]


def _fold(rows, op, ctx: _Ctx, key, keep: bool, model, phase="cond"):
    """Reduce each row of 2-D ``rows`` with ``+`` or ``*`` (``LPFloat``'s ``fold``); with
    ``phase == "fast"`` (the exact sum's totals) the totals are ``(values, all certified)``."""
    fmt, mode, dtype = ctx.fmt, ctx.mode, ctx.dtype
    if rows.shape[1] == 0:
        ident = jnp.full(rows.shape[0], 0.0 if op == ADD else 1.0, dtype)
        return ((ident, jnp.array(True)) if phase == "fast" else ident), rows
    if model == "exact" and _host.on_host():  # NumPy's exact model (lowprec.jax._host)
        out = _host.fold(rows, op == ADD, fmt, mode, split_key(key, 0), dtype, keep)
        return (None, out) if keep else (((out, jnp.array(True)) if phase == "fast" else out), None)
    if model == "exact" and op == ADD:  # the exact sum rounded once (lowprec.jax._superacc)
        if keep:
            return None, _superacc.sum_rows(rows, fmt, mode, split_key(key, 1), dtype, True)
        return _superacc.sum_rows(rows, fmt, mode, split_key(key, 0), dtype, False, phase), None
    if model == "exact":  # the exact product rounded once
        if keep:
            return None, _superacc.prod_rows(rows, fmt, mode, split_key(key, 1), dtype, True)
        return _superacc.prod_rows(rows, fmt, mode, split_key(key, 0), dtype, False), None
    if model == "pairwise" and not keep:
        return _pairwise(rows, op, fmt, mode, key, dtype), None
    acc_fmt = model if isinstance(model, FloatFormat) else fmt
    if acc_fmt is fmt:
        return _sequential(rows, op, fmt, mode, key, keep, dtype)
    _need_x64(f"accumulation in {acc_fmt.label}")
    final, partials = _sequential(widen(rows), op, acc_fmt, mode, split_key(key, 0), keep, jnp.float64)
    final = to_storage(round_values(final, fmt, mode, split_key(key, 1)), dtype)
    if keep:
        partials = to_storage(round_values(partials, fmt, mode, split_key(key, 2)), dtype)
    return final, partials


@partial(jax.jit, static_argnames=("op", "keep", "axis", "keepdims", "fmt", "mode", "dtype", "model", "phase"))
def _reduce_jit(v, key, op, keep, axis, keepdims, fmt, mode, dtype, model, phase="cond"):
    """One compilation per (shape, format, mode, model, axis): eager calls reuse it
    (``phase``: :func:`_staged_exact`, the exact sum's totals)."""
    ctx = _Ctx(fmt, mode, None, dtype)
    if keep:  # running results: one axis (None: the flattened array)
        x, axis_ = (v.reshape(-1), 0) if axis is None else (v, axis[0])
        moved = jnp.moveaxis(x, axis_, -1)
        rows = moved.reshape(math.prod(moved.shape[:-1]), moved.shape[-1])
        _, partials = _fold(rows, op, ctx, key, keep, model)
        return jnp.moveaxis(partials.reshape(moved.shape), -1, axis_)
    # totals over the tuple of axes (None: all), in row-major order as LPFloat
    axes = tuple(range(v.ndim)) if axis is None else axis
    moved = jnp.moveaxis(v, axes, tuple(range(v.ndim - len(axes), v.ndim)))
    kept = moved.shape[:v.ndim - len(axes)]
    rows = moved.reshape(math.prod(kept), math.prod(v.shape[d] for d in axes))
    final, _ = _fold(rows, op, ctx, key, keep, model, phase)
    final, ok = final if phase == "fast" else (final, None)
    out = final.reshape(kept)
    out = out.reshape(tuple(1 if d in axes else n for d, n in enumerate(v.shape))) if keepdims else out
    return (out, ok) if phase == "fast" else out


def _axes(axis, ndim: int, keep: bool):
    """``axis`` as a sorted tuple of non-negative axes (``None`` stays: all / flattened);
    out of range is NumPy's ``AxisError`` (never a silent wrap-around)."""
    if axis is None:
        return None
    if keep and not isinstance(axis, (int, np.integer)):
        raise TypeError(f"running results take one integer axis, got {axis!r}.")
    from numpy.lib.array_utils import normalize_axis_tuple
    return tuple(sorted(normalize_axis_tuple(axis, ndim)))


def _reduction(op: int, keep: bool, name: str):
    raw_fns = {(ADD, False): jnp.sum, (ADD, True): jnp.cumsum, (MULTIPLY, False): jnp.prod,
               (MULTIPLY, True): jnp.cumprod}
    raw_fn = raw_fns[(op, keep)]

    def function(a: LPArray, axis: Optional[int] = None, *, keepdims: bool = False, model=None,
                 key=None) -> LPArray:
        ctx = _context([a], name)
        model = accumulation_model(model)
        k = key_for(ctx.mode, key, f"lp.jax.numpy.{name}")
        ax = _axes(axis, a.ndim, keep)

        def emulate(v, kk):
            run = partial(_reduce_jit, v, kk, op, keep, ax, bool(keepdims), ctx.fmt, ctx.mode, np.dtype(ctx.dtype),
                          model)
            return _staged_exact(run, model if (op == ADD and not keep) else None, v)

        if keep:
            raw = lambda v: raw_fn(v.reshape(-1) if ax is None else v, axis=0 if ax is None else ax[0])  # noqa: E731
        else:
            raw = lambda v: raw_fn(v, axis=ax, keepdims=keepdims)  # noqa: E731
        return _finish(ctx, raw, emulate, [a.values], k)

    function.__name__ = name
    function.__doc__ = (
        f"Emulated ``{name}`` under the accumulation model (``model=`` or :func:`lowprec.accumulate`).\n\n"
        "**Rounding:** ``sequential``/``fma``: ``acc = round(acc op x[j])`` left to right (a "
        "``lax.scan``); ``pairwise``: a balanced tree of rounded results (totals only; running "
        "results are sequential); ``exact``: the exact sum (product) rounded once, IEEE signed "
        "zeros; a wider format: sequential in it, then rounded once. ``axis=None`` "
        "reduces the flattened array."
    )
    return function


sum = _reduction(ADD, False, "sum")  # noqa: A001
prod = _reduction(MULTIPLY, False, "prod")
cumsum = _reduction(ADD, True, "cumsum")
cumprod = _reduction(MULTIPLY, True, "cumprod")


def mean(a: LPArray, axis: Optional[int] = None, *, keepdims: bool = False, model=None, key=None) -> LPArray:
    """Emulated mean. **Rounding:** the sum under the accumulation model, then one correctly
    rounded division by the count (the count rounded into the format first)."""
    k1, k2 = (None, None)
    if a.rmode.is_stochastic:
        k = key_for(a.rmode, key, "lp.jax.numpy.mean")
        k1, k2 = split_key(k, 0), split_key(k, 1)
    total = sum(a, axis, keepdims=keepdims, model=model, key=k1)
    axes = _axes(axis, a.ndim, False)
    count = a.size if axes is None else math.prod(a.shape[d] for d in axes)
    return divide(total, float(count), key=k2)


def _matmul2(a, b, ctx: _Ctx, model, key, phase="cond"):
    """2-D ``a @ b`` in the order of ``LPFloat``'s ``matmul`` (with ``phase == "fast"``,
    the exact model's ``(result, all certified)``)."""
    fmt, mode, dtype = ctx.fmt, ctx.mode, ctx.dtype
    m, kk = a.shape
    n = b.shape[1]
    if kk == 0:
        out = jnp.zeros((m, n), dtype)
        return (out, jnp.array(True)) if phase == "fast" else out
    if model == "exact" and _host.on_host():  # NumPy's exact model (lowprec.jax._host)
        out = _host.matmul(a, b, fmt, mode, key, dtype)
        return (out, jnp.array(True)) if phase == "fast" else out
    if model == "exact":  # the exact dot products rounded once (lowprec.jax._superacc)
        return _superacc.matmul(a, b, fmt, mode, key, dtype, phase)
    if model == "pairwise":
        products = _cr(MULTIPLY, a[:, :, None], b[None, :, :], fmt, mode, split_key(key, 0), dtype)
        rows = jnp.moveaxis(products, 1, -1).reshape(-1, kk)
        return _pairwise(rows, ADD, fmt, mode, split_key(key, 1), dtype).reshape(m, n)
    acc_fmt = model if isinstance(model, FloatFormat) else fmt
    fused = model != "sequential"
    # binary64 holds every product of two fmt values exactly (no underflow, no overflow)
    exact64 = 2 * fmt.t <= 53 and 2 * (fmt.emin - fmt.t + 1) >= -1022 and 2 * (fmt.emax + 1) <= 1023
    if fused:
        _need_x64(f"accumulation model {model if isinstance(model, str) else acc_fmt.label}")
        a, b, work = widen(a), widen(b), jnp.float64
    else:
        work = dtype
    a_cols = a.T  # (k, m)

    first = _cr(MULTIPLY, a_cols[0][:, None], b[0][None, :], acc_fmt, mode, split_key(key, 0), work)

    def step(acc, i):
        kk_ = split_key(key, 2 * i + 1)
        if fused and exact64:
            exact = a_cols[i][:, None] * b[i][None, :]  # exact in float64
            new = _cr(ADD, acc, exact, acc_fmt, mode, kk_, work)
        elif fused:  # one rounding of acc + a*b from the exact integer product
            new = _superacc.fma(acc, a_cols[i][:, None], b[i][None, :], acc_fmt, fmt, mode, kk_, work)
        else:
            prod_ = _cr(MULTIPLY, a_cols[i][:, None], b[i][None, :], fmt, mode, split_key(key, 2 * i), work)
            new = _cr(ADD, acc, prod_, fmt, mode, kk_, work)
        return new, None

    acc, _ = lax.scan(step, first, jnp.arange(1, kk))
    if acc_fmt is not fmt:
        acc = round_values(acc, fmt, mode, split_key(key, -1))
    return to_storage(acc, dtype)


def _concrete(*xs) -> bool:
    return not any(isinstance(x, jax.core.Tracer) for x in xs)


def _staged_exact(run, model, *values):
    """``run(phase=...)`` of an exact accumulation (:data:`lowprec.jax._superacc.PHASES`):
    called eagerly, the certified float result is checked here and the superaccumulator
    compiled and run only when some entry needs it; under a trace, one ``lax.cond``."""
    if model != "exact" or not _concrete(*values):
        return run(phase="cond")
    out, ok = run(phase="fast")
    return out if bool(ok) else run(phase="slow")


@partial(jax.jit, static_argnames=("fmt", "mode", "dtype", "model", "phase"))
def _matmul_jit(x, y, kk, fmt, mode, dtype, model, phase="cond"):
    ctx = _Ctx(fmt, mode, None, dtype)
    x2 = x[None, :] if x.ndim == 1 else x
    y2 = y[:, None] if y.ndim == 1 else y
    if x2.shape[-1] != y2.shape[-2]:
        raise ValueError(f"matmul: shapes {x.shape} and {y.shape} do not align.")
    if x2.ndim > 2 or y2.ndim > 2:
        batch = jnp.broadcast_shapes(x2.shape[:-2], y2.shape[:-2])
        x3 = jnp.broadcast_to(x2, batch + x2.shape[-2:]).reshape((-1,) + x2.shape[-2:])
        y3 = jnp.broadcast_to(y2, batch + y2.shape[-2:]).reshape((-1,) + y2.shape[-2:])
        keys = None if kk is None else jax.random.split(kk, x3.shape[0])
        out = jax.vmap(lambda p, q, r: _matmul2(p, q, ctx, model, r, phase),
                       in_axes=(0, 0, None if kk is None else 0))(x3, y3, keys)
        out, ok = out if phase == "fast" else (out, None)
        out = out.reshape(batch + out.shape[-2:])
    else:
        out = _matmul2(x2, y2, ctx, model, kk, phase)
        out, ok = out if phase == "fast" else (out, None)
    if x.ndim == 1:
        out = out[..., 0, :]
    if y.ndim == 1:
        out = out[..., 0]
    return (out, jnp.all(ok)) if phase == "fast" else out


def matmul(a, b, *, model=None, key=None) -> LPArray:
    """Emulated ``a @ b`` (1-D, 2-D and batched as ``jnp.matmul``) under the accumulation model.

    **Rounding.** ``sequential``: each product rounded, then each partial sum rounded, ``k``
    ascending (a ``lax.scan``). ``fma``: each step ``acc + a*b`` rounded once, from the
    exact product. ``pairwise``: products rounded, then a balanced tree of rounded sums.
    ``exact``: the exact dot products rounded once (IEEE signed zeros; a float matmul
    only where a span bound proves it exact, else an integer superaccumulator). A wider format:
    accumulated in it with one rounding per step (as ``fma``), rounded once into the result
    format. Bit-identical to ``LPFloat`` in the deterministic modes.
    """
    ctx = _context([a, b], "matmul")
    model = accumulation_model(model)
    k = key_for(ctx.mode, key, "lp.jax.numpy.matmul")
    va, vb = _operands([a, b], ctx, k)
    if va.ndim == 0 or vb.ndim == 0:
        raise UnsupportedOperationError("matmul of a 0-d operand: use * instead.")

    def emulate(x, y, kk):
        run = partial(_matmul_jit, x, y, kk, ctx.fmt, ctx.mode, np.dtype(ctx.dtype), model)
        return _staged_exact(run, model, x, y)

    raw = lambda x, y: jnp.matmul(x, y, precision=lax.Precision.HIGHEST)  # noqa: E731
    return _finish(ctx, raw, emulate, [va, vb], k)


def dot(a, b, *, model=None, key=None) -> LPArray:
    """Emulated ``dot`` (0-D: ``multiply``; 1-D and 2-D: :func:`matmul`). **Rounding:** as
    :func:`matmul` under the accumulation model."""
    if jnp.ndim(_vals(a)) == 0 or jnp.ndim(_vals(b)) == 0:
        return multiply(a, b, key=key)
    if jnp.ndim(_vals(a)) > 2 or jnp.ndim(_vals(b)) > 2:
        raise UnsupportedOperationError("dot of arrays above 2-D: use matmul (different semantics).")
    return matmul(a, b, model=model, key=key)


def vdot(a, b, *, model=None, key=None) -> LPArray:
    """Emulated ``vdot`` of the flattened operands (real values). **Rounding:** as :func:`matmul`."""
    return matmul(_flat(a), _flat(b), model=model, key=key)


def _vals(x):
    return x.values if isinstance(x, LPArray) else x


def _flat(x):
    return x.ravel() if isinstance(x, LPArray) else jnp.ravel(jnp.asarray(x))


class _Linalg:
    """``lp.jax.numpy.linalg``."""

    @staticmethod
    def norm(x: LPArray, ord=None, *, model=None, key=None) -> LPArray:
        """Emulated vector 2-norm (``ord=None``/``2``; matrices: Frobenius with ``None``/``'fro'``),
        ``ord=1`` (vectors) and ``ord=inf`` (vectors).

        **Rounding:** 2-norm: every square correctly rounded, summed over the flattened
        array under the accumulation model, then a correctly rounded ``sqrt`` (no scaling
        against overflow: it overflows where the format's sum of squares does). ``ord=1``:
        the sum of ``abs``; ``ord=inf``: the largest ``abs`` (exact).
        """
        keys = [None] * 3
        if x.rmode.is_stochastic:
            k = key_for(x.rmode, key, "lp.jax.numpy.linalg.norm")
            keys = [split_key(k, i) for i in range(3)]
        if ord in (None, 2, "fro") and (ord != 2 or x.ndim == 1) and (ord != "fro" or x.ndim == 2):
            flat = x.ravel()
            return sqrt(sum(multiply(flat, flat, key=keys[0]), model=model, key=keys[1]), key=keys[2])
        if x.ndim == 1 and ord == 1:
            return sum(FUNCTIONS["abs"](x), model=model, key=keys[1])
        if x.ndim == 1 and ord in (np.inf, math.inf):
            return FUNCTIONS["max"](FUNCTIONS["abs"](x))
        raise UnsupportedOperationError(
            f"lp.jax.numpy.linalg.norm(ord={ord!r}) of a {x.ndim}-D array is not emulated; "
            "supported: vectors with ord None, 1, 2, inf, matrices with None or 'fro'.")


linalg = _Linalg()


# ------------------------------------------------------------------ operators on LPArray

def power_op(a, b, *, key=None):
    """``a ** b``: an integer-valued exponent 2 is a correctly rounded square; otherwise
    :func:`power` (rounded once)."""
    if isinstance(b, (int, float)) and not isinstance(b, bool) and b == 2:
        return square(a, key=key)
    return FUNCTIONS["power"](a, b, key=key)


def _swap(f):
    return lambda self, other: f(other, self)


_F = FUNCTIONS
_DUNDERS = {
    "__add__": add, "__sub__": subtract, "__mul__": multiply, "__truediv__": divide,
    "__matmul__": matmul, "__pow__": power_op, "__mod__": _F["mod"], "__floordiv__": _F["floor_divide"],
    "__radd__": _swap(add), "__rsub__": _swap(subtract), "__rmul__": _swap(multiply),
    "__rtruediv__": _swap(divide), "__rmatmul__": _swap(matmul), "__rpow__": _swap(_F["power"]),
    "__rmod__": _swap(_F["mod"]), "__rfloordiv__": _swap(_F["floor_divide"]),
    "__neg__": _F["negative"], "__pos__": _F["positive"], "__abs__": _F["abs"],
    "__eq__": _F["equal"], "__ne__": _F["not_equal"], "__lt__": _F["less"], "__le__": _F["less_equal"],
    "__gt__": _F["greater"], "__ge__": _F["greater_equal"],
}
for _name, _fn in _DUNDERS.items():
    setattr(LPArray, _name, (lambda f: lambda *args: f(*args))(_fn))


def _sum_method(self, axis=None, *, keepdims=False, model=None, key=None):
    return sum(self, axis, keepdims=keepdims, model=model, key=key)


def _mean_method(self, axis=None, *, keepdims=False, model=None, key=None):
    return mean(self, axis, keepdims=keepdims, model=model, key=key)


LPArray.sum = _sum_method
LPArray.mean = _mean_method
LPArray.sqrt = lambda self, *, key=None: sqrt(self, key=key)

__all__ = sorted(["add", "subtract", "multiply", "divide", "true_divide", "sqrt", "square", "reciprocal",
                  "where", "sum", "prod", "cumsum", "cumprod", "mean", "matmul", "dot", "vdot", "linalg",
                  "asarray", "weak", *FUNCTIONS])
