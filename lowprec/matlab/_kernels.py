"""Numba kernels of the MATLAB layer: MATLAB chop's algorithm, element by element.

:func:`chop_one` is a transcription of chop.m and roundit.m (github.com/higham/chop,
commit 906c31e6) for one element, in float64 arithmetic that is exact for float64
and float32 inputs alike (every intermediate value of chop's single-precision
computation is exactly representable in float64, and the final cast to float32 is
the rounding MATLAB's single arithmetic would do). It is the specification of the
layer. The arrays are rounded by

* :func:`fused`: the fast path, one pass. For a "regular" element (a normal
  storage number with ``lo <= |x| <= hi``: no subnormal, overflow or underflow step
  in chop) chop's result is the plain t-bit rounding, which the core's integer fast
  path computes (the same decision function lowprec.chop uses); every other element
  goes through :func:`chop_one`;
* :func:`classify` and :func:`general`: the general path, for explicit random
  numbers in chop's order (``randfunc``, MATLAB-side draws) and bit flips.

Status codes of :func:`chop_one`: 0 ok, 1 ``bitxor`` of a non-finite value (flip),
2 ``bitxor`` of a value above ``flintmax`` (flip); MATLAB raises an error for both.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

# The core's integer fast path for one t-bit rounding of a normal storage number
# (the decision of lowprec.rounding.reference for modes 1-6, as lp.chop makes it).
from ..rounding._kernels import _fast_mag

_JIT = dict(nogil=True, cache=True, fastmath=False)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TWO_M53 = 1.0 / 9007199254740992.0

#: Subset codes of :func:`classify`: bit 0 = subnormal subset (``k_sub``), bit 1 =
#: the element draws a random number in stochastic rounding.
SUB = 1
NEEDS_RAND = 2


@nb.njit(inline="always", nogil=True)
def _bits(key, index):
    """64 random bits for element ``index`` of the call keyed by ``key`` (SplitMix64)."""
    z = key + (np.uint64(index) + np.uint64(1)) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@nb.njit(inline="always", nogil=True)
def _uniform(z):
    """A uniform double in (0, 1) from 64 random bits (MATLAB's ``rand`` never
    returns 0 or 1; neither does this)."""
    return (np.float64(z >> np.uint64(11)) + 0.5) * _TWO_M53


@nb.njit(inline="always", nogil=True)
def _exponent(v):
    """chop's ``e``: ``[~,e] = log2(abs(x)); e = e - 1`` (-1 for 0, inf and NaN)."""
    a = abs(v)
    if a == 0.0 or a == np.inf or a != a:
        return -1
    return math.frexp(a)[1] - 1


@nb.njit(inline="always", nogil=True)
def _shift(v, t, emin, emins, explim):
    """Which subset the element is in (``k_sub`` or ``k_norm``) and chop's scaling
    exponent ``t-1-e`` (normal) or ``t1-1-e`` (subnormal)."""
    e = _exponent(v)
    in_sub = explim and e < emin and e >= emins
    if in_sub:
        return True, t - 1 - emin
    return False, t - 1 - e


@nb.njit(inline="always", nogil=True)
def _matlab_round(r):
    """MATLAB ``round``: to nearest, ties away from zero (exact for every double)."""
    if r != r or r == np.inf or r == -np.inf:
        return r
    a = abs(r)
    f = math.floor(a)
    if a - f >= 0.5:
        f += 1.0
    return -f if r < 0.0 else f


@nb.njit(inline="always", nogil=True)
def _needs_rand(y):
    """roundit's ``frac ~= 0`` for stochastic rounding (true for inf and NaN too)."""
    a = abs(y)
    frac = a - math.floor(a) if a != np.inf else np.nan
    return not (frac == 0.0)


