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

import math

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

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


@nb.njit(inline="always", nogil=True)
def _sr_threshold(f_hi, d):
    """``floor((f_hi + d) * 2**62)`` exactly, as an int64 (see :func:`_round_up`)."""
    a = math.ldexp(f_hi, 62)
    whole = math.floor(a)
    if a != whole:  # f_hi has bits below 2**-62; |d| is below their spacing
        return np.int64(whole)
    return np.int64(whole) + np.int64(math.floor(math.ldexp(d, 62)))


@nb.njit(inline="always", nogil=True)
def _round_up(mode, kept, odd, f_hi, d, neg, r62):
    """The rounding decision of ``reference.round_up``.

    The exact fraction beyond ``kept`` gaps is ``f_hi + d``: ``f_hi`` in [0, 1) is a
    multiple of the storage ulp in gap units and ``|d|`` is at most half of it.
    """
    if f_hi == 0.0 and d == 0.0:
        return 0
    if mode == _SR:
        return 1 if r62 < _sr_threshold(f_hi, d) else 0
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
    # The sign of (fraction - 1/2): f_hi - 1/2 is exact, and a float sum has the sign
    # of the exact sum (it is zero only when the exact sum is).
    c = (f_hi - 0.5) + d
    if mode == _NEAREST_EVEN:
        return 1 if (c > 0.0 or (c == 0.0 and odd == 1)) else 0
    if mode == _NEAREST_AWAY:
        return 1 if c >= 0.0 else 0
    return 1 if c > 0.0 else 0  # _NEAREST_ZERO


@nb.njit(inline="always", nogil=True)
def _outward(mode, neg):
    if mode == _UP:
        return not neg
    if mode == _DOWN:
        return neg
    return mode != _ZERO and mode != _ODD


# Compiled once and called (not inlined): each kernel's many call sites would otherwise
# multiply numba's compile time.
@nb.njit(nogil=True, cache=True)
def round_pair(hi, lo, scale, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, r62):
    """Round the exact value ``(hi + lo) * 2**scale`` into the format.

    ``hi`` is a float64 and ``lo`` a residual with ``|lo| <= ulp(hi)/2`` (0 for a value
    held exactly in ``hi``); ``lo`` must be exact for the stochastic probability to be
    exact, while the deterministic modes need only its sign. A zero ``hi`` stands for
    an exact zero with that sign.
    """
    if hi != hi:
        return hi
    neg = hi < 0.0 or (hi == 0.0 and math.copysign(1.0, hi) < 0.0)
    if hi == 0.0:
        return -0.0 if (neg and negzero and signed) else 0.0
    ahi = abs(hi)
    if ahi == np.inf:
        if neg and not signed:
            return 0.0 if over_val == xmax else np.nan
        return -inf_val if neg else inf_val
    alo = -lo if neg else lo  # the residual in the direction of the magnitude
    m_frac, e_frexp = math.frexp(ahi)  # ahi = m_frac * 2**e_frexp, m_frac in [0.5, 1)
    m = np.int64(math.ldexp(m_frac, 53))
    e_raw = e_frexp - 53 + scale  # exact value ~ m * 2**e_raw
    e = e_frexp - 1 + scale
    if m == (np.int64(1) << 52) and alo < 0.0:
        e -= 1  # just below a power of two: the exact value lies in the binade below
    if e >= emin:
        q = e - (t - 1)
    elif subnormal:
        q = emin - (t - 1)
    else:
        q = emin
    s = q - e_raw
    if s < 0:
        kept = m << (-s)
        f_hi = 0.0
    elif s > 53:
        kept = np.int64(0)
        f_hi = math.ldexp(np.float64(m), -s)
        if f_hi == 0.0:  # far below the gap: only "more than zero" matters
            f_hi = 5e-324
    else:
        kept = m >> s
        f_hi = math.ldexp(np.float64(m & ((np.int64(1) << s) - 1)), -s)
    d = math.ldexp(alo, scale - q)
    if d == 0.0 and alo != 0.0:
        # far below the gap: only the sign matters (for stochastic rounding too, as
        # floor((f + d) * 2**62) then depends on the sign of d alone)
        d = math.copysign(5e-324, alo)
    if f_hi == 0.0 and d < 0.0:
        # Borrow: the value lies just below kept gaps, at fraction 1 + d of the gap
        # below, written as f_hi = 1/2 and d = 1/2 + d (exact) for the comparisons.
        kept -= 1
        f_hi = 0.5
        d = 0.5 + d
    # parity of the lower neighbour's encoding (reference.lower_is_odd)
    if t > 1:
        odd = kept & 1
    else:
        odd = 1 if (kept == 1 and ((q + 1 - emin) & 1) == 1) else 0
    up = _round_up(mode, kept, odd, f_hi, d, neg, r62)
    k = kept + up
    if k == 0:
        return -0.0 if (neg and negzero and signed) else 0.0
    if neg and not signed:  # a nonzero negative result does not exist
        return 0.0 if over_val == xmax else np.nan
    if q > 1023 - 53:
        v = math.ldexp(np.float64(k), q)
    else:
        v = np.float64(k) * _POW2[q - _P2_LO]
    if v > xmax:
        v = over_val if _outward(mode, neg) else xmax
    return -v if neg else v


@nb.njit(nogil=True, cache=True)
def round_one(x, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, r62):
    """Round the float ``x`` into the format (:func:`round_pair` of an exact value)."""
    return round_pair(x, 0.0, 0, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, r62)


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
        out[i] = round_one(np.float64(x[i]), t, emin, subnormal, xmax, over_val, inf_val,
                           negzero, signed, mode, r62)


@nb.njit(parallel=True, **_JIT)
def round_array_with_bits(x, xbits, out, ssig, sbias, t, emin, subnormal, xmax, over_val,
                          inf_val, negzero, signed, mode, rbits):
    """Like :func:`round_array`, with the 62-bit random integers given per element."""
    n = x.shape[0]
    for i in nb.prange(n):
        out[i] = round_one(np.float64(x[i]), t, emin, subnormal, xmax, over_val, inf_val,
                           negzero, signed, mode, rbits[i])


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


