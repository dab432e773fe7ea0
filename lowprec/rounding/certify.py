"""When a float result already fixes the rounding of the exact one: interval certificates.

A sum or dot product of ``k`` terms computed in a binary floating-point storage of unit
roundoff ``u``, *in any order* (blocked BLAS, pairwise, FMA or not), is within

    err = gamma_k * sum |terms| + (k + 1) * eta,     gamma_k = k u / (1 - k u)

of the exact value, ``eta`` bounding what underflow (or a flush to zero, as XLA does on
CPU) can lose per operation. Every rounding mode is monotone in the value (the
stochastic ones too, for a fixed random word: "up iff the word is below the residual"),
so when both ends of ``[c - err, c + err]`` round to the same format value, that value is
the rounding of the exact result, whatever it is inside. The interval is also required
to stay at or beyond the format's smallest normal on one side of zero: its ends then
round to normal format values, and neither signed zeros nor flushed subnormals can enter
(where subnormals are kept, NumPy and torch on CPU, the interval need only exclude zero).
Everything else (intervals astride a rounding boundary, zero, special values) is left to
an exact accumulator.

The functions take the array namespace ``xp`` (``numpy``, ``torch``, ``jax.numpy``) and
use only what the three spell alike. All the float arithmetic here rounds *outward* by
generous factors: a bound a few ulps larger costs nothing, a smaller one would be wrong.
"""

from __future__ import annotations

from typing import Any, Callable, Tuple

#: Unit roundoff and a per-operation underflow bound, by storage width in bits. ``eta``
#: is the smallest normal: XLA on CPU flushes subnormal results, so a product or a partial
#: sum may lose up to that much (NumPy and torch lose less, and are covered too).
STORAGE = {64: (2.0 ** -53, 2.0 ** -1022), 32: (2.0 ** -24, 2.0 ** -126)}


def worth_trying(t: int, k: int, width: int = 64) -> bool:
    """Whether the certificate can succeed often: the storage keeps at least 12 bits
    more than the format's ``t`` beyond the ``log2(k)`` that the error bound grows by."""
    bits = 53 if width == 64 else 24
    return t + max(k, 1).bit_length() + 12 <= bits


def _gamma(k: int, width: int) -> float:
    u, _ = STORAGE[width]
    g = (k + 4) * u
    if g >= 0.5:
        return float("inf")
    return 1.01 * g / (1 - g)


def constants(k: int, width: int) -> Tuple[float, float]:
    """``(g, eta_k)`` of the bound ``|c - exact| <= g * (magnitude * (1 + 2 g) + |c|) + eta_k``
    for ``k`` terms in storage of ``width`` bits (:func:`error_bound`; the term ``g |c|``
    also covers the rounding of ``c -+ err`` themselves)."""
    _, eta = STORAGE[width]
    return _gamma(k, width), 2 * (k + 1) * eta


def error_bound(c, magnitude, k: int, width: int, xp) -> Any:
    """An upper bound on ``|c - exact|`` for a sum of ``k`` terms with ``sum |terms| <=
    magnitude * (1 + 2 gamma)`` (``magnitude`` itself computed in floats), ``c`` the
    computed sum, all in storage of ``width`` bits."""
    g, eta_k = constants(k, width)
    return g * (magnitude * (1 + 2 * g) + xp.abs(c)) + eta_k


def floor_of(emin: int, width: int, gradual: bool = False) -> float:
    """The least magnitude both ends of a certified interval keep (beside being nonzero):
    the format's smallest normal, at least the storage's; 0 with ``gradual`` (a format with
    subnormals in a storage that keeps its own subnormals: NumPy, torch on CPU)."""
    return 0.0 if gradual else max(2.0 ** emin, STORAGE[width][1])


def norm_bound(sum_squares, k: int, width: int, xp) -> Any:
    """An upper bound on ``sqrt(sum x**2)`` from its float sum over ``k`` terms (squares
    that underflow or flush lose at most ``eta`` each). Infinite or NaN where the squares
    overflow or the values are not finite: nothing is certified there."""
    g = _gamma(k, width)
    _, eta = STORAGE[width]
    return xp.sqrt((sum_squares + (k + 1) * eta) * (1 + 2 * g)) * (1 + 2 * g)


def dot_magnitude(row_norms, col_norms, k: int, width: int) -> Any:
    """``sum_l |a_il b_lj| <= |a_i| |b_j|`` (Cauchy-Schwarz) for every entry, from
    :func:`norm_bound` of the rows of ``a`` and the columns of ``b``."""
    g = _gamma(k, width)
    return (row_norms[:, None] * (1 + 2 * g)) * col_norms[None, :]


def certified(c, err, round_fn: Callable[[Any], Any], emin: int, width: int, xp,
              gradual: bool = False) -> Tuple[Any, Any]:
    """``(rounded, ok)``: where ``ok``, ``rounded`` is the format rounding of every value
    within ``err`` of ``c``, hence of the exact result. ``round_fn`` rounds an array like
    ``c`` into the format (with the same random word per element for both ends)."""
    lo = c - err
    hi = c + err
    r_lo = round_fn(lo)
    r_hi = round_fn(hi)
    floor = floor_of(emin, width, gradual)
    # NaN fails every comparison; an infinite c or err leaves an end non-finite
    ok = ((r_lo == r_hi) & (((lo >= floor) & (lo > 0)) | ((hi <= -floor) & (hi < 0)))
          & xp.isfinite(lo) & xp.isfinite(hi))
    return r_lo, ok
