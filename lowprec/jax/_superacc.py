"""Exact sums of exact products in JAX: an integer superaccumulator on the bit patterns.

The ``"exact"`` accumulation model (and the fused step of ``"fma"`` where binary64
cannot hold a product) needs the exact real value of ``sum(x_i * y_i)``. Each operand is
a format value read from its storage bits as an integer significand ``M`` times
``2**q`` (no float arithmetic, so XLA's flush-to-zero of subnormals cannot touch it);
the product of two significands is formed in integers (split in halves when it would
not fit), and its digits are added into a long fixed-point integer: ``nlimbs`` signed
digits of ``D`` bits (``D = 32`` in int64 limbs under ``jax_enable_x64``, ``D = 16`` in
int32 limbs without it), the lowest worth ``2**base`` with ``base`` the lowest bit any
product of format values has, and enough digits above the largest product for the
length. Neither overflow nor underflow of partial sums can happen; only the final
rounding sees the format's range. The digits are added to in carry-save form and
normalized by a parallel carry step often enough to stay inside the integer type.

The exact value is then read as a window of its leading bits and rounded once by the
shared rounding core: under x64 as ``(hi + lo) * 2**scale`` (``hi`` the leading 53
bits rounded to nearest, ``lo`` the next 53 rounded to odd: every deterministic mode
rounds that as it rounds the exact value) by
:func:`lowprec.rounding.array_api.round_pair`; without x64 as a 24-bit value rounded to
odd, assembled into float32 from its bits (subnormals included) and rounded by
:func:`lowprec.jax._chop.round_params`, exact for ``t <= 22`` (two bits beyond the
format). Stochastic modes: under x64 ``round_pair`` sees the fraction beyond the gap to
at least 53 bits (the probability is exact to ``2**-53``; the reference's 62-bit
decision is matched whenever ``t <= 44``); without x64 they need x64 and say so.

Signed zeros follow IEEE 754 for a sum computed exactly (as ``LPFloat``): an exact zero
is +0, except in round-down (-0 unless every term is +0); it is -0 when every term is
-0. NaN, and +inf with -inf, give NaN; an infinite term otherwise gives that infinity
(rounded into the format).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import lax

from ..formats import FloatFormat
from ..rounding import array_api, certify
from ..rounding.modes import RoundingMode
from ._ops import JAX_OPS


class Acc(NamedTuple):
    """Static layout of one superaccumulator."""

    width: int  #: 64 (int64 limbs, x64) or 32 (int32 limbs)
    digit: int  #: bits per digit D
    base: int  #: the exponent of the lowest digit's lowest bit
    nlimbs: int
    t: int  #: the largest significand width of a factor (products split when needed)
    every: int  #: parallel carry step after this many deposits


_STORAGE = {64: (52, 1023, jnp.int64, jnp.uint64, jnp.float64), 32: (23, 127, jnp.int32, jnp.uint32, jnp.float32)}


def layout(products, singles, k: int, width: int) -> Acc:
    """The accumulator for ``k`` terms, each a product of two values of a format in
    ``products`` or a value of a format in ``singles``."""
    lows = [2 * (f.emin - f.t + 1) for f in products] + [f.emin - f.t + 1 for f in singles]
    highs = [2 * (f.emax + 1) for f in products] + [f.emax + 1 for f in singles]
    t = max(f.t for f in list(products) + list(singles))
    base = min(lows)
    high = max(highs) + max(1, math.ceil(math.log2(max(k, 2)))) + 2
    digit = 32 if width == 64 else 16
    nlimbs = -(-(high - base) // digit) + 2
    pieces = 3 if (products and _split(t, width)) else 1
    # digits < 2**D; each deposit adds at most pieces * 3 digits into one limb
    every = max(1, (2 ** (width - 2 - digit)) // (3 * pieces))
    return Acc(width, digit, base, nlimbs, t, every)


def _split(t: int, width: int) -> bool:
    """Whether a product of two ``t``-bit significands needs splitting to fit the limbs."""
    return 2 * t > width - 2


def parts(x, acc: Acc, fmt: FloatFormat):
    """``|x| = M * 2**q`` from the bits of values ``x`` of ``fmt`` (``M < 2**t`` an
    integer, ``q >= emin - t + 1``); sign, zero and finiteness flags. Non-finite values
    give ``M = 0``. Pass the values themselves: under ``jit`` XLA may turn a float
    ``where(finite, x, 0)`` into arithmetic that flushes subnormals."""
    ssig, sbias, ints, _, _ = _STORAGE[acc.width]
    b = lax.bitcast_convert_type(x, ints)
    neg = b < 0
    mag = b & ((1 << (acc.width - 1)) - 1)
    field = mag >> ssig
    mant = mag & ((1 << ssig) - 1)
    finite = field != (2 * sbias + 1)
    M = jnp.where(field > 0, mant | (1 << ssig), mant)
    q = jnp.maximum(field, 1) - sbias - ssig
    # a format value has at most t significant bits and lies on the grid 2**qmin: the
    # storage bits below both are zeros
    drop = jnp.clip(jnp.maximum((fmt.emin - fmt.t + 1) - q, ssig + 1 - fmt.t), 0, acc.width - 1)
    M = jnp.where(finite, M >> drop, 0)
    return M, q + drop, neg, (field == 0) & (mant == 0), finite  # (not mag == 0: see _zero_flags)


def _pieces(Mx, qx, My, qy, acc: Acc):
    """The product ``Mx * My * 2**(qx + qy)`` as integer pieces ``(M, q)`` that fit the limbs."""
    if not _split(acc.t, acc.width):
        return [(Mx * My, qx + qy)]
    h = (acc.t + 1) // 2
    lowmask = (1 << h) - 1
    xh, xl = Mx >> h, Mx & lowmask
    yh, yl = My >> h, My & lowmask
    q = qx + qy
    return [(xh * yh, q + 2 * h), (xh * yl + xl * yh, q + h), (xl * yl, q)]


def deposit(digits, pieces, neg, acc: Acc):
    """Add ``±M * 2**q`` of every piece into ``digits`` (shape ``(..., nlimbs)``)."""
    D = acc.digit
    mask = (1 << D) - 1
    limbs = jnp.arange(acc.nlimbs)
    for M, q in pieces:
        pos = q - acc.base
        li = pos // D
        off = pos - li * D
        n_d = -(-(acc.width - 2 + D - 1) // D)
        for i in range(n_d):
            if i == 0:
                d = (M & ((jnp.ones_like(M) << (D - off)) - 1)) << off
            else:
                d = (M >> jnp.maximum(i * D - off, 0)) & mask
            d = jnp.where(neg, -d, d)
            digits = digits + jnp.where((li + i)[..., None] == limbs, d[..., None], 0)
    return digits


def carry_step(digits, acc: Acc):
    """One parallel carry step: every digit but the top one back into [0, 2**D), the
    carries one limb up (the value is unchanged)."""
    D = acc.digit
    low = digits & ((1 << D) - 1)
    up = digits >> D
    low = low.at[..., -1].set(digits[..., -1])
    up = up.at[..., -1].set(0)
    return low + jnp.concatenate([jnp.zeros_like(up[..., :1]), up[..., :-1]], axis=-1)


def _propagate(digits, acc: Acc):
    """Full carry propagation: digits in [0, 2**D) and the signed carry out of the top."""
    D = acc.digit
    cols = jnp.moveaxis(digits, -1, 0)

    def step(c, d):
        v = d + c
        return v >> D, v & ((1 << D) - 1)

    carry, out = lax.scan(step, jnp.zeros_like(cols[0]), cols)
    return jnp.moveaxis(out, 0, -1), carry


def _window(digits, acc: Acc):
    """Leading digits ``d[h], d[h-1], d[h-2], d[h-3]`` of a normalized non-negative value,
    ``h``, and whether any digit below them is nonzero."""
    nz = digits != 0
    n = acc.nlimbs
    h = n - 1 - jnp.argmax(nz[..., ::-1], axis=-1)
    below = jnp.cumsum(nz, axis=-1) > 0  # any nonzero digit at or below each limb

    def at(i):
        got = jnp.take_along_axis(digits, jnp.clip(i, 0, n - 1)[..., None], axis=-1)[..., 0]
        return jnp.where(i >= 0, got, 0)

    lower = jnp.take_along_axis(below, jnp.clip(h - 4, 0, n - 1)[..., None], axis=-1)[..., 0]
    return [at(h - j) for j in range(4)], h, lower & (h >= 4), jnp.any(nz, axis=-1)


def _bitlen(u, width):
    return width - lax.clz(u)


def finish(digits, acc: Acc, p, mode: RoundingMode, r62=None, offset=0):
    """The exactly rounded value of the accumulator times ``2**offset`` (x64: float64
    through ``round_pair``; float32: round to odd, then ``round_params``), and whether
    the exact value is zero."""
    digits, carry = _propagate(digits, acc)
    neg = carry < 0
    digits, _ = _propagate(jnp.where(neg[..., None], -digits, digits), acc)  # |value|
    (d0, d1, d2, d3), h, lower, nonzero = _window(digits, acc)
    D = acc.digit
    _, _, ints, uints, floats = _STORAGE[acc.width]
    u = lambda v: v.astype(uints)  # noqa: E731
    A = (u(d0) << D) | u(d1)
    B = (u(d2) << D) | u(d3)
    L = _bitlen(u(d0), acc.width).astype(ints)  # bits of the leading digit, 1..D
    sh = (D - L).astype(uints)
    W = acc.width
    A2 = jnp.where(sh == 0, A, (A << sh) | (B >> (W - sh)))
    B2 = B << sh
    lead = acc.base + h * D + L - 1 + offset  # exponent of the leading bit
    if acc.width == 64:
        hi = A2 >> 11
        lo = ((A2 & 0x7FF) << 42) | (B2 >> 22)
        sticky = ((B2 & ((1 << 22) - 1)) != 0) | lower
        lo = lo | sticky.astype(uints)
        up = lo >= (1 << 52)  # hi to nearest, lo in [-1/2, 1/2) ulp
        hif = hi.astype(jnp.float64) + jnp.where(up, 1.0, 0.0)
        lof = (lo.astype(jnp.int64) - jnp.where(up, 1 << 53, 0)).astype(jnp.float64) * 2.0 ** -53
        hif = jnp.where(nonzero, jnp.where(neg, -hif, hif), 0.0)
        lof = jnp.where(neg, -lof, lof)
        out = array_api.round_pair(hif, lof, (lead - 52).astype(jnp.int64), p, mode, r62, ops=JAX_OPS)
        return out, ~nonzero
    from ._arith import _assemble
    from ._chop import round_params
    hi = (A2 >> 8).astype(jnp.int32)
    sticky = ((A2 & 0xFF) != 0) | (B2 != 0) | lower
    odd = hi | sticky.astype(jnp.int32)
    obits = (150 << 23) | (odd & 0x7FFFFF)
    value = _assemble(obits, (lead - 23).astype(jnp.int32), neg, mode)
    out = round_params(value, p, mode, None)
    return out, ~nonzero


def zero_sign(all_neg, all_pos, mode: RoundingMode):
    """Whether an exact zero sum is -0 (IEEE 754; see the module docstring)."""
    if mode == RoundingMode.DOWN:
        return ~all_pos
    return all_neg


__all__ = ["Acc", "carry_step", "deposit", "finish", "layout", "parts", "zero_sign"]


# ------------------------------------------------------------------ the "exact" model

#: Significand bits and smallest normal exponent of the storage of each width.
_PREC = {64: (53, -1022), 32: (24, -126)}


def _setup(fmt: FloatFormat, mode: RoundingMode, what: str):
    """(width, working dtype, rounding params) of an exact accumulation, or a clear error."""
    from ..errors import FormatError
    from ._chop import _params
    from ._ops import x64_enabled
    if x64_enabled():
        return 64, jnp.float64, _params(fmt, True, jnp.float64, None)
    if fmt.t > 22 or mode.is_stochastic:
        why = f"format {fmt.label} has t = {fmt.t} > 22" if fmt.t > 22 else f"stochastic mode {mode.name.lower()}"
        raise FormatError(f"{what} on float32 storage: {why}, which needs float64 in JAX: enable "
                          "jax_enable_x64 (jax.config.update('jax_enable_x64', True)).")
    return 32, jnp.float32, _params(fmt, True, jnp.float32, None)


def _lsb(x, fmt: FloatFormat, width: int):
    """The exponent of the last significand bit of format values ``x`` (normal storage
    values; huge for zeros and non-finite values), and which are storage subnormals."""
    ssig, sbias, ints, _, _ = _STORAGE[width]
    b = lax.bitcast_convert_type(x, ints)
    field = (b >> ssig) & (2 * sbias + 1)
    mant = b & ((1 << ssig) - 1)
    lsb = jnp.maximum(field - sbias - (fmt.t - 1), fmt.emin - fmt.t + 1)
    big = 1 << 20
    lsb = jnp.where((field == 0) | (field == 2 * sbias + 1), big, lsb)
    return lsb, (field == 0) & (mant != 0)


def _fits(total, g, width: int):
    """``0 <= total < 2**(g + P - 1)`` and ``g`` at or above the storage's normal range:
    every partial sum of terms on the grid ``2**g`` is then exact in the storage."""
    prec, emin = _PREC[width]
    _, e = jnp.frexp(total)  # total < 2**e
    # (no shortcut for total == 0: products below binary64's range sum to 0 there; rows
    # of zeros have a huge g and pass)
    return (g >= emin) & (e <= g + prec - 1) & jnp.isfinite(total)


def _signed(out, zero, all_neg, all_pos, special, fmt, p, mode):
    """Signed zeros and special values on top of the exactly rounded ``out``: an exact
    zero gets its IEEE sign; a NaN or infinite ``special`` (the sum of the terms' special
    parts) is rounded into the format (its infinity, or NaN)."""
    from ._arith import round_values
    if p.signed and p.negzero:
        out = jnp.where(zero, jnp.where(zero_sign(all_neg, all_pos, mode), -0.0, 0.0).astype(out.dtype), out)
    else:
        out = jnp.where(zero, jnp.zeros_like(out), out)
    bad = ~jnp.isfinite(special)
    mode_det = RoundingMode.NEAREST_EVEN if mode.is_stochastic else mode  # inf/NaN need no random bits
    fixed = round_values(jnp.where(bad, special, 0.0).astype(out.dtype), fmt, mode_det)
    return _select(bad, fixed, out)


def _select(c, a, b):
    """``where(c, a, b)`` of floats on their bits: XLA may rewrite a float select into
    arithmetic that flushes a subnormal ``b`` to zero on CPU."""
    ints = jnp.int64 if a.dtype == jnp.float64 else jnp.int32
    bits = lambda v: lax.bitcast_convert_type(v, ints)  # noqa: E731
    return lax.bitcast_convert_type(jnp.where(c, bits(a), bits(b)), a.dtype)


def _zero_flags(x, width):
    ssig, sbias, ints, _, _ = _STORAGE[width]
    b = lax.bitcast_convert_type(x, ints)
    return b == np.array(-(1 << (width - 1)), dtype=ints), b == 0


def _r62_for(key, shape, storage):
    from ._arith import _r62
    return _r62(key, shape, storage)


def _split_key(key, i):
    from ._keys import split_key
    return None if key is None else split_key(key, i)


#: How an exact accumulation with a certificate is staged (the ``phase`` argument):
#: ``"cond"`` (under a user's ``jit``): the certified float result, and the
#: superaccumulator behind ``lax.cond`` where some entry is not certified; ``"fast"``: the
#: certified result and whether every entry is (eager calls check it in Python and
#: compile the superaccumulator only when it is needed); ``"slow"``: the superaccumulator.
PHASES = ("cond", "fast", "slow")


def _storage_subnormal_reach(fmt: FloatFormat, width: int) -> bool:
    """Whether format values can be storage subnormals (which XLA on CPU reads as zero)."""
    return fmt.emin - fmt.t + 1 < _PREC[width][1]


def _certify(c, mag, k, fmt, mode, key, width, bad=None):
    """``(rounded, ok)`` by :func:`lowprec.rounding.certify.certified` for float results
    ``c`` of ``k`` terms with magnitudes summing to ``mag``; ``bad``: entries whose inputs
    hold storage subnormals (flushed on read: no bound holds)."""
    from ._arith import round_values
    err = certify.error_bound(c, mag, k, width, jnp)
    r, ok = certify.certified(c, err, lambda v: round_values(v, fmt, mode, _split_key(key, 0)), fmt.emin,
                              width, jnp)
    return r, (ok if bad is None else ok & ~bad)


def _staged(phase, fast, ok, slow, dtype):
    """The result of ``phase`` from the certified ``fast`` (storage ``dtype``), its
    ``ok`` and a thunk of the superaccumulator's result."""
    from ._arith import to_storage
    out = to_storage(fast, dtype)
    if phase == "fast":
        return out, jnp.all(ok)
    return lax.cond(jnp.all(ok), lambda: out, lambda: _select(ok, out, slow()))


