"""Verification of the accumulation models (sums, dot products, matrix products) against
an exact rational oracle.

The oracle is written independently of lowprec's kernels: every exact intermediate value
is a ``Fraction`` (IEEE 754 rules for NaN, infinities and signed zeros applied by hand),
and every rounding is :func:`verification.oracle.round_oracle` (mpmath). Per model:

* ``exact``: the exact sum (or dot product) rounded once. An exact zero is +0, except in
  round-down (-0 unless every term is +0); -0 when every term is -0; an empty sum +0.
  NaN, or +inf with -inf among the terms, give NaN. Stochastic modes with the call's
  random word ``i`` per result (``i*n + j`` for a matrix product).
* ``sequential``: ``acc = round(x0)`` (products: ``round(a0*b0)``), then ``acc =
  round(acc + round(a_k*b_k))``, each sum of two with IEEE's zero rule.
* ``fma``: ``acc = round(a0*b0)``, then ``acc = round(acc + a_k*b_k)`` (exact product).
* ``pairwise``: rounded products, then neighbours paired level by level, each sum rounded.
* a wider format ``W``: the ``fma`` steps rounded into ``W``, the result rounded into the
  operands' format.

The implementations checked: ``LPFloat`` (``np.sum``/``np.cumsum``/``np.prod``, ``@``), and
``LPTensor`` (CPU numba path and ``device_ops=True`` whole-tensor path) against LPFloat
bit for bit.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import List, Sequence

import numpy as np

import lowprec as lp
from lowprec.random import next_key

from .checks import Check, same
from .oracle import DOWN, round_oracle

#: Deterministic modes and the stochastic ones (checked with the call's random words).
DET = (1, 2, 3, 4, 7, 8, 9)
SR = (5, 6)


def _neg(x: float) -> bool:
    return math.copysign(1.0, x) < 0


def _sum_exact(terms: Sequence, signs: Sequence[bool], mode: int):
    """The exact sum of ``terms`` (Fractions or floats ±0/±inf/NaN) with IEEE's rules;
    ``signs[i]`` the sign bit of term ``i``."""
    if any(isinstance(v, float) and math.isnan(v) for v in terms):
        return math.nan
    pinf = any(isinstance(v, float) and v == math.inf for v in terms)
    ninf = any(isinstance(v, float) and v == -math.inf for v in terms)
    if pinf and ninf:
        return math.nan
    if pinf or ninf:
        return math.inf if pinf else -math.inf
    total = sum((v for v in terms if not isinstance(v, float)), Fraction(0))
    if total != 0:
        return total
    if not terms:
        return 0.0
    if mode == DOWN:
        return -0.0 if any(signs) else 0.0
    return -0.0 if all(signs) else 0.0


def _exact(x: float):
    x = float(x)
    return x if (x == 0 or not math.isfinite(x)) else Fraction(x)


def _product(a: float, b: float):
    """The exact product, IEEE specials (``0 * inf`` NaN), and its sign bit."""
    a, b = float(a), float(b)
    sign = _neg(a) != _neg(b)
    if math.isnan(a) or math.isnan(b):
        return math.nan, sign
    if math.isinf(a) or math.isinf(b):
        if a == 0 or b == 0:
            return math.nan, sign
        return (-math.inf if sign else math.inf), sign
    if a == 0 or b == 0:
        return (-0.0 if sign else 0.0), sign
    return Fraction(a) * Fraction(b), sign


def _round(v, fmt, mode, rbits=0) -> float:
    return round_oracle(v, fmt, mode, rbits=int(rbits))


def _add2(x: float, y, y_sign: bool, fmt, mode) -> float:
    """``round(x + y)`` for a format value ``x`` and an exact ``y`` (one rounding)."""
    return _round(_sum_exact([_exact(x), y], [_neg(x), y_sign], mode), fmt, mode)


def oracle_dot(a: Sequence[float], b: Sequence[float], fmt, mode: int, model, rbits: int = 0) -> float:
    """The oracle's dot product of ``a`` and ``b`` under ``model``; ``b=None``: the sum of ``a``."""
    if b is None:
        terms = [(_exact(x), _neg(float(x))) for x in a]
    else:
        terms = [_product(x, y) for x, y in zip(a, b)]
    if model == "exact":
        return _round(_sum_exact([t for t, _ in terms], [s for _, s in terms], mode), fmt, mode, rbits)
    if not terms:
        return 0.0
    if model == "sequential" or model == "pairwise":
        vals = [_round(t, fmt, mode) for t, _ in terms] if b is not None else [float(x) for x in a]
        if model == "sequential":
            acc = vals[0]
            for v in vals[1:]:
                acc = _add2(acc, _exact(v), _neg(v), fmt, mode)
            return acc
        while len(vals) > 1:
            nxt = [_add2(vals[i], _exact(vals[i + 1]), _neg(vals[i + 1]), fmt, mode)
                   for i in range(0, len(vals) - 1, 2)]
            vals = nxt + (vals[-1:] if len(vals) % 2 else [])
        return vals[0]
    acc_fmt = fmt if model == "fma" else lp.format(model)
    acc = _round(terms[0][0], acc_fmt, mode)
    for t, s in terms[1:]:
        acc = _add2(acc, t, s, acc_fmt, mode)
    return acc if acc_fmt == fmt else _round(_exact(acc), fmt, mode)


