"""The checks: each compares lowprec with an oracle on one case family and returns
:class:`Check` records (one per format, options and mode) with counts and mismatches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, List

import numpy as np

import lowprec as lp
from lowprec.chop import round_with_bits

from . import cases as C
from .oracle import (
    DOWN, RANDOM_BITS, STOCHASTIC, STOCHASTIC_UNIFORM, TOWARD_ZERO, UP, round_by_table, round_oracle,
    stochastic_fraction,
)

STOCHASTIC_MODES = (STOCHASTIC, STOCHASTIC_UNIFORM)


@dataclass
class Check:
    """The outcome of one comparison: family × format × options × mode."""

    family: str
    fmt: str
    options: str
    mode: int
    checked: int
    expected: int
    mismatches: int
    examples: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No mismatch, and exactly the number of cases the family promises (never zero)."""
        return self.mismatches == 0 and self.checked == self.expected and self.checked > 0


def same(a, b) -> np.ndarray:
    """Elementwise: the same float64 bit pattern (so ``-0 != +0``), or both NaN."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))


def options(subnormal=True, dtype=np.float64, explim=True) -> str:
    """A short label of the rounding options: ``sub``/``nosub``, ``f32`` storage, ``explim=0``."""
    words = ["sub" if subnormal else "nosub"]
    if np.dtype(dtype) == np.float32:
        words.append("f32")
    if not explim:
        words.append("explim=0")
    return " ".join(words)


def record(family, fmt, opts, mode, x, got, want, expected, bad=None) -> Check:
    """Build a :class:`Check` from results ``got`` and oracle values ``want`` on inputs ``x``."""
    if bad is None:
        bad = ~same(got, want)
    where = np.flatnonzero(bad)[:3]
    got, want = np.asarray(got, np.float64).reshape(-1), np.asarray(want, np.float64).reshape(-1)
    examples = [f"x={float(np.ravel(x)[i])!r} got={got[i]!r} want={want[i]!r}" for i in where]
    return Check(family, fmt.label, opts, mode, int(np.size(bad)), expected, int(bad.sum()), examples)


def _oracle(x, fmt, mode, **kw) -> np.ndarray:
    return np.array([round_oracle(float(v), fmt, mode, **kw) for v in np.ravel(x)])


def _storage(dtype) -> str:
    return np.dtype(dtype).name


# --------------------------------------------------------------------------- deterministic

def table_sweep(fmt, families: Iterable[C.Cases], modes, subnormals=(True, False)) -> List[Check]:
    """``lp.chop`` against the table oracle, bit for bit, on whole families."""
    out = []
    for sub in subnormals:
        for cases in families:
            x64 = cases.x.astype(np.float64)
            for mode in modes:
                got = lp.chop(cases.x, fmt, mode, subnormal=sub)
                want = round_by_table(x64, fmt, mode, sub)
                bad = ~same(got, want) | (got.dtype != cases.x.dtype)
                out.append(record(cases.name, fmt, options(sub, cases.x.dtype), mode, cases.x, got, want,
                                  cases.expected, bad=bad))
    return out


def mpmath_sample(fmt, pool: C.Cases, n, rng, modes, subnormals=(True, False)) -> List[Check]:
    """On a random sample of ``pool``: ``lp.chop`` and the table oracle against mpmath."""
    x = C.take(pool, n, rng).x
    out = []
    for sub in subnormals:
        for mode in modes:
            want = _oracle(x, fmt, mode, subnormal=sub)
            got = lp.chop(x, fmt, mode, subnormal=sub)
            bad = ~same(got, want) | ~same(round_by_table(x, fmt, mode, sub), want)
            out.append(record("mpmath-sample", fmt, options(sub), mode, x, got, want, n, bad=bad))
    return out


def mpmath_check(fmt, families: Iterable[C.Cases], modes, subnormals=(True, False),
                 explim=True) -> List[Check]:
    """``lp.chop`` against the mpmath oracle (any format, float64 or float32 storage)."""
    out = []
    for cases in families:
        storage = _storage(cases.x.dtype)
        for sub in subnormals:
            for mode in modes:
                got = lp.chop(cases.x, fmt, mode, subnormal=sub, explim=explim)
                want = _oracle(cases.x, fmt, mode, subnormal=sub, explim=explim, storage=storage)
                bad = ~same(got, want) | (got.dtype != cases.x.dtype)
                out.append(record(cases.name, fmt, options(sub, cases.x.dtype, explim), mode, cases.x, got,
                                  want, cases.expected, bad=bad))
    return out


def roundtrip(fmt, modes=tuple(range(1, 10))) -> List[Check]:
    """Every code of ``fmt`` decodes to a value that ``lp.chop`` leaves alone, in every mode."""
    x = np.array([fmt.decode(code) for code in range(2**fmt.bits)])
    return [record("roundtrip", fmt, options(), mode, x, lp.chop(x, fmt, mode, seed=7), x, 2**fmt.bits)
            for mode in modes]


def ml_dtypes_check(fmt, dtype) -> List[Check]:
    """Against ml_dtypes: the value of every code, and round-to-nearest-even of float32 inputs
    (ml_dtypes rounds float64 through float32, so only float32 inputs are single roundings)."""
    codes = np.arange(2**fmt.bits, dtype=np.uint16 if fmt.bits > 8 else np.uint8)
    decoded = np.array([fmt.decode(int(c)) for c in codes])
    with np.errstate(invalid="ignore"):
        theirs = codes.view(dtype).astype(np.float64)
    out = [record("ml_dtypes-codes", fmt, options(), 1, codes, theirs, decoded, 2**fmt.bits)]
    x16 = C.fp16_bits().x
    families = [C.Cases("ml_dtypes-fp16", x16[np.isfinite(x16)], 2**16 - 2**11), C.fp16_near(np.float32)]
    for cases in families:
        x = cases.x.astype(np.float32)
        out.append(record(f"ml_dtypes-{cases.name.split('-', 1)[-1]}", fmt, options(True, np.float32), 1, x,
                          lp.chop(x, fmt, 1), x.astype(dtype).astype(np.float64), cases.expected))
    # NaN inputs are left out: formats without NaN (fp6, fp4) keep it in lowprec, ml_dtypes gives 0.
    return out


# --------------------------------------------------------------------------- stochastic

def _toward_away(x, fmt, subnormal, table: bool):
    """The two possible stochastic results: toward zero, and away from zero (overflow rule)."""
    x64 = np.asarray(x, np.float64)
    if table:
        toward = round_by_table(x64, fmt, TOWARD_ZERO, subnormal)
        away = np.where(np.signbit(x64), round_by_table(x64, fmt, DOWN, subnormal),
                        round_by_table(x64, fmt, UP, subnormal))
    else:
        toward = _oracle(x64, fmt, TOWARD_ZERO, subnormal=subnormal)
        away = np.array([round_oracle(float(v), fmt, DOWN if np.signbit(v) else UP, subnormal=subnormal)
                         for v in x64])
    return toward, away


def sr_neighbours(fmt, families: Iterable[C.Cases], seed, subnormals=(True, False)) -> List[Check]:
    """Stochastic ``lp.chop`` results are always one of the two neighbours (table oracle)."""
    out = []
    for sub in subnormals:
        for cases in families:
            toward, away = _toward_away(cases.x, fmt, sub, table=True)
            for mode in STOCHASTIC_MODES:
                got = lp.chop(cases.x, fmt, mode, subnormal=sub, seed=seed)
                bad = ~(same(got, toward) | same(got, away))
                out.append(record(f"sr-{cases.name}", fmt, options(sub), mode, cases.x, got, toward,
                                  cases.expected, bad=bad))
    return out


def sr_bases(fmt, subnormal) -> np.ndarray:
    """Lower neighbours ``lo`` (magnitudes) at the interesting places of ``fmt``."""
    step = fmt.xmin * 2.0**-fmt.sig_bits if subnormal else fmt.xmin
    top = np.ldexp(1.0, fmt.emax)
    ulp_top = np.ldexp(1.0, fmt.emax - fmt.sig_bits)
    return np.array([0.0, step, fmt.xmin - step, fmt.xmin, 1.0, 2.0, top, fmt.xmax - ulp_top, fmt.xmax])


def sr_enumerate(fmt, k: int, rng, subnormal=True) -> List[Check]:
    """Exact counts: for ``x = lo + j * gap / 2**k`` and all ``2**k`` patterns of the top ``k``
    random bits (the other bits random), mode 5 must move away from zero exactly ``j``
    times and mode 6 ``2**(k-1)`` times (0 when ``j = 0``)."""
    lo = sr_bases(fmt, subnormal)
    e = np.maximum(np.floor(np.log2(np.where(lo > 0, lo, 1.0))), fmt.emin)
    gap = np.where(lo < fmt.xmin, fmt.xmin * 2.0**-fmt.sig_bits if subnormal else fmt.xmin,
                   np.ldexp(1.0, (e - fmt.sig_bits).astype(int)))
    j = np.arange(2**k)
    mags = (lo[:, None] + gap[:, None] * j / 2**k).reshape(-1)
    x = np.concatenate([mags, -mags])
    jj = np.tile(j, 2 * lo.size)
    low = rng.integers(0, 2 ** (RANDOM_BITS - k), 2**k)  # the bits below the top k: irrelevant
    rbits = (np.arange(2**k, dtype=np.int64) << (RANDOM_BITS - k)) | low
    toward, away = _toward_away(x, fmt, subnormal, table=fmt.bits <= 16)
    out = []
    for mode in STOCHASTIC_MODES:
        got = round_with_bits(np.repeat(x, 2**k), fmt, mode, np.tile(rbits, x.size), subnormal=subnormal)
        got = got.reshape(x.size, 2**k)
        is_away = same(got, away[:, None])
        member = (is_away | same(got, toward[:, None])).all(axis=1)
        want_ups = jj if mode == STOCHASTIC else np.where(jj > 0, 2 ** (k - 1), 0)
        ups = np.where(same(away, toward), want_ups, is_away.sum(axis=1))  # saturated: indistinguishable
        bad = ~member | (ups != want_ups)
        out.append(record(f"sr-enum{k}", fmt, options(subnormal), mode, x, ups, want_ups, x.size, bad=bad))
    return out


def sr_rbits(fmt, pool: C.Cases, n, rng, subnormal=True) -> List[Check]:
    """``round_with_bits`` against the mpmath oracle with the same random integers."""
    x = C.take(pool, n, rng).x
    rb = rng.integers(0, 2**RANDOM_BITS, size=x.size)
    rb[:4] = [0, 1, 2**RANDOM_BITS - 1, 2 ** (RANDOM_BITS - 1)]
    storage = _storage(x.dtype)
    out = []
    for mode in STOCHASTIC_MODES:
        got = round_with_bits(x, fmt, mode, rb, subnormal=subnormal)
        want = np.array([round_oracle(float(v), fmt, mode, subnormal=subnormal, storage=storage, rbits=int(r))
                         for v, r in zip(x, rb)])
        out.append(record(f"sr-rbits-{pool.name}", fmt, options(subnormal, x.dtype), mode, x, got, want,
                          pool.expected if n >= pool.x.size else n))
    return out


def _binomial_ok(ups, n, p, sigmas=6.0) -> bool:
    return abs(ups - n * p) <= sigmas * np.sqrt(n * p * (1 - p)) + 1


def sr_frequency(fmt, pool: C.Cases, points, draws, seed, subnormal=True) -> List[Check]:
    """Frequencies: ``draws`` elements equal to ``x`` in one seeded call move away from zero
    a binomial number of times (within 6 sigma) with ``p`` the exact fraction (mode 5) or
    1/2 (mode 6); and so do ``draws // 20`` one-element calls with seeds ``0, 1, ...``
    (for the first two points: those calls are slow)."""
    x = pool.x[np.abs(pool.x) < fmt.xmax]  # beyond xmax both neighbours may overflow
    toward, away = _toward_away(x[: 8 * points], fmt, subnormal, table=fmt.bits <= 16)
    x = x[: 8 * points][~same(toward, away)][:points]
    toward, away = _toward_away(x, fmt, subnormal, table=fmt.bits <= 16)
    out = []
    for mode in STOCHASTIC_MODES:
        for family, calls, expected in (("sr-freq", 1, points), ("sr-seeds", draws // 20, min(points, 2))):
            n = min(x.size, expected)
            bad = np.zeros(n, dtype=bool)
            ups, mean = np.zeros(n), np.zeros(n)
            for i, v in enumerate(x[:n]):
                if calls == 1:
                    got = lp.chop(np.full(draws, v), fmt, mode, subnormal=subnormal, seed=seed)
                else:
                    got = np.array([lp.chop(v, fmt, mode, subnormal=subnormal, seed=s) for s in range(calls)])
                ups[i] = same(got, away[i]).sum()
                p = float(stochastic_fraction(v, fmt, subnormal=subnormal)) if mode == STOCHASTIC else 0.5
                mean[i] = got.size * p
                member = (same(got, away[i]) | same(got, toward[i])).all()
                bad[i] = not (member and _binomial_ok(ups[i], got.size, p))
            out.append(record(family, fmt, options(subnormal), mode, x, ups, mean, expected, bad=bad))
    return out