def sum_rows(rows, fmt: FloatFormat, mode: RoundingMode, key, dtype, keep: bool, phase: str = "cond"):
    """The exactly rounded sum of each row (:func:`_sum_rows`), first from the float sum
    where its error bound certifies the rounding (:mod:`lowprec.rounding.certify`);
    ``phase`` as :data:`PHASES` (``"fast"`` returns ``(result, all certified)``)."""
    width, _, _ = _setup(fmt, mode, "the exact accumulation model")
    R, k = rows.shape
    if phase == "slow" or keep or not (R and k and certify.worth_trying(fmt.t, k, width)):
        out = _sum_rows(rows, fmt, mode, key, dtype, keep)
        return (out, jnp.array(True)) if phase == "fast" else out
    from ._arith import widen
    x = widen(rows) if width == 64 else rows.astype(jnp.float32)
    bad = jnp.any(_lsb(x, fmt, width)[1], axis=1) if _storage_subnormal_reach(fmt, width) else None
    fast, ok = _certify(jnp.sum(x, axis=1), jnp.sum(jnp.abs(x), axis=1), k, fmt, mode, _split_key(key, 2), width,
                        bad)
    return _staged(phase, fast, ok, lambda: _sum_rows(rows, fmt, mode, key, dtype, keep), dtype)