@nb.njit(**_JIT)
def chop_one(v, t, emin, emins, xmax, xbound, min_rep, half_rep, explim, sub_zero, mode,
             rnd, sub_has_rand, norm_has_rand, flipb, flint):
    """MATLAB chop of the non-NaN value ``v``; returns ``(c, status)``.

    ``rnd`` is the random number of the element (stochastic modes, used only if the
    element draws one), ``sub_has_rand``/``norm_has_rand`` say whether roundit's
    ``k`` is non-empty for the element's subset, ``flipb`` is the flipped bit
    (``b`` of roundit, 0 for none), ``flint`` is ``flintmax`` of the input class.
    """
    in_sub, shift = _shift(v, t, emin, emins, explim)
    y = math.ldexp(v, shift)  # pow2(x, t-1-e): exact

    # ---- roundit
    if mode == 1:
        a = abs(y)
        r = a - 1.0 if np.fmod(a, 2.0) == 0.5 else a
        u = _matlab_round(r)
        if u == -1.0:
            u = 0.0
        if y > 0.0:
            y = u
        elif y < 0.0:
            y = -u
        else:
            y = 0.0  # sign(0) .* u
    elif mode == 2:
        y = np.ceil(y)
    elif mode == 3:
        y = np.floor(y)
    elif mode == 4:
        y = np.trunc(y)  # (x>=0|x==-inf).*floor(x) + (x<0|x==inf).*ceil(x), signed zeros too
    else:
        has_rand = sub_has_rand if in_sub else norm_has_rand
        if has_rand:  # otherwise roundit returns its input unchanged
            a = abs(y)
            if _needs_rand(y):
                if mode == 5:
                    frac = a - math.floor(a) if a != np.inf else np.nan
                    up = rnd <= frac
                else:
                    up = rnd <= 0.5
                a = np.ceil(a) if up else np.floor(a)
            y = -a if y < 0.0 else a  # mysign(x) .* y, mysign(0) = 1

    if flipb > 0:
        u = abs(y)
        if u == np.inf:
            return y, 1
        if u > flint:
            return y, 2
        u = np.float64(np.int64(u) ^ (np.int64(1) << (flipb - 1)))
        y = -u if y < 0.0 else u

    c = math.ldexp(y, -shift)  # pow2(y, e-(t-1))

    # ---- exponent range
    if explim:
        if mode == 1 or mode == 6:
            if v >= xbound:
                c = np.inf
            if v <= -xbound:
                c = -np.inf
        elif mode == 2:
            if v > xmax:
                c = np.inf
            if v < -xmax and v != -np.inf:
                c = -xmax
        elif mode == 3:
            if v > xmax and v != np.inf:
                c = xmax
            if v < -xmax:
                c = -np.inf
        else:
            if v > xmax and v != np.inf:
                c = xmax
            if v < -xmax and v != -np.inf:
                c = -xmax
        ac = abs(c)
        if ac < min_rep:
            if mode == 1:
                rnd_up = ac >= half_rep if sub_zero else ac > half_rep
                if rnd_up:
                    c = min_rep if c > 0.0 else (-min_rep if c < 0.0 else 0.0)
                else:
                    c = 0.0
            elif mode == 2:
                c = min_rep if c > 0.0 else 0.0
            elif mode == 3:
                c = -min_rep if c < 0.0 else 0.0
            else:
                c = 0.0
    return c, 0


@nb.njit(inline="always", nogil=True)
def _nan_bits(xb, mode, canon, qbit):
    """chop's NaN: roundit's ``sign(x)`` (modes 1, 5, 6) returns the default NaN;
    ceil/floor (modes 2-4) keep the input's payload and sign, quieted."""
    if mode == 1 or mode == 5 or mode == 6:
        return canon
    return xb | qbit


#: Elements per chunk of :func:`fused`: its second look at a chunk hits the cache.
CHUNK = 4096


@nb.njit(inline="always", nogil=True)
def _regular_pass(xbits, cbits, start, stop, mode, s, lo_bits, hi_bits, sign_bit, key):
    """t-bit rounding of the regular elements of ``[start, stop)``, others copied;
    returns how many were not regular. Branch free, so it vectorizes per mode."""
    nslow = 0
    for i in range(start, stop):
        b = np.int64(xbits[i])
        mag = b & (sign_bit - 1)
        r62 = np.int64(0)
        if mode == 5 or mode == 6:
            r62 = np.int64(_bits(key, i) >> np.uint64(2))
        m2 = _fast_mag(mag, b < 0, mode, s, r62, -1)  # t >= 2 here (see _fast_mag)
        regular = (mag >= lo_bits) & (mag <= hi_bits)
        cbits[i] = (m2 | (b & sign_bit)) if regular else b
        nslow += np.int64(not regular)
    return nslow