def oracle_prod(a: Sequence[float], fmt, mode: int, rbits: int = 0) -> float:
    """The exactly rounded product (IEEE specials; an empty product is 1)."""
    vals = [float(x) for x in a]
    sign = sum(_neg(v) for v in vals) % 2 == 1
    if any(math.isnan(v) for v in vals):
        return math.nan
    inf = any(math.isinf(v) for v in vals)
    zero = any(v == 0 for v in vals)
    if inf and zero:
        return math.nan
    if inf or zero:
        return _round(math.copysign(math.inf if inf else 0.0, -1.0 if sign else 1.0), fmt, mode)
    p = Fraction(1)
    for v in vals:
        p *= Fraction(v)
    return _round(p, fmt, mode, rbits)


# --------------------------------------------------------------------------- lowprec's side

def _keyed_bits(seed: int, n: int) -> np.ndarray:
    """The random words ``0 .. n-1`` of the first call after ``lp.seed(seed)``."""
    lp.seed(seed)
    key = np.uint64(next_key())
    z = key + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(2)).astype(np.int64)


def lp_matmul(a: np.ndarray, b: np.ndarray, fmt, mode: int, model, seed: int = 7, backend: str = "numpy"):
    """``a @ b`` of format values under ``model`` by one backend (``numpy``: LPFloat;
    ``torch``: LPTensor on the CPU; ``device``: LPTensor's whole-tensor path)."""
    x, y = lp.asarray(a, fmt, mode), lp.asarray(b, fmt, mode)
    if backend == "numpy":
        lp.seed(seed)
        with lp.accumulate(model):
            return np.asarray(x @ y, dtype=np.float64)
    a, b = np.asarray(x, np.float64), np.asarray(y, np.float64)
    lp.seed(seed)
    import torch
    from lowprec.torch import _accumulate as T
    from lowprec.rounding.modes import rounding_mode
    r = T.matmul(torch.from_numpy(np.ascontiguousarray(a, np.float64)),
                 torch.from_numpy(np.ascontiguousarray(b, np.float64)), fmt, rounding_mode(mode), model,
                 device_ops=backend == "device")
    return r.numpy()


def lp_sum(x: np.ndarray, fmt, mode: int, model, seed: int = 7, backend: str = "numpy"):
    """Row sums of the 2-D ``x`` under ``model`` (backends as :func:`lp_matmul`)."""
    v = lp.asarray(x, fmt, mode)
    if backend == "numpy":
        lp.seed(seed)
        with lp.accumulate(model):
            return np.asarray(np.sum(v, axis=1), dtype=np.float64)
    x = np.asarray(v, np.float64)
    lp.seed(seed)
    import torch
    from lowprec.torch import _accumulate as T
    from lowprec.rounding.modes import rounding_mode
    r = T.fold_sum(torch.from_numpy(np.ascontiguousarray(x, np.float64)), fmt, rounding_mode(mode), model,
                   device_ops=backend == "device")
    return r.numpy()


def _record(family, fmt, mode, cases, got, want) -> Check:
    got = np.asarray(got, np.float64).reshape(-1)
    want = np.asarray(want, np.float64).reshape(-1)
    bad = ~same(got, want)
    examples = [f"{cases[i]} got={got[i]!r} want={want[i]!r}" for i in np.flatnonzero(bad)[:3]]
    return Check(family, fmt.label, "sub", mode, int(bad.size), int(bad.size), int(bad.sum()), examples)
