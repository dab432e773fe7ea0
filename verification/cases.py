"""Families of test inputs, each with the number of cases its definition gives.

Every generator returns a :class:`Cases`: the inputs (float64, or float32 where asked)
and ``expected``, the count derived from the family's definition alone (from the
format's field widths, not from the array built), so that a family that silently
shrinks is caught by the suite.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .oracle import table_grid


class Cases(NamedTuple):
    """Inputs of one case family."""

    name: str
    x: np.ndarray
    expected: int


def _either_side(x: np.ndarray) -> np.ndarray:
    """The values just below and just above each element, in ``x``'s own dtype."""
    with np.errstate(over="ignore"):
        return np.concatenate([np.nextafter(x, -np.inf), np.nextafter(x, np.inf)])


def finite_count(fmt) -> int:
    """Number of distinct finite values of ``fmt`` (one zero), from its field widths."""
    per_sign = 2 ** (fmt.exp_bits + fmt.sig_bits) - fmt.high_nans - int(fmt.infs)
    return 2 * per_sign - 1 if fmt.signed else per_sign


def _fp16_values() -> np.ndarray:
    v = np.arange(2**16, dtype=np.uint16).view(np.float16).astype(np.float64)
    return np.unique(v[np.isfinite(v)] + 0.0)


def fp16_bits() -> Cases:
    """Every binary16 bit pattern (NaNs, infinities, ±0 and subnormals included)."""
    return Cases("fp16-bits", np.arange(2**16, dtype=np.uint16).view(np.float16).astype(np.float64), 2**16)


def fp16_near(dtype=np.float64) -> Cases:
    """Every midpoint of adjacent finite binary16 values, and the ``dtype`` values just
    either side of each midpoint and of each binary16 value."""
    v = _fp16_values().astype(dtype)
    mid = v[:-1] + (v[1:] - v[:-1]) / 2
    n = 2 * (31 * 2**10) - 1
    x = np.concatenate([mid, _either_side(mid), _either_side(v)])
    name = "fp16-near" if np.dtype(dtype) == np.float64 else "fp16-near-f32"
    return Cases(name, x, 3 * (n - 1) + 2 * n)


def format_points(fmt) -> Cases:
    """For a format of at most 16 bits: every value, ``±(xmax + ulp)`` (the first value
    past the range), every midpoint of adjacent ones, and the float64 values just
    either side of all of these."""
    g = table_grid(fmt, True)
    mid = g[:-1] + (g[1:] - g[:-1]) / 2
    pts = np.concatenate([g, mid])
    grid_size = finite_count(fmt) + 2 if fmt.signed else 2 * finite_count(fmt) + 1
    return Cases("fmt-points", np.concatenate([pts, _either_side(pts)]), 3 * (2 * grid_size - 1))


def format_sample(fmt, n: int, rng: np.random.Generator, dtype=np.float64) -> Cases:
    """For any format: ``n`` random values (random codes), the midpoint of each with the
    next value up, and the ``dtype`` values just either side of each midpoint; random signs."""
    top = 2 ** (fmt.exp_bits + fmt.sig_bits) - fmt.high_nans - int(fmt.infs) - 1
    codes = rng.integers(0, top, size=n)  # top excluded: the next value up must exist
    lo = np.array([fmt.decode(int(c)) for c in codes])
    hi = np.array([fmt.decode(int(c) + 1) for c in codes])
    mid = (lo + (hi - lo) / 2).astype(dtype)
    x = np.concatenate([lo.astype(dtype), mid, _either_side(mid)])
    sign = rng.choice(np.array([-1.0, 1.0], dtype=dtype), size=x.size)
    return Cases("fmt-sample", x * sign, 4 * n)


