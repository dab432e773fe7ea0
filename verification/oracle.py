"""Two oracles for rounding into a float format, written independently of lowprec's rounding.

* :func:`round_oracle` rounds one exact real number (an mpmath ``mpf``, a ``Fraction``,
  an ``int`` or a Python ``float``) with mpmath: the two neighbours are mpmath's
  floor/ceiling roundings at precision ``t`` (or the fixed subnormal grid below
  ``xmin``), and the mode chooses between them by exact comparison of distances. It is
  slow and is used on samples.
* :func:`round_by_table` rounds a float64 array into a format of at most 16 bits by
  looking its neighbours up (``np.searchsorted``) in the sorted list of every value of
  the format, as decoded code by code. Midpoints of adjacent values are exact in
  float64, so every decision is an exact float64 comparison. It is vectorized and
  makes exhaustive sweeps cheap.

Both take the format's *description* (``t``, ``emin``, ``xmax``, overflow policy, ...)
from the :class:`~lowprec.FloatFormat` object, never lowprec's rounding code.

Mode numbers: 1 nearest_even, 2 up, 3 down, 4 toward_zero, 5 stochastic,
6 stochastic_uniform, 7 nearest_zero, 8 nearest_away, 9 odd.

Parity (ties to even, round to odd). Two neighbours ``lo < hi`` are consecutive
multiples of their gap, so exactly one of them is an odd multiple: that one has last
significand bit 1. Without subnormals, ``0`` and ``xmin`` are one step apart, so a tie
between them goes to 0. Precision ``t = 1`` is the exception for ties to even: every
significand is then 1 and the encodings differ only in the exponent field, so the tie
goes to the neighbour with the even *encoding* (even biased exponent; 0 is even), as
gfloat (Graphcore's reference implementation of the P3109 formats) does. Round to odd
keeps the significand rule (for ``t = 1``: truncate).
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple, Union

import mpmath
import numpy as np
from mpmath import libmp

NEAREST_EVEN, UP, DOWN, TOWARD_ZERO, STOCHASTIC, STOCHASTIC_UNIFORM, NEAREST_ZERO, NEAREST_AWAY, ODD = (
    range(1, 10)
)
#: The modes that need no random bits.
DETERMINISTIC = (NEAREST_EVEN, UP, DOWN, TOWARD_ZERO, NEAREST_ZERO, NEAREST_AWAY, ODD)
#: Short names, for tables.
MODE_LABELS = {1: "rne", 2: "ru", 3: "rd", 4: "rz", 5: "sr", 6: "sru", 7: "rnz", 8: "rna", 9: "ro"}
#: Width of the random integer of one stochastic rounding (see :func:`round_oracle`).
RANDOM_BITS = 62

#: (emin, emax, precision) of the storage types, used when ``explim=False``.
STORAGE_RANGE = {"float64": (-1022, 1023, 53), "float32": (-126, 127, 24)}

Real = Union[int, float, Fraction, mpmath.mpf]


class Target(NamedTuple):
    """The effective range of one rounding: a format seen through the options."""

    t: int
    bias: int  #: exponent bias of the encoding (parity of ties at t = 1)
    emin: int
    subnormal: bool
    xmax: Fraction
    overflow: float  #: what an outward overflow gives: inf, nan or xmax
    infinity: float  #: what an infinite input gives
    negzero: bool
    signed: bool


def target(fmt, subnormal=None, explim=True, storage="float64") -> Target:
    """Derive the :class:`Target` of rounding into ``fmt`` with the given options.

    ``explim=False`` keeps the precision only: the values are the numbers of ``t``
    significant bits that the storage type holds (infinities and a signed zero too).
    Below the storage's normal range that is every multiple of its smallest subnormal
    up to ``t`` bits, i.e. a grid whose "subnormal" step is the storage's smallest
    subnormal. The largest value is the largest ``t``-bit storage value.
    """
    if not explim:
        emin, emax, p = STORAGE_RANGE[storage]
        big = Fraction(2**fmt.t - 1) * Fraction(2) ** (emax - fmt.t + 1)
        # the step 2**(emin_eff - t + 1) is the storage's smallest subnormal 2**(emin - p + 1)
        return Target(fmt.t, fmt.bias, emin - p + fmt.t, True, big, math.inf, math.inf, True, True)
    sub = fmt.subnormal if subnormal is None else bool(subnormal)
    xmax = Fraction(fmt.xmax)
    overflow = {"inf": math.inf, "nan": math.nan, "saturate": float(xmax)}[fmt.overflow]
    infinity = math.inf if (fmt.infs and fmt.overflow != "saturate") else overflow
    return Target(fmt.t, fmt.bias, fmt.emin, sub, xmax, overflow, infinity, fmt.negzero, fmt.signed)


def exact(x: Real) -> Union[Fraction, float]:
    """``x`` as an exact ``Fraction``; NaN, infinities and zeros stay floats (signed)."""
    if isinstance(x, mpmath.mpf):
        if not mpmath.isfinite(x):
            return float(x)
        man, exp = x.man_exp
        return Fraction(man) * Fraction(2) ** exp
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if (x == 0 or not math.isfinite(x)) else Fraction(x)
    if isinstance(x, (bool, np.bool_)):
        raise TypeError("a bool is not a number to round.")
    return Fraction(x)


def _directed(a: Fraction, t: int, rnd: str) -> Fraction:
    """mpmath's rounding of ``a > 0`` to ``t`` bits, unbounded exponent ('f' floor, 'c' ceiling)."""
    sign, man, exp, _ = libmp.from_rational(a.numerator, a.denominator, t, rnd)
    return Fraction(man) * Fraction(2) ** exp


