"""The numba side of :mod:`lowprec.rounding.certify` for NumPy: binary64 sums with their
sums of magnitudes in one pass, and the certificate checked against the rounded result's
cell (the values that round to it) without temporaries, in the rounding's own pass.
(Kernels here inline :mod:`lowprec.rounding._kernels`: :mod:`lowprec._cache` stamps them
with every kernel file, so an edit there recompiles them.)"""

from __future__ import annotations

import numba as nb
import numpy as np

from ._kernels import _JIT, _round_array_fast_body, bits_f64, f64_bits
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
def round_certify(c, cbits, r, rbits, ssig, sbias, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                  mode, key, offset, lo, hi, top_bits, sign_bit, emin_field, row, col, g, eta, floor, top, cell, ok):
    """Round ``c`` into ``r`` as :func:`lowprec.rounding._kernels.round_array_fast` does (a
    deterministic ``mode``), and certify each row while it is in cache: one pass over the
    result. ``ok[i, j]``: the rounded ``r[i, j]`` is the rounding of the exact result, which
    lies within ``g * (row[i] * col[j] + |c|) + eta`` of ``c``
    (:func:`lowprec.rounding.certify.error_bound`): that interval lies inside the cell
    ``cell`` (a row of :data:`CELLS`) of ``|r|``, ``floor <= |r| < top`` (below overflow)
    and the interval stays at or beyond ``floor`` and away from zero. The spacing of format
    values below ``2**emin`` is that at ``2**emin`` (subnormals). Returns how many entries
    are not certified."""
    m, n = c.shape
    bad = np.zeros(m, dtype=np.int64)
    for i in nb.prange(m):
        _round_array_fast_body(c[i], cbits[i], r[i], rbits[i], ssig, sbias, t, emin, subnormal, xmax, over_val,
                               inf_val, negzero, signed, mode, key, offset + i * n, lo, hi, top_bits, sign_bit, emin_field)
        bad[i] = _certify_row(c[i], r[i], row[i], col, g, eta, floor, top, t, emin, cell, ok[i])
    return bad.sum()


@nb.njit(inline="always", nogil=True)
def _certify_row(c, r, ri, col, g, eta, floor, top, t, emin, cell, ok):
    """The certificate of :func:`round_certify` for one row; how many entries fail. Branch-free, so that the
    loop vectorizes."""
    shift = np.int64(53 - t)  # the storage bit of the last format bit
    frac = (np.int64(1) << 52) - 1
    emin_field = np.int64(emin + 1023)
    bad = 0
    for j in range(c.shape[0]):
        x = c[j]
        a = abs(x)
        e = g * (ri * col[j] + a) + eta
        q = abs(r[j])
        bits = f64_bits(q)
        ubits = max((bits >> 52) & 0x7FF, emin_field) - (t - 1)
        u = bits_f64(max(ubits, 1) << 52)  # the spacing above q (q normal enough)
        below = u * (0.5 if (bits & frac) == 0 else 1.0)
        neg = x < 0
        c_lo = cell[2] if neg else cell[0]
        c_hi = cell[3] if neg else cell[1]
        odd = ((bits >> shift) & 1) == 1
        good = ((a - e >= floor) & (a - e > 0) & (q >= floor) & (q < top) & (e < np.inf) & (ubits >= 1)
                & (a - e > q - c_lo * below) & (a + e < q + c_hi * u) & (odd | (cell[4] == 0.0)))
        ok[j] = good
        bad += np.int64(not good)
    return bad


#: The reassociation the sums of squares may use (any order keeps the bound of
#: :func:`lowprec.rounding.certify.norm_bound`), so that their loops vectorize.
_REASSOC = dict(_JIT, fastmath={"reassoc", "contract"})
_MAG = np.int64(0x7FFFFFFFFFFFFFFF)


@nb.njit(parallel=True, **_REASSOC)
def row_summaries(x, xbits, squares, top, low):
    """Per row ``i`` of ``x`` (binary64; ``xbits`` its int64 view): ``squares[i]``, the sum
    of its squares (for :func:`lowprec.rounding.certify.norm_bound`); ``top[i]`` and
    ``low[i]``, the largest magnitude bits and the smallest nonzero ones (``_MAG`` if none),
    for :func:`lowprec.ndarray._accumulate._stats`. Integer reductions, so they vectorize."""
    m, n = x.shape
    for i in nb.prange(m):
        s = 0.0
        hi = np.int64(0)
        lo = _MAG
        for j in range(n):
            v = x[i, j]
            s += v * v
            mag = xbits[i, j] & _MAG
            hi = max(hi, mag)
            lo = min(lo, mag if mag != 0 else _MAG)
        squares[i] = s
        top[i] = hi
        low[i] = lo


@nb.njit(parallel=True, **_REASSOC)
def col_summaries(x, xbits, squares, top, low):
    """:func:`row_summaries` per column: each thread a block of columns, row by row (``x``
    is C-contiguous, so the inner loop runs along memory)."""
    m, n = x.shape
    for blk in nb.prange((n + 63) // 64):
        j0 = blk * 64
        w = min(n, j0 + 64) - j0
        s = np.zeros(w)
        hi = np.zeros(w, dtype=np.int64)
        lo = np.full(w, _MAG)
        for i in range(m):
            for j in range(w):
                v = x[i, j0 + j]
                s[j] += v * v
                mag = xbits[i, j0 + j] & _MAG
                hi[j] = max(hi[j], mag)
                lo[j] = min(lo[j], mag if mag != 0 else _MAG)
        for j in range(w):
            squares[j0 + j] = s[j]
            top[j0 + j] = hi[j]
            low[j0 + j] = lo[j]
