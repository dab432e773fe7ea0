"""``__array_function__`` for LPFloat: every NumPy function LPFloat accepts, and how.

Each function is in exactly one table:

* ``STRUCTURAL`` functions only move values (reshape, concatenate, where, sort, clip, ...).
  Their data arguments are brought to the common format (the join; plain numbers and
  arrays are weak and rounded into it), NumPy runs on the plain values, and float results
  come back as LPFloat. No rounding happens beyond that of weak operands.
* ``MUTATORS`` write into an LPFloat (``copyto``, ``fill_diagonal``, ``put_along_axis``,
  ...): what they store is rounded into the destination's format.
* ``PLAIN_RESULT`` functions answer questions about values (``isclose``, ``argsort``,
  ``shape``, ...): they run on the plain values and return plain results.
* ``UFUNC_ROUTED`` functions are NumPy code whose arithmetic is ufunc calls and
  reductions on the array itself (``sum``, ``max``, ``nansum``, ...): they run as is and
  every operation inside is emulated by ``__array_ufunc__``.
* ``DISPATCHED`` functions have arithmetic inside and an emulated implementation
  (modules ``_reductions``, ``_products`` and :mod:`lowprec.linalg`) whose docstring
  says where it rounds.

Everything else raises :class:`~lowprec.errors.UnsupportedOperationError`, unless
``with lp.policy(unknown="round_once"):`` is in force: then the function runs on the
plain values in binary64 and its float results are rounded once (with a warning).
``lp.semantics(f)`` says which applies.
"""

from __future__ import annotations

import sys

import warnings
from typing import Callable, Dict, Sequence, Tuple

import numpy as np

from ..errors import LowprecWarning, UnsupportedOperationError
from ..policy import unknown_policy
from ._base import LPArray

#: Data arguments of each structural function: (position, keyword) pairs; position
#: ``"*"`` means every positional argument.
_FIRST = ((0, "a"),)
STRUCTURAL: Dict[Callable, Tuple] = {
    **{f: _FIRST for f in (
        np.reshape, np.ravel, np.transpose, np.moveaxis, np.swapaxes, np.squeeze, np.expand_dims,
        np.broadcast_to, np.flip, np.fliplr, np.flipud, np.roll, np.rot90, np.take, np.take_along_axis,
        np.sort, np.partition, np.copy, np.repeat, np.tile, np.diagonal, np.tril, np.triu, np.split,
        np.array_split, np.hsplit, np.vsplit, np.dsplit, np.diag, np.diagflat, np.resize, np.delete,
        np.trim_zeros, np.unique, np.zeros_like, np.ones_like, np.empty_like, np.ascontiguousarray,
        np.asfortranarray, np.rollaxis, np.real, np.imag, np.unique_values, np.compress, np.extract,
        np.sort_complex, np.matrix_transpose, np.permute_dims)},
    np.atleast_1d: (("*", None),), np.atleast_2d: (("*", None),), np.atleast_3d: (("*", None),),
    np.broadcast_arrays: (("*", None),), np.meshgrid: (("*", None),),
    np.concatenate: ((0, "arrays"),), np.concat: ((0, "arrays"),), np.stack: ((0, "arrays"),),
    np.hstack: ((0, "tup"),), np.vstack: ((0, "tup"),), np.dstack: ((0, "tup"),),
    np.column_stack: ((0, "tup"),), np.block: ((0, "arrays"),), np.unstack: ((0, "x"),),
    np.append: ((0, "arr"), (1, "values")), np.insert: ((0, "arr"), (2, "values")),
    np.where: ((1, "x"), (2, "y")), np.select: ((1, "choicelist"), (2, "default")),
    np.choose: ((1, "choices"),), np.full_like: ((0, "a"), (1, "fill_value")),
    np.clip: ((0, "a"), (1, "a_min"), (2, "a_max"), (None, "min"), (None, "max")),
    np.pad: ((0, "array"), (None, "constant_values")),
}

