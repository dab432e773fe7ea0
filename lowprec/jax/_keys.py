"""Explicit PRNG keys for stochastic rounding: no hidden global state.

An ``LPArray`` carries no key. A stochastic operation takes its key from ``key=`` (the
``lp.jax.numpy`` functions) or from the innermost ``with lp.jax.rng(key):`` block, which
hands out ``jax.random.fold_in(key, i)`` for the ``i``-th operation in the block. The
base key is never replaced, so a block opened inside a jitted function with a traced
key is deterministic for that key and changes with it, and no tracer outlives its trace.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator, Optional

import jax

from ..rounding.modes import RoundingMode
from ._chop import _as_key

_current: contextvars.ContextVar = contextvars.ContextVar("lowprec_jax_rng", default=None)


class _Stream:
    def __init__(self, key):
        self.key = key
        self.count = 0

    def next(self):
        self.count += 1
        return jax.random.fold_in(self.key, self.count)


@contextlib.contextmanager
def rng(key) -> Iterator[None]:
    """Draw the random bits of stochastic ``LPArray`` operations in the block from ``key``.

    Parameters
    ----------
    key : PRNG key or int
        ``jax.random.key(seed)`` (a traced key inside ``jit`` is fine), or an int seed.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, lowprec as lp
    >>> x = lp.asarray(jnp.ones(3) / 3, "bf16", "stochastic", rng=jax.random.key(0))
    >>> with lp.jax.rng(jax.random.key(1)):
    ...     y = x + x                                     # doctest: +SKIP
    """
    token = _current.set(_Stream(_as_key(key)))
    try:
        yield
    finally:
        _current.reset(token)


def key_for(mode: RoundingMode, key=None, what: str = "this operation") -> Optional[jax.Array]:
    """The key an operation in ``mode`` uses: ``key``, else the ``rng`` block's next, else an error.

    Deterministic modes get ``None``.
    """
    if not mode.is_stochastic:
        return None
    if key is not None:
        return _as_key(key)
    stream = _current.get()
    if stream is None:
        raise ValueError(
            f"{what} rounds stochastically ({mode.name.lower()}) and needs an explicit PRNG key: "
            "wrap it in `with lp.jax.rng(jax.random.key(0)):` or pass key= to the lp.jax.numpy function."
        )
    return stream.next()


def split_key(key, i: int):
    """The ``i``-th independent subkey of ``key`` (``None`` stays ``None``)."""
    return None if key is None else jax.random.fold_in(key, i)
