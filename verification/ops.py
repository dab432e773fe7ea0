"""Verification of the correctly rounded operations (:mod:`lowprec.arith`) against an exact oracle.

The oracle is written independently of lowprec's kernels:

* :func:`exact_result` gives the exact real result of ``+ - * / sqrt fma`` on float
  operands as a ``Fraction`` (``fractions`` arithmetic, integer square roots), and applies
  the IEEE 754 rules for NaN, infinities and signed zeros (``inf - inf``, ``0 * inf``,
  ``0 / 0`` and ``sqrt`` of a negative number are NaN; ``x / 0`` is a signed infinity; an
  exact zero sum is ``+0`` in every mode except round-down, where it is ``-0``, unless both
  addends are zeros of one sign; ``sqrt(-0) = -0``).
* That exact value is rounded by the oracles of :mod:`verification.oracle`, never by
  lowprec: :func:`~verification.oracle.round_oracle` (mpmath, stochastic modes with given
  random bits) for samples, and for exhaustive sweeps of small formats the table oracle
  :func:`~verification.oracle.round_by_table` applied to :func:`odd_proxy`, the exact
  value rounded to binary64 by round-to-odd.

Why the proxy is exact for the deterministic modes: every decision of a deterministic
mode compares the value with the format's values and the midpoints between them (and
the overflow threshold), all of which have at most ``t + 1 <= 52`` significant bits. An
exact value that is a binary64 number is its own proxy. Any other value lies strictly
between two consecutive 52-bit numbers, and so does its round-to-odd proxy (a 53-bit
number with last bit 1, hence not a 52-bit number): no critical point separates them,
so every deterministic mode rounds both the same way.

The irrational square roots are replaced by a rational that lies in the same open
interval between consecutive multiples of ``2**-k`` as the true root, with ``2**-k``
below ``2**-63`` of the format's gap there: no format value, midpoint, or stochastic
threshold ``j * 2**-62`` of the gap lies in that interval, so every mode, stochastic ones
with given bits included, rounds both the same way.

Stochastic modes are checked with the random bits the call used: lowprec's documented
counter-based stream (SplitMix64 of ``key + (i + 1) * golden`` for element ``i``, the top
62 bits; ``key`` from the call's ``seed``), recomputed here by :func:`call_bits`.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable, Dict, List, Sequence, Tuple, Union

import numpy as np

from lowprec import arith
from lowprec.random import next_key

from . import cases as C
from .checks import Check, options, same
from .oracle import DETERMINISTIC, DOWN, STOCHASTIC, STOCHASTIC_UNIFORM, round_by_table, round_oracle

Exact = Union[Fraction, float]

#: Bits kept of an irrational square root (see the module docstring): at least t + 63.
SQRT_BITS = 160

#: lowprec's functions, by operation name.
LOWPREC: Dict[str, Callable] = {
    "add": arith.add, "subtract": arith.subtract, "multiply": arith.multiply, "divide": arith.divide,
    "sqrt": arith.sqrt, "fma": arith.fma,
}
#: The kernel codes of the operations :func:`grid_result` checks.
GRID_OPS = {"add": 0, "subtract": 1, "multiply": 2, "divide": 3, "sqrt": 4}
#: Number of operands of each operation.
ARITY = {"add": 2, "subtract": 2, "multiply": 2, "divide": 2, "sqrt": 1, "fma": 3}
#: Short family names.
SHORT = {"add": "add", "subtract": "sub", "multiply": "mul", "divide": "div", "sqrt": "sqrt", "fma": "fma"}


# --------------------------------------------------------------------------- exact results

def _neg(x: float) -> bool:
    return math.copysign(1.0, x) < 0


def _zero_sum(x: float, y: float, mode: int) -> float:
    """IEEE 754 sign of an exact zero sum ``x + y``: zeros of one sign keep it; otherwise
    ``+0``, or ``-0`` when rounding down."""
    if x == 0 and y == 0 and _neg(x) == _neg(y):
        return x
    return -0.0 if mode == DOWN else 0.0


def _add(x: float, y: float, mode: int) -> Exact:
    if math.isnan(x) or math.isnan(y):
        return math.nan
    if math.isinf(x) or math.isinf(y):
        if math.isinf(x) and math.isinf(y) and _neg(x) != _neg(y):
            return math.nan
        return x if math.isinf(x) else y
    s = Fraction(x) + Fraction(y)
    return s if s != 0 else _zero_sum(x, y, mode)


def _subtract(x: float, y: float, mode: int) -> Exact:
    return _add(x, -y, mode)


def _multiply(x: float, y: float, mode: int) -> Exact:
    if math.isnan(x) or math.isnan(y):
        return math.nan
    sign = -1.0 if _neg(x) != _neg(y) else 1.0
    if math.isinf(x) or math.isinf(y):
        return math.nan if (x == 0 or y == 0) else sign * math.inf
    if x == 0 or y == 0:
        return sign * 0.0
    return Fraction(x) * Fraction(y)


def _divide(x: float, y: float, mode: int) -> Exact:
    if math.isnan(x) or math.isnan(y):
        return math.nan
    sign = -1.0 if _neg(x) != _neg(y) else 1.0
    if (math.isinf(x) and math.isinf(y)) or (x == 0 and y == 0):
        return math.nan
    if math.isinf(x) or y == 0:
        return sign * math.inf
    if math.isinf(y) or x == 0:
        return sign * 0.0
    return Fraction(x) / Fraction(y)


def sqrt_fraction(a: Fraction) -> Fraction:
    """The square root of ``a > 0``: exact when rational, otherwise a rational in the same
    open interval ``(s, s + 1) * 2**-k`` as the root, with ``s >= 2**SQRT_BITS``."""
    k = max(0, SQRT_BITS + 1 - (a.numerator.bit_length() - a.denominator.bit_length()) // 2)
    scaled = a * 4**k
    s = math.isqrt(scaled.numerator // scaled.denominator)
    if scaled.denominator == 1 and s * s == scaled.numerator:
        return Fraction(s, 2**k)
    return Fraction(2 * s + 1, 2 ** (k + 1))


def _sqrt(x: float, mode: int) -> Exact:
    if math.isnan(x) or x < 0:
        return math.nan
    if x == 0 or math.isinf(x):
        return x
    return sqrt_fraction(Fraction(x))


def _fma(x: float, y: float, z: float, mode: int) -> Exact:
    if math.isnan(x) or math.isnan(y) or math.isnan(z):
        return math.nan
    p_neg = _neg(x) != _neg(y)
    if math.isinf(x) or math.isinf(y):
        if x == 0 or y == 0 or (math.isinf(z) and _neg(z) != p_neg):
            return math.nan
        return -math.inf if p_neg else math.inf
    if math.isinf(z):
        return z
    s = Fraction(x) * Fraction(y) + Fraction(z)
    if s != 0:
        return s
    if x == 0 or y == 0:
        return _zero_sum(-0.0 if p_neg else 0.0, z, mode)
    return -0.0 if mode == DOWN else 0.0


_EXACT = {"add": _add, "subtract": _subtract, "multiply": _multiply, "divide": _divide, "sqrt": _sqrt,
          "fma": _fma}


def exact_result(op: str, operands: Sequence[float], mode: int = 1) -> Exact:
    """The exact result of ``op`` on float ``operands``: a nonzero ``Fraction``, or a float
    for NaN, ``±inf`` and ``±0`` (IEEE 754 rules; ``mode`` only decides the sign of an exact
    zero sum). Irrational square roots: see :func:`sqrt_fraction`."""
    return _EXACT[op](*[float(v) for v in operands], mode)


def odd_proxy(v: Exact) -> float:
    """``v`` rounded to binary64 by round-to-odd (floats pass through); see the module
    docstring for why deterministic roundings of the proxy equal those of ``v``.

    Raises
    ------
    ValueError
        If ``v`` lies outside binary64's normal range (the proxy would not be exact).
    """
    if isinstance(v, float):
        return v
    a = abs(v)
    e = a.numerator.bit_length() - a.denominator.bit_length()  # 2**e <= a < 2**(e+1), or e one too big
    if a < Fraction(2) ** e:
        e -= 1
    if not -1022 <= e <= 1023:
        raise ValueError(f"odd_proxy: {float(v)!r} is outside binary64's normal range.")
    q = e - 52
    num, den = (a.numerator, a.denominator << q) if q >= 0 else (a.numerator << -q, a.denominator)
    m, r = divmod(num, den)
    m |= int(r != 0)
    return math.copysign(math.ldexp(float(m), q), v)


def call_bits(seed: int, n: int) -> np.ndarray:
    """The 62-bit random integers that elements ``0 .. n-1`` of a lowprec call with
    ``seed=seed`` draw (SplitMix64 of ``key + (i + 1) * golden``, top 62 bits)."""
    key = np.uint64(next_key(seed))
    z = key + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(2)).astype(np.int64)


def lowprec_result(op: str, xs: Sequence[np.ndarray], fmt, mode: int, subnormal: bool,
                   seed: int = 0) -> np.ndarray:
    """lowprec's result of ``op`` on the operand arrays (``seed`` for stochastic modes)."""
    return np.asarray(LOWPREC[op](*xs, fmt, mode, subnormal=subnormal, seed=seed))