def boundary_points(t: int, emin: int, xmax: float, dtype=np.float64) -> np.ndarray:
    """Points at the edges of a range: around 0, the smallest subnormal, ``xmin`` and
    ``xmax`` of a precision-``t`` format, and at the ends of the storage type."""
    xmins = math.ldexp(1.0, emin - t + 1)
    xmin = math.ldexp(1.0, emin)
    ulp = math.ldexp(1.0, math.frexp(xmax)[1] - t)
    info = np.finfo(dtype)
    base = [
        xmins / 4, xmins / 2, 0.75 * xmins, xmins, 1.5 * xmins, 2 * xmins, 2.5 * xmins,
        xmin / 4, xmin / 2, 0.75 * xmin, xmin - xmins, xmin - xmins / 2, xmin, xmin + xmins / 2,
        xmax - ulp, xmax - ulp / 2, xmax, xmax + ulp / 4, xmax + ulp / 2, xmax + ulp, xmax + 1.5 * ulp,
        2 * xmax, float(info.smallest_subnormal), float(info.tiny), float(info.max), 1.0,
    ]
    with np.errstate(over="ignore", under="ignore"):
        b = np.array(base, dtype=np.float64).astype(dtype)
    b = np.concatenate([b, _either_side(b)])
    return np.concatenate([b, -b, np.array([0.0, -0.0, np.inf, -np.inf, np.nan], dtype=dtype)])


#: Number of points :func:`boundary_points` gives.
BOUNDARY_COUNT = 2 * 3 * 26 + 5


def boundaries(fmt, dtype=np.float64) -> Cases:
    """Overflow and underflow boundaries of ``fmt`` (and of the storage), both signs."""
    return Cases("boundaries", boundary_points(fmt.t, fmt.emin, fmt.xmax, dtype), BOUNDARY_COUNT)


def storage_boundaries(fmt, dtype=np.float64) -> Cases:
    """Boundaries of precision ``fmt.t`` in the storage's range (``explim=False``): where
    storage subnormals start to have fewer than ``t`` bits, the storage's own ends, and the
    largest ``t``-bit storage value."""
    info = np.finfo(dtype)
    xmax = math.ldexp(1.0 - 2.0**-fmt.t, int(info.maxexp))  # largest precision-t storage value
    emin = int(info.minexp) - int(info.nmant) - 1 + fmt.t
    return Cases("storage-bounds", boundary_points(fmt.t, emin, xmax, dtype), BOUNDARY_COUNT)


def random_bits(n: int, rng: np.random.Generator, dtype=np.float64) -> Cases:
    """``n`` uniformly random bit patterns of ``dtype``: every exponent, NaN and inf included."""
    ints = {np.dtype(np.float64): np.uint64, np.dtype(np.float32): np.uint32}[np.dtype(dtype)]
    raw = rng.integers(0, np.iinfo(ints).max, size=n, dtype=ints, endpoint=True)
    return Cases("random-bits", raw.view(dtype), n)


def random_range(fmt, n: int, rng: np.random.Generator, dtype=np.float64) -> Cases:
    """``n`` random values with full ``dtype`` significands and exponents log-uniform over
    the format's range, from well below its smallest subnormal to just past ``xmax``."""
    info = np.finfo(dtype)
    lo = max(fmt.emin - fmt.t - 3, int(info.minexp) - int(info.nmant))
    hi = min(int(math.log2(fmt.xmax)) + 2, int(info.maxexp) - 1)
    e = rng.integers(lo, hi, size=n, endpoint=True)
    sig = rng.integers(2**52, 2**53, size=n) * 2.0**-52
    sign = rng.choice([-1.0, 1.0], size=n)
    with np.errstate(over="ignore", under="ignore"):
        x = (sign * np.ldexp(sig, e)).astype(dtype)
    return Cases("random-range", x, n)


def fp16_families() -> list:
    """The fp16-derived families of the exhaustive sweep."""
    return [fp16_bits(), fp16_near()]


def take(cases: Cases, n: int, rng: np.random.Generator) -> Cases:
    """A random sample of ``n`` cases (all of them if fewer), without replacement."""
    if n >= cases.x.size:
        return cases
    idx = rng.choice(cases.x.size, size=n, replace=False)
    return Cases(cases.name, cases.x[np.sort(idx)], n)


__all__ = [
    "BOUNDARY_COUNT", "Cases", "boundaries", "boundary_points", "finite_count", "format_points",
    "format_sample", "fp16_bits", "fp16_families", "fp16_near", "random_bits",
    "random_range", "storage_boundaries", "take",
]