#: pad modes that only move values (the others compute means, ramps, ...).
_PAD_MOVES = {"constant", "edge", "reflect", "symmetric", "wrap", "empty"}

PLAIN_RESULT = {
    np.shape, np.ndim, np.size, np.argsort, np.argmax, np.argmin, np.nonzero, np.argwhere,
    np.flatnonzero, np.count_nonzero, np.searchsorted, np.isclose, np.allclose, np.array_equal,
    np.array_equiv, np.may_share_memory, np.shares_memory, np.result_type, np.argpartition,
    np.lexsort, np.nanargmax, np.nanargmin, np.iscomplexobj, np.isrealobj, np.isreal, np.iscomplex,
    np.isneginf, np.isposinf, np.unravel_index, np.ravel_multi_index, np.digitize, np.bincount,
    np.histogram_bin_edges, np.savetxt, np.array_repr, np.array_str,
    np.array2string,
}

UFUNC_ROUTED = {
    np.sum, np.prod, np.cumsum, np.cumprod, np.max, np.min, np.amax, np.amin, np.ptp, np.all, np.any,
    np.isnan, np.isfinite, np.isinf, np.nanmax, np.nanmin, np.nansum, np.nanprod, np.nancumsum,
    np.nancumprod, np.fix, np.nan_to_num,
}
# np.sum, prod, cumsum, cumprod, max and min reach __array_ufunc__ as reductions of
# add/multiply/maximum/minimum, where the accumulation is emulated; np.round computes
# x * 10**d, rint and / 10**d, each rounded.

DISPATCHED: Dict[Callable, Callable] = {}
MUTATORS: Dict[Callable, Callable] = {}


def dispatched(*np_functions, table: Dict = DISPATCHED):
    """Register an emulated implementation of one or more NumPy functions."""
    def register(impl):
        for f in np_functions:
            table[f] = impl
        return impl
    return register


# -------------------------------------------------------------------- structural functions
def _map_data(args: Sequence, kwargs: Dict, spec: Tuple, fn: Callable) -> Tuple[list, dict]:
    """Apply ``fn`` to every data argument named by ``spec`` (through lists and tuples)."""
    args, kwargs = list(args), dict(kwargs)
    for position, name in spec:
        if position == "*":
            args = [_deep(a, fn) for a in args]
            continue
        if position is not None and position < len(args):
            args[position] = _deep(args[position], fn)
        elif name in kwargs:
            kwargs[name] = _deep(kwargs[name], fn)
    return args, kwargs


def _deep(x, fn):
    if isinstance(x, (list, tuple)):
        return type(x)(_deep(v, fn) for v in x)
    return fn(x)


def _leaves(x, found: list) -> list:
    if isinstance(x, LPArray):
        found.append(x)
    elif isinstance(x, (list, tuple)):
        for v in x:
            _leaves(v, found)
    elif isinstance(x, dict):
        for v in x.values():
            _leaves(v, found)
    return found


def _unwrap(x):
    """LP arrays anywhere inside ``x`` replaced by their plain values."""
    if isinstance(x, LPArray):
        return x.values
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    return x


def _rewrap(result, fmt, mode):
    """Float arrays in ``result`` (through tuples and lists) as LPFloat."""
    from ._float import LPFloat
    if isinstance(result, np.ndarray) and result.dtype.kind in "fc" and not isinstance(result, LPArray):
        return LPFloat._wrap(result, fmt, mode)
    if isinstance(result, (list, tuple)) and not hasattr(result, "_fields"):
        return type(result)(_rewrap(r, fmt, mode) for r in result)
    if isinstance(result, tuple):  # a namedtuple (np.unique's results): keep its type
        return type(result)(*(_rewrap(r, fmt, mode) for r in result))
    return result