def grid_result(op: str, xs: Sequence[np.ndarray], fmt, mode: int, subnormal: bool,
                seed: int = 0) -> np.ndarray:
    """lowprec's result of ``op`` through the path of the emulated array types (LPFloat,
    LPTensor): :func:`lowprec.arith.binary` told that the operands are values of the
    format, into storage of the operands' dtype; same key as :func:`lowprec_result`."""
    from lowprec.rounding.modes import rounding_mode
    from lowprec.rounding.params import rounding_params

    f = fmt.replace(subnormal=bool(subnormal))
    a = np.ascontiguousarray(xs[0])
    b = np.ascontiguousarray(xs[1] if len(xs) > 1 else xs[0])
    p = rounding_params(f, True, a.dtype)
    m = rounding_mode(mode)
    key = np.uint64(next_key(seed)) if m.is_stochastic else np.uint64(0)
    out = np.empty(a.size, dtype=a.dtype)
    return arith.binary(GRID_OPS[op], a, b, p, m, key, on_grid=True, out=out)


def grid_mask(fmt, xs: Sequence[np.ndarray], subnormal: bool = True) -> np.ndarray:
    """Which operand tuples consist of values of ``fmt`` (NaN and infinities included)."""
    import lowprec as lp

    keep = np.ones(np.shape(xs[0]), dtype=bool)
    for x in xs:
        keep &= same(lp.chop(np.asarray(x, np.float64), fmt, subnormal=subnormal), x)
    return keep


