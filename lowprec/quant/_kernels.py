"""Numba kernels of fixed-point, integer and block quantization.

Every kernel rounds onto an integer grid: the exact value is ``kept + frac`` code
units with ``kept`` an integer and ``frac`` in [0, 1), and the mode decides whether
the magnitude moves to ``kept + 1`` (:func:`decide`). The decision needs only

* ``h``: ``frac >= 1/2``;
* ``rest``: ``frac`` differs from ``0`` and from ``1/2`` (bits below the half bit);
* ``thr = floor(frac * 2**62)`` for stochastic rounding, which rounds up when the
  62-bit random integer is below it (so the probability is ``frac`` to ``2**-62``,
  as in :mod:`lowprec.rounding.reference`).

All three come from exact integer arithmetic (or from float operations that are
exact), never from a rounded quotient, so every mode is exact; the Fraction oracle of
``verification/fixed.py`` checks the kernels bit for bit. Random bits come from the
shared counter-based stream :func:`lowprec.rounding._kernels.random_bits`.

Results outside the code range ``[cmin, cmax]`` follow the overflow policy:
``SATURATE`` clamps, ``WRAP`` keeps the low ``bits`` bits (two's complement) and
``ERROR`` clamps and counts, so that the caller raises naming the count.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..rounding._kernels import random_bits

_JIT = dict(nogil=True, cache=True, fastmath=False)

_NEAREST_EVEN, _UP, _DOWN, _ZERO, _SR, _SRU, _NEAREST_ZERO, _NEAREST_AWAY, _ODD = range(1, 10)

#: Overflow policies, as integers for the kernels.
SATURATE, WRAP, ERROR = 0, 1, 2
OVERFLOW_CODES = {"saturate": SATURATE, "wrap": WRAP, "error": ERROR}

#: Binary operations of :func:`fixed_binary`.
ADD, SUBTRACT, MULTIPLY, DIVIDE = 0, 1, 2, 3

_TWO62 = 4611686018427387904.0  # 2**62
_BIG = np.uint64(1) << np.uint64(62)
_M32 = np.uint64(0xFFFFFFFF)


# ----------------------------------------------------------------------------- decisions

@nb.njit(inline="always", nogil=True)
def mode_flags(mode):
    """The mode as eight 0/1 flags (computed once per call, outside the loops)."""
    return (np.int64(mode == _NEAREST_EVEN), np.int64(mode == _NEAREST_AWAY), np.int64(mode == _NEAREST_ZERO),
            np.int64(mode == _UP), np.int64(mode == _DOWN), np.int64(mode == _ODD), np.int64(mode == _SR),
            np.int64(mode == _SRU))


@nb.njit(inline="always", nogil=True)
def decide_flags(fl, kept, h, rest, thr, neg, r62):
    """1 when the magnitude ``kept + frac`` rounds up to ``kept + 1`` under the mode
    ``fl`` (:func:`mode_flags`), else 0. Branch-free, so that the loops vectorize."""
    hi = np.int64(h)
    ri = np.int64(rest)
    ni = np.int64(neg)
    par = kept & 1
    inexact = hi | ri
    return ((fl[0] & hi & (ri | par)) | (fl[1] & hi) | (fl[2] & hi & ri) | (fl[3] & inexact & (1 - ni))
            | (fl[4] & inexact & ni) | (fl[5] & inexact & (1 - par)) | (fl[6] & np.int64(r62 < thr))
            | (fl[7] & inexact & ((r62 >> 61) & 1)))


@nb.njit(inline="always", nogil=True)
def decide(mode, kept, h, rest, thr, neg, r62):
    """1 when the magnitude ``kept + frac`` rounds up to ``kept + 1``, else 0."""
    return decide_flags(mode_flags(mode), kept, h, rest, thr, neg, r62)


@nb.njit(inline="always", nogil=True)
def _draw(mode, key, i):
    if mode == _SR or mode == _SRU:
        return np.int64(random_bits(key, i) >> np.uint64(2))
    return np.int64(0)


@nb.njit(inline="always", nogil=True)
def _bitlen(m):
    n = 0
    while m > 0:
        m >>= np.uint64(1)
        n += 1
    return n


@nb.njit(inline="always", nogil=True)
def _ratio_frac(r, d, stochastic):
    """Decision inputs of ``frac = r / d`` (``0 <= r < d < 2**62``, unsigned)."""
    r2 = r << np.uint64(1)
    h = r2 >= d
    rest = r != 0 and r2 != d
    thr = np.int64(0)
    if stochastic and r != 0 and d < (np.uint64(1) << np.uint64(53)):
        # floor(r * 2**62 / d): a binary64 estimate within 2**9 + 1, corrected by the exact
        # 128-bit remainder r * 2**62 - t * d (below 2**63 in magnitude)
        t = np.int64(math.floor(np.float64(r) / np.float64(d) * _TWO62))
        t = min(max(t, np.int64(0)), np.int64(_BIG) - 1)
        hi, lo = _mul128(np.uint64(t), d)
        rem = np.int64((r << np.uint64(62)) - lo)  # the true remainder fits: low 64 bits suffice
        thr = t + rem // np.int64(d)
    elif stochastic and r != 0:
        room = 63 - _bitlen(d)
        left = 62
        q = np.uint64(0)
        while left > 0:
            c = min(left, room)
            r = r << np.uint64(c)
            digit = r // d
            r -= digit * d
            q = (q << np.uint64(c)) | digit
            left -= c
        thr = np.int64(q)
    return h, rest, thr


@nb.njit(inline="always", nogil=True)
def _long_div(n, shift, d):
    """``(q mod 2**64, r, big)`` with ``q = floor(n * 2**shift / d)`` and ``r`` the remainder
    (``n, d < 2**62`` unsigned, ``shift >= 0``); ``big`` when ``q >= 2**62``."""
    q = n // d
    r = n - q * d
    big = q >= _BIG
    room = 63 - _bitlen(d)
    left = shift
    while left > 0:
        c = min(left, room)
        r = r << np.uint64(c)
        digit = r // d
        r -= digit * d
        if (q >> np.uint64(62 - c)) != 0:
            big = True
        q = (q << np.uint64(c)) | digit
        left -= c
    return q, r, big


@nb.njit(nogil=True)
def round_ratio(mode, n, shift, d, neg, r62):
    """Round the magnitude ``n * 2**shift / d`` (``0 < n, d < 2**54``) to an integer.

    Returns ``(k, big)``: ``k`` is the rounded magnitude modulo ``2**64`` and ``big``
    says the magnitude is at least ``2**62`` (then only ``k``'s low bits are exact).
    """
    n = np.uint64(n)
    d = np.uint64(d)
    stochastic = mode == _SR
    if shift >= 0:
        q, r, big = _long_div(n, shift, d)
    elif _bitlen(d) - shift <= 62:  # n / (d * 2**-shift) with an exact 62-bit divisor
        d = d << np.uint64(-shift)
        q = n // d
        r = n - q * d
        big = False
    else:  # below 2**-8: kept 0, frac < 1/2 and nonzero
        thr = np.int64(0)
        if stochastic and 62 + shift >= 0:
            t, _, _ = _long_div(n, 62 + shift, d)
            thr = np.int64(t)
        return np.uint64(decide(mode, 0, False, True, thr, neg, r62)), False
    h, rest, thr = _ratio_frac(r, d, stochastic)
    k = q + np.uint64(decide(mode, np.int64(q & np.uint64(1)), h, rest, thr, neg, r62))
    return k, big or k >= _BIG


@nb.njit(inline="always", nogil=True)
def _mantissa(v):
    """``|v| = m * 2**e`` with the integer ``m < 2**53`` (finite nonzero ``v``)."""
    mf, e = math.frexp(abs(v))
    return np.int64(math.ldexp(mf, 53)), e - 53


@nb.njit(inline="always", nogil=True)
def apply_overflow(k, big, neg, cmin, cmax, bits, policy):
    """The code of the signed result ``±k`` under the overflow policy.

    Returns ``(code, overflowed)``; ``overflowed`` counts toward the ERROR policy.
    """
    if policy == WRAP:
        u = (np.uint64(0) - k) if neg else k
        mask = (np.uint64(1) << np.uint64(bits)) - np.uint64(1)
        w = (u - np.uint64(cmin)) & mask
        c = np.int64(w) + cmin
        over = big or (-np.int64(k) if neg else np.int64(k)) != c
        return c, over
    if big:
        return (cmin if neg else cmax), True
    c = -np.int64(k) if neg else np.int64(k)
    if c > cmax:
        return cmax, True
    if c < cmin:
        return cmin, True
    return c, False


# ----------------------------------------------------------------------------- fixed point

_CHUNK = 16384


@nb.njit(inline="always", nogil=True)
def _range_code(c, cmin, cmax, mask, policy):
    """``(code, overflowed)`` of the int64 result ``c`` (``|c| < 2**62``)."""
    if c > cmax or c < cmin:
        if policy == WRAP:
            return ((c - cmin) & mask) + cmin, True
        return (cmax if c > cmax else cmin), True
    return c, False


@nb.njit(parallel=True, **_JIT)
def quantize_fixed(x, out, codes, want_codes, scale, wrap_span, cmin, cmax, bits, policy, mode, key,
                   offset):
    """Round the flat float array ``x`` onto the grid ``1/scale`` (``scale = 2**frac_bits``).

    Writes the values to ``out`` (and the integer codes to ``codes`` when
    ``want_codes``); returns ``(non-finite count, overflow count)``. ``wrap_span`` is
    ``2**int_bits``, the period of the values under WRAP.
    """
    n = x.shape[0]
    nblk = (n + _CHUNK - 1) // _CHUNK
    counts = np.zeros((nblk, 2), np.int64)
    for blk in nb.prange(nblk):
        _fixed_chunk(x, out, codes, want_codes, scale, wrap_span, cmin, cmax, bits, policy, mode, key, offset,
                     blk * _CHUNK, min(n, (blk + 1) * _CHUNK), counts[blk])
    return counts[:, 0].sum(), counts[:, 1].sum()


@nb.njit(inline="always", nogil=True)
def _fixed_one(v, a, i, out, codes, want_codes, step, cmin, cmax, mask, policy, stochastic, fl, key, offset):
    """Round the magnitude ``a < 2**62`` (of ``v``'s sign) and store code and value."""
    neg = v < 0.0
    kept = np.int64(a)
    fr = a - np.float64(kept)  # exact
    h = fr >= 0.5
    rest = fr != 0.0 and fr != 0.5
    r62 = np.int64(0)
    thr = np.int64(0)
    if stochastic:
        r62 = np.int64(random_bits(key, i + offset) >> np.uint64(2))
        thr = np.int64(math.floor(fr * _TWO62))  # fr * 2**62 is exact
    k = kept + decide_flags(fl, kept, h, rest, thr, neg, r62)
    c, o = _range_code(-k if neg else k, cmin, cmax, mask, policy)
    out[i] = np.float64(c) * step
    if want_codes:
        codes[i] = c
    return o


@nb.njit(**_JIT)
def _fixed_chunk(x, out, codes, want_codes, scale, wrap_span, cmin, cmax, bits, policy, mode, key, offset,
                 start, stop, counts):
    step = 1.0 / scale
    mask = (np.int64(1) << np.int64(bits)) - 1
    stochastic = mode == _SR or mode == _SRU
    fl = mode_flags(mode)
    bad = 0
    over = 0
    far_count = 0
    for i in range(start, stop):
        v = np.float64(x[i])
        if not math.isfinite(v):
            bad += 1
            out[i] = np.nan
            if want_codes:
                codes[i] = 0
            continue
        a = abs(v) * scale  # exact: a power-of-two scaling (inf far out of range)
        far = a >= _TWO62
        far_count += far
        # far values saturate through kept = 2**62 (a second pass wraps them exactly)
        a = _TWO62 if far else a
        over += _fixed_one(v, a, i, out, codes, want_codes, step, cmin, cmax, mask, policy, stochastic, fl, key,
                           offset) | far
    if far_count and policy == WRAP:
        for i in range(start, stop):
            v = np.float64(x[i])
            if math.isfinite(v) and abs(v) * scale >= _TWO62:
                a = np.fmod(abs(v), wrap_span) * scale  # exact; the same code modulo 2**bits
                _fixed_one(v, a, i, out, codes, want_codes, step, cmin, cmax, mask, policy, stochastic, fl, key,
                           offset)
    counts[0] = bad
    counts[1] = over


@nb.njit(inline="always", nogil=True)
def _mul128(a, b):
    """``a * b`` as ``(hi, lo)`` 64-bit halves (unsigned, ``a, b < 2**63``)."""
    a0 = a & _M32
    a1 = a >> np.uint64(32)
    b0 = b & _M32
    b1 = b >> np.uint64(32)
    p00 = a0 * b0
    p01 = a0 * b1
    p10 = a1 * b0
    p11 = a1 * b1
    mid = (p00 >> np.uint64(32)) + (p01 & _M32) + (p10 & _M32)
    lo = (p00 & _M32) | (mid << np.uint64(32))
    hi = p11 + (p01 >> np.uint64(32)) + (p10 >> np.uint64(32)) + (mid >> np.uint64(32))
    return hi, lo


@nb.njit(inline="always", nogil=True)
def _round_product(mode, a, b, s, neg, r62):
    """Round ``a * b / 2**s`` (``a, b < 2**54``, ``0 <= s <= 62``): ``(k, big)``."""
    hi, lo = _mul128(np.uint64(a), np.uint64(b))
    if s == 0:
        return lo, hi != 0 or lo >= _BIG
    us = np.uint64(s)
    kept = (lo >> us) | (hi << np.uint64(64 - s))
    big = (hi >> us) != 0 or kept >= _BIG
    r = lo & ((np.uint64(1) << us) - np.uint64(1))
    h = ((r >> np.uint64(s - 1)) & np.uint64(1)) == 1
    rest = (r & ((np.uint64(1) << np.uint64(s - 1)) - np.uint64(1))) != 0
    thr = np.int64(r << np.uint64(62 - s))
    k = kept + np.uint64(decide(mode, np.int64(kept & np.uint64(1)), h, rest, thr, neg, r62))
    return k, big or k >= _BIG


@nb.njit(parallel=True, **_JIT)
def fixed_binary(op, ca, cb, fa, fb, fr, out, cmin, cmax, bits, policy, mode, key, offset):
    """``op`` on fixed-point codes ``ca`` (``fa`` fraction bits) and ``cb`` (``fb``),
    correctly rounded to ``fr >= max(fa, fb)`` fraction bits; codes into ``out``.

    Returns ``(division-by-zero count, overflow count)``.
    """
    n = out.shape[0]
    zero_div = 0
    over = 0
    for i in nb.prange(n):
        a = ca[i]
        b = cb[i]
        r62 = _draw(mode, key, i + offset)
        if op == ADD or op == SUBTRACT:
            s = (a << (fr - fa)) + ((b << (fr - fb)) if op == ADD else -(b << (fr - fb)))
            k = np.uint64(abs(s))
            c, o = apply_overflow(k, k >= _BIG, s < 0, cmin, cmax, bits, policy)
        elif op == MULTIPLY:
            neg = (a < 0) != (b < 0)
            k, big = _round_product(mode, abs(a), abs(b), fa + fb - fr, neg, r62)
            c, o = apply_overflow(k, big, neg, cmin, cmax, bits, policy)
        else:
            if b == 0:
                zero_div += 1
                out[i] = 0
                continue
            neg = (a < 0) != (b < 0)
            if a == 0:
                c, o = apply_overflow(np.uint64(0), False, False, cmin, cmax, bits, policy)
            else:
                k, big = round_ratio(mode, abs(a), fr - fa + fb, abs(b), neg, r62)
                c, o = apply_overflow(k, big, neg, cmin, cmax, bits, policy)
        if o:
            over += 1
        out[i] = c
    return zero_div, over


@nb.njit(**_JIT)
def fixed_fold(op, rows, f, out, partials, keep, cmin, cmax, bits, policy, mode, key):
    """Sequential ``+`` (``op=ADD``) or ``*`` fold of each row of codes (``f`` fraction bits),
    every step rounded and its overflow policy applied. Returns the overflow count."""
    over = 0
    m, n = rows.shape
    for i in range(m):
        if n == 0:
            one = np.uint64(1) << np.uint64(f)
            out[i] = 0 if op == ADD else apply_overflow(one, False, False, cmin, cmax, bits, policy)[0]
            continue
        acc = rows[i, 0]
        if keep:
            partials[i, 0] = acc
        for j in range(1, n):
            b = rows[i, j]
            r62 = _draw(mode, key, i * n + j)
            if op == ADD:
                s = acc + b
                c, o = apply_overflow(np.uint64(abs(s)), False, s < 0, cmin, cmax, bits, policy)
            else:
                neg = (acc < 0) != (b < 0)
                k, big = _round_product(mode, abs(acc), abs(b), f, neg, r62)
                c, o = apply_overflow(k, big, neg, cmin, cmax, bits, policy)
            if o:
                over += 1
            acc = c
            if keep:
                partials[i, j] = acc
        out[i] = acc
    return over


# ----------------------------------------------------------------------------- integers

_LOW63 = np.int64(0x7FFFFFFFFFFFFFFF)
_KEY_INF = np.int64(0x7FF0000000000000)  # the order key of +inf; -inf's is -_KEY_INF - 1


@nb.njit(**_JIT)
def _min_max_chunk(xbits, start, stop, out):
    """Order keys (``b ^ ((b >> 63) & 0x7FF..F)``: signed integers ordered like the floats)
    of the min and max of float64 bit patterns, 0.0 included: integer reductions vectorize."""
    lo = np.int64(0)
    hi = np.int64(0)
    for i in range(start, stop):
        b = xbits[i]
        k = b ^ ((b >> 63) & _LOW63)
        lo = k if k < lo else lo
        hi = k if k > hi else hi
    out[0] = lo
    out[1] = hi


@nb.njit(**_JIT)
def _count_nonfinite(x):
    bad = 0
    for i in range(x.shape[0]):
        bad += not math.isfinite(x[i])
    return bad


@nb.njit(**_JIT)
def _key_to_float(k):
    return np.array([k ^ ((k >> 63) & _LOW63)]).view(np.float64)[0]


@nb.njit(**_JIT)
def _finish_min_max(x, lo, hi):
    if lo <= -_KEY_INF - 1 or hi >= _KEY_INF:  # an infinity or a NaN: count them for the message
        return 0.0, 0.0, _count_nonfinite(x)
    return _key_to_float(lo), _key_to_float(hi), 0


@nb.njit(parallel=True, **_JIT)
def min_max(x):
    """``(min(min x, 0), max(max x, 0), non-finite count)`` of the flat float64 array ``x``
    (with a non-finite element, only the count is meaningful): the range always holds 0,
    as calibration needs."""
    xbits = x.view(np.int64)
    n = x.shape[0]
    nblk = (n + _CHUNK - 1) // _CHUNK
    parts = np.zeros((nblk, 2), np.int64)
    for blk in nb.prange(nblk):
        _min_max_chunk(xbits, blk * _CHUNK, min(n, (blk + 1) * _CHUNK), parts[blk])
    if nblk == 0:
        return 0.0, 0.0, 0
    return _finish_min_max(x, parts[:, 0].min(), parts[:, 1].max())


@nb.njit(parallel=True, **_JIT)
def block_min_max(x, inner, nblocks):
    """:func:`min_max` of each run of ``inner`` consecutive elements of the flat float64
    ``x`` (run ``b`` holds elements of channel ``b % channels``): three arrays."""
    xbits = x.view(np.int64)
    parts = np.zeros((nblocks, 2), np.int64)
    for b in nb.prange(nblocks):
        _min_max_chunk(xbits, b * inner, (b + 1) * inner, parts[b])
    lo = np.empty(nblocks)
    hi = np.empty(nblocks)
    bad = np.zeros(nblocks)
    for b in range(nblocks):
        lo[b], hi[b], bad[b] = _finish_min_max(x[b * inner:(b + 1) * inner], parts[b, 0], parts[b, 1])
    return lo, hi, bad


@nb.njit(nogil=True)
def _int_slow(av, s, mode, neg, r62):
    """Exact rounding of ``av / s`` from the significands: ``(k, big)``."""
    m, e = _mantissa(av)
    ms, es = _mantissa(s)
    return round_ratio(mode, m, e - es, ms, neg, r62)


@nb.njit(parallel=True, **_JIT)
def quantize_int(x, inner, scales, zeros, out, codes, want_codes, qlo, qhi, smin, bits, policy, mode,
                 key, offset):
    """Integer quantization: ``code = round(x / s) + z`` clamped into ``[qlo, qhi]`` (or
    wrapped into the storage range ``[smin, smin + 2**bits)``), and ``out = s * (code - z)``.

    ``x`` is flat; the channel of element ``i`` is ``(i // inner) % len(scales)``.
    ``x / s`` is rounded exactly: the binary64 quotient ``y`` decides unless it is an
    integer or a half-integer (RN is monotonic, so the exact quotient then lies strictly
    between the same grid points as ``y``); otherwise, and for stochastic rounding, the
    exact ratio of the significands does. Returns ``(non-finite count, overflow count)``.
    """
    n = x.shape[0]
    nblk = (n + _CHUNK - 1) // _CHUNK
    counts = np.zeros((nblk, 2), np.int64)
    for blk in nb.prange(nblk):
        _int_chunk(x, inner, scales, zeros, out, codes, want_codes, qlo, qhi, smin, bits, policy, mode, key,
                   offset, blk * _CHUNK, min(n, (blk + 1) * _CHUNK), counts[blk])
    return counts[:, 0].sum(), counts[:, 1].sum()


@nb.njit(**_JIT)
def _int_chunk(x, inner, scales, zeros, out, codes, want_codes, qlo, qhi, smin, bits, policy, mode, key,
               offset, start, stop, counts):
    nch = scales.shape[0]
    fl = mode_flags(mode)
    stochastic = mode == _SR or mode == _SRU
    bad = 0
    over = 0
    for i in range(start, stop):
        ch = 0 if nch == 1 else (i // inner) % nch
        s = scales[ch]
        z = zeros[ch]
        v = np.float64(x[i])
        if not math.isfinite(v):
            bad += 1
            out[i] = np.nan
            if want_codes:
                codes[i] = 0
            continue
        neg = v < 0.0
        r62 = np.int64(0)
        if stochastic:
            r62 = np.int64(random_bits(key, i + offset) >> np.uint64(2))
        av = abs(v)
        y = av / s
        far = y >= _TWO62
        if far and policy == WRAP:  # |v| = N * s * 2**bits + red exactly: same code mod 2**bits
            av = np.fmod(av, math.ldexp(s, bits))
            y = av / s
        if far and policy != WRAP:
            k = np.uint64(0)
            big = True
        elif av == 0.0:
            k = np.uint64(0)
            big = False
        else:
            kept = np.int64(y)
            fr = y - np.float64(kept)
            if fr == 0.0 or fr == 0.5 or mode == _SR:
                k, big = _int_slow(av, s, mode, neg, r62)
            else:
                k = np.uint64(kept + decide_flags(fl, kept, fr >= 0.5, True, np.int64(0), neg, r62))
                big = False
        # code = round(x/s) + z, clamped into [qlo, qhi] or wrapped into the storage range
        lo_bound = (smin if policy == WRAP else qlo) - z
        c, o = apply_overflow(k, big, neg, lo_bound, qhi - z, bits, policy)
        if o or far:
            over += 1
        out[i] = s * np.float64(c)
        if want_codes:
            codes[i] = c + z
    counts[0] = bad
    counts[1] = over


# ----------------------------------------------------------------------------- blocks

@nb.njit(inline="always", nogil=True)
def _floor_log2(a):
    _, e = math.frexp(a)
    return e - 1


@nb.njit(parallel=True, **_JIT)
def block_scale(x, block, emax_elem, xmax_elem, ceil_rule, out, exps):
    """Shared exponents of the blocks of each row of ``x`` (2-D, blocks along axis 1), and
    the scaled elements ``x / 2**X`` into ``out``.

    ``X = floor(log2(amax)) - emax_elem`` (OCP MX), or with ``ceil_rule`` the smallest
    ``X`` with ``amax <= xmax_elem * 2**X``; clamped to E8M0's [-127, 127]; ``-127`` for
    an all-zero block. A block with a NaN or infinity gets the exponent 128 (E8M0 NaN).
    Returns the number of such blocks.
    """
    rows, length = x.shape
    nblk = (length + block - 1) // block
    bad = 0
    for t in nb.prange(rows * nblk):
        i = t // nblk
        j0 = (t % nblk) * block
        j1 = min(length, j0 + block)
        amax = 0.0
        finite = True
        for j in range(j0, j1):
            v = abs(np.float64(x[i, j]))
            if not math.isfinite(v):
                finite = False
            elif v > amax:
                amax = v
        if not finite:
            bad += 1
            exps[i, t % nblk] = 128
            for j in range(j0, j1):
                out[i, j] = np.nan
            continue
        if amax == 0.0:
            e = -127
        else:
            e = _floor_log2(amax) - emax_elem
            if e < -127:
                e = -127
            elif ceil_rule and e <= 127 and amax > math.ldexp(xmax_elem, e):
                e += 1
            if e > 127:
                e = 127
        exps[i, t % nblk] = e
        f = math.ldexp(1.0, -e)
        for j in range(j0, j1):
            v = np.float64(x[i, j])
            y = v * f
            if y == 0.0 and v != 0.0:  # far below the element grid: any tiny value rounds alike
                y = math.copysign(5e-324, v)
            out[i, j] = y
    return bad


@nb.njit(parallel=True, **_JIT)
def block_unscale(y, block, exps):
    """Multiply the elements of each block of ``y`` (2-D, in place) by ``2**X``; NaN blocks
    stay NaN."""
    rows, length = y.shape
    nblk = (length + block - 1) // block
    for t in nb.prange(rows * nblk):
        i = t // nblk
        e = exps[i, t % nblk]
        j0 = (t % nblk) * block
        j1 = min(length, j0 + block)
        f = np.nan if e == 128 else math.ldexp(1.0, e)
        for j in range(j0, j1):
            y[i, j] = y[i, j] * f


@nb.njit(parallel=True, **_JIT)
def fixed_matmul(a, b, fa, fb, fr, out, cmin, cmax, bits, policy, mode, key):
    """``a @ b`` of 2-D code arrays: each product rounded to ``fr`` fraction bits, then
    summed left to right with the overflow policy applied at every step (sequential).
    Returns the overflow count."""
    m, kk = a.shape
    n = b.shape[1]
    over = 0
    for t in nb.prange(m * n):
        i = t // n
        j = t % n
        acc = np.int64(0)
        for k in range(kk):
            x = a[i, k]
            y = b[k, j]
            neg = (x < 0) != (y < 0)
            r62 = _draw(mode, key, t * kk + k)
            p, big = _round_product(mode, abs(x), abs(y), fa + fb - fr, neg, r62)
            c, o = apply_overflow(p, big, neg, cmin, cmax, bits, policy)
            s = acc + c
            acc, o2 = apply_overflow(np.uint64(abs(s)), False, s < 0, cmin, cmax, bits, policy)
            if o or o2:
                over += 1
        out[i, j] = acc
    return over


# ----------------------------------------------------------------------------- fast paths
# For the modes that binary64 has itself (nearest even, up, down, toward zero) and a
# clamping overflow policy, the rounding is one rint/ceil/floor/trunc of an exact (or,
# for integers, almost exact) quotient: branch-free loops that vectorize.

@nb.njit(inline="always", nogil=True)
def _to_int(y, mode):
    """``y`` rounded to an integer with mode 1-4 (selects, no branches: the loops vectorize)."""
    r = np.rint(y)
    r = np.ceil(y) if mode == _UP else r
    r = np.floor(y) if mode == _DOWN else r
    return np.trunc(y) if mode == _ZERO else r


@nb.njit(inline="always", nogil=True)
def _clamp(c, lo, hi):
    """``c`` clamped into ``[lo, hi]`` with selects (min/max carry NaN rules that stop
    vectorization; a NaN passes through)."""
    c = lo if c < lo else c
    return hi if c > hi else c


@nb.njit(**_JIT)
def _fast_fixed_chunk(x, out, scale, lo, hi, mode, start, stop, counts):
    step = 1.0 / scale
    bad = 0
    over = 0
    for i in range(start, stop):
        v = np.float64(x[i])
        bad += not math.isfinite(v)
        c = _to_int(v * scale, mode)  # v * scale is exact (inf beyond the range)
        over += (c > hi) | (c < lo)
        out[i] = _clamp(c, lo, hi) * step + 0.0  # + 0.0: fixed point has no -0
    counts[0] = bad
    counts[1] = over


@nb.njit(parallel=True, **_JIT)
def quantize_fixed_fast(x, out, scale, lo, hi, mode):
    """:func:`quantize_fixed` for modes 1-4 with a clamping policy (``lo``, ``hi``: the code
    range as floats): ``(non-finite count, overflow count)``; NaN inputs give garbage that
    the caller must not keep."""
    n = x.shape[0]
    nblk = (n + _CHUNK - 1) // _CHUNK
    counts = np.zeros((nblk, 2), np.int64)
    for blk in nb.prange(nblk):
        _fast_fixed_chunk(x, out, scale, lo, hi, mode, blk * _CHUNK, min(n, (blk + 1) * _CHUNK), counts[blk])
    return counts[:, 0].sum(), counts[:, 1].sum()


@nb.njit(**_JIT)
def _fast_int_chunk(x, out, s, lo, hi, mode, start, stop, counts):
    bad = 0
    over = 0
    doubtful = 0
    for i in range(start, stop):
        v = np.float64(x[i])
        bad += not math.isfinite(v)
        y = v / s
        c = _to_int(y, mode)
        f = y - np.floor(y)
        # RN(v/s) is monotonic: only a quotient that is a grid point of the decision (an
        # integer for the directed modes, a half-integer for nearest) may hide the exact one.
        doubtful += (f == 0.5) if mode == _NEAREST_EVEN else ((f == 0.0) & (v != 0.0))
        over += (c > hi) | (c < lo)
        out[i] = s * _clamp(c, lo, hi) + 0.0
    if doubtful:
        for i in range(start, stop):
            v = np.float64(x[i])
            y = v / s
            f = y - np.floor(y)
            if math.isfinite(v) and ((f == 0.5) if mode == _NEAREST_EVEN else (f == 0.0 and v != 0.0)):
                if abs(y) >= _TWO62:
                    continue  # beyond every code: the clamp above is right
                k, _ = _int_slow(abs(v), s, mode, v < 0.0, np.int64(0))
                c = -np.float64(k) if v < 0.0 else np.float64(k)
                out[i] = s * _clamp(c, lo, hi) + 0.0
    counts[0] = bad
    counts[1] = over


@nb.njit(parallel=True, **_JIT)
def quantize_int_fast(x, out, s, lo, hi, mode):
    """:func:`quantize_int` per tensor for modes 1-4 with a clamping policy: the value
    ``s * clamp(round(x / s), lo, hi)`` (``lo``, ``hi``: the code range minus the zero
    point, as floats); ``x / s`` is rounded exactly. Returns ``(non-finite, overflow)``."""
    n = x.shape[0]
    nblk = (n + _CHUNK - 1) // _CHUNK
    counts = np.zeros((nblk, 2), np.int64)
    for blk in nb.prange(nblk):
        _fast_int_chunk(x, out, s, lo, hi, mode, blk * _CHUNK, min(n, (blk + 1) * _CHUNK), counts[blk])
    return counts[:, 0].sum(), counts[:, 1].sum()


_P2_LO = -1100
_POW2 = np.array([np.ldexp(1.0, q) for q in range(_P2_LO, 1024)], dtype=np.float64)


@nb.njit(inline="always", nogil=True)
def _pow2(k):
    """``2.0**k`` for ``-1100 <= k <= 1023`` (a table: no libm call in the loops)."""
    return _POW2[k - _P2_LO]


@nb.njit(**_JIT)
def _block_fast(x, xbits, out, exps, i, b, block, emax_elem, xmax_elem, ceil_rule, t, emin, negzero, mode):
    """One block of :func:`block_quantize_fast`; returns 1 for a NaN block."""
    j0 = b * block
    j1 = min(x.shape[1], j0 + block)
    amax = 0.0
    finite = True
    for j in range(j0, j1):
        v = abs(np.float64(x[i, j]))
        finite &= math.isfinite(v)
        amax = max(amax, v if math.isfinite(v) else 0.0)
    if not finite:
        exps[i, b] = 128
        for j in range(j0, j1):
            out[i, j] = np.nan
        return 1
    if amax == 0.0:
        e = -127
    else:
        e = _floor_log2(amax) - emax_elem
        if e < -127:
            e = -127
        elif ceil_rule and e <= 127 and amax > xmax_elem * _pow2(e):
            e += 1
        if e > 127:
            e = 127
    exps[i, b] = e
    back = _pow2(e)
    zero = 0.0 if not negzero else -0.0  # adding +0.0 turns -0 into +0
    for j in range(j0, j1):
        v = np.float64(x[i, j])
        # floor(log2|v|); a zero or float64 subnormal gets -1023, far below every element grid
        ev = ((xbits[i, j] >> 52) & 0x7FF) - 1023
        q = max(ev - e, emin) - (t - 1)  # the element's quantum is 2**q (times the block scale)
        y = v * _pow2(-e - q)  # exact unless it underflows, and then far below 1
        y = math.copysign(5e-324, v) if (y == 0.0 and v != 0.0) else y
        m = _to_int(y, mode) * _pow2(q)
        m = _clamp(m, -xmax_elem, xmax_elem) + zero
        out[i, j] = m * back
    return 0


@nb.njit(parallel=True, **_JIT)
def block_quantize_fast(x, xbits, out, exps, block, emax_elem, xmax_elem, ceil_rule, t, emin, negzero, mode):
    """Block quantization of the rows of ``x`` (2-D, ``xbits`` its int64 view) in one pass,
    for modes 1-4: the shared exponent as in :func:`block_scale`, then each element
    rounded on its own grid (``t`` significant bits, the exponent floored at ``emin``:
    gradual underflow; a fixed-point element ``fixed(2, f)`` is ``t = f + 2``,
    ``emin = 1``) and clamped to ``±xmax_elem``. Returns the number of NaN blocks."""
    rows, length = x.shape
    nblk = (length + block - 1) // block
    bad = np.zeros(rows * nblk, np.int64)
    for tb in nb.prange(rows * nblk):
        bad[tb] = _block_fast(x, xbits, out, exps, tb // nblk, tb % nblk, block, emax_elem, xmax_elem, ceil_rule,
                              t, emin, negzero, mode)
    return bad.sum()


@nb.njit(parallel=True, **_JIT)
def fixed_sqrt(codes, f, thr, out, cmin, cmax, bits, policy, mode, key):
    """Correctly rounded square roots of fixed-point codes (``f`` fraction bits, the result
    in the same grid): ``round(sqrt(c * 2**f))``, exactly. ``thr`` holds the stochastic
    thresholds ``floor(frac * 2**62)`` (computed by the caller) for mode 5. Returns
    ``(negative count, overflow count)``."""
    n = codes.shape[0]
    neg_count = 0
    over = 0
    fl = mode_flags(mode)
    for i in nb.prange(n):
        c = codes[i]
        if c < 0:
            neg_count += 1
            out[i] = 0
            continue
        hi, lo = _mul128(np.uint64(c), np.uint64(1) << np.uint64(f)) if f < 63 else (np.uint64(0), np.uint64(0))
        r = np.uint64(math.floor(math.sqrt(math.ldexp(np.float64(c), f))))  # c * 2**f is exact
        for _ in range(4):  # r**2 <= N < (r + 1)**2, exactly
            h2, l2 = _mul128(r, r)
            if h2 > hi or (h2 == hi and l2 > lo):
                r -= np.uint64(1)
                continue
            h3, l3 = _mul128(r + np.uint64(1), r + np.uint64(1))
            if h3 < hi or (h3 == hi and l3 <= lo):
                r += np.uint64(1)
                continue
            break
        h2, l2 = _mul128(r, r)
        rem = lo - l2  # N - r**2 < 2r + 1 < 2**55: exact modulo 2**64
        r62 = _draw(mode, key, i)
        up = decide_flags(fl, np.int64(r & np.uint64(1)), rem > r, rem != 0, thr[i], False, r62)
        k = r + np.uint64(up)
        cc, o = apply_overflow(k, False, False, cmin, cmax, bits, policy)
        if o:
            over += 1
        out[i] = cc
    return neg_count, over


@nb.njit(parallel=True, **_JIT)
def quantize_int_fast_blocks(x, out, inner, scales, los, his, mode):
    """:func:`quantize_int_fast` per channel, for layouts whose runs of ``inner``
    consecutive elements share a channel (run ``b`` is channel ``b % len(scales)``)."""
    nch = scales.shape[0]
    nblocks = x.shape[0] // inner
    counts = np.zeros((nblocks, 2), np.int64)
    for b in nb.prange(nblocks):
        ch = b % nch
        _fast_int_chunk(x, out, scales[ch], los[ch], his[ch], mode, b * inner, (b + 1) * inner, counts[b])
    return counts[:, 0].sum(), counts[:, 1].sum()