def _structural(func, spec, args, kwargs):
    from ._float import _common, _weak, _deliver_one
    data_lps = []
    _map_data(args, kwargs, spec, lambda x: data_lps.append(x) if isinstance(x, LPArray) else None)
    if not data_lps:  # LP arrays only outside the data (say as a condition): leave emulation
        return func(*_unwrap(list(args)), **{k: _unwrap(v) for k, v in kwargs.items()})
    if func is np.pad and kwargs.get("mode", args[2] if len(args) > 2 else "constant") not in _PAD_MOVES:
        raise UnsupportedOperationError("np.pad of an LPFloat supports the modes that move values: "
                                        f"{sorted(_PAD_MOVES)}.")
    fmt, mode, dtype = _common(data_lps, func.__name__)

    def to_format(x):
        if isinstance(x, LPArray):
            return x.values.astype(dtype, copy=False)
        if x is None or isinstance(x, (str, np.bool_, bool)) or (isinstance(x, np.ndarray) and x.dtype == bool):
            return x
        return _weak(x, fmt, mode, dtype)

    args, kwargs = _map_data(args, kwargs, spec, to_format)
    out = kwargs.pop("out", None)
    args = [_unwrap(a) for a in args]
    kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
    result = func(*args, **kwargs)
    if func is np.empty_like:  # uninitialised memory is not a format value
        result[...] = 0
    if out is not None:
        return _deliver_one(result, out, fmt, mode)
    return _rewrap(result, fmt, mode)


# ------------------------------------------------------------------------------ mutators
def _destination_round(dst, values):
    return dst._round(_unwrap(values)) if isinstance(dst, LPArray) else _unwrap(values)


@dispatched(np.copyto, table=MUTATORS)
def copyto(dst, src, casting="same_kind", where=True):
    """Store ``src`` into ``dst``, rounded into ``dst``'s format."""
    np.copyto(_unwrap(dst), _destination_round(dst, src), casting=casting, where=_unwrap(where))


@dispatched(np.fill_diagonal, table=MUTATORS)
def fill_diagonal(a, val, wrap=False):
    """Set the diagonal, rounded into ``a``'s format."""
    np.fill_diagonal(_unwrap(a), _destination_round(a, val), wrap=wrap)


@dispatched(np.put_along_axis, table=MUTATORS)
def put_along_axis(arr, indices, values, axis):
    """Store ``values`` at ``indices``, rounded into ``arr``'s format."""
    np.put_along_axis(_unwrap(arr), _unwrap(indices), _destination_round(arr, values), axis)


@dispatched(np.place, table=MUTATORS)
def place(arr, mask, vals):
    """Store ``vals`` where ``mask`` holds, rounded into ``arr``'s format."""
    np.place(_unwrap(arr), _unwrap(mask), _destination_round(arr, vals))


@dispatched(np.putmask, table=MUTATORS)
def putmask(a, mask, values):
    """Store ``values`` where ``mask`` holds, rounded into ``a``'s format."""
    np.putmask(_unwrap(a), _unwrap(mask), _destination_round(a, values))


@dispatched(np.put, table=MUTATORS)
def put(a, ind, v, mode="raise"):
    """Store ``v`` at flat indices, rounded into ``a``'s format."""
    np.put(_unwrap(a), _unwrap(ind), _destination_round(a, v), mode=mode)