def neighbours(a: Fraction, r: Target) -> tuple:
    """The format values ``lo <= a <= hi`` next to ``a > 0`` (exponent unbounded above).

    Below ``xmin`` the values are the multiples of the smallest subnormal (or, without
    subnormals, of ``xmin``: just 0 and ``xmin``), so the neighbours are found on that
    grid; above, they are the precision-``t`` roundings toward -inf and +inf.
    """
    xmin = Fraction(2) ** r.emin
    if a >= xmin:
        return _directed(a, r.t, "f"), _directed(a, r.t, "c")
    step = Fraction(2) ** (r.emin - r.t + 1) if r.subnormal else xmin
    return math.floor(a / step) * step, math.ceil(a / step) * step


def _outward(mode: int, negative: bool) -> bool:
    """Whether ``mode`` rounds away from zero at an overflow (IEEE 754 rule)."""
    if mode == UP:
        return not negative
    if mode == DOWN:
        return negative
    return mode not in (TOWARD_ZERO, ODD)


def _encoding_odd(m: Fraction, bias: int) -> bool:
    """For t = 1: whether the encoding of the magnitude ``m = 2**e`` (or 0) is odd."""
    return m != 0 and (m.numerator.bit_length() - m.denominator.bit_length() + bias) % 2 == 1


def _choose(mode: int, a: Fraction, lo: Fraction, hi: Fraction, negative: bool, rbits: int,
            r: Target) -> Fraction:
    """Pick the magnitude ``lo`` or ``hi`` for ``|x| = a`` strictly between them."""
    gap = hi - lo
    lo_odd = (lo / gap) % 2 == 1  # lo and hi are consecutive multiples of the gap
    if mode in (NEAREST_EVEN, NEAREST_ZERO, NEAREST_AWAY):
        if a - lo != hi - a:
            return lo if a - lo < hi - a else hi
        even_lo = not (_encoding_odd(lo, r.bias) if r.t == 1 else lo_odd)
        return {NEAREST_EVEN: lo if even_lo else hi, NEAREST_ZERO: lo, NEAREST_AWAY: hi}[mode]
    if mode == UP:
        return lo if negative else hi
    if mode == DOWN:
        return hi if negative else lo
    if mode == TOWARD_ZERO:
        return lo
    if mode == ODD:
        return lo if lo_odd else hi
    if mode == STOCHASTIC:
        return hi if rbits < math.floor((a - lo) / gap * 2**RANDOM_BITS) else lo
    if mode == STOCHASTIC_UNIFORM:
        return hi if (rbits >> (RANDOM_BITS - 1)) & 1 else lo
    raise ValueError(f"unknown rounding mode {mode!r}")


