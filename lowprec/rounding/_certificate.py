"""The numba side of :mod:`lowprec.rounding.certify` for NumPy: binary64 sums with their
sums of magnitudes in one pass, and the certificate checked against the rounded result's
cell (the values that round to it) without temporaries."""

from __future__ import annotations

import numba as nb
import numpy as np

from ._kernels import _JIT, bits_f64, f64_bits
from .modes import RoundingMode


@nb.njit(parallel=True, **_JIT)
def sums_magnitudes(x, chunk, out, mag):
    """``out[i, c]`` = the binary64 sum of ``x[i, c*chunk:(c+1)*chunk]`` and ``mag[i, c]``
    the sum of its magnitudes, each in four independent chains (the order does not matter
    to the certificate, and four chains hide the latency of one)."""
    n, k = x.shape
    pieces = out.shape[1]
    for blk in nb.prange(n * pieces):
        i = blk // pieces
        j0 = (blk % pieces) * chunk
        j1 = min(k, j0 + chunk)
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        j = j0
        while j + 4 <= j1:
            v0 = np.float64(x[i, j])
            v1 = np.float64(x[i, j + 1])
            v2 = np.float64(x[i, j + 2])
            v3 = np.float64(x[i, j + 3])
            s0 += v0
            s1 += v1
            s2 += v2
            s3 += v3
            a0 += abs(v0)
            a1 += abs(v1)
            a2 += abs(v2)
            a3 += abs(v3)
            j += 4
        while j < j1:
            v0 = np.float64(x[i, j])
            s0 += v0
            a0 += abs(v0)
            j += 1
        out[i, blk % pieces] = (s0 + s1) + (s2 + s3)
        mag[i, blk % pieces] = (a0 + a1) + (a2 + a3)


#: Per deterministic mode, the cell of a rounded magnitude ``r`` (the magnitudes that round
#: to it) as ``(r - lo * below, r + hi * above)`` for positive values, then for negative
#: ones (``below``/``above``: the spacings next to ``r``), and whether ``r`` must have an odd
#: last bit (round to odd: an even ``r`` is hit only by itself). Ends are taken as open:
#: an interval touching one is left to the exact path.
CELLS = {
    RoundingMode.NEAREST_EVEN: (0.5, 0.5, 0.5, 0.5, 0.0),
    RoundingMode.NEAREST_ZERO: (0.5, 0.5, 0.5, 0.5, 0.0),
    RoundingMode.NEAREST_AWAY: (0.5, 0.5, 0.5, 0.5, 0.0),
    RoundingMode.TOWARD_ZERO: (0.0, 1.0, 0.0, 1.0, 0.0),
    RoundingMode.UP: (1.0, 0.0, 0.0, 1.0, 0.0),
    RoundingMode.DOWN: (0.0, 1.0, 1.0, 0.0, 0.0),
    RoundingMode.ODD: (1.0, 1.0, 1.0, 1.0, 1.0),
}


@nb.njit(parallel=True, **_JIT)
def certify_rounded(c, r, row, col, g, eta, floor, top, t, emin, cell, ok):
    """``ok[i, j]``: the rounded ``r[i, j]`` of the float result ``c[i, j]`` is the rounding of
    the exact result, which lies within ``g * (row[i] * col[j] + |c|) + eta`` of ``c``
    (:func:`lowprec.rounding.certify.error_bound`): that interval lies inside the cell
    ``cell`` (a row of :data:`CELLS`) of ``|r|``, ``floor <= |r| < top`` (below overflow)
    and the interval stays at or beyond ``floor`` and away from zero. The spacing of format
    values below ``2**emin`` is that at ``2**emin`` (subnormals). Branch-free, so that the
    inner loop vectorizes."""
    m, n = c.shape
    shift = np.int64(53 - t)  # the storage bit of the last format bit
    frac = (np.int64(1) << 52) - 1
    emin_field = np.int64(emin + 1023)
    for i in nb.prange(m):
        ri = row[i]
        for j in range(n):
            x = c[i, j]
            a = abs(x)
            e = g * (ri * col[j] + a) + eta
            q = abs(r[i, j])
            bits = f64_bits(q)
            ubits = max((bits >> 52) & 0x7FF, emin_field) - (t - 1)
            u = bits_f64(max(ubits, 1) << 52)  # the spacing above q (q normal enough)
            below = u * (0.5 if (bits & frac) == 0 else 1.0)
            neg = x < 0
            c_lo = cell[2] if neg else cell[0]
            c_hi = cell[3] if neg else cell[1]
            odd = ((bits >> shift) & 1) == 1
            ok[i, j] = ((a - e >= floor) & (a - e > 0) & (q >= floor) & (q < top) & (e < np.inf) & (ubits >= 1)
                        & (a - e > q - c_lo * below) & (a + e < q + c_hi * u) & (odd | (cell[4] == 0.0)))


@nb.njit(parallel=True, **_JIT)
def row_squares(x, out):
    """``out[i] = sum_j x[i, j]**2`` in four chains: the row norms for
    :func:`lowprec.rounding.certify.norm_bound`."""
    m, n = x.shape
    for i in nb.prange(m):
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        j = 0
        while j + 4 <= n:
            s0 += x[i, j] * x[i, j]
            s1 += x[i, j + 1] * x[i, j + 1]
            s2 += x[i, j + 2] * x[i, j + 2]
            s3 += x[i, j + 3] * x[i, j + 3]
            j += 4
        while j < n:
            s0 += x[i, j] * x[i, j]
            j += 1
        out[i] = (s0 + s1) + (s2 + s3)


@nb.njit(parallel=True, **_JIT)
def col_squares(x, out):
    """``out[j] = sum_i x[i, j]**2``: each thread a block of columns, row by row (``x`` is
    C-contiguous, so the inner loop runs along memory), into a local block of sums."""
    m, n = x.shape
    blocks = (n + 255) // 256
    for blk in nb.prange(blocks):
        j0 = blk * 256
        w = min(n, j0 + 256) - j0
        acc = np.zeros(256)
        for i in range(m):
            xi = x[i, j0:j0 + w]
            for j in range(w):
                acc[j] += xi[j] * xi[j]
        for j in range(w):
            out[j0 + j] = acc[j]
