"""The specification of rounding: a readable scalar implementation in exact arithmetic.

Slow by design. The numba kernels (and later the torch and JAX backends) must give
bit-identical results; the tests and ``python -m verification`` check that, and check
this module against an independent mpmath oracle.

Stochastic modes take their randomness as an explicit integer ``rbits`` of
:data:`RANDOM_BITS` uniform bits, so that every implementation can be compared on
the same draw:

* ``STOCHASTIC`` rounds up when ``rbits < floor(frac * 2**RANDOM_BITS)``, where
  ``frac`` in [0, 1) is the exact distance from the lower neighbour in units of the
  gap. The probability of rounding up is therefore exactly ``frac`` whenever
  ``frac`` has at most 62 significant bits (always the case unless the value lies
  far below the smallest subnormal), and within ``2**-62`` of it otherwise.
* ``STOCHASTIC_UNIFORM`` rounds an inexact value up when the top bit of ``rbits``
  is set.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Union

from .modes import RoundingMode, rounding_mode
from .params import RoundingParams

#: Width of the random integer that drives one stochastic rounding.
RANDOM_BITS = 62

Real = Union[int, float, Fraction]


def floor_log2(a: Fraction) -> int:
    """Exact ``floor(log2(a))`` of a positive rational."""
    e = a.numerator.bit_length() - a.denominator.bit_length()
    # 2**e <= a < 2**(e+1) may be off by one from the bit-length estimate.
    if Fraction(2) ** e > a:
        e -= 1
    elif Fraction(2) ** (e + 1) <= a:
        e += 1
    return e


def quantum_exponent(e: int, p: RoundingParams) -> int:
    """Exponent of the gap between format values next to a value with exponent ``e``.

    Without subnormals the gap below ``xmin`` is ``xmin`` itself: the only values
    there are 0 and ``xmin``.
    """
    if e >= p.emin:
        return e - (p.t - 1)
    return p.emin - (p.t - 1) if p.subnormal else p.emin


def lower_is_odd(kept: int, q: int, p: RoundingParams) -> bool:
    """Whether the lower neighbour ``kept * 2**q`` has an odd encoding (the tie rule of
    round-to-nearest-even).

    For ``t >= 2`` that is the last significand bit. With ``t = 1`` the only
    significand bit is the hidden 1, and the encoding's last bit is the exponent's
    (P3109 precision-1 formats tie to the even encoding): the biased exponent
    ``q + bias`` with ``bias = 1 - emin``. Round-to-odd keeps the significand's last
    bit (for ``t = 1`` the hidden 1, so it truncates there).
    """
    if p.t > 1:
        return kept % 2 == 1
    return kept == 1 and (q + 1 - p.emin) % 2 == 1


def round_up(mode: RoundingMode, kept: int, odd: bool, frac: Fraction, negative: bool, rbits: int) -> bool:
    """Whether the magnitude moves from ``kept`` gaps to ``kept + 1`` gaps.

    ``frac`` is the exact fractional part in [0, 1): how far the magnitude lies
    beyond ``kept`` gaps; ``odd`` is :func:`lower_is_odd`.
    """
    if frac == 0:
        return False
    half = Fraction(1, 2)
    if mode == RoundingMode.NEAREST_EVEN:
        return frac > half or (frac == half and odd)
    if mode == RoundingMode.NEAREST_AWAY:
        return frac >= half
    if mode == RoundingMode.NEAREST_ZERO:
        return frac > half
    if mode == RoundingMode.TOWARD_ZERO:
        return False
    if mode == RoundingMode.UP:
        return not negative
    if mode == RoundingMode.DOWN:
        return negative
    if mode == RoundingMode.ODD:
        return kept % 2 == 0
    if mode == RoundingMode.STOCHASTIC:
        return rbits < math.floor(frac * 2**RANDOM_BITS)
    if mode == RoundingMode.STOCHASTIC_UNIFORM:
        return (rbits >> (RANDOM_BITS - 1)) & 1 == 1
    raise AssertionError(mode)


def overflows_outward(mode: RoundingMode, negative: bool) -> bool:
    """IEEE 754: nearest and stochastic modes, and a directed mode pointing away from
    zero, overflow to the overflow value; the others stop at ``xmax``."""
    if mode == RoundingMode.UP:
        return not negative
    if mode == RoundingMode.DOWN:
        return negative
    return mode not in (RoundingMode.TOWARD_ZERO, RoundingMode.ODD)


def round_value(x: Real, p: RoundingParams, mode, rbits: int = 0) -> float:
    """Round one real number into the format described by ``p``.

    Parameters
    ----------
    x : int, float or Fraction
        The exact value. A float may be ``±0``, ``±inf`` or NaN; a rational zero is ``+0``.
    p : RoundingParams
        From :func:`lowprec.rounding.params.rounding_params`.
    mode : int, str or RoundingMode
    rbits : int
        ``RANDOM_BITS`` uniform random bits, used by the stochastic modes only.

    Returns
    -------
    float
        The rounded value (exactly representable in binary64).
    """
    mode = rounding_mode(mode)
    if isinstance(x, float):
        if math.isnan(x):
            return x
        if math.isinf(x):
            value = p.inf_value
            return _unsigned_negative(p) if (x < 0 and not p.signed) else math.copysign(value, x)
        if x == 0:
            return x if (p.negzero and p.signed) else 0.0
    x = Fraction(x)
    if x == 0:
        return 0.0
    negative = x < 0
    a = -x if negative else x
    q = quantum_exponent(floor_log2(a), p)
    scaled = a / Fraction(2) ** q
    kept = math.floor(scaled)
    k = kept + round_up(mode, kept, lower_is_odd(kept, q, p), scaled - kept, negative, rbits)
    magnitude = Fraction(k) * Fraction(2) ** q
    if magnitude > Fraction(p.xmax):
        value = p.overflow_value if overflows_outward(mode, negative) else p.xmax
    else:
        value = float(magnitude)
    if k == 0:
        return -0.0 if (negative and p.negzero and p.signed) else 0.0
    if negative and not p.signed:
        return _unsigned_negative(p)
    return -value if negative else value


def _unsigned_negative(p: RoundingParams) -> float:
    """A nonzero negative result in an unsigned format: NaN, or 0 when saturating."""
    return 0.0 if p.overflow_value == p.xmax else math.nan