# ----------------------------------------------------------------------------- fast path
# For an input whose exponent lies in the format's normal range, the rounding is a few
# integer operations on the storage bit pattern: the carry of an increment into the
# exponent field is exactly the move to the next binade. Anything else (zeros,
# subnormal results, overflow, NaN, inf) takes round_one.

@nb.njit(inline="always", nogil=True)
def _fast_mag(mag, neg, mode, s, r62, t1_flip):
    """Rounded magnitude bits of a normal-range input (``s`` bits are dropped).

    ``t1_flip`` is -1 for ``t >= 2``: the storage bit at ``s`` is then the last
    significand bit. For ``t = 1`` that bit is the storage exponent's last bit, and
    ``t1_flip`` (0 or 1) says whether the format's bias differs from the storage's in
    parity (see :func:`fast_parity_flip`): the nearest-even tie rule uses the encoding's
    parity, round-to-odd the hidden bit (always 1, so it truncates).
    """
    mask = (np.int64(1) << s) - 1
    kept = mag & ~mask
    rem = mag & mask
    if mode == _NEAREST_EVEN:
        return (mag + (mask >> 1) + (((mag >> s) & 1) ^ max(t1_flip, 0))) & ~mask
    if mode == _NEAREST_AWAY:
        return (mag + (np.int64(1) << (s - 1))) & ~mask
    if mode == _NEAREST_ZERO:
        return (mag + (mask >> 1)) & ~mask
    if mode == _ZERO:
        return kept
    # Directed modes without a data-dependent branch on the sign.
    negmask = -np.int64(neg)
    if mode == _UP:
        return (mag + (mask & ~negmask)) & ~mask
    if mode == _DOWN:
        return (mag + (mask & negmask)) & ~mask
    if mode == _ODD:
        if t1_flip >= 0:
            return kept
        return kept | (np.int64(rem != 0) << s)
    if mode == _SR:
        # up iff (r62 >> (62 - s)) < rem, as in the reference, written as a carry.
        return (mag + (~(r62 >> (62 - s)) & mask)) & ~mask
    # _SRU
    return kept + (np.int64((rem != 0) & ((r62 >> 61) & 1)) << s)


@nb.njit(inline="always", nogil=True)
def fast_parity_flip(t, emin, sbias):
    """-1 for ``t >= 2``; for ``t = 1``, whether the storage bias and the format's bias
    ``1 - emin`` differ in parity (see :func:`_fast_mag`)."""
    if t > 1:
        return np.int64(-1)
    return np.int64((sbias - 1 + emin) & 1)


@nb.njit(inline="always", nogil=True)
def _fast_bits(b, mode, s, lo, hi, top, sign_bit, key, i, t1_flip):
    """Pass one for one element: its rounded bits, or ``b`` itself when the element
    needs the general path (second return value True). Branch free, so it vectorizes."""
    mag = b & (sign_bit - 1)
    r62 = np.int64(0)
    if mode == _SR or mode == _SRU:
        r62 = np.int64(random_bits(key, i) >> np.uint64(2))
    m2 = _fast_mag(mag, b < 0, mode, s, r62, t1_flip)
    slow = (mag < lo) | (mag >= hi) | (m2 > top)
    return (b if slow else (m2 | (b & sign_bit))), slow


@nb.njit(inline="always", nogil=True)
def _fast_bits_sub(b, mode, s, lo, hi, top, sign_bit, key, i, t1_flip, emin_field, ssig):
    """:func:`_fast_bits` extended below ``2**emin`` (``emin_field`` is its storage
    exponent field; 0 turns the extension off). There the format's gap is fixed, so one
    more bit is dropped per binade below ``emin``; for ``d < ssig`` dropped bits the
    rounding of the storage integer is still exact (the kept bits are significand bits,
    a storage subnormal being its own integer significand at exponent field 1, and a
    carry is the move to the next binade). ``lo`` is then the bits of twice the
    smallest subnormal, the first value with ``d < ssig``."""
    mag = b & (sign_bit - 1)
    d = s + max(emin_field - max(mag >> ssig, np.int64(1)), np.int64(0))
    r62 = np.int64(0)
    if mode == _SR or mode == _SRU:
        r62 = np.int64(random_bits(key, i) >> np.uint64(2))
    m2 = _fast_mag(mag, b < 0, mode, d, r62, t1_flip)
    slow = (mag < lo) | (mag >= hi) | (m2 > top)
    return (b if slow else (m2 | (b & sign_bit))), slow


_BLOCK = 2048  #: elements per block: the fix-up pass re-reads a block while it is in cache