def _sum_rows(rows, fmt: FloatFormat, mode: RoundingMode, key, dtype, keep: bool):
    """The exactly rounded sum of each row of 2-D ``rows`` (format values in ``dtype``
    storage), or with ``keep`` every running sum (same shape as ``rows``).

    Fast path: where every term lies on the grid ``2**g`` (``g`` the row's lowest last
    bit, at or above the storage's normal range) and the sum of magnitudes stays below
    ``2**(g + P - 1)`` (``P`` the storage's precision), every partial sum is exact in the
    storage, so the float sum (in any order) is the exact sum; otherwise (``lax.cond``)
    the superaccumulator.
    """
    from ._arith import round_values, to_storage, widen
    width, work, p = _setup(fmt, mode, "the exact accumulation model")
    x = widen(rows) if width == 64 else rows.astype(jnp.float32)
    R, k = x.shape
    finite = jnp.isfinite(x)
    x0 = jnp.where(finite, x, 0.0)
    neg0, pos0 = _zero_flags(x, width)
    lsb, tiny = _lsb(x, fmt, width)
    ok = _fits(jnp.sum(jnp.abs(x0), axis=1), jnp.min(lsb, axis=1), width) & ~jnp.any(tiny, axis=1)
    acc = layout([], [fmt], k, width)
    shape = x.shape if keep else (R,)

    def fast(_):
        s = jnp.cumsum(x0, axis=1) if keep else jnp.sum(x0, axis=1)
        return round_values(s, fmt, mode, _split_key(key, 0)), s == 0

    def slow(x):
        M, q, neg, _, _ = parts(x, acc, fmt)  # raw bits: no float select first
        r62 = _r62_for(_split_key(key, 1), shape, work) if mode.is_stochastic else None
        zero = jnp.zeros((R, acc.nlimbs), _STORAGE[width][2])
        if keep:  # one term per step, every running sum kept
            def step(d, item):
                d = carry_step(deposit(d, [(item[0], item[1])], item[2], acc), acc)
                return d, d
            _, ds = lax.scan(step, zero, (M.T, q.T, neg.T))  # (k, R, nlimbs)
            out, z = finish(jnp.moveaxis(ds, 0, 1), acc, p, mode, r62)
            return out, z
        chunk = min(k, 64, acc.every)
        pad = (-k) % chunk

        def blocks(v, fill):
            v = jnp.pad(v, ((0, 0), (0, pad)), constant_values=fill)
            return v.reshape(R, -1, chunk).transpose(1, 0, 2)

        def step(d, item):
            Mi, qi, ni = item
            block = deposit(jnp.zeros((R, chunk, acc.nlimbs), d.dtype), [(Mi, qi)], ni, acc)
            return carry_step(d + block.sum(axis=1), acc), None

        d, _ = lax.scan(step, zero, (blocks(M, 0), blocks(q, acc.base), blocks(neg, False)))
        return finish(d, acc, p, mode, r62)

    # the fast result always; the superaccumulator only when some row needs it
    out, zero = lax.cond(jnp.all(ok), lambda r, v: r, lambda r, v: slow(v), fast(None), x)
    if keep:
        all_neg = jnp.cumprod(neg0, axis=1).astype(bool)
        all_pos = jnp.cumprod(pos0, axis=1).astype(bool)
        special = jnp.cumsum(jnp.where(finite, 0.0, x), axis=1)
    else:
        all_neg, all_pos = jnp.all(neg0, axis=1), jnp.all(pos0, axis=1)
        special = jnp.sum(jnp.where(finite, 0.0, x), axis=1)
    return to_storage(_signed(out, zero, all_neg, all_pos, special, fmt, p, mode), dtype)


