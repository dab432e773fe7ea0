"""Emulated statistics and norms: ``mean``, ``var``, ``std``, ``median``, ``trace``,
``diff``, ``linalg.norm``.

Each is written with emulated operations (so each step is rounded into the format and
every sum follows the accumulation model of :mod:`lowprec.policy`); the docstrings say
where the roundings are.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOperationError
from ..rounding import _kernels
from ._functions import dispatched


def _axes(a, axis):
    from ._float import reduced_axes
    return reduced_axes(axis, a.ndim)


def _count(a, axis) -> int:
    return int(np.prod([a.shape[i] for i in _axes(a, axis)], dtype=np.int64))


def _by_count(x, n):
    """``x / n`` correctly rounded for the exact integer ``n`` (which need not be a
    format value: 70000 is not a half value, but x / 70000 is rounded once)."""
    from ._float import LPFloat, _exact_then_round
    out = _exact_then_round(_kernels.DIVIDE, [x.values, np.float64(n)], x.format, x.rmode, x.dtype)
    return LPFloat._wrap(np.asarray(out).reshape(np.shape(x)), x.format, x.rmode)


def _no_extras(name, **given):
    bad = sorted(k for k, v in given.items() if v is not None and v is not True and v is not np._NoValue)
    if bad:
        raise UnsupportedOperationError(f"np.{name} of an LPFloat: {', '.join(bad)} not supported.")


def _finish(result, out):
    if out is None:
        return result
    out[...] = result
    return out


@dispatched(np.mean)
def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    """Emulated mean. **Rounding:** the sum under the accumulation model, then one
    correctly rounded division by the exact count."""
    _no_extras("mean", dtype=dtype, where=where)
    total = np.sum(a, axis=axis, keepdims=keepdims)
    n = _count(a, axis)
    if n == 0:  # NumPy: NaN with a RuntimeWarning
        import warnings
        warnings.warn("Mean of empty slice.", RuntimeWarning, stacklevel=3)
    return _finish(_by_count(total, n), out)


@dispatched(np.var)
def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=None,
        correction=None):
    """Emulated variance. **Rounding:** the mean as np.mean; each deviation ``x - mean``
    and its square rounded; their sum under the accumulation model; one correctly
    rounded division by ``n - ddof``."""
    _no_extras("var", dtype=dtype, where=where, mean=mean)
    ddof = correction if correction is not None else ddof
    m = np.mean(a, axis=axis, keepdims=True)
    d = a - m
    total = np.sum(d * d, axis=axis, keepdims=keepdims)
    return _finish(_by_count(total, max(_count(a, axis) - ddof, 0)), out)


@dispatched(np.std)
def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=None,
        correction=None):
    """Emulated standard deviation. **Rounding:** np.var's, then a correctly rounded sqrt."""
    return _finish(np.sqrt(var(a, axis, dtype, None, ddof, keepdims, where=where, mean=mean,
                               correction=correction)), out)