def _unsigned_negative(r: Target) -> float:
    return 0.0 if r.overflow == float(r.xmax) else math.nan


def round_oracle(x: Real, fmt, mode: int, *, subnormal=None, explim: bool = True,
                 storage: str = "float64", rbits: int = 0) -> float:
    """Round the exact value ``x`` into ``fmt`` with mpmath; the result as a float.

    Parameters
    ----------
    x : mpmath.mpf, Fraction, int or float
        The exact value to round (floats may be ±0, ±inf or NaN).
    fmt : lowprec.FloatFormat
    mode : int
        Rounding mode 1-9.
    subnormal : bool, optional
        Override the format's subnormal flag.
    explim : bool, default True
        ``False``: precision ``t`` with the exponent range of ``storage``.
    storage : {"float64", "float32"}
        The storage type (matters only for ``explim=False``).
    rbits : int, default 0
        For stochastic modes, a random integer in ``[0, 2**62)``: mode 5 moves away
        from zero iff ``rbits < floor(frac * 2**62)`` with ``frac`` the exact distance
        of ``|x|`` from the lower magnitude in units of the gap; mode 6 iff bit 61 is set.

    Returns
    -------
    float
        The rounded value; a negative value rounding to zero gives ``-0.0`` when the
        format has a negative zero.
    """
    r = target(fmt, subnormal, explim, storage)
    v = exact(x)
    if isinstance(v, float):  # NaN, infinities, zeros
        if math.isnan(v):
            return math.nan
        if v == 0:
            return v if (r.negzero and r.signed) else 0.0
        if v < 0 and not r.signed:
            return _unsigned_negative(r)
        return math.copysign(r.infinity, v)
    if v == 0:
        return 0.0
    negative = v < 0
    a = -v if negative else v
    lo, hi = neighbours(a, r)
    mag = lo if lo == hi else _choose(mode, a, lo, hi, negative, rbits, r)
    if mag == 0:
        return -0.0 if (negative and r.negzero and r.signed) else 0.0
    if negative and not r.signed:
        return _unsigned_negative(r)
    if mag > r.xmax:
        value = r.overflow if _outward(mode, negative) else float(r.xmax)
    else:
        value = float(mag)
    return -value if negative else value


def down_up(x: Real, fmt, **options) -> tuple:
    """The results of rounding ``x`` toward -inf and toward +inf (overflow rule included)."""
    return round_oracle(x, fmt, DOWN, **options), round_oracle(x, fmt, UP, **options)


def stochastic_fraction(x: Real, fmt, *, subnormal=None, explim=True, storage="float64") -> Fraction:
    """Exact probability that stochastic rounding (mode 5) moves finite ``x`` away from zero."""
    v = exact(x)
    if isinstance(v, float) or v == 0:
        return Fraction(0)
    a = abs(v)
    lo, hi = neighbours(a, target(fmt, subnormal, explim, storage))
    return Fraction(0) if lo == hi else (a - lo) / (hi - lo)


# --------------------------------------------------------------------------- table oracle