def _dot(a, b):
    return jnp.matmul(a, b, precision=lax.Precision.HIGHEST)


def matmul(a, b, fmt: FloatFormat, mode: RoundingMode, key, dtype, phase: str = "cond"):
    """The exactly rounded ``a @ b`` (:func:`_matmul`), first from the float matmul where
    its error bound (Cauchy-Schwarz for the magnitudes) certifies the rounding
    (:mod:`lowprec.rounding.certify`); ``phase`` as :data:`PHASES`."""
    width, _, _ = _setup(fmt, mode, "the exact accumulation model")
    m, k = a.shape
    n = b.shape[1]
    if phase == "slow" or not (m and n and k and certify.worth_trying(fmt.t, k, width)):
        out = _matmul(a, b, fmt, mode, key, dtype)
        return (out, jnp.array(True)) if phase == "fast" else out
    from ._arith import widen
    conv = widen if width == 64 else (lambda v: v.astype(jnp.float32))
    x, y = conv(a), conv(b)
    row = certify.norm_bound(jnp.sum(x * x, axis=1), k, width, jnp)
    col = certify.norm_bound(jnp.sum(y * y, axis=0), k, width, jnp)
    bad = None
    if _storage_subnormal_reach(fmt, width):
        bad = jnp.any(_lsb(x, fmt, width)[1], axis=1)[:, None] | jnp.any(_lsb(y, fmt, width)[1], axis=0)[None, :]
    fast, ok = _certify(_dot(x, y), certify.dot_magnitude(row, col, k, width), k, fmt, mode, _split_key(key, 2),
                        width, bad)
    return _staged(phase, fast, ok, lambda: _matmul(a, b, fmt, mode, key, dtype), dtype)