def oracle_result(exact: Sequence[Exact], fmt, mode: int, subnormal: bool, rbits=None,
                  storage: str = "float64") -> np.ndarray:
    """Round exact results with the mpmath oracle (``rbits`` per element for stochastic modes)."""
    rbits = np.zeros(len(exact), dtype=np.int64) if rbits is None else rbits
    return np.array([round_oracle(v, fmt, mode, subnormal=subnormal, storage=storage, rbits=int(r))
                     for v, r in zip(exact, rbits)], dtype=np.float64)


# --------------------------------------------------------------------------- operands

def code_values(fmt) -> np.ndarray:
    """Every distinct value of a format of at most 16 bits, by its code: ``±0`` (where
    ``-0`` exists), the infinities and one NaN included."""
    decoded = np.array([fmt.decode(c) for c in range(2**fmt.bits)], dtype=np.float64)
    nan = np.isnan(decoded)
    return np.concatenate([np.unique(decoded[~nan].view(np.int64)).view(np.float64), decoded[nan][:1]])


def code_count(fmt) -> int:
    """How many values :func:`code_values` gives, from the format's field widths."""
    infs = (2 if fmt.signed else 1) if fmt.infs else 0
    return C.finite_count(fmt) + int(fmt.negzero and fmt.signed) + infs + int(fmt.has_nan)


