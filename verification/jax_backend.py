"""The JAX backend (``lp.jax.LPArray``) against the exact oracle.

* ``jax-<op>``: ``+ - * / sqrt`` of LPArrays on the hard operand tuples of
  :func:`verification.ops.hard_operands` (subnormal results, storage subnormals, ties,
  cancellation, overflow, specials), every deterministic mode, against the mpmath oracle
  of the exact result: with ``jax_enable_x64`` in float64 storage, and without it in
  float32 storage for the formats that fit float32. XLA on CPU flushes subnormal
  operands and results of float arithmetic to zero, which the backend must not show.
* ``jax-acc-<model>``: ``sum`` and ``matmul`` under the accumulation models against the
  exact rational oracle of the model (``exact``: the exact sum of exact products rounded
  once, IEEE 754 signed zeros; ``pairwise``: correctly rounded products, then a balanced
  tree of correctly rounded sums; ``fma``: ``acc = round(acc + a*b)`` with the exact
  product), on operands with subnormals, cancellation and overflowing partial sums.

``jax_enable_x64`` is a process-wide switch; every check sets it for its own duration
and restores it.
"""

from __future__ import annotations

import contextlib
import math
from fractions import Fraction
from typing import Callable, List, Sequence

import numpy as np

import lowprec as lp

from .checks import Check, options, same
from .ops import ARITY, SHORT, exact_result, grid_mask, hard_operands, oracle_result
from .oracle import DETERMINISTIC, DOWN, round_oracle

#: Formats whose arithmetic is checked (wide exponent ranges reach binary64's subnormals).
ARITH_FORMATS = ("fp64", "fp32", "bf16", "half", "e11m10", "e8m30")
#: Formats whose accumulation models are checked.
ACC_FORMATS = ("half", "bf16", "e4m3fn", "fp32", "e11m10", "e8m30", "fp64")
OPS = ("add", "subtract", "multiply", "divide", "sqrt")


@contextlib.contextmanager
def x64(on: bool):
    """``jax_enable_x64`` set to ``on`` for the block (restored after)."""
    import jax
    old = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", bool(on))
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", old)


def fits_float32(fmt) -> bool:
    return fmt.t <= 22 and fmt.emax <= 127 and fmt.emin >= -126


def _lparrays(xs: Sequence[np.ndarray], fmt, mode: int, dtype):
    import jax.numpy as jnp
    return [lp.jax.asarray(jnp.asarray(np.asarray(x, dtype)), fmt, mode) for x in xs]


_JNP = {"add": "add", "subtract": "subtract", "multiply": "multiply", "divide": "divide", "sqrt": "sqrt"}


def jax_result(op: str, xs: Sequence[np.ndarray], fmt, mode: int, dtype) -> np.ndarray:
    """``op`` of LPArrays holding ``xs`` (format values) in ``dtype`` storage, as float64."""
    fn = getattr(lp.jax.numpy, _JNP[op])
    out = fn(*_lparrays(xs, fmt, mode, dtype))
    return np.asarray(out.values).astype(np.float64)


def _check(family, fmt, opts, mode, xs, got, want) -> Check:
    bad = ~same(got, want)
    where = np.flatnonzero(bad)[:3]
    examples = [f"operands={tuple(float(x[i]) for x in xs)!r} got={float(got[i])!r} want={float(want[i])!r}"
                for i in where]
    return Check(family, fmt.label, opts, mode, int(bad.size), int(bad.size), int(bad.sum()), examples)


def arithmetic(fmt, n: int, rng: np.random.Generator, x64_modes=(True, False), ops=OPS) -> List[Check]:
    """``+ - * / sqrt`` of LPArrays against the oracle, every deterministic mode, with and
    (where the format fits float32) without ``jax_enable_x64``."""
    out = []
    for on in x64_modes:
        if not on and not fits_float32(fmt):
            continue
        dtype = np.float64 if on else np.float32
        for op in ops:
            with np.errstate(all="ignore"):
                xs = tuple(np.asarray(x, np.float64) for x in hard_operands(fmt, op, n, rng))
                xs = tuple(x.astype(dtype).astype(np.float64) for x in xs)
            keep = grid_mask(fmt, xs)
            xs = tuple(np.ascontiguousarray(x[keep]) for x in xs)
            rows = list(zip(*[x.tolist() for x in xs]))
            exact = [exact_result(op, r, 1) for r in rows]
            down = [exact_result(op, r, DOWN) if isinstance(v, float) and v == 0 else v
                    for r, v in zip(rows, exact)]
            with x64(on):
                for mode in DETERMINISTIC:
                    want = oracle_result(down if mode == DOWN else exact, fmt, mode, True)
                    got = jax_result(op, xs, fmt, mode, dtype)
                    out.append(_check(f"jax-{SHORT[op]}", fmt, options(True, dtype), mode, xs, got, want))
    return out


__all__ = ["ACC_FORMATS", "ARITH_FORMATS", "arithmetic", "jax_result", "x64"]