def _matmul(a, b, fmt: FloatFormat, mode: RoundingMode, key, dtype):
    """The exactly rounded ``a @ b`` of 2-D arrays of format values (``dtype`` storage).

    Fast path (as :func:`sum_rows`): when products of two significands are exact in the
    storage (``2t <= P``), every product of row ``i`` and column ``j`` lies on the grid
    ``2**(gA_i + gB_j)`` (the lowest last bits of the row and the column); where that
    grid is at or above the storage's normal range and ``|a| @ |b|`` stays below
    ``2**(g + P - 1)``, the float matmul is exact in any order. Otherwise the
    superaccumulator, one ``k`` step at a time (``lax.scan``).
    """
    from ._arith import round_values, to_storage, widen
    width, work, p = _setup(fmt, mode, "the exact accumulation model")
    conv = widen if width == 64 else (lambda v: v.astype(jnp.float32))
    x, y = conv(a), conv(b)
    m, k = x.shape
    n = y.shape[1]
    fx, fy = jnp.isfinite(x), jnp.isfinite(y)
    x0, y0 = jnp.where(fx, x, 0.0), jnp.where(fy, y, 0.0)
    # special values: finite nonzero operands only matter by their sign
    sx = jnp.where(fx & (x != 0), jnp.sign(x), x)
    sy = jnp.where(fy & (y != 0), jnp.sign(y), y)
    special = _dot(jnp.where(fx & (x == 0), 0.0, sx), jnp.where(fy & (y == 0), 0.0, sy))
    special = jnp.where(jnp.isfinite(special), _dot(sx, sy), special)  # 0 * inf is NaN
    # every product -0 (or, for round-down, every product +0): counts of such products
    bx = lax.bitcast_convert_type(x, _STORAGE[width][2]) < 0
    by = lax.bitcast_convert_type(y, _STORAGE[width][2]) < 0
    zx, zy = (x == 0) & fx, (y == 0) & fy
    ind = lambda c: c.astype(work)  # noqa: E731

    def zero_products(neg: bool):
        """How many products ``x_il * y_lj`` are zeros of sign ``neg`` (finite factors)."""
        same = (lambda u, v: u != v) if neg else (lambda u, v: u == v)
        left = jnp.concatenate([ind(zx & bx), ind(zx & ~bx)], axis=1)
        right = jnp.concatenate([ind(fy & same(True, by)), ind(fy & same(False, by))], axis=0)
        left2 = jnp.concatenate([ind(fx & ~zx & bx), ind(fx & ~zx & ~bx)], axis=1)
        right2 = jnp.concatenate([ind(zy & same(True, by)), ind(zy & same(False, by))], axis=0)
        return _dot(left, right) + _dot(left2, right2)

    all_neg = zero_products(True) == k
    all_pos = zero_products(False) == k if mode == RoundingMode.DOWN else jnp.zeros((m, n), bool)
    fast_ok = 2 * fmt.t <= _PREC[width][0]
    lx, tx = _lsb(x, fmt, width)
    ly, ty = _lsb(y, fmt, width)
    g = jnp.min(lx[:, :, None] + ly[None, :, :], axis=1)  # the lowest last bit of each entry's products
    ok = _fits(_dot(jnp.abs(x0), jnp.abs(y0)), g, width) & ~jnp.any(tx) & ~jnp.any(ty)
    acc = layout([fmt], [], k, width)

    def fast(_):
        s = _dot(x0, y0)
        return round_values(s, fmt, mode, _split_key(key, 0)), s == 0

    def slow(_):
        Mx, qx, nx, _, _ = parts(x, acc, fmt)
        My, qy, ny, _, _ = parts(y, acc, fmt)

        def step(d, i):
            pieces = _pieces(Mx[:, i][:, None], qx[:, i][:, None], My[i][None, :], qy[i][None, :], acc)
            d = deposit(d, pieces, nx[:, i][:, None] ^ ny[i][None, :], acc)
            return (carry_step(d, acc) if width == 32 or k > acc.every else d), None

        d, _ = lax.scan(step, jnp.zeros((m, n, acc.nlimbs), _STORAGE[width][2]), jnp.arange(k))
        r62 = _r62_for(_split_key(key, 1), (m, n), work) if mode.is_stochastic else None
        return finish(d, acc, p, mode, r62)

    if fast_ok:
        out, zero = lax.cond(jnp.all(ok), lambda r: r, lambda r: slow(None), fast(None))
    else:
        out, zero = slow(None)
    return to_storage(_signed(out, zero, all_neg, all_pos, special, fmt, p, mode), dtype)


