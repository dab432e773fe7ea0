"""``__array_function__`` for LPFloat: which NumPy functions keep emulation, and how.

* ``SUBCLASS_SAFE_FUNCTIONS`` only move values (no arithmetic): NumPy's own code runs
  and the format is kept.
* ``DISPATCHED_FUNCTIONS`` have arithmetic inside and an emulated implementation whose
  docstring says where it rounds.
* Everything else raises :class:`~lowprec.errors.UnsupportedOperationError`: silently
  computing in binary64 would be mis-emulation. ``lp.semantics(f)`` says which applies.
"""

from __future__ import annotations

from typing import Callable, Dict

import numpy as np

from ..errors import UnsupportedOperationError

SUBCLASS_SAFE_FUNCTIONS = {
    np.reshape, np.ravel, np.transpose, np.moveaxis, np.swapaxes, np.squeeze, np.expand_dims,
    np.atleast_1d, np.atleast_2d, np.atleast_3d, np.broadcast_to, np.flip, np.fliplr, np.flipud,
    np.roll, np.rot90, np.take, np.take_along_axis, np.sort, np.argsort, np.argmax, np.argmin,
    np.nonzero, np.shape, np.ndim, np.size, np.copy, np.repeat, np.tile, np.diagonal, np.tril,
    np.triu, np.may_share_memory, np.shares_memory, np.split, np.array_split, np.hsplit, np.vsplit,
    np.result_type, np.isclose, np.allclose, np.array_equal, np.count_nonzero, np.argwhere,
    np.flatnonzero, np.searchsorted, np.empty_like, np.max, np.min, np.amax, np.amin, np.ptp,
    np.all, np.any, np.sum, np.prod, np.cumsum, np.cumprod, np.isnan, np.isfinite, np.isinf,
}
# np.sum, prod, cumsum, cumprod, max and min reach __array_ufunc__ as reductions of
# add/multiply/maximum/minimum, where the accumulation is emulated.

DISPATCHED_FUNCTIONS: Dict[Callable, Callable] = {}


def dispatched(np_function):
    """Register an emulated implementation of ``np_function``."""
    def register(impl):
        DISPATCHED_FUNCTIONS[np_function] = impl
        return impl
    return register


@dispatched(np.mean)
def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    """Emulated mean. **Rounding:** the sequential sum (every partial sum rounded), then one
    correctly rounded division by the count."""
    if where is not True or out is not None or dtype is not None:
        raise UnsupportedOperationError("np.mean of an LPFloat: where=, out= and dtype= are not supported.")
    total = np.sum(a, axis=axis, keepdims=keepdims)
    count = a.size if axis is None else np.prod([a.shape[i] for i in np.atleast_1d(axis)])
    return total / count


@dispatched(np.dot)
def dot(a, b, out=None):
    """Emulated dot product (1-D and 2-D as np.matmul). **Rounding:** the accumulation model
    in force (see lowprec.policy), as for np.matmul."""
    if out is not None:
        raise UnsupportedOperationError("np.dot of an LPFloat: out= is not supported.")
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return np.multiply(a, b)
    if np.ndim(a) > 2 or np.ndim(b) > 2:
        raise UnsupportedOperationError("np.dot of arrays above 2-D: use np.matmul (different semantics).")
    return np.matmul(a, b)


def semantics(function) -> str:
    """How LPFloat treats a NumPy function or ufunc: one line for humans."""
    from ._ufuncs import CATEGORIES
    if isinstance(function, np.ufunc):
        kind = CATEGORIES.get(function, "unsupported")
        return f"np.{function.__name__}: ufunc, category {kind}"
    if function in DISPATCHED_FUNCTIONS:
        doc = (DISPATCHED_FUNCTIONS[function].__doc__ or "").strip().splitlines()[0]
        return f"np.{function.__name__}: emulated ({doc})"
    if function in SUBCLASS_SAFE_FUNCTIONS:
        return f"np.{function.__name__}: moves values or reduces through emulated ufuncs; format kept"
    return f"np.{getattr(function, '__name__', function)}: unsupported (raises UnsupportedOperationError)"


def array_function(self, func, types, args, kwargs):
    """The ``__array_function__`` driver."""
    if func in SUBCLASS_SAFE_FUNCTIONS:
        return super(type(self), self).__array_function__(func, types, args, kwargs)
    if func in DISPATCHED_FUNCTIONS:
        return DISPATCHED_FUNCTIONS[func](*args, **kwargs)
    raise UnsupportedOperationError(
        f"np.{getattr(func, '__name__', func)} has no emulated implementation for LPFloat yet; "
        "use np.asarray(x) to compute in binary64 explicitly."
    )
