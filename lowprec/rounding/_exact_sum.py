"""Exact sums, dot products and products, rounded once by the one rounding core.

The ``"exact"`` accumulation model (and the fused step of ``"fma"`` when a product
needs more than binary64) needs the exact real result of many terms. This module holds
it in a long fixed-point integer (a *superaccumulator*): ``ND`` signed 32-bit digits in
int64 limbs, the least significant digit worth ``2**BASE``. It covers every binary64
value and every exact product of two binary64 values (down to ``2**-2148``) with room
for ``2**60`` terms of ``2**2048`` above, so neither overflow nor underflow of partial
sums can happen: only the final rounding sees the format's range.

Digits are added to in carry-save form (each stays far inside int64 for ``2**30``
additions) and normalized once at the end. :func:`round_digits` then reads the exact
value as ``(hi + lo) * 2**scale`` -- ``hi`` its leading 53 bits rounded to nearest,
``lo`` the next 53 bits rounded to odd (a sticky value, so every deterministic mode
rounds it as it rounds the exact value) -- and calls ``_kernels.round_pair``. The
stochastic modes need more: their probability uses the exact fraction to 62 bits
beyond the format's gap, which two floats cannot carry when ``t > 43``; so the decision
``r62 < floor(frac * 2**62)`` (``reference.round_up``) is taken here on the digits
themselves and the core rounds away from or toward zero accordingly.

Signed zeros follow IEEE 754 for a sum computed exactly: an exact zero is +0, except in
round-down (-0 unless every term is +0); it is -0 when every term is -0 (a sum of one -0
stays -0); an empty sum is +0. NaN, and +inf with -inf, give NaN; an infinite term
otherwise gives that infinity (rounded into the format: ``inf_value``).

Kernels take plain arrays and scalars (never format objects), like ``_kernels``; new
kernels live here rather than in ``_kernels`` so that its compiled cache stays valid.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from ._kernels import _JIT, exact_product, f64_bits, random_bits, round_pair, two_sum

_UP, _DOWN, _ZERO, _SR, _SRU = 2, 3, 4, 5, 6

BASE = -2208  #: exponent of the least significant bit of the accumulator
ND = 136  #: 32-bit digits: the accumulator spans [2**BASE, 2**(BASE + 32*ND)) = up to 2**2144
_M32 = np.int64(0xFFFFFFFF)
_RENORM = 1 << 30  #: additions after which the carry-save digits are normalized

# term classes (see :func:`decompose`)
_FINITE, _ZEROCLS, _INF, _NAN = 0, 1, 2, 3


@nb.njit(inline="always", nogil=True)
def _add(dig, base, m, e):
    """``dig += m * 2**e`` for an int64 ``m`` with ``|m| < 2**62`` and ``e >= base``."""
    rel = e - base
    d = rel >> 5
    r = rel & 31
    sgn = np.int64(1)
    if m < 0:
        sgn = np.int64(-1)
        m = -m
    dig[d] += sgn * ((m & ((np.int64(1) << (32 - r)) - 1)) << r)
    rest = m >> (32 - r)
    dig[d + 1] += sgn * (rest & _M32)
    dig[d + 2] += sgn * (rest >> 32)


@nb.njit(inline="always", nogil=True)
def _add_float(dig, base, x, scale):
    """``dig += x * 2**scale`` for a finite nonzero float64 ``x``."""
    m, e = math.frexp(x)
    _add(dig, base, np.int64(math.ldexp(m, 53)), e - 53 + scale)


@nb.njit(inline="always", nogil=True)
def _man_exp(x):
    """``x == m * 2**e`` for a finite nonzero float64, from its bits: ``m`` the signed
    integer significand, shifted down by 27 when its 27 low bits are zero."""
    b = f64_bits(x)
    field = (b >> 52) & 0x7FF
    m = b & ((np.int64(1) << 52) - 1)
    e = np.int64(-1074)
    if field != 0:
        m |= np.int64(1) << 52
        e = field - 1075
    if (m & ((np.int64(1) << 27) - 1)) == 0:
        m >>= 27
        e += 27
    return (-m if b < 0 else m), e


@nb.njit(nogil=True, cache=True)
def _normalize(dig):
    """Propagate the carries: every digit but the top one in [0, 2**32), the top one
    keeping the sign (the accumulator's headroom keeps it small); returns -1 for a
    negative value, else 0. The value is unchanged."""
    last = dig.shape[0] - 1
    for i in range(last):
        c = dig[i] >> 32
        dig[i] -= c << 32
        dig[i + 1] += c
    return np.int64(-1) if dig[last] < 0 else np.int64(0)


@nb.njit(nogil=True, cache=True)
def _magnitude(dig):
    """Normalize ``dig`` to the magnitude of its value in place; True if it is negative."""
    if _normalize(dig) >= 0:
        return False
    for i in range(dig.shape[0]):
        dig[i] = -dig[i]
    _normalize(dig)
    return True


@nb.njit(inline="always", nogil=True)
def _bit(dig, p):
    """Bit ``p`` (counted from the accumulator's least significant bit) of normalized ``dig``."""
    if p < 0:
        return np.int64(0)
    d = p >> 5
    if d >= dig.shape[0]:
        return np.int64(0)
    return (dig[d] >> (p & 31)) & 1


@nb.njit(nogil=True, cache=True)
def _bits(dig, p, n):
    """The ``n <= 62`` bits ``[p, p + n)`` of normalized ``dig`` as an integer."""
    r = np.int64(0)
    for b in range(n - 1, -1, -1):
        r = (r << 1) | _bit(dig, p + b)
    return r


@nb.njit(nogil=True, cache=True)
def _any_below(dig, p):
    """Whether some bit below position ``p`` of normalized ``dig`` is set."""
    if p <= 0:
        return False
    d = min(p >> 5, dig.shape[0])
    for i in range(d):
        if dig[i] != 0:
            return True
    if d < dig.shape[0] and (p & 31) != 0:
        return (dig[d] & ((np.int64(1) << (p & 31)) - 1)) != 0
    return False


@nb.njit(nogil=True, cache=True)
def round_digits(dig, base, neg, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, r62):
    """Round the nonzero magnitude held in the normalized digits ``dig`` (least significant
    bit ``2**base``; negative value if ``neg``) once into the format."""
    top = dig.shape[0] - 1
    while dig[top] == 0:
        top -= 1
    lead = top * 32
    v = dig[top]
    while v > 1:
        v >>= 1
        lead += 1
    e_val = lead + base  # 2**e_val <= |value| < 2**(e_val + 1)
    h = _bits(dig, lead - 52, 53)
    lo = _bits(dig, lead - 105, 53)
    if _any_below(dig, lead - 105):
        lo |= 1  # round to odd: the sticky bit
    if lo > (np.int64(1) << 52):  # beyond half of hi's last place: hi to nearest
        h += 1
        lo -= np.int64(1) << 53
    hi = np.float64(h)
    lof = math.ldexp(np.float64(lo), -53)
    scale = e_val - 52
    if neg:
        hi = -hi
        lof = -lof
    if mode != _SR and mode != _SRU:
        return round_pair(hi, lof, scale, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, 0)
    # The gap 2**q next to the value (reference.quantum_exponent), the exact fraction beyond it.
    if e_val >= emin:
        q = e_val - (t - 1)
    elif subnormal:
        q = emin - (t - 1)
    else:
        q = emin
    qp = q - base
    inexact = _any_below(dig, qp)
    if mode == _SR:
        up = r62 < _bits(dig, qp - 62, 62)
    else:
        up = inexact and ((r62 >> 61) & 1) == 1
    if up:  # away from zero: the core's overflow rule for that direction is the stochastic one
        return round_pair(hi, lof, scale, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                          _DOWN if neg else _UP, 0)
    r = round_pair(hi, lof, scale, t, emin, subnormal, np.inf, np.inf, inf_val, negzero, signed, _ZERO, 0)
    if abs(r) > xmax:  # truncated beyond xmax: a stochastic rounding overflows either way
        return -over_val if r < 0 else over_val
    return r


@nb.njit(inline="always", nogil=True)
def _zero_sum(k, any_neg, any_pos, mode):
    """The signed zero of an exact zero sum of ``k`` terms (see the module docstring)."""
    if k == 0:
        return 0.0
    if mode == _DOWN:
        return -0.0 if any_neg else 0.0
    return 0.0 if any_pos else -0.0


@nb.njit(nogil=True, cache=True)
def finish(dig, tmp, base, k, any_neg, any_pos, nan, pinf, ninf, t, emin, subnormal, xmax, over_val, inf_val,
           negzero, signed, mode, r62):
    """The rounded result of an accumulation: specials first, then the digits ``dig``
    (left unchanged; ``tmp`` is scratch of the same size)."""
    if nan or (pinf and ninf):
        return np.nan
    if pinf or ninf:
        return round_pair(-np.inf if ninf else np.inf, 0.0, 0, t, emin, subnormal, xmax, over_val, inf_val,
                          negzero, signed, mode, r62)
    for i in range(dig.shape[0]):
        tmp[i] = dig[i]
    neg = _magnitude(tmp)
    nonzero = False
    for i in range(tmp.shape[0]):
        if tmp[i] != 0:
            nonzero = True
            break
    if not nonzero:
        z = _zero_sum(k, any_neg, any_pos, mode)
        return round_pair(z, 0.0, 0, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, r62)
    return round_digits(tmp, base, neg, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, r62)


# ----------------------------------------------------------------------------- sums

@nb.njit(parallel=True, **_JIT)
def sums_exact(x, rows, out, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, key, offset):
    """``out[i]`` = the exactly rounded ``sum(x[i])`` for ``i`` in ``rows`` (random word
    ``i + offset`` of the stream ``key`` in the stochastic modes)."""
    k = x.shape[1]
    stochastic = mode == _SR or mode == _SRU
    for r in nb.prange(rows.shape[0]):
        i = rows[r]
        dig = np.zeros(ND, dtype=np.int64)
        tmp = np.empty(ND, dtype=np.int64)
        any_neg = False
        any_pos = False
        nan = False
        pinf = False
        ninf = False
        count = 0
        for j in range(k):
            v = np.float64(x[i, j])
            if math.copysign(1.0, v) < 0.0:
                any_neg = True
            else:
                any_pos = True
            if v != v:
                nan = True
            elif v == np.inf:
                pinf = True
            elif v == -np.inf:
                ninf = True
            elif v != 0.0:
                _add_float(dig, BASE, v, 0)
                count += 1
                if count == _RENORM:
                    _normalize(dig)
                    count = 0
        r62 = np.int64(0)
        if stochastic:
            r62 = np.int64(random_bits(key, i + offset) >> np.uint64(2))
        out[i] = finish(dig, tmp, BASE, k, any_neg, any_pos, nan, pinf, ninf, t, emin, subnormal, xmax, over_val,
                        inf_val, negzero, signed, mode, r62)


@nb.njit(parallel=True, **_JIT)
def cumsums_exact(x, partials, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, key, offset):
    """``partials[i, j]`` = the exactly rounded ``sum(x[i, :j+1])`` (random word
    ``i*k + j + offset``). A binary64 running sum serves while its TwoSum errors are zero;
    from the first inexact step on, the superaccumulator (seeded with that exact sum)."""
    n, k = x.shape
    stochastic = mode == _SR or mode == _SRU
    for i in nb.prange(n):
        dig = np.zeros(ND, dtype=np.int64)
        tmp = np.empty(ND, dtype=np.int64)
        any_neg = False
        any_pos = False
        nan = False
        pinf = False
        ninf = False
        exact = True
        s = 0.0
        for j in range(k):
            v = np.float64(x[i, j])
            if math.copysign(1.0, v) < 0.0:
                any_neg = True
            else:
                any_pos = True
            if v != v:
                nan = True
            elif v == np.inf:
                pinf = True
            elif v == -np.inf:
                ninf = True
            elif v != 0.0:
                if exact:
                    s2, e = two_sum(s, v)
                    if e != 0.0 or abs(s2) == np.inf:
                        exact = False
                        if s != 0.0:
                            _add_float(dig, BASE, s, 0)
                        _add_float(dig, BASE, v, 0)
                    else:
                        s = s2
                else:
                    _add_float(dig, BASE, v, 0)
            r62 = np.int64(0)
            if stochastic:
                r62 = np.int64(random_bits(key, i * k + j + offset) >> np.uint64(2))
            if exact and not (nan or pinf or ninf):
                z = s if s != 0.0 else _zero_sum(j + 1, any_neg, any_pos, mode)
                partials[i, j] = round_pair(z, 0.0, 0, t, emin, subnormal, xmax, over_val, inf_val, negzero,
                                            signed, mode, r62)
            else:
                if exact:  # a special arrived first: the digits take over the exact sum
                    exact = False
                    if s != 0.0:
                        _add_float(dig, BASE, s, 0)
                partials[i, j] = finish(dig, tmp, BASE, j + 1, any_neg, any_pos, nan, pinf, ninf, t, emin,
                                        subnormal, xmax, over_val, inf_val, negzero, signed, mode, r62)
            if (j & 0x3FFFFFF) == 0x3FFFFFF:
                _normalize(dig)


# ----------------------------------------------------------------------------- products of many terms

@nb.njit(nogil=True, cache=True)
def _mul(dig, used, m, out):
    """``out[:new] = dig[:used] * m`` for normalized digits and ``0 < m < 2**53``; returns ``new``."""
    lo = np.uint64(m & _M32)
    hi = np.uint64(m >> 32)
    for i in range(used + 2):
        out[i] = 0
    for i in range(used):
        d = np.uint64(dig[i])
        p = d * lo  # < 2**64
        out[i] += np.int64(p & np.uint64(0xFFFFFFFF))
        out[i + 1] += np.int64(p >> np.uint64(32))
        p = d * hi  # < 2**53
        out[i + 1] += np.int64(p & np.uint64(0xFFFFFFFF))
        out[i + 2] += np.int64(p >> np.uint64(32))
    c = np.int64(0)
    for i in range(used + 2):
        v = out[i] + c
        c = v >> 32
        out[i] = v & _M32
    new = used + 2
    while new > 1 and out[new - 1] == 0:
        new -= 1
    return new


@nb.njit(parallel=True, **_JIT)
def prods_exact(x, out, partials, keep, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, key,
                offset):
    """The exactly rounded product of each row of ``x`` (and with ``keep`` of every
    prefix): the exact integer product of the significands (at most two digits more per
    factor), its exponent apart, rounded once (random word ``i + offset``, or ``i*k + j +
    offset`` for the prefixes). Zeros, infinities and NaN follow IEEE 754 (``0 * inf`` is
    NaN; the sign is the product of the signs). An empty product is 1."""
    n, k = x.shape
    stochastic = mode == _SR or mode == _SRU
    for i in nb.prange(n):
        dig = np.zeros(2 * k + 4, dtype=np.int64)
        nxt = np.zeros(2 * k + 4, dtype=np.int64)
        dig[0] = 1
        used = 1
        expo = np.int64(0)
        neg = False
        zero = False
        inf = False
        nan = False
        out[i] = 1.0
        for j in range(k):
            v = np.float64(x[i, j])
            if math.copysign(1.0, v) < 0.0:
                neg = not neg
            if v != v:
                nan = True
            elif abs(v) == np.inf:
                inf = True
            elif v == 0.0:
                zero = True
            elif not (zero or inf or nan):
                m, e = math.frexp(abs(v))
                mi = np.int64(math.ldexp(m, 53))
                expo += e - 53
                while (mi & 1) == 0:
                    mi >>= 1
                    expo += 1
                if mi != 1:
                    used = _mul(dig, used, mi, nxt)
                    dig, nxt = nxt, dig
            if keep or j == k - 1:
                r62 = np.int64(0)
                if stochastic:
                    idx = i * k + j if keep else i
                    r62 = np.int64(random_bits(key, idx + offset) >> np.uint64(2))
                if nan or (zero and inf):
                    val = np.nan
                elif inf or zero:
                    s = -1.0 if neg else 1.0
                    val = round_pair(s * (np.inf if inf else 0.0), 0.0, 0, t, emin, subnormal, xmax, over_val,
                                     inf_val, negzero, signed, mode, r62)
                else:
                    val = round_digits(dig[:used], expo, neg, t, emin, subnormal, xmax, over_val, inf_val, negzero,
                                       signed, mode, r62)
                if keep:
                    partials[i, j] = val
                out[i] = val


# ----------------------------------------------------------------------------- dot products

@nb.njit(parallel=True, **_JIT)
def decompose(x, man, ex, cls, neg):
    """Each element of the 2-D ``x`` as ``man * 2**ex`` (``man`` an integer of 53 bits, or
    of 26 when its 27 low bits are zero), its class (finite nonzero, zero, inf, NaN) and
    sign bit."""
    n, k = x.shape
    for i in nb.prange(n):
        for j in range(k):
            v = np.float64(x[i, j])
            neg[i, j] = math.copysign(1.0, v) < 0.0
            man[i, j] = 0
            ex[i, j] = 0
            if v != v:
                cls[i, j] = _NAN
            elif abs(v) == np.inf:
                cls[i, j] = _INF
            elif v == 0.0:
                cls[i, j] = _ZEROCLS
            else:
                cls[i, j] = _FINITE
                man[i, j], ex[i, j] = _man_exp(v)


@nb.njit(inline="always", nogil=True)
def _add_product(dig, ma, ea, mb, eb):
    """``dig += (ma * 2**ea) * (mb * 2**eb)``, exactly: one integer product of significands
    below ``2**27``, or three partial products of their 27-bit halves."""
    if abs(ma) < (1 << 27) and abs(mb) < (1 << 27):
        _add(dig, BASE, ma * mb, ea + eb)
        return
    a1 = ma >> 27  # floor: for negative ma, a1 * 2**27 + a0 == ma with 0 <= a0 < 2**27
    a0 = ma - (a1 << 27)
    b1 = mb >> 27
    b0 = mb - (b1 << 27)
    e = ea + eb
    _add(dig, BASE, a0 * b0, e)
    _add(dig, BASE, a1 * b0 + a0 * b1, e + 27)
    _add(dig, BASE, a1 * b1, e + 54)


@nb.njit(parallel=True, **_JIT)
def dots_exact(ma, ea, ca, sa, mb, eb, cb, sb, ii, jj, out, t, emin, subnormal, xmax, over_val, inf_val,
               negzero, signed, mode, key, offset):
    """``out[ii[r], jj[r]]`` = the exactly rounded dot product of row ``ii[r]`` of A and
    row ``jj[r]`` of B transposed, both given by :func:`decompose` (random word
    ``ii*n + jj + offset``, ``n`` the columns of ``out``)."""
    kk = ma.shape[1]
    n = out.shape[1]
    stochastic = mode == _SR or mode == _SRU
    for r in nb.prange(ii.shape[0]):
        i = ii[r]
        j = jj[r]
        dig = np.zeros(ND, dtype=np.int64)
        tmp = np.empty(ND, dtype=np.int64)
        any_neg = False
        any_pos = False
        nan = False
        pinf = False
        ninf = False
        count = 0
        for k in range(kk):
            s = sa[i, k] != sb[j, k]
            if s:
                any_neg = True
            else:
                any_pos = True
            c1 = ca[i, k]
            c2 = cb[j, k]
            if c1 == _FINITE and c2 == _FINITE:
                _add_product(dig, ma[i, k], ea[i, k], mb[j, k], eb[j, k])
                count += 1
                if count == _RENORM:
                    _normalize(dig)
                    count = 0
            elif c1 == _NAN or c2 == _NAN or (c1 == _INF and c2 == _ZEROCLS) or (c1 == _ZEROCLS and c2 == _INF):
                nan = True
            elif c1 == _INF or c2 == _INF:
                if s:
                    ninf = True
                else:
                    pinf = True
        r62 = np.int64(0)
        if stochastic:
            r62 = np.int64(random_bits(key, i * n + j + offset) >> np.uint64(2))
        out[i, j] = finish(dig, tmp, BASE, kk, any_neg, any_pos, nan, pinf, ninf, t, emin, subnormal, xmax,
                           over_val, inf_val, negzero, signed, mode, r62)


@nb.njit(parallel=True, **_JIT)
def dots_exact_direct(a, bt, ii, jj, rows_of_bt, out, t, emin, subnormal, xmax, over_val, inf_val, negzero,
                      signed, mode, key, offset):
    """:func:`dots_exact` from the values themselves, for a few entries ``(ii[r], jj[r])``:
    column ``jj[r]`` of ``b`` is row ``rows_of_bt[r]`` of ``bt`` (the needed columns of ``b``
    transposed), each significand taken from the bits where it is needed."""
    kk = a.shape[1]
    n = out.shape[1]
    stochastic = mode == _SR or mode == _SRU
    for r in nb.prange(ii.shape[0]):
        i = ii[r]
        j = jj[r]
        jb = rows_of_bt[r]
        dig = np.zeros(ND, dtype=np.int64)
        tmp = np.empty(ND, dtype=np.int64)
        any_neg = False
        any_pos = False
        nan = False
        pinf = False
        ninf = False
        count = 0
        for k in range(kk):
            x = np.float64(a[i, k])
            y = np.float64(bt[jb, k])
            s = (math.copysign(1.0, x) < 0.0) != (math.copysign(1.0, y) < 0.0)
            if s:
                any_neg = True
            else:
                any_pos = True
            fx = abs(x) < np.inf
            fy = abs(y) < np.inf
            if fx and fy:
                if x != 0.0 and y != 0.0:
                    mx, ex = _man_exp(x)
                    my, ey = _man_exp(y)
                    _add_product(dig, mx, ex, my, ey)
                    count += 1
                    if count == _RENORM:
                        _normalize(dig)
                        count = 0
            elif x != x or y != y or x == 0.0 or y == 0.0:
                nan = True
            elif s:
                ninf = True
            else:
                pinf = True
        r62 = np.int64(0)
        if stochastic:
            r62 = np.int64(random_bits(key, i * n + j + offset) >> np.uint64(2))
        out[i, j] = finish(dig, tmp, BASE, kk, any_neg, any_pos, nan, pinf, ninf, t, emin, subnormal, xmax,
                           over_val, inf_val, negzero, signed, mode, r62)


@nb.njit(parallel=True, **_JIT)
def dots_checked(a, bt, ii, jj, out, ok):
    """``out[i, j] = a[i] @ bt[j]`` in binary64, ``k`` ascending, for the listed entries,
    with ``ok[i, j]`` whether it is provably exact: every product normal or an exact zero
    (exact for significands of at most 26 bits, which the caller guarantees), every TwoSum
    error zero, the result finite and nonzero."""
    kk = a.shape[1]
    for r in nb.prange(ii.shape[0]):
        i = ii[r]
        j = jj[r]
        acc = 0.0
        err = 0.0
        bad = False
        for k in range(kk):
            x = np.float64(a[i, k])
            y = np.float64(bt[j, k])
            p = x * y
            bad |= not ((abs(p) >= 2.2250738585072014e-308 and abs(p) < np.inf) or x == 0.0 or y == 0.0)
            acc, e = two_sum(acc, p)
            err += abs(e)
        out[i, j] = acc
        ok[i, j] = not bad and err == 0.0 and acc != 0.0 and abs(acc) < np.inf


# ----------------------------------------------------------------------------- one fused step

_WD = 12  #: digits of the window of one fused step (384 bits)


@nb.njit(inline="always", nogil=True)
def _top(x, scale):
    """Exponent of the leading bit of the finite nonzero ``x * 2**scale``."""
    m, e = math.frexp(x)
    return e - 1 + scale


@nb.njit(nogil=True, cache=True)
def fma_round(acc, x, y, dig, tmp, mode_is_down, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
              mode, r62):
    """``round(acc + x*y)`` with one rounding and the exact product, for finite ``acc``,
    ``x``, ``y`` (the callers handle specials). Two exact terms, ``acc`` (53 bits) and the
    product (106 bits): when one lies entirely more than 160 bits below the other's
    leading bit, nothing cancels and it only decides the sticky bit, so it is replaced by
    a single bit of its sign 160 bits down; otherwise both fit the window ``dig`` exactly
    (from 344 bits below the leading bit, the product's last bit being at most 319 below). ``dig``/``tmp``: int64 scratch of ``_WD`` digits."""
    hp, lp, sp = exact_product(x, y)
    if hp == 0.0:  # a zero product: IEEE's sum of acc and a signed zero
        s = acc + hp
        if s == 0.0:
            s = -0.0 if (math.copysign(1.0, acc) < 0 and math.copysign(1.0, hp) < 0) or (
                mode_is_down and not (math.copysign(1.0, acc) > 0 and math.copysign(1.0, hp) > 0)) else 0.0
        return round_pair(s, 0.0, 0, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, r62)
    if acc == 0.0:
        return round_pair(hp, lp, sp, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, r62)
    ta = _top(acc, 0)
    tp = _top(hp, sp) + 1  # |product| < 2**tp
    top = max(ta, tp)
    for i in range(_WD):
        dig[i] = 0
    base = top - 344
    if ta < top - 160:
        _add(dig, base, np.int64(-1) if acc < 0 else np.int64(1), top - 160)
    else:
        _add_float(dig, base, acc, 0)
    if tp < top - 160:
        _add(dig, base, np.int64(-1) if hp < 0 else np.int64(1), top - 160)
    else:
        _add_float(dig, base, hp, sp)
        if lp != 0.0:
            _add_float(dig, base, lp, sp)
    for i in range(_WD):
        tmp[i] = dig[i]
    neg = _magnitude(tmp)
    nonzero = False
    for i in range(_WD):
        if tmp[i] != 0:
            nonzero = True
    if not nonzero:  # exact cancellation: +0, or -0 in round-down
        return round_pair(-0.0 if mode_is_down else 0.0, 0.0, 0, t, emin, subnormal, xmax, over_val, inf_val,
                          negzero, signed, mode, r62)
    return round_digits(tmp, base, neg, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, r62)


@nb.njit(inline="always", nogil=True)
def _special3(a, x, y):
    return not (abs(a) < np.inf and abs(x) < np.inf and abs(y) < np.inf)


@nb.njit(parallel=True, **_JIT)
def matmul_fused(a, b, out, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, key, offset):
    """``out = a @ b`` (2-D) with ``acc = round(acc + a[i,k]*b[k,j])`` rounded once per
    step and the exact product (:func:`fma_round`), ``k`` ascending; the first step is
    ``round(a[i,0]*b[0,j])``. Random words as ``_kernels.matmul_rows`` (the second of each
    step's pair), so that both give the same bits where both are exact."""
    m, kk = a.shape
    n = b.shape[1]
    stochastic = mode == _SR or mode == _SRU
    down = mode == _DOWN
    for i in nb.prange(m):
        dig = np.zeros(_WD, dtype=np.int64)
        tmp = np.zeros(_WD, dtype=np.int64)
        for j in range(n):
            acc = 0.0
            for k in range(kk):
                x = np.float64(a[i, k])
                y = np.float64(b[k, j])
                r2 = np.int64(0)
                if stochastic:
                    r2 = np.int64(random_bits(key, ((i * n + j) * kk + k) * 2 + 1 + offset) >> np.uint64(2))
                if k == 0:
                    hp, lp, sp = exact_product(x, y)
                    acc = round_pair(hp, lp, sp, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                                     mode, r2)
                elif _special3(acc, x, y) or acc != acc:
                    # IEEE: binary64 is exact with a NaN or infinite operand; an infinite acc with
                    # finite x and y stays (x*y might overflow binary64 where it is finite)
                    v = acc if (abs(x) < np.inf and abs(y) < np.inf) else acc + x * y
                    acc = round_pair(v, 0.0, 0, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                                     mode, r2)
                else:
                    acc = fma_round(acc, x, y, dig, tmp, down, t, emin, subnormal, xmax, over_val, inf_val,
                                    negzero, signed, mode, r2)
            out[i, j] = acc


@nb.njit(parallel=True, **_JIT)
def round_pairs(hi, lo, ok, out, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, key, offset):
    """``out.flat[i] = round(hi[i] + lo[i])`` (an exact pair, e.g. from TwoSum) where
    ``ok[i]`` and ``lo[i] != 0``; random word ``i + offset``."""
    stochastic = mode == _SR or mode == _SRU
    for i in nb.prange(hi.shape[0]):
        if ok[i] and lo[i] != 0.0:
            r62 = np.int64(0)
            if stochastic:
                r62 = np.int64(random_bits(key, i + offset) >> np.uint64(2))
            out[i] = round_pair(hi[i], lo[i], 0, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                                mode, r62)