def all_pairs(v: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Every ordered pair of elements of ``v``."""
    return np.repeat(v, v.size), np.tile(v, v.size)


def _check(family, fmt, opts, mode, xs, got, want, expected) -> Check:
    bad = ~same(got, want)
    where = np.flatnonzero(bad)[:3]
    examples = [f"operands={tuple(float(x[i]) for x in xs)!r} got={float(got[i])!r} want={float(want[i])!r}"
                for i in where]
    return Check(family, fmt.label, opts, mode, int(bad.size), expected, int(bad.sum()), examples)


# --------------------------------------------------------------------------- checks

def exhaustive(fmt, op: str, xs: Sequence[np.ndarray], expected: int, modes=DETERMINISTIC,
               subnormals=(True, False), family=None, impl: Callable = lowprec_result) -> List[Check]:
    """``op`` on the operand arrays ``xs`` against the table oracle (format of at most 16
    bits, deterministic modes), through :func:`odd_proxy`. ``impl`` is the implementation
    checked (signature of :func:`lowprec_result`)."""
    family = family or f"op-{SHORT[op]}"
    rows = list(zip(*[x.tolist() for x in xs]))
    proxy = np.array([odd_proxy(exact_result(op, r, 1)) for r in rows])
    down = proxy.copy()
    zeros = np.flatnonzero(proxy == 0)  # the sign of an exact zero sum depends on the mode
    down[zeros] = [exact_result(op, rows[i], DOWN) for i in zeros]
    out = []
    for sub in subnormals:
        for mode in modes:
            want = round_by_table(down if mode == DOWN else proxy, fmt, mode, sub)
            got = impl(op, xs, fmt, mode, sub)
            out.append(_check(family, fmt, options(sub), mode, xs, got, want, expected))
    return out


def stochastic(fmt, op: str, xs: Sequence[np.ndarray], expected: int, seed: int,
               subnormals=(True, False), family=None, impl: Callable = lowprec_result) -> List[Check]:
    """Modes 5 and 6: lowprec's results with ``seed`` against the mpmath oracle given the
    same random bits (the exact residual decides)."""
    family = family or f"op-{SHORT[op]}-sr"
    rows = list(zip(*[x.tolist() for x in xs]))
    exact = [exact_result(op, r, STOCHASTIC) for r in rows]
    storage = np.dtype(xs[0].dtype).name
    rbits = call_bits(seed, len(rows))
    out = []
    for sub in subnormals:
        for mode in (STOCHASTIC, STOCHASTIC_UNIFORM):
            want = oracle_result(exact, fmt, mode, sub, rbits, storage)
            got = impl(op, xs, fmt, mode, sub, seed)
            out.append(_check(family, fmt, options(sub, xs[0].dtype), mode, xs, got, want, expected))
    return out


def sampled(fmt, op: str, xs: Sequence[np.ndarray], expected: int, seed: int, subnormals=(True, False),
            family=None, impl: Callable = lowprec_result) -> List[Check]:
    """Every mode against the mpmath oracle on the operand arrays (any format, float64 or
    float32 operands)."""
    family = family or f"op-{SHORT[op]}-hard"
    rows = list(zip(*[x.tolist() for x in xs]))
    exact = [exact_result(op, r, 1) for r in rows]
    zeros = [i for i, v in enumerate(exact) if isinstance(v, float) and v == 0]
    exact_down = list(exact)
    for i in zeros:
        exact_down[i] = exact_result(op, rows[i], DOWN)
    storage = np.dtype(xs[0].dtype).name
    out = []
    for sub in subnormals:
        for mode in DETERMINISTIC:
            want = oracle_result(exact_down if mode == DOWN else exact, fmt, mode, sub, storage=storage)
            got = impl(op, xs, fmt, mode, sub)
            out.append(_check(family, fmt, options(sub, xs[0].dtype), mode, xs, got, want, expected))
    return out + stochastic(fmt, op, xs, expected, seed, subnormals, family=f"{family}-sr", impl=impl)


# --------------------------------------------------------------------------- hard operands

def grid_values(fmt, n: int, rng: np.random.Generator, emin=None, emax=None) -> np.ndarray:
    """``n`` random finite nonzero format values with exponents uniform in
    ``[emin, emax]`` (default: the subnormal range to ``emax``), random signs."""
    lo = fmt.emin - 1 if emin is None else emin  # emin - 1 stands for the subnormals
    hi = fmt.emax if emax is None else emax
    e = rng.integers(max(lo, fmt.emin - 1), min(hi, fmt.emax), size=n, endpoint=True)
    top = 2 ** (fmt.t - 1)
    m = np.where(e < fmt.emin, rng.integers(1, max(top, 2), size=n), top + rng.integers(0, top, size=n))
    x = np.ldexp(m.astype(np.float64), np.maximum(e, fmt.emin) - (fmt.t - 1))
    x = np.minimum(x, fmt.xmax)
    return x * rng.choice([-1.0, 1.0], size=n) if fmt.signed else x


def ulp(fmt, x: np.ndarray) -> np.ndarray:
    """The gap of the format above ``|x|`` (x a nonzero format value)."""
    e = np.frexp(np.abs(x))[1] - 1
    return np.ldexp(1.0, np.maximum(e, fmt.emin) - (fmt.t - 1))


def hard_operands(fmt, op: str, n: int, rng: np.random.Generator) -> Tuple[np.ndarray, ...]:
    """``n`` operand tuples for ``op`` biased to hard cases, about ``n / 8`` of each kind:
    independent values over the whole range; wide exponent gaps; exact ties and near
    ties (operands off the grid where a tie needs them); exact cancellation; subnormal
    results; the overflow boundary; zeros, infinities and NaN."""
    k = max(1, n // 8)
    g = lambda m=k, **kw: grid_values(fmt, m, rng, **kw)  # noqa: E731
    mid = fmt.emin // 2 + fmt.emax // 2
    sign = lambda m=k: rng.choice([-1.0, 1.0], size=m) if fmt.signed else np.ones(m)  # noqa: E731
    near_one = g(emin=-1, emax=1)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, fmt.xmax, -fmt.xmax, fmt.xmin, fmt.xmins, 1.0])
    if not fmt.signed:
        specials = np.abs(specials)
    half_ulp = ulp(fmt, near_one) / 2
    nudge = half_ulp * np.ldexp(1.0, -rng.integers(1, 40, size=k)) * sign()
    if op == "sqrt":
        roots = g(emin=(fmt.emin - fmt.t) // 2, emax=fmt.emax // 2)
        xs = [np.abs(roots) ** 2, (np.abs(near_one) + half_ulp) ** 2,
              np.abs(g(emin=fmt.emin - 1, emax=fmt.emin + 1)), np.abs(g(emin=fmt.emax - 1)), specials,
              np.abs(g(max(n - 4 * k - specials.size, 0)))]
        return (np.concatenate(xs)[:n] * np.where(rng.random(n) < 0.05, -1.0, 1.0),)
    gap = rng.integers(fmt.t, fmt.t + 200, size=k)
    x_parts = {
        "random": (g(), g()),
        "gap": (near_one, near_one * np.ldexp(1.0, -np.minimum(gap, 1 - fmt.emin + fmt.t)) * sign()),
        "tie": (near_one, half_ulp * sign()),
        "near-tie": (near_one, half_ulp * sign() + nudge),
        "cancel": (near_one, -near_one * (1 + ulp(fmt, near_one) * rng.integers(0, 3, size=k) / 4)),
        "subnormal": (g(emin=fmt.emin - 1, emax=fmt.emin + 1), g(emin=fmt.emin - 1, emax=fmt.emin + 1)),
        "overflow": (np.full(k, fmt.xmax) * sign(), ulp(fmt, np.full(k, fmt.xmax)) * sign() / 2
                     * (1 + rng.integers(-1, 2, size=k) / 2)),
    }
    if op in ("multiply", "divide", "fma"):
        inv = (lambda v: 1 / v) if op == "divide" else (lambda v: v)
        half = g(emin=mid - 2, emax=mid + 2)
        x_parts.update({
            "tie": ((np.abs(near_one) + half_ulp) * sign(), inv(np.ldexp(1.0, rng.integers(-4, 5, size=k)))),
            "near-tie": ((np.abs(near_one) + half_ulp + np.abs(nudge)) * sign(), inv(g(emin=0, emax=0))),
            "subnormal": (g(emin=fmt.emin // 2 - fmt.t, emax=fmt.emin // 2 + 1),
                          inv(g(emin=fmt.emin // 2 - fmt.t, emax=fmt.emin // 2 + 1))),
            "overflow": (g(emin=fmt.emax // 2, emax=fmt.emax // 2 + 1),
                         inv(g(emin=fmt.emax - fmt.emax // 2 - 1, emax=fmt.emax - fmt.emax // 2 + 1))),
            "gap": (half, inv(g(emin=fmt.emin - 1, emax=fmt.emax))),
        })
    firsts, seconds = zip(*x_parts.values())
    rest = max(n - sum(a.size for a in firsts) - specials.size ** 2, 0)
    x = np.concatenate(list(firsts) + [np.repeat(specials, specials.size), g(rest)])[:n]
    y = np.concatenate(list(seconds) + [np.tile(specials, specials.size), g(rest)])[:n]
    with np.errstate(over="ignore", invalid="ignore"):
        if op != "fma":
            return x, y
        # z: the negated product (cancellation; infinite where the product overflows binary64),
        # a tiny addend (sticky), a random value, or a special value
        p = x * y
        pick = rng.integers(0, 4, size=x.size)
        shift = -rng.integers(fmt.t, fmt.t + 60, size=x.size)
        tiny = np.abs(p) * np.ldexp(1.0, shift) * rng.choice([-1.0, 1.0], size=x.size)
        z = np.where(pick == 0, -p, np.where(pick == 1, tiny, grid_values(fmt, x.size, rng)))
        return x, y, np.where(pick == 3, rng.choice(specials, size=x.size), z)


# --------------------------------------------------------------------------- suite entries

def fits_float32(fmt) -> bool:
    """Whether every value of ``fmt`` is a float32 (so float32 operands are checked too)."""
    return fmt.t <= 24 and fmt.emax <= 127 and fmt.emin >= -126


def small_format(fmt, pairs: int, sr_pairs: int, fma_triples: int, rng: np.random.Generator,
                 seed: int) -> List[Check]:
    """A format of at most 8 bits: ``+ - * /`` on every pair of its values (or, with
    ``pairs`` > 0 and fewer than all, on ``pairs`` random pairs) and ``sqrt`` of every
    value (NaN, infinities and ``±0`` included), deterministic modes, subnormals on and
    off; ``fma`` on ``fma_triples`` random triples of values; the stochastic modes on
    ``sr_pairs`` random pairs (and values, and triples) per operation."""
    v = code_values(fmt)
    n = code_count(fmt)
    xs = all_pairs(v)
    if 0 < pairs < n * n:
        pick = np.sort(rng.choice(n * n, size=pairs, replace=False))
        xs, n_pairs = (xs[0][pick], xs[1][pick]), pairs
    else:
        n_pairs = n * n
    triples = tuple(rng.choice(v, size=fma_triples) for _ in range(3))
    out = []
    for op in ("add", "subtract", "multiply", "divide"):
        pick = rng.choice(n_pairs, size=min(sr_pairs, n_pairs), replace=False)
        out += exhaustive(fmt, op, xs, n_pairs)
        out += stochastic(fmt, op, (xs[0][pick], xs[1][pick]), min(sr_pairs, n_pairs), seed)
        for dtype in _grid_storages(fmt):  # float32 too: the LPTensor and float32 LPFloat path
            x32 = tuple(x.astype(dtype) for x in xs)
            out += grid_checks(fmt, op, x32, (x32[0][pick], x32[1][pick]), seed)
    out += exhaustive(fmt, "sqrt", (v,), n)
    out += stochastic(fmt, "sqrt", (v,), n, seed)
    for dtype in _grid_storages(fmt):
        out += grid_checks(fmt, "sqrt", (v.astype(dtype),), (v.astype(dtype),), seed)
    out += exhaustive(fmt, "fma", triples, fma_triples)
    out += stochastic(fmt, "fma", tuple(x[:sr_pairs] for x in triples), sr_pairs, seed)
    return out


def _grid_storages(fmt) -> Tuple[type, ...]:
    """The storage dtypes the emulated arrays' path is checked in."""
    return (np.float64, np.float32) if fits_float32(fmt) else (np.float64,)


def wide_format(fmt, n: int, rng: np.random.Generator, seed: int) -> List[Check]:
    """Any format: every operation on ``n`` operand tuples of :func:`hard_operands`, every
    mode against the mpmath oracle, float64 operands and (where the format fits) float32."""
    dtypes = (np.float64, np.float32) if fits_float32(fmt) else (np.float64,)
    out = []
    for dtype in dtypes:
        for op in LOWPREC:
            with np.errstate(over="ignore", under="ignore", invalid="ignore"):
                xs = tuple(x.astype(dtype) for x in hard_operands(fmt, op, n, rng))
            out += sampled(fmt, op, xs, n, seed)
            if op in GRID_OPS:  # the emulated arrays' path, on the tuples of format values
                out += grid_checks(fmt, op, xs, xs, seed, family=f"op-{SHORT[op]}-hard-grid", sample=True)
    return out


def grid_checks(fmt, op: str, xs, sr_xs, seed: int, family=None, sample: bool = False) -> List[Check]:
    """:func:`grid_result` (the emulated arrays' path) on the operand tuples whose operands
    are all values of the format, with subnormals on and off: against the table oracle
    (deterministic modes) and the mpmath oracle with the call's bits (stochastic), or all
    modes against mpmath (``sample``)."""
    family = family or f"op-{SHORT[op]}-grid"
    out = []
    for sub in (True, False):
        keep = grid_mask(fmt, xs, sub)
        kept = tuple(np.ascontiguousarray(x[keep]) for x in xs)
        if sample:
            out += sampled(fmt, op, kept, int(keep.sum()), seed, subnormals=(sub,), family=family,
                           impl=grid_result)
            continue
        sr_keep = grid_mask(fmt, sr_xs, sub)
        out += exhaustive(fmt, op, kept, int(keep.sum()), subnormals=(sub,), family=family, impl=grid_result)
        out += stochastic(fmt, op, tuple(np.ascontiguousarray(x[sr_keep]) for x in sr_xs), int(sr_keep.sum()),
                          seed, subnormals=(sub,), family=f"{family}-sr", impl=grid_result)
    return out