def fma(acc_values, x, y, acc_fmt: FloatFormat, fmt: FloatFormat, mode: RoundingMode, key, dtype):
    """``round(acc + x * y)`` into ``acc_fmt`` with one rounding of the exact value
    (``acc`` in ``acc_fmt``, ``x, y`` in ``fmt``; arrays of one shape), for formats whose
    products binary64 cannot hold. IEEE 754 special values and signed zeros."""
    from ._arith import to_storage, widen
    width, work, p = _setup(acc_fmt, mode, "the fused accumulation model")
    conv = widen if width == 64 else (lambda v: v.astype(jnp.float32))
    c, x, y = jnp.broadcast_arrays(conv(acc_values), conv(x), conv(y))
    fin = jnp.isfinite(c) & jnp.isfinite(x) & jnp.isfinite(y)
    sgn = lambda v: jnp.where(jnp.isfinite(v) & (v != 0), jnp.sign(v), v)  # noqa: E731
    special = sgn(x) * sgn(y) + sgn(c)
    special = jnp.where(fin, 0.0, special)
    acc = layout([fmt], [acc_fmt], 2, width)
    Mc, qc, nc, zc, _ = parts(c, acc, acc_fmt)
    Mx, qx, nx, zx, _ = parts(x, acc, fmt)
    My, qy, ny, zy, _ = parts(y, acc, fmt)
    d = jnp.zeros(c.shape + (acc.nlimbs,), _STORAGE[width][2])
    d = deposit(d, [(Mc, qc)], nc, acc)
    d = deposit(d, _pieces(Mx, qx, My, qy, acc), nx ^ ny, acc)
    r62 = _r62_for(key, c.shape, work) if mode.is_stochastic else None
    out, zero = finish(d, acc, p, mode, r62)
    pz = zx | zy  # the product is a zero of sign nx ^ ny
    all_neg = nc & zc & pz & (nx ^ ny)
    all_pos = ~nc & zc & pz & ~(nx ^ ny)
    return to_storage(_signed(out, zero, all_neg, all_pos, special, acc_fmt, p, mode), dtype)