# -------------------------------------------------------------------------------- driver
def semantics(function) -> str:
    """How LPFloat treats a NumPy function or ufunc, in one line.

    Parameters
    ----------
    function : callable
        A NumPy function (``np.sum``, ``np.linalg.solve``, ...) or ufunc, or a torch function
        (``torch.exp``, ``torch.nn.functional.softmax``, ``torch.Tensor.add_``): then what
        :class:`lowprec.torch.LPTensor` does with it, in the categories of :mod:`lowprec.ops`.

    Returns
    -------
    str
        Whether it is emulated and where it rounds, keeps the format without arithmetic,
        or raises :class:`~lowprec.errors.UnsupportedOperationError`.
    """
    from ._ufuncs import category
    torch = sys.modules.get("torch")
    if torch is not None and _is_torch_function(function, torch):
        from ..torch._table import semantics as torch_semantics
        return torch_semantics(function)
    name = getattr(function, "__name__", str(function))
    if isinstance(function, np.ufunc):
        try:
            kind = category(function)
        except UnsupportedOperationError:
            kind = "unsupported"
        return f"np.{name}: ufunc, category {kind}"
    if function in DISPATCHED:
        doc = (DISPATCHED[function].__doc__ or "").strip().splitlines()[0]
        return f"np.{name}: emulated ({doc})"
    if function in STRUCTURAL:
        return f"np.{name}: moves values; operands brought to the common format, no other rounding"
    if function in MUTATORS:
        return f"np.{name}: stores values, rounded into the destination's format"
    if function in PLAIN_RESULT:
        return f"np.{name}: runs on the plain values, returns a plain result"
    if function in UFUNC_ROUTED:
        return f"np.{name}: NumPy's code, every ufunc and reduction inside emulated"
    return (f"np.{name}: unsupported (raises UnsupportedOperationError; "
            "with lp.policy(unknown='round_once') computes in binary64 and rounds once)")


def _is_torch_function(function, torch) -> bool:
    module = getattr(function, "__module__", None) or ""
    if module.startswith("torch"):
        return True
    owner = getattr(function, "__objclass__", None)  # Tensor methods (torch._C.TensorBase)
    return owner is not None and isinstance(owner, type) and issubclass(torch.Tensor, owner)


#: NumPy's binary writers keep only the values: an emulated array's format would be lost.
SAVERS = {np.save, np.savez, np.savez_compressed}


def refuse_save(func) -> None:
    raise UnsupportedOperationError(
        f"np.{func.__name__} stores only the values: the format and rounding mode would be lost silently. "
        "Use lp.save(file, a) / lp.savez(file, a=a, ...) (read back with lp.load, format kept), or "
        f"np.{func.__name__}(file, np.asarray(a)) to store the plain values explicitly.")


def array_function(self, func, types, args, kwargs):
    """The ``__array_function__`` driver: one lookup per table."""
    if any(issubclass(t, LPArray) and not issubclass(t, type(self)) and not issubclass(type(self), t)
           for t in types):
        return NotImplemented
    if func in SAVERS:
        refuse_save(func)
    if func in DISPATCHED:
        return DISPATCHED[func](*args, **kwargs)
    if func in STRUCTURAL:
        return _structural(func, STRUCTURAL[func], args, kwargs)
    if func in MUTATORS:
        return MUTATORS[func](*args, **kwargs)
    if func in PLAIN_RESULT:
        return func(*_unwrap(list(args)), **{k: _unwrap(v) for k, v in kwargs.items()})
    if func in UFUNC_ROUTED:
        return super(type(self), self).__array_function__(func, types, args, kwargs)
    if unknown_policy() == "round_once":
        return _round_once(func, args, kwargs)
    raise UnsupportedOperationError(
        f"np.{getattr(func, '__name__', func)} has no emulated implementation for LPFloat: computing it in "
        "binary64 would be silent mis-emulation. Use `with lp.policy(unknown='round_once'):` to compute "
        "in binary64 and round the result once, or np.asarray(x) to leave emulation explicitly."
    )


def _round_once(func, args, kwargs):
    """The opt-in for functions without an emulated implementation."""
    from ._float import _common, _round_to
    lps = _leaves(list(args) + [kwargs], [])
    fmt, mode, _ = _common(lps, func.__name__)
    warnings.warn(f"np.{func.__name__} computed in binary64 and rounded once into {fmt.label} "
                  "(lp.policy(unknown='round_once')).", LowprecWarning, stacklevel=3)
    result = func(*_unwrap(list(args)), **{k: _unwrap(v) for k, v in kwargs.items()})
    def round_float(r):
        is_float = isinstance(r, (np.ndarray, np.floating, float)) and np.asarray(r).dtype.kind == "f"
        return _round_to(np.asarray(r), fmt, mode) if is_float else r
    return _rewrap(_deep(result, round_float), fmt, mode)