@nb.njit(inline="always", nogil=True)
def _round_blocks(x, xbits, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero,
                  signed, mode, key, offset, lo, hi, top, sign_bit, s, lsb, emin_field, ssig):
    """Round block by block: a branch-free pass, then a fix-up of the block's others."""
    n = xbits.shape[0]
    for blk in nb.prange((n + _BLOCK - 1) // _BLOCK):
        start = blk * _BLOCK
        stop = min(n, start + _BLOCK)
        nslow = 0
        for i in range(start, stop):
            r, slow = _fast_bits_sub(np.int64(xbits[i]), mode, s, lo, hi, top, sign_bit, key, i + offset, lsb,
                                     emin_field, ssig)
            obits[i] = r
            nslow += np.int64(slow)
        if nslow == 0:
            continue
        for i in range(start, stop):
            mag = np.int64(obits[i]) & (sign_bit - 1)
            if lo <= mag and mag <= top:
                # Rounded in the first pass: it sends an element with a magnitude in
                # [lo, top] to this path only if it rounds above top, which cannot
                # happen since top is a format value.
                continue
            r62 = np.int64(0)
            if mode == _SR or mode == _SRU:
                r62 = np.int64(random_bits(key, i + offset) >> np.uint64(2))
            out[i] = round_one(np.float64(out[i]), t, emin, subnormal, xmax, over_val, inf_val,
                               negzero, signed, mode, r62)


@nb.njit(parallel=True, **_JIT)
def round_array_fast(x, xbits, out, obits, ssig, sbias, t, emin, subnormal, xmax, over_val, inf_val,
                     negzero, signed, mode, key, offset, lo, hi, top, sign_bit, emin_field=0):
    """:func:`round_array` for ``t`` below the storage precision, fast and parallel (see
    :func:`_round_array_fast_body`)."""
    _round_array_fast_body(x, xbits, out, obits, ssig, sbias, t, emin, subnormal, xmax, over_val, inf_val,
                           negzero, signed, mode, key, offset, lo, hi, top, sign_bit, emin_field)


@nb.njit(error_model="numpy", **_JIT)
def round_array_fast_serial(x, xbits, out, obits, ssig, sbias, t, emin, subnormal, xmax, over_val, inf_val,
                            negzero, signed, mode, key, offset, lo, hi, top, sign_bit, emin_field=0):
    """:func:`round_array_fast` on one thread: small arrays, where starting threads costs more."""
    _round_array_fast_body(x, xbits, out, obits, ssig, sbias, t, emin, subnormal, xmax, over_val, inf_val,
                           negzero, signed, mode, key, offset, lo, hi, top, sign_bit, emin_field)


@nb.njit(inline="always", nogil=True)
def _round_array_fast_body(x, xbits, out, obits, ssig, sbias, t, emin, subnormal, xmax, over_val, inf_val,
                           negzero, signed, mode, key, offset, lo, hi, top, sign_bit, emin_field=0):
    """:func:`round_array` for ``t`` below the storage precision, fast.

    Each block of elements is rounded by a branch-free pass over the storage bits for
    every element whose magnitude lies in ``[lo, hi)`` (the format's normal range) and
    whose result does not pass ``top`` (the bits of ``xmax``); the others are copied,
    then sent through :func:`round_one` while the block is in cache. Each mode has its
    own call so that the mode is a constant in the loops and they vectorize.
    """
    s = ssig - (t - 1)
    lsb = fast_parity_flip(t, emin, sbias)
    if mode == _NEAREST_EVEN:
        _round_blocks(x, xbits, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                      _NEAREST_EVEN, key, offset, lo, hi, top, sign_bit, s, lsb, emin_field, ssig)
    elif mode == _UP:
        _round_blocks(x, xbits, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                      _UP, key, offset, lo, hi, top, sign_bit, s, lsb, emin_field, ssig)
    elif mode == _DOWN:
        _round_blocks(x, xbits, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                      _DOWN, key, offset, lo, hi, top, sign_bit, s, lsb, emin_field, ssig)
    elif mode == _ZERO:
        _round_blocks(x, xbits, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                      _ZERO, key, offset, lo, hi, top, sign_bit, s, lsb, emin_field, ssig)
    elif mode == _SR:
        _round_blocks(x, xbits, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                      _SR, key, offset, lo, hi, top, sign_bit, s, lsb, emin_field, ssig)
    elif mode == _SRU:
        _round_blocks(x, xbits, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                      _SRU, key, offset, lo, hi, top, sign_bit, s, lsb, emin_field, ssig)
    elif mode == _NEAREST_ZERO:
        _round_blocks(x, xbits, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                      _NEAREST_ZERO, key, offset, lo, hi, top, sign_bit, s, lsb, emin_field, ssig)
    elif mode == _NEAREST_AWAY:
        _round_blocks(x, xbits, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                      _NEAREST_AWAY, key, offset, lo, hi, top, sign_bit, s, lsb, emin_field, ssig)
    else:
        _round_blocks(x, xbits, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                      _ODD, key, offset, lo, hi, top, sign_bit, s, lsb, emin_field, ssig)


# ------------------------------------------------------------------- correctly rounded arithmetic
# (Kept in this file: numba's cache tracks only the defining file, so kernels that inline
# round_pair must live beside it or they could run a stale copy after an edit.)
#
# Numba kernels for correctly rounded ``+ - * / sqrt`` and fma.
#
# Each operation turns its operands into an exact representation ``(hi + lo) * 2**scale``
# of the real result with error-free transformations, then hands it to
# :func:`lowprec.rounding._kernels.round_pair`, the one rounding core. Computing in
# binary64 and rounding afterwards would round twice, which is wrong for directed,
# to-odd and stochastic modes and for wide exponent ranges (bf16 ``1 + 2**-100`` rounded
# up must give ``1 + 2**-7``).
#
# * sum: TwoSum (Knuth), exact; operands are halved first if the sum overflows binary64.
# * product: operands scaled to [1, 2) by ``frexp``, Dekker's TwoProduct (Veltkamp
#   splitting, no FMA needed), so no intermediate can overflow or underflow.
# * quotient and square root: scaled the same way; the remainder ``a - q*b`` (or
#   ``a - s*s``) is exact, so the residual's sign is exact and its magnitude is correct
#   to binary64 precision (the stochastic probability to within ``2**-62``).
# * fma: exact when the product is (always for inputs with at most 26 significant bits,
#   i.e. every format up to fp32's precision held on its grid); other elements are
#   flagged for the exact rational path in :mod:`lowprec.arith`.

_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp's splitter for binary64
ADD, SUBTRACT, MULTIPLY, DIVIDE, SQRT = range(5)


# Scalar bit casts (numba has them only for arrays, through views): with them a loop
# can go from a binary64 result to its rounded bits and back in registers.
@intrinsic
def f64_bits(typingctx, x):
    """The int64 bit pattern of a float64 (LLVM ``bitcast``)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def bits_f64(typingctx, b):
    """The float64 with int64 bit pattern ``b`` (LLVM ``bitcast``)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@nb.njit(inline="always", nogil=True)
def two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@nb.njit(inline="always", nogil=True)
def two_prod(a, b):
    """``a*b == p + e`` exactly, for ``|a|, |b|`` in [1, 4) (no overflow in the split)."""
    p = a * b
    t = _SPLIT * a
    ah = t - (t - a)
    al = a - ah
    t = _SPLIT * b
    bh = t - (t - b)
    bl = b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


@nb.njit(inline="always", nogil=True)
def exact_sum(a, b, mode):
    """(hi, lo, scale) of ``a + b``; the sign of an exact zero follows IEEE 754."""
    s, e = two_sum(a, b)
    if s == 0.0 and e == 0.0 and a == a and b == b:
        both_neg = math.copysign(1.0, a) < 0 and math.copysign(1.0, b) < 0
        both_pos = math.copysign(1.0, a) > 0 and math.copysign(1.0, b) > 0
        if both_neg or (not both_pos and mode == _DOWN):
            return -0.0, 0.0, 0
        return 0.0, 0.0, 0
    if abs(s) == np.inf and abs(a) != np.inf and abs(b) != np.inf:
        s, e = two_sum(a * 0.5, b * 0.5)
        return s, e, 1
    if s != s or abs(s) == np.inf:
        return s, 0.0, 0
    return s, e, 0


@nb.njit(inline="always", nogil=True)
def _special(a, b):
    """Whether ``a`` or ``b`` is zero, infinite or NaN (binary64 handles those exactly)."""
    return a == 0.0 or b == 0.0 or a != a or b != b or abs(a) == np.inf or abs(b) == np.inf


@nb.njit(inline="always", nogil=True)
def exact_product(a, b):
    if _special(a, b):
        return a * b, 0.0, 0
    ma, ea = math.frexp(a)
    mb, eb = math.frexp(b)
    p, e = two_prod(ma * 2.0, mb * 2.0)
    return p, e, ea + eb - 2


@nb.njit(inline="always", nogil=True)
def _inside(hi, lo):
    """The residual ``lo`` of a correctly rounded binary64 quotient or square root ``hi``,
    kept strictly within half the spacing of ``hi`` on its side. The exact residual is
    (a quotient or root of 53-bit numbers is never a 54-bit midpoint), but the computed
    one may round onto or past that half, which would make a false tie for a 53-bit
    format (sqrt(nextbelow(4)) rounded to nearest gave 2.0)."""
    half = (np.nextafter(hi, math.copysign(np.inf, lo)) - hi) * 0.5
    return np.nextafter(half, 0.0) if abs(lo) >= abs(half) else lo


@nb.njit(inline="always", nogil=True)
def exact_quotient(a, b):
    if _special(a, b):
        return a / b, 0.0, 0
    ma, ea = math.frexp(a)
    mb, eb = math.frexp(b)
    ma *= 2.0
    mb *= 2.0
    q = ma / mb
    p, e = two_prod(q, mb)
    r = (ma - p) - e  # the exact remainder ma - q*mb
    return q, _inside(q, r / mb), ea - eb


@nb.njit(inline="always", nogil=True)
def exact_sqrt(a):
    if a == 0.0 or a != a or a == np.inf or a < 0.0:
        return math.sqrt(a) if a >= 0.0 or a != a else np.nan, 0.0, 0
    m, e = math.frexp(a)  # a = m * 2**e, m in [0.5, 1)
    m *= 2.0
    e -= 1
    if e % 2 != 0:
        m *= 2.0
        e -= 1
    s = math.sqrt(m)  # m in [1, 4): s in [1, 2)
    p, err = two_prod(s, s)
    r = (m - p) - err  # exact remainder m - s*s
    return s, _inside(s, r / (2.0 * s)), e // 2


@nb.njit(parallel=True, **_JIT)
def binary_op(op, a, b, out, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, key, offset):
    """``out[i] = round(a[i] op b[i])`` for flat arrays (``b`` ignored by sqrt)."""
    stochastic = mode == _SR or mode == _SRU
    for i in nb.prange(out.shape[0]):
        x = np.float64(a[i])
        y = np.float64(b[i])
        if op == ADD:
            hi, lo, sc = exact_sum(x, y, mode)
        elif op == SUBTRACT:
            hi, lo, sc = exact_sum(x, -y, mode)
        elif op == MULTIPLY:
            hi, lo, sc = exact_product(x, y)
        elif op == DIVIDE:
            hi, lo, sc = exact_quotient(x, y)
        else:
            hi, lo, sc = exact_sqrt(x)
        r62 = np.int64(0)
        if stochastic:
            r62 = np.int64(random_bits(key, i + offset) >> np.uint64(2))
        out[i] = round_pair(hi, lo, sc, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                            mode, r62)


_SAFE_LO = 2.0 ** -900  #: magnitudes where Dekker's products and remainders are exact unscaled
_SAFE_HI = 2.0 ** 900


@nb.njit(inline="always", nogil=True)
def _settle(op, hi, lo):
    """The residual of :func:`_exact_op_unscaled` ready for :func:`round_pair`: quotients
    and roots get :func:`_inside` (the branch-free path never needs it: it only asks
    whether ``lo`` is zero, and ``_inside`` keeps that)."""
    if op == DIVIDE or op == SQRT:
        return _inside(hi, lo)
    return lo


@nb.njit(inline="always", nogil=True)
def _exact_op_unscaled(op, x, y, mode):
    """:func:`exact_op` without the ``frexp`` scaling when every operand and result lies
    in ``[2**-900, 2**900]`` (then no split overflows and no residual underflows), so
    the result comes back with ``scale == 0`` and can take the fast path."""
    if op == MULTIPLY:
        p = x * y
        if _SAFE_LO < abs(x) < _SAFE_HI and _SAFE_LO < abs(y) < _SAFE_HI and _SAFE_LO < abs(p) < _SAFE_HI:
            h, e = two_prod(x, y)
            return h, e, 0
    elif op == DIVIDE:
        q = x / y
        if _SAFE_LO < abs(x) < _SAFE_HI and _SAFE_LO < abs(y) < _SAFE_HI and _SAFE_LO < abs(q) < _SAFE_HI:
            p, e = two_prod(q, y)
            return q, ((x - p) - e) / y, 0  # raw residual: see _settle
    elif op == SQRT:
        if _SAFE_LO < x < _SAFE_HI:
            r = math.sqrt(x)
            p, e = two_prod(r, r)
            return r, ((x - p) - e) / (2.0 * r), 0  # raw residual: see _settle
    return exact_op(op, x, y, mode)


@nb.njit(inline="always", nogil=True)
def _binary_fast_body(op, a, b, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                      mode, key, offset, lo_b, hi_b, top, sign_bit, s, t1_flip):
    """:func:`binary_op` with the branch-free rounding of :func:`_fast_mag` wherever it is
    provably the same: the exact result ``hi + lo`` has ``hi`` in the format's normal range
    and either ``lo == 0`` or (deterministic modes) ``hi``'s dropped bits are neither 0
    nor one half, so no rounding boundary (all binary64 numbers, since ``t < 52``) lies
    within ``|lo| <= ulp(hi)/2`` of ``hi``. Everything else takes :func:`round_pair`."""
    stochastic = mode == _SR or mode == _SRU
    mask = (np.int64(1) << s) - 1
    half = np.int64(1) << (s - 1)
    for i in nb.prange(out.shape[0]):
        hi, lo, sc = _exact_op_unscaled(op, np.float64(a[i]), np.float64(b[i]), mode)
        r62 = np.int64(0)
        if stochastic:
            r62 = np.int64(random_bits(key, i + offset) >> np.uint64(2))
        out[i] = hi
        bits = np.int64(obits[i])
        mag = bits & (sign_bit - 1)
        rem = mag & mask
        if sc == 0 and lo_b <= mag and mag < hi_b and (lo == 0.0 or (not stochastic and rem != 0 and rem != half)):
            m2 = _fast_mag(mag, bits < 0, mode, s, r62, t1_flip)
            if m2 <= top:
                obits[i] = m2 | (bits & sign_bit)
                continue
        out[i] = round_pair(hi, _settle(op, hi, lo), sc, t, emin, subnormal, xmax, over_val, inf_val, negzero,
                            signed, mode, r62)


@nb.njit(parallel=True, **_JIT)
def binary_op_fast(op, a, b, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode,
                   key, offset, lo_b, hi_b, top, sign_bit, s, t1_flip):
    """``out[i] = round(a[i] op b[i])`` (float64 ``out``, int64 view ``obits``), parallel."""
    _binary_fast_body(op, a, b, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                      mode, key, offset, lo_b, hi_b, top, sign_bit, s, t1_flip)


@nb.njit(error_model="numpy", **_JIT)
def binary_op_fast_serial(op, a, b, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                          mode, key, offset, lo_b, hi_b, top, sign_bit, s, t1_flip):
    """:func:`binary_op_fast` on one thread: small arrays, where starting threads costs more."""
    _binary_fast_body(op, a, b, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                      mode, key, offset, lo_b, hi_b, top, sign_bit, s, t1_flip)


@nb.njit(inline="always", nogil=True)
def _binary_fast_body_2d(op, a, b, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                         mode, key, offset, lo_b, hi_b, top, sign_bit, s, t1_flip):
    """:func:`_binary_fast_body` on 2-D arrays of any strides (broadcast views, slices),
    so neither the operands nor the destination need contiguous copies. Element
    ``(i, j)`` draws the random bits of flat index ``i * ncols + j``, as the 1-D kernel."""
    stochastic = mode == _SR or mode == _SRU
    mask = (np.int64(1) << s) - 1
    half = np.int64(1) << (s - 1)
    rows, cols = out.shape
    per_row = (cols + _BLOCK - 1) // _BLOCK
    for blk in nb.prange(rows * per_row):  # blocks of a row: parallel whatever the shape
        i = blk // per_row
        j0 = (blk % per_row) * _BLOCK
        for j in range(j0, min(cols, j0 + _BLOCK)):
            hi, lo, sc = _exact_op_unscaled(op, np.float64(a[i, j]), np.float64(b[i, j]), mode)
            r62 = np.int64(0)
            if stochastic:
                r62 = np.int64(random_bits(key, i * cols + j + offset) >> np.uint64(2))
            out[i, j] = hi
            bits = np.int64(obits[i, j])
            mag = bits & (sign_bit - 1)
            rem = mag & mask
            if sc == 0 and lo_b <= mag and mag < hi_b and (lo == 0.0 or (not stochastic and rem != 0 and rem != half)):
                m2 = _fast_mag(mag, bits < 0, mode, s, r62, t1_flip)
                if m2 <= top:
                    obits[i, j] = m2 | (bits & sign_bit)
                    continue
            out[i, j] = round_pair(hi, _settle(op, hi, lo), sc, t, emin, subnormal, xmax, over_val, inf_val,
                                   negzero, signed, mode, r62)


@nb.njit(parallel=True, **_JIT)
def binary_op_2d(op, a, b, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode,
                 key, offset, lo_b, hi_b, top, sign_bit, s, t1_flip):
    """``out[i, j] = round(a[i, j] op b[i, j])``, parallel over rows."""
    _binary_fast_body_2d(op, a, b, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                         mode, key, offset, lo_b, hi_b, top, sign_bit, s, t1_flip)


@nb.njit(error_model="numpy", **_JIT)
def binary_op_2d_serial(op, a, b, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                        mode, key, offset, lo_b, hi_b, top, sign_bit, s, t1_flip):
    """:func:`binary_op_2d` on one thread."""
    _binary_fast_body_2d(op, a, b, out, obits, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                         mode, key, offset, lo_b, hi_b, top, sign_bit, s, t1_flip)


@nb.njit(nogil=True, cache=True)
def _op_one(op, x, y, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, key, index):
    """One correctly rounded operation by the general path (not inlined: rare elements)."""
    h, l, sc = exact_op(op, x, y, mode)
    r62 = np.int64(0)
    if mode == _SR or mode == _SRU:
        r62 = np.int64(random_bits(key, index) >> np.uint64(2))
    return round_pair(h, l, sc, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, r62)


@nb.njit(inline="always", nogil=True)
def _binary64_op(op, x, y):
    """``x op y`` (``sqrt(x)`` for SQRT), rounded by binary64 itself."""
    if op == ADD:
        return x + y
    if op == SUBTRACT:
        return x - y
    if op == MULTIPLY:
        return x * y
    if op == DIVIDE:
        return x / y
    return np.sqrt(x)


@nb.njit(inline="always", nogil=True)
def _round_block(op, a, b, out, slow_at, check, zero_ok, mode, key, base, lo, hi, top, sign_bit, s, t1_flip):
    """One branch-free pass over 1-D slices: ``out[j]`` = the rounding of the binary64
    ``a[j] op b[j]`` by :func:`_fast_bits`, in registers (bit casts); ``slow_at[j]`` says
    whether the exact path must redo it: out of the fast range (exact zeros aside when
    ``zero_ok``) or, with ``check``, an inexact binary64 sum (TwoSum). Returns how many.
    (The loop body is written out twice: numba's inlining of a helper made it 3x slower.)"""
    n = 0
    zero_mask = sign_bit - 1
    if check:
        sign = 1.0 if op == ADD else -1.0
        for j in range(out.size):
            x = np.float64(a[j])
            y = sign * np.float64(b[j])
            v = x + y
            bb = v - x
            inexact = (x - (v - bb)) + (y - bb) != 0.0
            bits = f64_bits(v)
            r, slow = _fast_bits(bits, mode, s, lo, hi, top, sign_bit, key, base + j, t1_flip)
            slow = (slow & ~(zero_ok & ((bits & zero_mask) == 0))) | inexact
            out[j] = bits_f64(r)
            slow_at[j] = slow
            n += np.int64(slow)
    elif op == ADD or op == SUBTRACT:
        n = _round_results(ADD, a, b, out, slow_at, zero_ok, mode, key, base, lo, hi, top, sign_bit, s, t1_flip,
                           1.0 if op == ADD else -1.0)
    elif op == MULTIPLY:
        n = _round_results(MULTIPLY, a, b, out, slow_at, zero_ok, mode, key, base, lo, hi, top, sign_bit, s,
                           t1_flip, 1.0)
    elif op == DIVIDE:
        n = _round_results(DIVIDE, a, b, out, slow_at, zero_ok, mode, key, base, lo, hi, top, sign_bit, s, t1_flip,
                           1.0)
    else:
        n = _round_results(SQRT, a, b, out, slow_at, zero_ok, mode, key, base, lo, hi, top, sign_bit, s, t1_flip,
                           1.0)
    return n


@nb.njit(inline="always", nogil=True)
def _round_results(op, a, b, out, slow_at, zero_ok, mode, key, base, lo, hi, top, sign_bit, s, t1_flip, sign):
    """The loop of :func:`_round_block` without the TwoSum test (``op`` a constant; ``b``
    times ``sign`` for sums, so that one loop serves ``+`` and ``-``)."""
    n = 0
    zero_mask = sign_bit - 1
    for j in range(out.size):
        bits = f64_bits(_binary64_op(op, np.float64(a[j]), sign * np.float64(b[j])))
        r, slow = _fast_bits(bits, mode, s, lo, hi, top, sign_bit, key, base + j, t1_flip)
        slow = slow & ~(zero_ok & ((bits & zero_mask) == 0))
        out[j] = bits_f64(r)
        slow_at[j] = slow
        n += np.int64(slow)
    return n


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _round_block_by_mode(op, a, b, out, slow_at, check, zero_ok, mode, key, base, lo, hi, top, sign_bit, s,
                         t1_flip):
    """:func:`_round_block`, with round-to-nearest-even (the default mode) as a constant in
    its own copy of the loops: about 1.4x faster than with the mode read at run time.
    (A copy per mode would compile for minutes.)"""
    if mode == _NEAREST_EVEN:
        return _round_block(op, a, b, out, slow_at, check, zero_ok, _NEAREST_EVEN, key, base, lo, hi, top,
                            sign_bit, s, t1_flip)
    return _round_block(op, a, b, out, slow_at, check, zero_ok, mode, key, base, lo, hi, top, sign_bit, s, t1_flip)


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _redo_slow(op, a, b, out, slow_at, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, key, base):
    """The elements marked in ``slow_at``, by the exact path (its own function: its code
    beside the fast loop kept that loop from vectorizing)."""
    for j in range(out.size):
        if slow_at[j]:
            out[j] = _op_one(op, np.float64(a[j]), np.float64(b[j]), t, emin, subnormal, xmax, over_val, inf_val,
                             negzero, signed, mode, key, base + j)


@nb.njit(inline="always", nogil=True)
def _rows(op, a, b, out, check, zero_ok, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, key,
          offset, lo, hi, top, sign_bit, s, t1_flip):
    """``out = round(a op b)`` from the binary64 result of ``a op b``, for operands that are
    values of the format and ops where that result decides the rounding (the caller,
    :func:`lowprec.arith.rounds_from_binary64`, checks): it is exact, or (``check``, sums
    and differences) its TwoSum error is tested here and any inexact element recomputed,
    or (quotients and roots in deterministic modes, ``2t + 5 <= 53``) it provably lies in
    the same open interval between the format's values and midpoints as the exact result.
    ``zero_ok``: a zero binary64 result is exact and keeps binary64's sign (the caller
    checks: the format has -0, the mode is not round-down, where x - x is -0, and the op
    cannot underflow to zero); otherwise zeros take the exact path.

    In blocks of at most ``_BLOCK`` elements of a row (the parallel unit, whatever the
    shape), each done by :func:`_row_block` (a call, not inlined: inside numba's
    parallel loop body the passes would not vectorize): one branch-free pass (:func:`_round_block`) stores the rounded values into
    ``out`` (float32 when the format fits it), then the rare others are recomputed from
    the operands by the exact path (which also gives -0 for x - x rounded down). So
    ``out`` must not overlap ``a`` or ``b`` (:func:`lowprec.arith.binary_2d` sees to it).
    """
    rows, cols = out.shape
    per_row = (cols + _BLOCK - 1) // _BLOCK
    for blk in nb.prange(rows * per_row):
        i = blk // per_row
        j0 = (blk % per_row) * _BLOCK
        j1 = min(cols, j0 + _BLOCK)
        _row_block(op, a[i, j0:j1], b[i, j0:j1], out[i, j0:j1], check, zero_ok, t, emin, subnormal, xmax, over_val,
                   inf_val, negzero, signed, mode, key, i * cols + j0 + offset, lo, hi, top, sign_bit, s, t1_flip)


@nb.njit(error_model="numpy", **_JIT)
def _row_block(op, ar, br, orow, check, zero_ok, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
               mode, key, base, lo, hi, top, sign_bit, s, t1_flip):
    """One block of :func:`_rows`: 1-D slices, the first element's flat index ``base``."""
    slow_at = np.empty(orow.size, dtype=np.bool_)
    if _round_block_by_mode(op, ar, br, orow, slow_at, check, zero_ok, mode, key, base, lo, hi, top, sign_bit, s,
                            t1_flip):
        _redo_slow(op, ar, br, orow, slow_at, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode,
                   key, base)


@nb.njit(parallel=True, error_model="numpy", **_JIT)
def row_op_2d(op, a, b, out, check, zero_ok, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode,
              key, offset, lo, hi, top, sign_bit, s, t1_flip):
    """``out[i, j] = round(a[i, j] op b[i, j])`` through :func:`_rows`, parallel over blocks."""
    _rows(op, a, b, out, check, zero_ok, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, key,
          offset, lo, hi, top, sign_bit, s, t1_flip)


@nb.njit(error_model="numpy", **_JIT)
def row_op_2d_serial(op, a, b, out, check, zero_ok, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                     mode, key, offset, lo, hi, top, sign_bit, s, t1_flip):
    """:func:`row_op_2d` on one thread."""
    _rows(op, a, b, out, check, zero_ok, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, key,
          offset, lo, hi, top, sign_bit, s, t1_flip)


@nb.njit(parallel=True, **_JIT)
def fma_op(a, b, c, out, inexact, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode,
           key, offset):
    """``out[i] = round(a[i]*b[i] + c[i])`` where the product is exact in binary64;
    elsewhere ``inexact[i]`` is set and ``out[i]`` left for the exact path."""
    stochastic = mode == _SR or mode == _SRU
    for i in nb.prange(out.shape[0]):
        x = np.float64(a[i])
        y = np.float64(b[i])
        z = np.float64(c[i])
        p = x * y
        if not _special(x, y):
            hi_p, lo_p, sc = exact_product(x, y)
            # exact in binary64 only if no residual and no underflow or overflow
            if lo_p != 0.0 or p == 0.0 or abs(p) == np.inf or math.ldexp(p, -sc) != hi_p:
                inexact[i] = True
                continue
        inexact[i] = False
        hi, lo, sc = exact_sum(p, z, mode)
        r62 = np.int64(0)
        if stochastic:
            r62 = np.int64(random_bits(key, i + offset) >> np.uint64(2))
        out[i] = round_pair(hi, lo, sc, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                            mode, r62)


@nb.njit(inline="always", nogil=True)
def exact_op(op, x, y, mode):
    if op == ADD:
        return exact_sum(x, y, mode)
    if op == SUBTRACT:
        return exact_sum(x, -y, mode)
    if op == MULTIPLY:
        return exact_product(x, y)
    if op == DIVIDE:
        return exact_quotient(x, y)
    return exact_sqrt(x)


@nb.njit(parallel=True, **_JIT)
def fold_rows(op, x, out, partials, keep_partials, t, emin, subnormal, xmax, over_val, inf_val, negzero,
              signed, mode, key, offset):
    """Sequential accumulation along each row of the 2-D ``x``: ``acc = round(acc op x[j])``,
    every step correctly rounded. ``out[i]`` gets the final value; with ``keep_partials``
    ``partials[i, j]`` gets every partial result (``cumsum``/``cumprod``)."""
    n, k = x.shape
    stochastic = mode == _SR or mode == _SRU
    for i in nb.prange(n):
        acc = np.float64(x[i, 0]) if k > 0 else np.float64(out[i])
        if keep_partials and k > 0:
            partials[i, 0] = acc
        for j in range(1, k):
            hi, lo, sc = exact_op(op, acc, np.float64(x[i, j]), mode)
            r62 = np.int64(0)
            if stochastic:
                r62 = np.int64(random_bits(key, i * k + j + offset) >> np.uint64(2))
            acc = round_pair(hi, lo, sc, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                             mode, r62)
            if keep_partials:
                partials[i, j] = acc
        out[i] = acc


@nb.njit(parallel=True, **_JIT)
def matmul_rows(a, b, out, fused, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode,
                key, offset):
    """``out = a @ b`` (2-D) with sequential accumulation in the format: for each entry,
    ``acc = round(acc + round(a[i,k] * b[k,j]))`` left to right, or with ``fused`` one
    rounding per step, ``acc = round(acc + a[i,k] * b[k,j])`` (an fma)."""
    m, kk = a.shape
    n = b.shape[1]
    stochastic = mode == _SR or mode == _SRU
    for i in nb.prange(m):
        for j in range(n):
            acc = 0.0
            for k in range(kk):
                x = np.float64(a[i, k])
                y = np.float64(b[k, j])
                base = ((i * n + j) * kk + k) * 2 + offset
                r1 = np.int64(0)
                r2 = np.int64(0)
                if stochastic:
                    r1 = np.int64(random_bits(key, base) >> np.uint64(2))
                    r2 = np.int64(random_bits(key, base + 1) >> np.uint64(2))
                if fused:
                    p = x * y
                    hp, lp_, sp = exact_product(x, y)
                    exact = not (lp_ != 0.0 or math.ldexp(p, -sp) != hp or abs(p) == np.inf) or _special(x, y)
                    if k == 0:
                        hi, lo, sc = hp, lp_, sp
                    elif exact:
                        hi, lo, sc = exact_sum(acc, p, mode)
                    else:  # the product needs more than binary64: round it to odd first (sticky)
                        hi, lo, sc = exact_sum(acc, _odd64(hp, lp_, sp), mode)
                    acc = round_pair(hi, lo, sc, t, emin, subnormal, xmax, over_val, inf_val, negzero,
                                     signed, mode, r2)
                else:
                    hp, lp_, sp = exact_product(x, y)
                    prod = round_pair(hp, lp_, sp, t, emin, subnormal, xmax, over_val, inf_val, negzero,
                                      signed, mode, r1)
                    if k == 0:
                        acc = prod
                    else:
                        hi, lo, sc = exact_sum(acc, prod, mode)
                        acc = round_pair(hi, lo, sc, t, emin, subnormal, xmax, over_val, inf_val, negzero,
                                         signed, mode, r2)
            out[i, j] = acc


@nb.njit(inline="always", nogil=True)
def _round_scalar(hi, lo, stochastic, r62, buf, bits_buf, t, emin, subnormal, xmax, over_val, inf_val,
                  negzero, signed, mode, lo_b, hi_b, top, sign_bit, s, t1_flip):
    """Round the exact ``hi + lo`` (scale 0): the branch-free rounding of
    :func:`_binary_fast_body` when it provably applies, else :func:`round_pair`.
    ``buf``/``bits_buf`` are a one-element float64 scratch array and its int64 view."""
    buf[0] = hi
    bits = np.int64(bits_buf[0])
    mag = bits & (sign_bit - 1)
    rem = mag & ((np.int64(1) << s) - 1)
    if lo_b <= mag and mag < hi_b and (lo == 0.0 or (not stochastic and rem != 0 and rem != (np.int64(1) << (s - 1)))):
        m2 = _fast_mag(mag, bits < 0, mode, s, r62, t1_flip)
        if m2 <= top:
            bits_buf[0] = m2 | (bits & sign_bit)
            return buf[0]
    return round_pair(hi, lo, 0, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, r62)


@nb.njit(parallel=True, **_JIT)
def matmul_rows_fast(a, b, out, fused, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode,
                     key, offset, lo_b, hi_b, top, sign_bit, s, t1_flip):
    """:func:`matmul_rows` for formats whose products are exact in binary64 (``t <= 26``
    and a range well inside binary64's), with the fast rounding of each step. Loops
    ``i, k, j`` so that the inner loop runs along rows of ``b``; each ``out[i, j]``
    still accumulates over ``k`` in ascending order, so the results are those of
    :func:`matmul_rows`, random bits included."""
    m, kk = a.shape
    n = b.shape[1]
    stochastic = mode == _SR or mode == _SRU
    for i in nb.prange(m):
        buf = np.empty(1)
        bits_buf = buf.view(np.int64)
        for j in range(n):
            out[i, j] = 0.0
        for k in range(kk):
            x = np.float64(a[i, k])
            for j in range(n):
                p = x * np.float64(b[k, j])
                base = ((i * n + j) * kk + k) * 2 + offset
                r1 = np.int64(0)
                r2 = np.int64(0)
                if stochastic:
                    r1 = np.int64(random_bits(key, base) >> np.uint64(2))
                    r2 = np.int64(random_bits(key, base + 1) >> np.uint64(2))
                if not fused:
                    p = _round_scalar(p, 0.0, stochastic, r1, buf, bits_buf, t, emin, subnormal, xmax,
                                      over_val, inf_val, negzero, signed, mode, lo_b, hi_b, top, sign_bit, s, t1_flip)
                    if k == 0:
                        out[i, j] = p
                        continue
                if k == 0:
                    hi, lo, sc = p, 0.0, 0
                else:
                    hi, lo, sc = exact_sum(out[i, j], p, mode)
                if sc != 0:
                    out[i, j] = round_pair(hi, lo, sc, t, emin, subnormal, xmax, over_val, inf_val, negzero,
                                           signed, mode, r2)
                else:
                    out[i, j] = _round_scalar(hi, lo, stochastic, r2, buf, bits_buf, t, emin, subnormal, xmax,
                                              over_val, inf_val, negzero, signed, mode, lo_b, hi_b, top, sign_bit,
                                              s, t1_flip)


@nb.njit(parallel=True, **_JIT)
def matmul_exact_rows(a, b, out, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed, mode, key,
                      offset, lo, hi, top, sign_bit, s, t1_flip):
    """:func:`matmul_rows` (sequential, not fused) for formats whose products and sums
    of two values are exact in binary64 (half, fp8, ...): for each row of the result,
    ``k`` by ``k``, the row of products and then the row of partial sums are formed in
    binary64 (exact) and rounded by the branch-free :func:`_fast_bits` over the whole
    row, the rare others by :func:`round_pair`. Same results and random bits as
    :func:`matmul_rows`."""
    m, kk = a.shape
    n = b.shape[1]
    stochastic = mode == _SR or mode == _SRU
    for i in nb.prange(m):
        acc = np.zeros(n)
        prod = np.empty(n)
        prod_bits = prod.view(np.int64)
        tmp = np.empty(n)
        tmp_bits = tmp.view(np.int64)
        for k in range(kk):
            x = np.float64(a[i, k])
            for j in range(n):
                prod[j] = x * np.float64(b[k, j])
            nslow = 0
            for j in range(n):
                r, slow = _fast_bits(prod_bits[j], mode, s, lo, hi, top, sign_bit, key,
                                     ((i * n + j) * kk + k) * 2 + offset, t1_flip)
                prod_bits[j] = r
                nslow += np.int64(slow)
            if nslow:
                for j in range(n):
                    mag = prod_bits[j] & (sign_bit - 1)
                    if lo <= mag and mag <= top:
                        continue
                    r62 = np.int64(0)
                    if stochastic:
                        r62 = np.int64(random_bits(key, ((i * n + j) * kk + k) * 2 + offset) >> np.uint64(2))
                    prod[j] = round_pair(x * np.float64(b[k, j]), 0.0, 0, t, emin, subnormal, xmax, over_val,
                                         inf_val, negzero, signed, mode, r62)
            if k == 0:
                for j in range(n):
                    acc[j] = prod[j]
                continue
            for j in range(n):
                tmp[j] = acc[j] + prod[j]
            nslow = 0
            for j in range(n):
                r, slow = _fast_bits(tmp_bits[j], mode, s, lo, hi, top, sign_bit, key,
                                     ((i * n + j) * kk + k) * 2 + 1 + offset, t1_flip)
                tmp_bits[j] = r
                nslow += np.int64(slow)
            if nslow:
                for j in range(n):
                    mag = tmp_bits[j] & (sign_bit - 1)
                    if lo <= mag and mag <= top:
                        continue
                    h, l, sc = exact_sum(acc[j], prod[j], mode)
                    r62 = np.int64(0)
                    if stochastic:
                        r62 = np.int64(random_bits(key, ((i * n + j) * kk + k) * 2 + 1 + offset) >> np.uint64(2))
                    tmp[j] = round_pair(h, l, sc, t, emin, subnormal, xmax, over_val, inf_val, negzero, signed,
                                        mode, r62)
            for j in range(n):
                acc[j] = tmp[j]
        for j in range(n):
            out[i, j] = acc[j]


@nb.njit(inline="always", nogil=True)
def _odd64(hi, lo, scale):
    """``(hi + lo) * 2**scale`` rounded to binary64 by round-to-odd: a sticky value that
    rounds correctly afterwards into any format of at most 51 bits."""
    v = math.ldexp(hi, scale)
    if lo == 0.0:
        return v
    m, e = math.frexp(hi)
    if (np.int64(math.ldexp(abs(m), 53)) & 1) == 0:  # even: the other neighbour is odd
        v = np.nextafter(v, np.inf if lo > 0.0 else -np.inf)
    return v