def prod_rows(rows, fmt: FloatFormat, mode: RoundingMode, key, dtype, keep: bool):
    """The exactly rounded product of each row of 2-D ``rows`` (or with ``keep`` every
    running product): the significands multiplied as one long integer (8-bit digits,
    so that a digit times a significand fits the limb), the exponents summed, rounded
    once. IEEE 754 specials: NaN, or an infinity times a zero, give NaN; otherwise an
    infinity or a zero with the sign of the product."""
    from ._arith import round_values, to_storage, widen
    width, work, p = _setup(fmt, mode, "the exact accumulation model")
    x = widen(rows) if width == 64 else rows.astype(jnp.float32)
    R, k = x.shape
    ints = _STORAGE[width][2]
    acc = Acc(width, 8, 0, -(-(k * fmt.t + 8) // 8) + 2, fmt.t, 1)
    M, q, neg, zero, finite = parts(x, acc, fmt)
    nan, inf = jnp.isnan(x), jnp.isinf(x)
    cum = (lambda v, f: f(v, axis=1)) if keep else (lambda v, f: f(v, axis=1, keepdims=True))
    any_ = lambda v: cum(v.astype(jnp.int32), jnp.cumsum if keep else jnp.sum) > 0  # noqa: E731
    sign = (cum(neg.astype(jnp.int32), jnp.cumsum if keep else jnp.sum) & 1) == 1
    has_nan, has_inf, has_zero = any_(nan), any_(inf), any_(zero & ~inf & ~nan)
    expo = cum(jnp.where(finite & ~zero, q, 0), jnp.cumsum if keep else jnp.sum)

    def step(d, item):
        d = d * item[:, None].astype(ints)
        d, _ = _propagate(d, acc)
        return d, (d if keep else None)

    one = jnp.zeros((R, acc.nlimbs), ints).at[:, 0].set(1)
    d, ds = lax.scan(step, one, jnp.where(zero | ~finite, 1, M).T)
    digits = jnp.moveaxis(ds, 0, 1) if keep else d[:, None, :]  # (R, k or 1, nlimbs)
    # regroup the 8-bit digits into the D-bit digits finish() reads
    per = (32 if width == 64 else 16) // 8
    pad = (-acc.nlimbs) % per
    digits = jnp.pad(digits, ((0, 0), (0, 0), (0, pad))).reshape(digits.shape[:2] + (-1, per))
    digits = sum(digits[..., i] << (8 * i) for i in range(per))
    wide = Acc(width, 8 * per, 0, digits.shape[-1], fmt.t, 1)
    r62 = _r62_for(key, digits.shape[:2], work) if mode.is_stochastic else None
    out, _ = finish(jnp.where(sign[..., None], -digits, digits), wide, p, mode, r62, offset=expo)
    special = jnp.where(has_nan | (has_inf & has_zero), jnp.nan, jnp.where(has_inf, jnp.inf, 0.0))
    special = jnp.where(sign, -special, special).astype(out.dtype)
    fixed = round_values(special, fmt, RoundingMode.NEAREST_EVEN if mode.is_stochastic else mode)
    out = _select(has_nan | has_inf | has_zero, fixed, out)
    out = out if keep else out[:, 0]
    return to_storage(out, dtype)