@dispatched(np.median)
def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """Emulated median. **Rounding:** none for an odd count (the middle value); for an
    even count the two middle values' sum rounded, then halved (rounded)."""
    from ._float import kept_shape_of
    axes = _axes(a, axis)
    x = np.moveaxis(a, axes, range(-len(axes), 0))
    kept = x.shape[:a.ndim - len(axes)]
    n = _count(a, axis)
    x = x.reshape(kept + (n,))
    if n == 0:  # NumPy: NaN with a RuntimeWarning
        import warnings
        warnings.warn("Mean of empty slice.", RuntimeWarning, stacklevel=3)
        mid = type(a)._wrap(a._round(np.full(kept, np.nan)), a.format, a.rmode)
    else:
        s = np.sort(x, axis=-1)
        mid = s[..., n // 2]
        if n % 2 == 0:
            mid = (s[..., n // 2 - 1] + mid) / 2
    if keepdims:
        mid = np.reshape(mid, kept_shape_of(a.shape, axes))
    return _finish(mid, out)


@dispatched(np.trace)
def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """Emulated trace. **Rounding:** the diagonal's sum under the accumulation model."""
    _no_extras("trace", dtype=dtype)
    return _finish(np.sum(np.diagonal(a, offset, axis1, axis2), axis=-1), out)


@dispatched(np.diff)
def diff(a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    """Emulated differences. **Rounding:** each difference rounded (``n`` times over)."""
    parts = [p for p in (prepend, a, append) if p is not np._NoValue]
    if len(parts) > 1:
        parts = [np.broadcast_to(p, a.shape[:axis % a.ndim] + (1,) + a.shape[axis % a.ndim + 1:])
                 if np.ndim(p) == 0 else p for p in parts]
        a = np.concatenate(parts, axis=axis)
    x = np.moveaxis(a, axis, -1)
    for _ in range(n):
        x = x[..., 1:] - x[..., :-1]
    return np.moveaxis(x, -1, axis)


@dispatched(np.linalg.norm)
def norm(x, ord=None, axis=None, keepdims=False):
    """Emulated norms. **Rounding:** 2-norm and Frobenius: each square rounded, their
    sum under the accumulation model, a correctly rounded sqrt; 1-, inf- and matrix
    1/inf-norms: sums of magnitudes under the model, max/min exact; other ``p``: each
    ``|x|**p`` rounded, sum, ``**(1/p)`` rounded. Matrix 2-norm and nuclear norm need an
    SVD: not emulated."""
    if axis is None:
        if ord is None:  # the 2-norm of the flattened array, as NumPy
            r = np.sqrt(np.sum(x * x))
            return np.reshape(r, (1,) * x.ndim) if keepdims else r
        if x.ndim > 2:
            raise ValueError("Improper number of dimensions to norm.")
        axis = tuple(range(x.ndim))
    axes = _axes(x, axis)
    if len(axes) == 1:
        r = _vector_norm(x, ord, axes[0])
    elif len(axes) == 2:
        r = _matrix_norm(x, ord, axes)
    else:
        raise ValueError("Improper number of dimensions to norm.")
    return np.expand_dims(r, axes) if keepdims else r


def _vector_norm(x, ord, axis):
    a = np.abs(x)
    if ord is None or ord == 2:
        return np.sqrt(np.sum(x * x, axis=axis))
    if ord == np.inf:
        return np.max(a, axis=axis)
    if ord == -np.inf:
        return np.min(a, axis=axis)
    if ord == 1:
        return np.sum(a, axis=axis)
    if ord == 0:
        return np.sum(x != 0, axis=axis) * np.ones_like(np.max(a, axis=axis))
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    return np.sum(a ** ord, axis=axis) ** (1.0 / ord)


def _matrix_norm(x, ord, axes):
    r, c = axes
    a = np.abs(x)
    if ord in (None, "fro"):
        return np.sqrt(np.sum(np.sum(x * x, axis=c, keepdims=True), axis=r, keepdims=True)).squeeze(axes)
    rules = {1: (np.max, r, c), -1: (np.min, r, c), np.inf: (np.max, c, r), -np.inf: (np.min, c, r)}
    if ord in rules:
        pick, summed, kept = rules[ord]
        sums = np.sum(a, axis=summed, keepdims=True)
        return pick(sums, axis=kept, keepdims=True).squeeze(axes)
    raise UnsupportedOperationError(
        f"np.linalg.norm(ord={ord!r}) of a matrix needs an SVD, which is not emulated; "
        "use np.asarray(x) to compute it in binary64.")


@dispatched(np.round, np.around)
def round_decimals(a, decimals=0, out=None):
    """Rounding to ``decimals`` decimal digits. **Rounding:** NumPy's ``round`` on the
    stored values in binary64 (exact for ``decimals=0``), then the result rounded once
    into the format."""
    from ._float import LPFloat, _round_to
    result = LPFloat._wrap(_round_to(np.round(a.values, decimals), a.format, a.rmode), a.format, a.rmode)
    return _finish(result, out)


@dispatched(np.angle)
def angle(z, deg=False):
    """Phase angle. **Rounding:** ``arctan2(imag, real)`` (and the conversion to degrees)
    computed in binary64, rounded once."""
    from ._float import LPFloat, _round_to
    values = np.angle(z.values, deg=deg)
    return LPFloat._wrap(_round_to(values, z.format, z.rmode), z.format, z.rmode)
