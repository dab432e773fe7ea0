"""``LPArray``: a JAX pytree of values in an emulated float format.

The values are the one leaf; the format, the rounding mode and the optional gradient
format are static, hashable aux data, so ``jax.jit`` compiles once per format and mode
(MODELS.md 6.8). ``tree_unflatten`` bypasses ``__init__`` and validates nothing: JAX
rebuilds pytrees with sentinels under ``vmap``. There is deliberately no
``__jax_array__``: a ``jnp`` function given an ``LPArray`` fails loudly instead of
returning unrounded values; use :mod:`lowprec.jax.numpy`.

Gradients: every rounding is a straight-through estimator (``jax.custom_jvp``), so the
derivative of an emulated operation is the derivative of the exact one. An array made
with ``grad_format=`` additionally rounds, in reverse mode, the cotangent of every
result computed from it into that format (``jax.custom_vjp``, nearest-even).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import FormatError, UnsupportedTypeError
from ..formats import FloatFormat, format as as_format
from ..rounding.modes import RoundingMode, rounding_mode
from ._arith import round_values
from ._chop import _params
from ._keys import key_for
from ._ops import x64_enabled

__all__ = ["LPArray", "apply_updates", "asarray", "emulated", "storage_dtype"]


# ------------------------------------------------------------------ gradients

@partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def _emulated(emulate: Callable, raw: Callable, *args):
    return emulate(*args)


@_emulated.defjvp
def _emulated_jvp(emulate, raw, primals, tangents):
    # the last argument is the PRNG key (or None): not differentiated
    out = emulate(*primals)
    _, tangent = jax.jvp(raw, primals[:-1], tangents[:-1])
    return out, tangent.astype(out.dtype)


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def _grad_round(x, grad_fmt: FloatFormat):
    return x


def _grad_round_fwd(x, grad_fmt):
    return x, None


def _grad_round_bwd(grad_fmt, _, g):
    return (round_values(g, grad_fmt, RoundingMode.NEAREST_EVEN),)


_grad_round.defvjp(_grad_round_fwd, _grad_round_bwd)


def emulated(raw: Callable, emulate: Callable, args, key, grad_fmt: Optional[FloatFormat] = None):
    """``emulate(*args, key)`` in the forward pass, the derivative of ``raw(*args)`` in the
    backward pass (straight-through), the cotangent rounded into ``grad_fmt`` if given."""
    out = _emulated(emulate, raw, *args, key)
    return out if grad_fmt is None else _grad_round(out, grad_fmt)


# ------------------------------------------------------------------ storage

def storage_dtype(fmt: FloatFormat, *dtypes) -> np.dtype:
    """The storage dtype for results in ``fmt`` from operands of ``dtypes``: the widest of
    them, float64 when ``fmt`` does not fit it (which needs ``jax_enable_x64``)."""
    dt = np.dtype(np.float64 if x64_enabled() else np.float32) if not dtypes else np.result_type(*dtypes)
    if dt not in (np.float32, np.float64):
        dt = np.dtype(np.float64 if x64_enabled() else np.float32)
    if dt == np.float32:
        try:
            _params(fmt, True, np.float32, None)
            return dt
        except FormatError:
            if not x64_enabled():
                raise
            return np.dtype(np.float64)
    return dt


# ------------------------------------------------------------------ the class

@jax.tree_util.register_pytree_node_class
class LPArray:
    """A JAX array of values in an emulated float format; every result is re-rounded.

    Create one with :func:`lowprec.asarray` (or :func:`lowprec.jax.asarray`). Operators
    and :mod:`lowprec.jax.numpy` compute in the format: ``+ - * /`` and ``sqrt``
    correctly rounded in every mode, other functions rounded once, reductions and
    products under the accumulation model of :func:`lowprec.accumulate`. Comparisons
    give plain boolean arrays; indexing, ``.T`` and ``reshape`` keep the format;
    ``.at[i].set(v)`` and ``.at[i].add(v)`` round what they store.

    Parameters
    ----------
    values : jax.Array
        float32 or float64 values already on the format's grid (not rounded here).
    fmt : FloatFormat
    rmode : RoundingMode
    grad_format : FloatFormat, optional
        Round reverse-mode cotangents of results into this format.

    Examples
    --------
    >>> import jax.numpy as jnp, lowprec as lp
    >>> x = lp.asarray(jnp.array([1.0, 2.0, 3.0]), "bf16")
    >>> x / 3                                              # doctest: +SKIP
    LPArray([0.333984, 0.667969, 1.], format='bf16', rmode='nearest_even')
    """

    __slots__ = ("values", "format", "rmode", "grad_format")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, values, fmt, rmode=1, grad_format=None):
        fmt = as_format(fmt)
        if not isinstance(fmt, FloatFormat):
            raise UnsupportedTypeError(f"lp.jax.LPArray holds float formats, got {fmt}.")
        values = jnp.asarray(values)
        if values.dtype not in (jnp.float32, jnp.float64):
            raise UnsupportedTypeError(f"LPArray storage is float32 or float64, got {values.dtype}.")
        _params(fmt, True, values.dtype, None)  # the format must fit the storage
        self.values = values
        self.format = fmt
        self.rmode = rounding_mode(rmode)
        self.grad_format = None if grad_format is None else as_format(grad_format)

    @classmethod
    def _make(cls, values, fmt, rmode, grad_format=None) -> "LPArray":
        """Wrap already rounded values without checks (the one place results are wrapped)."""
        obj = object.__new__(cls)
        obj.values = values
        obj.format = fmt
        obj.rmode = rmode
        obj.grad_format = grad_format
        return obj

    # -- pytree ------------------------------------------------------------------------
    def tree_flatten(self):
        return (self.values,), (self.format, self.rmode, self.grad_format)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls._make(children[0], *aux)

    # -- metadata ----------------------------------------------------------------------
    shape = property(lambda self: self.values.shape, doc="Shape of the values.")
    dtype = property(lambda self: self.values.dtype, doc="Storage dtype (float32 or float64).")
    ndim = property(lambda self: self.values.ndim, doc="Number of dimensions.")
    size = property(lambda self: self.values.size, doc="Number of elements.")

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        label = self.format.label
        mode = self.rmode.name.lower()
        inner = repr(self.values)
        if isinstance(self.values, jax.core.Tracer):
            inner = f"{type(self.values).__name__}({self.values.aval})"
        extra = f", grad_format={self.grad_format.label!r}" if self.grad_format is not None else ""
        return f"LPArray({inner}, format={label!r}, rmode={mode!r}{extra})"

    def _like(self, values) -> "LPArray":
        return LPArray._make(values, self.format, self.rmode, self.grad_format)

    # -- shape and indexing (no rounding) ----------------------------------------------
    @property
    def T(self) -> "LPArray":
        """Transpose (format kept)."""
        return self._like(self.values.T)

    def reshape(self, *shape) -> "LPArray":
        """Reshape (format kept)."""
        return self._like(self.values.reshape(*shape))

    def transpose(self, *axes) -> "LPArray":
        """Permute axes (format kept)."""
        return self._like(self.values.transpose(*axes))

    def ravel(self) -> "LPArray":
        """Flatten (format kept)."""
        return self._like(self.values.ravel())

    def __getitem__(self, index) -> "LPArray":
        return self._like(self.values[_plain_index(index)])

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    @property
    def at(self) -> "_At":
        """Functional updates that round what they store: ``x.at[i].set(v)``, ``.add(v)``, ..."""
        return _At(self)

    def astype(self, fmt=None, rmode=None, *, dtype=None, key=None) -> "LPArray":
        """The values rounded into another format (and/or mode, storage dtype).

        ``dtype`` alone changes only the storage; a format rounds (with ``key`` for a
        stochastic mode, or the ``lp.jax.rng`` block's).
        """
        fmt = self.format if fmt is None else as_format(fmt)
        mode = self.rmode if rmode is None else rounding_mode(rmode)
        return asarray(self.values if dtype is None else self.values.astype(dtype), fmt, mode, key=key,
                       grad_format=self.grad_format)

    # -- leaving emulation -------------------------------------------------------------
    def __float__(self) -> float:
        return float(self.values)

    def __int__(self) -> int:
        return int(self.values)

    def __bool__(self) -> bool:
        return bool(self.values)

    def block_until_ready(self) -> "LPArray":
        self.values.block_until_ready()
        return self


def _plain_index(index):
    """Indices are plain (integer or boolean) arrays; an LPArray index is an error."""
    if isinstance(index, LPArray):
        raise TypeError("an LPArray is not an index; use x.values.astype(int) explicitly.")
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    return index


class _At:
    def __init__(self, array: LPArray):
        self.array = array

    def __getitem__(self, index) -> "_AtIndex":
        return _AtIndex(self.array, _plain_index(index))


class _AtIndex:
    """``x.at[index]``: updates whose stored values are rounded into ``x``'s format.

    ``add``/``subtract``/``multiply``/``divide`` compute ``x[index] op v`` correctly
    rounded, then store it; with repeated indices the last write wins (unlike JAX's
    accumulating ``.at[].add``).
    """

    def __init__(self, array: LPArray, index):
        self.array = array
        self.index = index

    def get(self) -> LPArray:
        return self.array[self.index]

    def set(self, value, *, key=None) -> LPArray:
        from .numpy import weak
        a = self.array
        stored = weak(value, a.format, a.rmode, a.dtype, key_for(a.rmode, key, ".at[].set"))
        return a._like(a.values.at[self.index].set(stored.astype(a.dtype)))

    def _update(self, name, value, key):
        from . import numpy as lnp
        a = self.array
        current = a[self.index]
        new = getattr(lnp, name)(current, value, key=key)
        return a._like(a.values.at[self.index].set(new.astype(a.format, a.rmode).values.astype(a.dtype)))

    def add(self, value, *, key=None) -> LPArray:
        return self._update("add", value, key)

    def subtract(self, value, *, key=None) -> LPArray:
        return self._update("subtract", value, key)

    def multiply(self, value, *, key=None) -> LPArray:
        return self._update("multiply", value, key)

    def divide(self, value, *, key=None) -> LPArray:
        return self._update("divide", value, key)


# ------------------------------------------------------------------ construction

def asarray(x: Any, fmt="half", rmode=1, *, dtype=None, subnormal: Optional[bool] = None, key=None,
            seed: Optional[int] = None, rng=None, grad_format=None) -> LPArray:
    """Round ``x`` into ``fmt``: an :class:`LPArray` (``lp.asarray`` sends JAX arrays here).

    Parameters
    ----------
    x : jax.Array, array_like or LPArray
        float32 stays float32, float64 stays float64 (``jax_enable_x64``); other inputs
        become the default float dtype.
    fmt : str or FloatFormat, default "half"
    rmode : int or str, default 1
        The mode of this rounding and of every result computed from the array.
    dtype : float32 or float64, optional
        Storage dtype.
    subnormal : bool, optional
        Override the format's subnormal flag (stored in the format).
    key, rng, seed
        PRNG key (``key`` or ``rng``; ``seed`` an int) for a stochastic mode; without one
        the ``lp.jax.rng`` block's key is used, and without that it is an error.
    grad_format : str or FloatFormat, optional
        Round reverse-mode cotangents of results into this format.

    Returns
    -------
    LPArray
    """
    from ..ndarray._float import array_format
    f, mode = array_format(fmt, rmode, subnormal)
    gfmt = None if grad_format is None else as_format(grad_format)
    values = x.values if isinstance(x, LPArray) else jnp.asarray(x)
    if values.dtype == jnp.bool_ or jnp.iscomplexobj(values):
        raise UnsupportedTypeError(f"lp.asarray takes real numbers, got {values.dtype}.")
    if dtype is None:
        dtype = values.dtype if values.dtype in (jnp.float32, jnp.float64) else None
    dtype = storage_dtype(f, *([dtype] if dtype is not None else []))
    if dtype == np.float64 and not x64_enabled():
        raise FormatError(f"format {f.label} needs float64 storage, and JAX float64 needs jax_enable_x64.")
    _params(f, True, dtype, None)  # clear error (mentioning jax_enable_x64) when it does not fit
    given = key if key is not None else rng if rng is not None else seed
    k = key_for(mode, given, "lp.asarray")
    values = values.astype(dtype)
    out = emulated(lambda v: v, lambda v, k: round_values(v, f, mode, k), (values,), k, gfmt)
    return LPArray._make(out, f, mode, gfmt)


def apply_updates(params, updates, *, key=None):
    """``optax.apply_updates`` for trees with :class:`LPArray` leaves.

    Each LPArray parameter ``p`` becomes ``p + u``, correctly rounded in ``p``'s format
    and mode (the update, plain or an LPArray-shaped tree node of unrounded values as
    optax makes them, is rounded into the format first, as a weak operand). Other
    leaves are updated as optax does.

    Parameters
    ----------
    params, updates : pytrees of the same structure
    key : PRNG key, optional
        For parameters in a stochastic mode (one subkey per leaf); else the
        ``lp.jax.rng`` block's.
    """
    from .numpy import add
    leaves = []

    def one(p, u):
        leaves.append(p)
        if isinstance(p, LPArray):
            u = u.values if isinstance(u, LPArray) else jnp.asarray(u)
            k = None if key is None else jax.random.fold_in(_as_key_any(key), len(leaves))
            return add(p, u.astype(p.dtype), key=k)
        return jnp.asarray(p + u).astype(jnp.asarray(p).dtype)

    return jax.tree_util.tree_map(one, params, updates, is_leaf=lambda x: isinstance(x, LPArray))


def _as_key_any(key):
    from ._chop import _as_key
    return _as_key(key)