# Not cached: it inlines the core's _fast_mag from another file, and numba's cache
# would not notice a change there.
@nb.njit(parallel=True, nogil=True, cache=False, fastmath=False)
def fused(x, xbits, c, cbits, s, lo_bits, hi_bits, sign_bit, t, emin, emins, xmax, xbound,
          min_rep, half_rep, explim, sub_zero, mode, key, canon, qbit, flint, zero_sign_needs_flags):
    """MATLAB chop of every element, in one pass over memory (the fast path).

    An element whose storage magnitude bits lie in ``[lo_bits, hi_bits]`` (a normal
    storage number, regular for chop: no subnormal, overflow or underflow step) is
    rounded to ``t`` bits by the core's integer fast path (``s`` dropped bits; ``s=0``
    is the identity), which is chop's result there; every other element goes through
    :func:`chop_one`, in a second look at its chunk while the chunk is in cache.
    Stochastic modes draw from the counter-based stream ``key``. Returns the number
    of negative zeros whose sign depends on roundit's ``k`` being empty (the caller
    patches them, see :func:`keep_negative_zeros`).
    """
    n = x.shape[0]
    nchunks = (n + CHUNK - 1) // CHUNK
    stochastic = mode == 5 or mode == 6
    nzero = 0
    for ci in nb.prange(nchunks):
        start = ci * CHUNK
        stop = min(start + CHUNK, n)
        if s == 0:  # t is the storage precision: regular elements stay (mode 4 keeps all bits)
            nslow = _regular_pass(xbits, cbits, start, stop, 4, s, lo_bits, hi_bits, sign_bit, key)
        elif mode == 1:
            nslow = _regular_pass(xbits, cbits, start, stop, 1, s, lo_bits, hi_bits, sign_bit, key)
        elif mode == 2:
            nslow = _regular_pass(xbits, cbits, start, stop, 2, s, lo_bits, hi_bits, sign_bit, key)
        elif mode == 3:
            nslow = _regular_pass(xbits, cbits, start, stop, 3, s, lo_bits, hi_bits, sign_bit, key)
        elif mode == 4:
            nslow = _regular_pass(xbits, cbits, start, stop, 4, s, lo_bits, hi_bits, sign_bit, key)
        elif mode == 5:
            nslow = _regular_pass(xbits, cbits, start, stop, 5, s, lo_bits, hi_bits, sign_bit, key)
        else:
            nslow = _regular_pass(xbits, cbits, start, stop, 6, s, lo_bits, hi_bits, sign_bit, key)
        if nslow == 0:
            continue
        for i in range(start, stop):
            b = np.int64(xbits[i])
            mag = b & (sign_bit - 1)
            if mag >= lo_bits and mag <= hi_bits:
                continue
            v = np.float64(x[i])
            if v != v:
                cbits[i] = _nan_bits(b, mode, canon, qbit)
                continue
            rnd = _uniform(_bits(key, i)) if stochastic else 0.0
            # Stochastic modes: assume roundit's k non-empty for both subsets (a -0
            # becomes +0); only the sign of a zero depends on it, and only where the
            # range step does not flush it: counted here, patched by the caller.
            r, status = chop_one(v, t, emin, emins, xmax, xbound, min_rep, half_rep, explim,
                                 sub_zero, mode, rnd, True, True, 0, flint)
            c[i] = r
            if stochastic and zero_sign_needs_flags and v == 0.0 and b < 0:
                nzero += 1
    return nzero


@nb.njit(parallel=True, **_JIT)
def classify(x, codes, t, emin, emins, explim, stochastic):
    """chop's subsets (``k_sub`` vs ``k_norm``) and which elements draw a random
    number in roundit (``frac ~= 0``: inexact, inf or NaN)."""
    n = x.shape[0]
    for i in nb.prange(n):
        v = np.float64(x[i])
        in_sub, shift = _shift(v, t, emin, emins, explim)
        code = SUB if in_sub else 0
        if stochastic and _needs_rand(math.ldexp(v, shift)):
            code |= NEEDS_RAND
        codes[i] = code


@nb.njit(parallel=True, **_JIT)
def general(x, xbits, c, cbits, rnd, flipb, t, emin, emins, xmax, xbound, min_rep,
            half_rep, explim, sub_zero, mode, canon, qbit, flint, sub_has_rand, norm_has_rand):
    """MATLAB chop of every element, with explicit random numbers ``rnd`` and flipped
    bits ``flipb`` (0: none) per element. Returns the numbers of elements with status
    1 and 2 (see :func:`chop_one`)."""
    n = x.shape[0]
    n_inf = 0
    n_big = 0
    for i in nb.prange(n):
        v = np.float64(x[i])
        b = flipb[i]
        if v != v:
            if b > 0:
                n_inf += 1
            cbits[i] = _nan_bits(xbits[i], mode, canon, qbit)
            continue
        r, s = chop_one(v, t, emin, emins, xmax, xbound, min_rep, half_rep, explim, sub_zero,
                        mode, rnd[i], sub_has_rand, norm_has_rand, b, flint)
        n_inf += np.int64(s == 1)
        n_big += np.int64(s == 2)
        c[i] = r
    return n_inf, n_big


@nb.njit(parallel=True, **_JIT)
def keep_negative_zeros(x, xbits, c):
    """Set ``c`` to -0 where ``x`` is -0: roundit returns its input unchanged when no
    element of the subset draws a random number (:func:`fixup` assumed +0)."""
    for i in nb.prange(x.shape[0]):
        if x[i] == 0.0 and xbits[i] < 0:
            c[i] = -0.0
