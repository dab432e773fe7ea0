"""Reproducible random streams for stochastic rounding and soft-error injection.

Every call that needs randomness draws one 64-bit *key*; the kernels then derive the
bits of element ``i`` from ``(key, i)`` alone (a counter-based stream), so a result
does not depend on thread count or chunking. Keys come from, in order of precedence:

* ``seed=n`` on the call: the same key every time (the call is repeatable);
* ``rng=generator`` on the call: one draw from that ``numpy.random.Generator``;
* the global stream: ``lp.seed(n)`` fixes it, and each call takes the next key, so
  consecutive calls draw fresh bits. Without ``lp.seed`` it starts from OS entropy.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from typing import Optional

import numpy as np

_lock = threading.Lock()
_global = {"seed": int(np.random.SeedSequence().entropy), "counter": 0}


def seed(n: Optional[int] = None) -> None:
    """Fix (or, with ``None``, re-randomize) the global random stream of lowprec.

    Examples
    --------
    >>> import lowprec as lp
    >>> lp.seed(42)
    >>> a = lp.chop([0.1, 0.2], "bf16", "stochastic")
    >>> lp.seed(42)
    >>> a == lp.chop([0.1, 0.2], "bf16", "stochastic")
    True
    """
    with _lock:
        _global["seed"] = int(np.random.SeedSequence().entropy) if n is None else _check_seed(n)
        _global["counter"] = 0


def _check_seed(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"a seed is a non-negative integer, got {n!r}.")
    return int(n)


def _key_from(*words: int) -> np.uint64:
    return np.random.SeedSequence(list(words)).generate_state(1, dtype=np.uint64)[0]


def next_key(seed: Optional[int] = None, rng: Optional[np.random.Generator] = None) -> np.uint64:
    """The 64-bit key of one call (see the module docstring for the precedence)."""
    if seed is not None:
        return _key_from(_check_seed(seed), 0x5EED)
    if rng is not None:
        if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
            return _key_from(_check_seed(rng), 0x5EED)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"rng must be a numpy.random.Generator (np.random.default_rng(...)), got {type(rng).__name__}."
            )
        return np.uint64(rng.integers(0, 2**64, dtype=np.uint64))
    stream = _CALL.get()
    if stream is not None and stream[0] is not None:  # a later draw of one operation: derived
        stream[1] += 1
        return _key_from(int(stream[0]), 0xC0FFEE, stream[1])
    with _lock:
        counter = _global["counter"]
        _global["counter"] = counter + 1
        base = _global["seed"]
    key = _key_from(base, counter)
    if stream is not None:
        stream[0] = key
    return key


_CALL: contextvars.ContextVar = contextvars.ContextVar("lowprec_call_stream", default=None)


@contextlib.contextmanager
def one_draw():
    """Inside, an operation takes one key from the global stream: its first draw is the
    next global key (as without the block), later draws derive from it. An operation that
    rounds its weak operands and then its result is so atomic under threads sharing one
    seed (each thread has its own context). Nested blocks belong to the outermost."""
    if _CALL.get() is not None:
        yield
        return
    token = _CALL.set([None, 0])
    try:
        yield
    finally:
        _CALL.reset(token)


@contextlib.contextmanager
def keyed(key):
    """Inside, every draw derives from ``key`` (a pure function of it, the global stream
    untouched): for callers that hold their own key, such as JAX's, on NumPy's kernels."""
    token = _CALL.set([np.uint64(key), 0])
    try:
        yield
    finally:
        _CALL.reset(token)


def derived_seed(key, i: int) -> int:
    """The seed of the ``i``-th sub-stream of one call's ``key`` (for example the weak operands
    of an operation, rounded before the operation itself): a pure function of the key, so a
    call draws one key from the global stream however many roundings it makes."""
    return int(_key_from(int(key), 0xC0FFEE, i % 2**32))