@lru_cache(maxsize=None)
def format_values(fmt) -> np.ndarray:
    """Every finite value of ``fmt`` (at most 16 bits), decoded code by code.

    Sorted and unique, with a single zero (``+0``); read-only.
    """
    if fmt.bits > 16:
        raise ValueError(f"format_values enumerates formats of at most 16 bits, {fmt.label} has {fmt.bits}.")
    decoded = np.array([fmt.decode(code) for code in range(2**fmt.bits)], dtype=np.float64)
    values = np.unique(decoded[np.isfinite(decoded)] + 0.0)  # + 0.0 turns -0 into +0
    values.flags.writeable = False
    return values


@lru_cache(maxsize=None)
def table_grid(fmt, subnormal: bool) -> np.ndarray:
    """The signed grid of :func:`round_by_table`: ``±`` every magnitude, subnormals dropped
    when ``subnormal`` is False, plus ``±`` the sentinel ``xmax + ulp(xmax)``, the value the
    format would have next if its exponent were unbounded."""
    mags = np.abs(format_values(fmt))
    if not subnormal:
        mags = mags[(mags == 0) | (mags >= fmt.xmin)]
    mags = np.unique(mags)
    xmax = mags[-1]
    sentinel = xmax + np.ldexp(1.0, math.frexp(xmax)[1] - 1 - fmt.sig_bits)
    grid = np.concatenate([-mags[:0:-1], mags, [sentinel]])
    grid = np.concatenate([[-sentinel], grid])
    grid.flags.writeable = False
    return grid


def round_by_table(x, fmt, mode: int, subnormal=None) -> np.ndarray:
    """Round the float64 array ``x`` into ``fmt`` (at most 16 bits) by table look-up.

    Deterministic modes only. Neighbours come from :func:`table_grid`; a result at the
    sentinel or beyond ``xmax`` follows the overflow rule.
    """
    if mode not in DETERMINISTIC:
        raise ValueError(f"round_by_table takes a deterministic mode, got {mode!r}")
    r = target(fmt, subnormal)
    grid = table_grid(fmt, r.subnormal)
    x = np.asarray(x, dtype=np.float64)
    nan, inf = np.isnan(x), np.isinf(x)
    top = grid[-1]
    xc = np.clip(np.where(nan, 0.0, x), -top, top)
    i = np.clip(np.searchsorted(grid, xc, side="right") - 1, 0, grid.size - 2)
    lo, hi = grid[i], grid[i + 1]
    gap = hi - lo
    mid = lo + 0.5 * gap
    lo_odd = np.fmod(lo / gap, 2.0) != 0.0
    positive = xc > 0
    if r.t == 1:  # ties to the even encoding: parity of the biased exponent (0 is even)
        even_hi = (lo != 0) & ((np.frexp(lo)[1] - 1 + r.bias) % 2 == 1)  # lo's encoding odd
    else:
        even_hi = lo_odd
    tie_hi = {NEAREST_EVEN: even_hi, NEAREST_ZERO: ~positive, NEAREST_AWAY: positive}
    if mode in tie_hi:
        pick_hi = (xc > mid) | ((xc == mid) & tie_hi[mode])
    else:
        pick_hi = {UP: np.ones_like(positive), DOWN: np.zeros_like(positive),
                   TOWARD_ZERO: ~positive, ODD: ~lo_odd}[mode]
    y = np.where(xc == lo, lo, np.where(xc == hi, hi, np.where(pick_hi, hi, lo)))
    outward = {UP: y > 0, DOWN: y < 0}.get(mode, np.full(y.shape, mode not in (TOWARD_ZERO, ODD)))
    xmax = float(r.xmax)
    y = np.where(np.abs(y) > xmax, np.copysign(np.where(outward, r.overflow, xmax), y), y)
    negative = np.signbit(x)
    y = np.where(y == 0, np.where(negative & r.negzero & r.signed, -0.0, 0.0), y)
    y = np.where(inf, np.copysign(r.infinity, x), y)
    if not r.signed:
        y = np.where((y < 0) | (inf & negative), _unsigned_negative(r), y)
    return np.where(nan, np.nan, y)
