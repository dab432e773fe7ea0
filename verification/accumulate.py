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


# --------------------------------------------------------------------------- exhaustive small formats

def _zero_fix(s: np.ndarray, signs: Sequence[np.ndarray], mode: int) -> np.ndarray:
    """IEEE's signed zero of an exact zero sum ``s`` of terms with sign bits ``signs``."""
    anyneg = np.logical_or.reduce(signs)
    allneg = np.logical_and.reduce(signs)
    z = np.where(anyneg, -0.0, 0.0) if mode == DOWN else np.where(allneg, -0.0, 0.0)
    return np.where(s == 0, z, s)


def _table(x, fmt, mode):
    from .oracle import round_by_table
    return round_by_table(x, fmt, mode)


def _table_sum(x, y, fmt, mode):
    """``round(x + y)`` of binary64 values whose sum is exact in binary64 (small formats)."""
    with np.errstate(invalid="ignore"):
        s = x + y
    return _table(_zero_fix(s, [np.signbit(x), np.signbit(y)], mode), fmt, mode)


def _values(fmt) -> np.ndarray:
    from .ops import code_values
    return code_values(fmt)


def exhaustive_sums(fmt, triples: bool, modes=DET) -> List[Check]:
    """Every pair (and with ``triples`` every triple) of values of a small format, summed
    under every model, against the table oracle (binary64 sums of so few small values are
    exact, IEEE's zero rule applied by hand)."""
    v = _values(fmt)
    out = []
    for width in ((2, 3) if triples else (2,)):
        grids = np.meshgrid(*([v] * width), indexing="ij")
        x = np.stack([g.reshape(-1) for g in grids], axis=1)
        for mode in modes:
            with np.errstate(invalid="ignore"):
                total = x.sum(axis=1)
            want_exact = _table(_zero_fix(total, [np.signbit(x[:, i]) for i in range(width)], mode), fmt, mode)
            step = _table_sum(x[:, 0], x[:, 1], fmt, mode)
            for i in range(2, width):
                step = _table_sum(step, x[:, i], fmt, mode)
            for model in ("exact", "sequential", "pairwise", "fma"):
                want = want_exact if model == "exact" else step
                got = lp_sum(x, fmt, mode, model)
                out.append(_record(f"acc-sum{width}-{model}", fmt, mode, _RowCases(x), got, want))
    return out


def exhaustive_dots(fmt, pairs: int, rng, modes=DET) -> List[Check]:
    """Two-term dot products ``a0*b0 + a1*b1`` of small-format values under every model: all
    pairs ``(a0, a1)`` against all ``(b0, b1)`` (or ``pairs`` random ones of each), as one
    matrix product, against the table oracle (products and two-term sums exact in binary64)."""
    v = _values(fmt)
    g0, g1 = np.meshgrid(v, v, indexing="ij")
    p = np.stack([g0.reshape(-1), g1.reshape(-1)], axis=1)
    if pairs and pairs < p.shape[0]:
        p = p[rng.choice(p.shape[0], pairs, replace=False)]
    a, b = p, p.T.copy()
    with np.errstate(invalid="ignore"):
        p0 = a[:, 0:1] * b[0:1, :]
        p1 = a[:, 1:2] * b[1:2, :]
    out = []
    for mode in modes:
        with np.errstate(invalid="ignore"):
            exact = _zero_fix(p0 + p1, [np.signbit(p0), np.signbit(p1)], mode)
        r0 = _table(p0, fmt, mode)
        wants = {"exact": _table(exact, fmt, mode),
                 "sequential": _table_sum(r0, _table(p1, fmt, mode), fmt, mode),
                 "fma": _table_sum(r0, p1, fmt, mode)}
        wants["pairwise"] = wants["sequential"]
        for model, want in wants.items():
            got = lp_matmul(a, b, fmt, mode, model)
            n = b.shape[1]
            cases = _LazyCases(a, b, n)
            out.append(_record(f"acc-dot2-{model}", fmt, mode, cases, got, want))
    return out


class _RowCases:
    """Case descriptions of row sums, made only for the examples shown."""

    def __init__(self, x):
        self.x = x

    def __getitem__(self, i):
        return f"sum{self.x[int(i)].tolist()}"


class _LazyCases:
    """Case descriptions of a matrix product's entries, made only for the examples shown."""

    def __init__(self, a, b, n):
        self.a, self.b, self.n = a, b, n

    def __getitem__(self, i):
        r, c = divmod(int(i), self.n)
        return f"a={self.a[r].tolist()} b={self.b[:, c].tolist()}"


