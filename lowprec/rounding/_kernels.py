"""Numba kernels: the reference rounding (``reference.py``), compiled and parallel.

Each kernel reads the input through its integer view (so that the exact significand
and exponent come from bit operations), decides the rounding in int64 arithmetic,
and writes ``k * 2**q`` as a float, which is exact. Kernels take plain arrays and
scalars, never format objects. No fastmath: every float operation here is exact.

The random stream is counter based (SplitMix64 of ``key + (index + 1) * golden``),
so element ``i`` of a call draws the same bits whatever the thread count or the
chunking; ``offset`` shifts the index for chunked callers.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)

#: 2**q for q in [_P2_LO, _P2_HI]; a table beats building floats from bits in numba.
_P2_LO = -1100
_P2_HI = 1023
_POW2 = np.array([np.ldexp(1.0, q) for q in range(_P2_LO, _P2_HI + 1)], dtype=np.float64)

_NEAREST_EVEN, _UP, _DOWN, _ZERO, _SR, _SRU, _NEAREST_ZERO, _NEAREST_AWAY, _ODD = range(1, 10)

_JIT = dict(nogil=True, cache=True, fastmath=False)


@nb.njit(inline="always", **{k: v for k, v in _JIT.items() if k != "cache"})
def random_bits(key, index):
    """64 random bits for element ``index`` of the call keyed by ``key`` (SplitMix64)."""
    z = key + (np.uint64(index) + np.uint64(1)) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@nb.njit(inline="always", **{k: v for k, v in _JIT.items() if k != "cache"})
def _bit_length(m):
    n = 0
    while m > 0:
        m >>= 1
        n += 1
    return n


@nb.njit(inline="always", **{k: v for k, v in _JIT.items() if k != "cache"})
def _round_up(mode, kept, rem, s, neg, r62):
    """The rounding decision of ``reference.round_up`` on integers.

    The exact fraction is ``rem / 2**s``; ``s > 62`` means the value lies below a
    quarter of the gap (``rem < 2**53``), so ``rem < half`` there.
    """
    if rem == 0:
        return 0
    if mode == _SR:
        if s <= 62:
            return 1 if (r62 >> (62 - s)) < rem else 0
        if s - 62 >= 63:
            return 0
        return 1 if r62 < (rem >> (s - 62)) else 0
    if mode == _SRU:
        return (r62 >> 61) & 1
    if mode == _UP:
        return 0 if neg else 1
    if mode == _DOWN:
        return 1 if neg else 0
    if mode == _ZERO:
        return 0
    if mode == _ODD:
        return 1 - (kept & 1)
    if s > 62:
        return 0
    half = np.int64(1) << (s - 1)
    if mode == _NEAREST_EVEN:
        return 1 if (rem > half or (rem == half and (kept & 1) == 1)) else 0
    if mode == _NEAREST_AWAY:
        return 1 if rem >= half else 0
    return 1 if rem > half else 0  # _NEAREST_ZERO


@nb.njit(inline="always", **{k: v for k, v in _JIT.items() if k != "cache"})
def _outward(mode, neg):
    if mode == _UP:
        return not neg
    if mode == _DOWN:
        return neg
    return mode != _ZERO and mode != _ODD


@nb.njit(inline="always", **{k: v for k, v in _JIT.items() if k != "cache"})
def round_one(x, bits, ssig, sbias, t, emin, subnormal, xmax, over_val, inf_val,
              negzero, signed, mode, r62):
    """Round ``x`` (whose storage bit pattern is ``bits``) into the format.

    ``ssig``/``sbias`` describe the storage (52/1023 for float64, 23/127 for float32).
    """
    if x != x:
        return x
    neg = x < 0.0 or (x == 0.0 and bits < 0)
    if x == 0.0:
        return -0.0 if (neg and negzero and signed) else 0.0
    frac_mask = (np.int64(1) << ssig) - 1
    efield = (bits >> ssig) & (2 * sbias + 1)
    if efield == 2 * sbias + 1:  # infinity
        if neg and not signed:
            return 0.0 if over_val == xmax else np.nan
        return -inf_val if neg else inf_val
    if efield == 0:  # storage subnormal
        m = bits & frac_mask
        e_raw = 1 - sbias - ssig
        e = _bit_length(m) - 1 + e_raw
    else:
        m = (bits & frac_mask) | (np.int64(1) << ssig)
        e = efield - sbias
        e_raw = e - ssig
    if e >= emin:
        q = e - (t - 1)
    elif subnormal:
        q = emin - (t - 1)
    else:
        q = emin
    s = q - e_raw
    if s <= 0:
        k = m
        q = e_raw
    else:
        if s > 62:
            kept = np.int64(0)
            rem = m
        else:
            kept = m >> s
            rem = m & ((np.int64(1) << s) - 1)
        k = kept + _round_up(mode, kept, rem, s, neg, r62)
    if k == 0:
        return -0.0 if (neg and negzero and signed) else 0.0
    if neg and not signed:
        return 0.0 if over_val == xmax else np.nan
    v = np.float64(k) * _POW2[q - _P2_LO]
    if v > xmax:
        v = over_val if _outward(mode, neg) else xmax
    return -v if neg else v


@nb.njit(parallel=True, **_JIT)
def round_array(x, xbits, out, ssig, sbias, t, emin, subnormal, xmax, over_val, inf_val,
                negzero, signed, mode, key, offset):
    """Round the flat array ``x`` (integer view ``xbits``) into ``out`` (may be ``x``)."""
    n = x.shape[0]
    stochastic = mode == _SR or mode == _SRU
    for i in nb.prange(n):
        r62 = np.int64(0)
        if stochastic:
            r62 = np.int64(random_bits(key, i + offset) >> np.uint64(2))
        out[i] = round_one(np.float64(x[i]), np.int64(xbits[i]), ssig, sbias, t, emin, subnormal,
                           xmax, over_val, inf_val, negzero, signed, mode, r62)


@nb.njit(parallel=True, **_JIT)
def round_array_with_bits(x, xbits, out, ssig, sbias, t, emin, subnormal, xmax, over_val,
                          inf_val, negzero, signed, mode, rbits):
    """Like :func:`round_array`, with the 62-bit random integers given per element."""
    n = x.shape[0]
    for i in nb.prange(n):
        out[i] = round_one(np.float64(x[i]), np.int64(xbits[i]), ssig, sbias, t, emin, subnormal,
                           xmax, over_val, inf_val, negzero, signed, mode, rbits[i])


@nb.njit(parallel=True, **_JIT)
def flip_bits(v, vbits, ssig, sbias, t, emin, xmax, has_nan, p, key, offset):
    """Soft errors: each finite nonzero element, with probability ``p``, gets one of its
    ``t - 1`` trailing significand bits flipped (chosen uniformly)."""
    n = v.shape[0]
    if t < 2:
        return
    for i in nb.prange(n):
        r = random_bits(key, i + offset)
        u = np.float64(r >> np.uint64(11)) * (1.0 / 9007199254740992.0)
        x = np.float64(v[i])
        if not (u < p) or x == 0.0 or x != x or abs(x) == np.inf:
            continue
        bits = np.int64(vbits[i])
        efield = (bits >> ssig) & (2 * sbias + 1)
        if efield == 0:
            e = _bit_length(bits & ((np.int64(1) << ssig) - 1)) - 1 + 1 - sbias - ssig
        else:
            e = efield - sbias
        q = e - (t - 1) if e >= emin else emin - (t - 1)
        scale = _POW2[q - _P2_LO]
        k = np.int64(abs(x) / scale)
        j = ((r & np.uint64(0xFFFFFFFF)) * np.uint64(t - 1)) >> np.uint64(32)
        k = k ^ (np.int64(1) << np.int64(j))
        y = np.float64(k) * scale
        if y > xmax:
            y = np.nan if has_nan else xmax
        v[i] = -y if x < 0 else y
