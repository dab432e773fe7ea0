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


def arithmetic(fmt, n: int, rng: np.random.Generator, x64_modes=(True, False), ops=OPS,
               modes=DETERMINISTIC) -> List[Check]:
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
                for mode in modes:
                    want = oracle_result(down if mode == DOWN else exact, fmt, mode, True)
                    got = jax_result(op, xs, fmt, mode, dtype)
                    out.append(_check(f"jax-{SHORT[op]}", fmt, options(True, dtype), mode, xs, got, want))
    return out


def hard_matrix(fmt, shape, rng: np.random.Generator) -> np.ndarray:
    """Format values over the whole range (subnormals included) with zeros of both signs,
    ``±xmins``, ``±xmax`` and exact cancellation (a row and its negation)."""
    e = rng.integers(fmt.emin - fmt.t, fmt.emax + 1, shape)
    with np.errstate(all="ignore"):
        x = np.clip(rng.standard_normal(shape) * np.ldexp(1.0, e), -fmt.xmax, fmt.xmax)
    x = np.asarray(lp.chop(x, fmt), np.float64)
    flat = x.reshape(-1)
    k = max(1, flat.size // 5)
    flat[:k] = rng.choice([0.0, -0.0, fmt.xmins, -fmt.xmins, fmt.xmax, -fmt.xmax, 1.0, fmt.xmin], k)
    rng.shuffle(flat)
    if x.ndim == 2 and x.shape[1] >= 4:
        half = x.shape[1] // 2
        x[-1, half:2 * half] = -x[-1, :half]  # cancellation: exact zero sums (signed-zero rules)
        x[-1, 2 * half:] = 0.0
    return x


def _lpfloat(kind, A, B, fmt, mode, model):
    with np.errstate(all="ignore"), lp.accumulate(model):
        a = lp.asarray(A, fmt, mode)
        return np.asarray(a @ lp.asarray(B, fmt, mode) if kind == "matmul" else np.sum(a, axis=1), np.float64)


def _lparray(kind, A, B, fmt, mode, model, dtype):
    import jax.numpy as jnp
    a = lp.jax.asarray(jnp.asarray(A.astype(dtype)), fmt, mode)
    with lp.accumulate(model):
        if kind == "matmul":
            out = a @ lp.jax.asarray(jnp.asarray(B.astype(dtype)), fmt, mode)
        else:
            out = lp.jax.numpy.sum(a, axis=1)
    return np.asarray(out.values).astype(np.float64)


#: The models checked, and whether they need x64 in JAX.
MODELS = {"exact": False, "sequential": False, "pairwise": False, "fma": True}


def accumulation(fmt, rng: np.random.Generator, shape=(4, 9, 3), x64_modes=(True, False), models=tuple(MODELS),
                 modes=DETERMINISTIC, kinds=("sum", "matmul")) -> List[Check]:
    """``sum`` and ``matmul`` of LPArrays under each model against the exact rational
    oracle of :mod:`verification.accumulate` and bit for bit against ``LPFloat``, with
    and (formats that fit float32) without ``jax_enable_x64``."""
    from .accumulate import oracle_dot
    m, k, n = shape
    A = hard_matrix(fmt, (m, k), rng)
    B = hard_matrix(fmt, (k, n), rng)
    out = []
    for on in x64_modes:
        if not on and not fits_float32(fmt):
            continue
        dtype = np.float64 if on else np.float32
        for model in models:
            if MODELS[model] and not on:
                continue
            for kind in kinds:
                for mode in modes:
                    if kind == "sum":
                        want = np.array([oracle_dot(A[i], None, fmt, mode, model) for i in range(m)])
                    else:
                        want = np.array([[oracle_dot(A[i], B[:, j], fmt, mode, model) for j in range(n)]
                                         for i in range(m)])
                    with x64(on):
                        got = _lparray(kind, A, B, fmt, mode, model, dtype).reshape(-1)
                    ref = _lpfloat(kind, A, B, fmt, mode, model).reshape(-1)
                    want = want.reshape(-1)
                    bad = ~same(got, want) | ~same(got, ref)
                    ex = [f"{kind} entry {i}: got={got[i]!r} oracle={want[i]!r} lpfloat={ref[i]!r}"
                          for i in np.flatnonzero(bad)[:3]]
                    out.append(Check(f"jax-acc-{model}-{kind}", fmt.label, options(True, dtype), mode,
                                     int(bad.size), int(bad.size), int(bad.sum()), ex))
    return out


__all__ = ["ACC_FORMATS", "ARITH_FORMATS", "MODELS", "accumulation", "arithmetic", "hard_matrix", "jax_result", "x64"]