# --------------------------------------------------------------------------- random and hard cases

def _grid(fmt, shape, rng, spread: int) -> np.ndarray:
    """Format values with exponents over ``[-spread, spread]`` (clipped to the format's
    range), some zeros of both signs."""
    lo, hi = max(fmt.emin - fmt.t, -spread), min(fmt.emax, spread)
    e = rng.integers(lo, hi + 1, size=shape)
    x = rng.uniform(1, 2, size=shape) * np.ldexp(1.0, e) * rng.choice([-1.0, 1.0], size=shape)
    x = np.asarray(lp.chop(x, fmt, "toward_zero"), dtype=np.float64)
    x[rng.random(shape) < 0.1] = 0.0
    x[rng.random(shape) < 0.05] = -0.0
    return x


def hard_rows(fmt, k: int, rng) -> List[np.ndarray]:
    """Rows that stress the exact models: cancellation leaving a tiny term, partial sums
    beyond xmax (and beyond binary64), terms far below the others' precision, signed zeros,
    infinities and NaN where the format has them."""
    big, tiny = float(fmt.xmax), float(fmt.xmins)
    x = float(lp.chop(1.0 + 2.0 ** (1 - fmt.t), fmt))
    rows = [np.array([x, tiny, -x]), np.array([big, big, -big]), np.array([big, big, -big, -big, tiny]),
            np.array([1.0, tiny]), np.array([-1.0, tiny]), np.array([-0.0, -0.0]), np.array([0.0, -0.0]),
            np.array([1.0, -1.0]), np.array([-0.0]), np.array([tiny, -tiny, -0.0])]
    if fmt.infs:
        rows += [np.array([np.inf, -np.inf]), np.array([big, np.inf]), np.array([-np.inf, 1.0])]
    if fmt.has_nan:
        rows += [np.array([np.nan, 1.0])]
    return [np.asarray(lp.chop(r, fmt), dtype=np.float64) for r in rows]


def random_family(fmt, cases: int, rng, seed: int, models=("exact", "sequential", "pairwise", "fma")) -> List[Check]:
    """Random sums and matrix products (and the hard rows) of any format against the
    Fraction oracle, every mode; stochastic modes for the exact model (the call's words)."""
    out = []
    spread = 40 if fmt.emax < 200 else 900
    rows = hard_rows(fmt, 5, rng) + [_grid(fmt, (int(rng.integers(1, 9)),), rng, spread) for _ in range(cases)]
    mats = [(_grid(fmt, (int(rng.integers(1, 4)), kk), rng, spread), _grid(fmt, (kk, int(rng.integers(1, 4))), rng,
                                                                           spread))
            for kk in rng.integers(1, 7, size=max(1, cases // 4))]
    hard = hard_rows(fmt, 5, rng)
    mats += [(r[None, :], np.ones((r.size, 1))) for r in hard] + [(r[None, :], r[:, None]) for r in hard]
    wide_acc = [m for m in ("fp32",) if fmt.t <= 24 and fmt.emax <= 127 and fmt.emin >= -126 and fmt.bits < 32]
    for model in tuple(models) + tuple(wide_acc):
        for mode in DET + (SR if model == "exact" else ()):
            got, want, desc = [], [], []
            for r in rows:
                g = lp_sum(r[None, :], fmt, mode, model, seed=seed)
                bits = _keyed_bits(seed, 1)
                got.append(g[0])
                want.append(oracle_dot(r, None, fmt, mode, model, bits[0]))
                desc.append(f"sum{r.tolist()}")
            for a, b in mats:
                g = lp_matmul(a, b, fmt, mode, model, seed=seed)
                m, n = g.shape
                bits = _keyed_bits(seed, m * n)
                for i in range(m):
                    for j in range(n):
                        got.append(g[i, j])
                        want.append(oracle_dot(a[i], b[:, j], fmt, mode, model, bits[i * n + j]))
                        desc.append(f"a={a[i].tolist()} b={b[:, j].tolist()}")
            out.append(_record(f"acc-random-{model}", fmt, mode, desc, got, want))
        if model == "exact":
            out += _cumsum_prod(fmt, rows, seed)
    return out


def _cumsum_prod(fmt, rows, seed) -> List[Check]:
    """cumsum partials and prod under "exact" against the oracle (every mode)."""
    out = []
    for mode in DET + SR:
        got, want, desc = [], [], []
        for r in rows:
            v = lp.asarray(r, fmt, mode)
            lp.seed(seed)
            with lp.accumulate("exact"):
                c = np.asarray(np.cumsum(v), dtype=np.float64)
            bits = _keyed_bits(seed, r.size)
            for j in range(r.size):
                got.append(c[j])
                want.append(oracle_dot(r[:j + 1], None, fmt, mode, "exact", bits[j]))
                desc.append(f"cumsum{r[:j + 1].tolist()}")
            lp.seed(seed)
            with lp.accumulate("exact"):
                got.append(float(np.asarray(np.prod(v), dtype=np.float64)))
            want.append(oracle_prod(r, fmt, mode, _keyed_bits(seed, 1)[0]))
            desc.append(f"prod{r.tolist()}")
        out.append(_record("acc-cumsum-prod", fmt, mode, desc, got, want))
    return out


# --------------------------------------------------------------------------- cross-backend

def cross_backend(fmt, cases: int, rng, seed: int, modes=DET + SR) -> List[Check]:
    """LPTensor (CPU kernels and the whole-tensor ``device_ops`` path) against LPFloat, bit
    for bit, every model and mode (stochastic on the device path: the exact model, whose
    words are the NumPy side's)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return []
    spread = 40 if fmt.emax < 200 else 900
    out = []
    mats = [(_grid(fmt, (int(rng.integers(1, 5)), kk), rng, spread), _grid(fmt, (kk, int(rng.integers(1, 5))), rng,
                                                                           spread))
            for kk in rng.integers(1, 9, size=cases)]
    mats += [(r[None, :], r[:, None]) for r in hard_rows(fmt, 5, rng)]
    for backend in ("torch", "device"):
        for model in ("exact", "sequential", "pairwise", "fma"):
            for mode in modes:
                if backend == "device" and model != "exact" and mode in SR:
                    continue
                got, want, desc = [], [], []
                for a, b in mats:
                    ref = lp_matmul(a, b, fmt, mode, model, seed=seed)
                    g = lp_matmul(a, b, fmt, mode, model, seed=seed, backend=backend)
                    got += list(g.reshape(-1))
                    want += list(ref.reshape(-1))
                    desc += [f"{backend} a={a.tolist()} b={b.tolist()}"] * ref.size
                    rs = lp_sum(a, fmt, mode, model, seed=seed)
                    gs = lp_sum(a, fmt, mode, model, seed=seed, backend=backend)
                    got += list(gs)
                    want += list(rs)
                    desc += [f"{backend} sum rows of {a.tolist()}"] * rs.size
                out.append(_record(f"acc-{backend}-{model}", fmt, mode, desc, got, want))
    return out


# ------------------------------------------------------------ near the rounding boundaries

def boundary_rows(fmt, rows: int, k: int, rng) -> np.ndarray:
    """Rows of ``k`` format values whose exact sum lies at or just beside a rounding
    boundary of the format: ``r + h + d`` with ``r`` a random normal value, ``h`` zero or
    half its spacing (a grid point or a midpoint), ``d`` a power of two from far below the
    binary64 error bound to well above it (or zero), and ``B - B`` of a random size that
    BLAS may or may not cancel exactly; terms shuffled, zeros elsewhere. These are the
    cases where a float result's certificate (:mod:`lowprec.rounding.certify`) must give
    up, and the ones just beside where it may not."""
    out = np.zeros((rows, k))
    e_lo = max(fmt.emin, -60)
    e_hi = min(fmt.emax - 2, 60)
    for i in range(rows):
        e = int(rng.integers(e_lo, e_hi + 1))
        r = float(lp.chop(rng.uniform(1, 2) * 2.0 ** e, fmt, "toward_zero")) * rng.choice([-1.0, 1.0])
        spacing = 2.0 ** (e - fmt.t + 1)
        h = rng.choice([0.0, 0.5, -0.5]) * spacing
        d = float(rng.choice([-1.0, 1.0]) * 2.0 ** (e - fmt.t - int(rng.integers(1, 80))))
        d = 0.0 if rng.random() < 0.2 else d
        big = 2.0 ** int(rng.integers(e, min(fmt.emax, e + 80) + 1)) if rng.random() < 0.5 else 0.0
        terms = [r, h, d, big, -big]
        terms = [float(lp.chop(v, fmt)) for v in terms]
        if any(float(lp.chop(v, fmt)) != v for v in (r, h, d, big)):  # out of the format: drop it
            terms = [v if float(lp.chop(v, fmt)) == v else 0.0 for v in (r, h, d, big, -big)]
        pos = rng.permutation(k)[:len(terms)]
        out[i, pos] = terms
    return out


def boundary_family(fmt, rng, seed: int, rows: int = 24, k: int = 48, backends=("numpy", "torch", "device"),
                    modes=DET + SR) -> List[Check]:
    """Sums and matrix products of :func:`boundary_rows` under "exact", every mode, each
    backend against the Fraction oracle (a product's columns: powers of two, so each
    entry is a scaled boundary case)."""
    out = []
    a = boundary_rows(fmt, rows, k, rng)
    cols = 3
    scale = 2.0 ** rng.integers(-2, 3, size=cols)
    b = np.ones((k, cols)) * scale[None, :]
    for backend in backends:
        if backend != "numpy":
            try:
                import torch  # noqa: F401
            except ImportError:
                continue
        for mode in modes:
            got, want, desc = [], [], []
            g = lp_sum(a, fmt, mode, "exact", seed=seed, backend=backend)
            bits = _keyed_bits(seed, rows)
            for i in range(rows):
                got.append(g[i])
                want.append(oracle_dot(a[i], None, fmt, mode, "exact", bits[i]))
                desc.append(f"{backend} sum{a[i][a[i] != 0].tolist()}")
            g = lp_matmul(a, b, fmt, mode, "exact", seed=seed, backend=backend)
            bits = _keyed_bits(seed, rows * cols)
            for i in range(rows):
                for j in range(cols):
                    got.append(g[i, j])
                    want.append(oracle_dot(a[i], b[:, j], fmt, mode, "exact", bits[i * cols + j]))
                    desc.append(f"{backend} dot {a[i][a[i] != 0].tolist()} * {scale[j]}")
            out.append(_record(f"acc-boundary-{backend}", fmt, mode, desc, got, want))
    return out


#: Formats of the boundary family per plan.
QUICK_BOUNDARY = ("half", "bf16", "e4m3")
FULL_BOUNDARY = ("half", "bf16", "e4m3", "e5m2", "tf32", "e8m30", "e11m10", "fp32", "fp6_e3m2")


#: Small formats swept exhaustively: (label, triples of sums, dot pairs (0: all)) per plan.
QUICK_SMALL = (("fp4_e2m1", True, 0), ("e4m3", False, 120))
FULL_SMALL = (("fp4_e2m1", True, 0), ("fp6_e3m2", True, 0), ("fp6_e2m3", True, 0), ("e4m3", False, 1500),
              ("e5m2", False, 1500), ("e4m3fn", False, 1500), ("e5m2fnuz", False, 1500))
QUICK_WIDE = ("bf16", "e8m30", "e11m10", "fp64")
FULL_WIDE = ("half", "bf16", "tf32", "e8m30", "e11m10", "e11m20", "fp64", "e4m3fn")
#: Formats and modes of the cross-backend family in the quick plan (the full plan: every
#: wide format and mode).
QUICK_CROSS = (("e11m10", (1, 3, 5)), ("e8m30", (2, 9)))


def run_all(quick: bool, seed: int) -> List[Check]:
    """Every accumulation family of the plan (``quick``: a few seconds)."""
    rng = np.random.default_rng([seed, 12])
    out = []
    for label, triples, pairs in (QUICK_SMALL if quick else FULL_SMALL):
        f = lp.format(label)
        out += exhaustive_sums(f, triples and (not quick or f.bits <= 4))
        out += exhaustive_dots(f, pairs, rng)
    for label in (QUICK_WIDE if quick else FULL_WIDE):
        out += random_family(lp.format(label), 2 if quick else 150, rng, seed)
    for label, modes in (QUICK_CROSS if quick else [(w, DET + SR) for w in FULL_WIDE]):
        out += cross_backend(lp.format(label), 1 if quick else 40, rng, seed, modes)
    for label in (QUICK_BOUNDARY if quick else FULL_BOUNDARY):
        out += boundary_family(lp.format(label), rng, seed, rows=12 if quick else 48)
    return out

__all__ = ["boundary_family", "boundary_rows", "cross_backend", "exhaustive_dots", "exhaustive_sums", "oracle_dot", "oracle_prod", "random_family",
           "run_all"]
