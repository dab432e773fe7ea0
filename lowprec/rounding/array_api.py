"""The rounding written once in whole-array operations, for every array library.

NumPy uses the numba kernels; PyTorch and JAX use this module through a small
:class:`Ops` shim of the few operations whose spelling differs between libraries
(bit casts, ``ldexp``). Every float operation here is exact (scaling by powers of two,
``floor``, subtracting the floor), so the result is bit-identical to
:func:`lowprec.rounding.reference.round_value` and to the numba kernels, including the
stochastic decisions when the same 62-bit random integers are given.

Speed: :func:`round_array` first rounds every element by the kernels' integer fast path
(add a rounding increment to the storage bits, mask the dropped bits: a dozen integer
operations) and sends only the elements outside the format's normal range (zeros,
subnormal results, overflow, NaN, infinities) through the general float path, when the
shim provides :attr:`Ops.from_int` and :attr:`Ops.fix_up` (torch and NumPy do; for JAX,
``fix_up`` can be ``lax.cond(all(fast), values, where(fast, values, general))``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from .modes import RoundingMode, rounding_mode
from .params import RoundingParams

#: Bits of storage significand and exponent bias, by the float width in bits.
_STORAGE = {64: (52, 1023), 32: (23, 127)}


@dataclass(frozen=True)
class Ops:
    """What differs between array libraries; everything else is operators and ``where``."""

    where: Callable[[Any, Any, Any], Any]
    floor: Callable[[Any], Any]
    ldexp: Callable[[Any, Any], Any]  #: x * 2**k, exact, k an integer array
    to_int: Callable[[Any], Any]  #: same-width signed integer view of a float array
    to_float_int: Callable[[Any, Any], Any]  #: integer array -> float array like the second
    float_to_int64: Callable[[Any], Any]  #: exact conversion of integer-valued floats
    bits: Callable[[Any], int]  #: width of the float dtype in bits
    #: Optional, for the fast path of :func:`round_array`: integer array (any integer
    #: dtype, values fitting the float's width) -> the float array with those bits.
    from_int: Optional[Callable[[Any, Any], Any]] = None
    #: Optional: ``fix_up(fast, values, x, r62, general)`` returns ``values`` where the
    #: boolean ``fast`` holds and ``general(x', r62')`` elsewhere, computing ``general``
    #: only where needed (on the gathered elements, or behind a check that all are fast).
    #: Without it the fast path is not used.
    fix_up: Optional[Callable[..., Any]] = None
    #: Optional: correctly rounded square root, for libraries whose arrays (or tracers)
    #: have no ``sqrt`` method and must not go through ``np.sqrt`` (JAX under ``jit``).
    sqrt: Optional[Callable[[Any], Any]] = None


def _numpy_fix_up(fast, values, x, r62, general):
    """:attr:`Ops.fix_up` by fancy indexing (any library with NumPy's indexing)."""
    slow = ~fast
    if not slow.any():
        return values
    values = values.copy()
    values[slow] = general(x[slow], None if r62 is None else r62[slow])
    return values


NUMPY_OPS = Ops(
    where=np.where,
    floor=np.floor,
    ldexp=lambda x, k: np.ldexp(x, k.astype(np.int32)),
    to_int=lambda x: x.view(np.int64 if x.dtype == np.float64 else np.int32),
    to_float_int=lambda k, like: k.astype(like.dtype),
    float_to_int64=lambda x: x.astype(np.int64),
    bits=lambda x: x.dtype.itemsize * 8,
    from_int=lambda k, like: k.astype(np.int64 if like.dtype == np.float64 else np.int32).view(like.dtype),
    fix_up=_numpy_fix_up,
)


def _lower_odd(kept, q, p: RoundingParams, ops: Ops):
    """Parity of the lower neighbour's encoding (``reference.lower_is_odd``)."""
    if p.t > 1:
        return (kept - 2 * ops.floor(kept / 2)) == 1
    return (kept == 1) & (((q + 1 - p.emin) % 2) == 1)


def _decision(mode: RoundingMode, kept, frac, negative, r62, ops: Ops, odd):
    """Boolean array: round the magnitude up from ``kept`` gaps (``reference.round_up``);
    ``odd`` is the encoding parity of the tie rule, round-to-odd uses kept's."""
    inexact = frac != 0
    kept_odd = (kept - 2 * ops.floor(kept / 2)) == 1
    if mode == RoundingMode.NEAREST_EVEN:
        return (frac > 0.5) | ((frac == 0.5) & odd)
    if mode == RoundingMode.NEAREST_AWAY:
        return frac >= 0.5
    if mode == RoundingMode.NEAREST_ZERO:
        return frac > 0.5
    if mode == RoundingMode.TOWARD_ZERO:
        return frac != frac  # all False, same shape
    if mode == RoundingMode.UP:
        return inexact & ~negative
    if mode == RoundingMode.DOWN:
        return inexact & negative
    if mode == RoundingMode.ODD:
        return inexact & ~kept_odd
    if mode == RoundingMode.STOCHASTIC:
        threshold = ops.float_to_int64(ops.floor(ops.ldexp(frac, _full_int(frac, 62, ops))))
        return inexact & (r62 < threshold)
    if mode == RoundingMode.STOCHASTIC_UNIFORM:
        return inexact & (((r62 >> 61) & 1) == 1)
    raise AssertionError(mode)


def _full_int(like, value: int, ops: Ops):
    """An integer array shaped like ``like`` filled with ``value``."""
    return ops.float_to_int64(like * 0) + value


def _fast_bits(b, p: RoundingParams, mode: RoundingMode, r62, ssig: int, sbias: int, sign_bit: int):
    """The integer fast path (``_kernels._fast_mag``) on the storage bits ``b``: the
    rounded bits, and where they are right (a normal-range input whose result stays at
    most ``xmax``). Adding the rounding increment and masking the dropped bits is exact
    rounding there: a carry into the exponent field is the move to the next binade."""
    s = ssig - (p.t - 1)
    mask = (1 << s) - 1
    mag = b & ~sign_bit
    negmask = b >> (ssig + (11 if ssig == 52 else 8))  # -1 where negative, else 0 (b's dtype)
    kept = mag & ~mask
    nonzero_rem = ((mag & mask) + mask) & (1 << s)  # 2**s where dropped bits are nonzero
    if mode == RoundingMode.NEAREST_EVEN:
        lsb = (mag >> s) & 1
        if p.t == 1:  # the encoding's last bit is the exponent's: parity of the biases
            lsb = lsb ^ ((sbias - 1 + p.emin) & 1)
        m2 = (mag + lsb + (mask >> 1)) & ~mask
    elif mode == RoundingMode.NEAREST_AWAY:
        m2 = (mag + (1 << (s - 1))) & ~mask
    elif mode == RoundingMode.NEAREST_ZERO:
        m2 = (mag + (mask >> 1)) & ~mask
    elif mode == RoundingMode.TOWARD_ZERO or (mode == RoundingMode.ODD and p.t == 1):
        m2 = kept
    elif mode == RoundingMode.UP:
        m2 = (mag + (~negmask & mask)) & ~mask
    elif mode == RoundingMode.DOWN:
        m2 = (mag + (negmask & mask)) & ~mask
    elif mode == RoundingMode.ODD:
        m2 = kept | nonzero_rem
    elif mode == RoundingMode.STOCHASTIC:  # up iff (r62 >> (62 - s)) < the dropped bits
        m2 = (mag + (mask - (r62 >> (62 - s)))) & ~mask
    else:  # STOCHASTIC_UNIFORM
        m2 = kept + (nonzero_rem & (((r62 >> 61) & 1) << s))
    lo, hi, top = _fast_range(p, ssig, sbias)
    fast = (mag >= lo) & (mag < hi) & (m2 <= top)
    return m2 | (b & sign_bit), fast


def _fast_range(p: RoundingParams, ssig: int, sbias: int):
    """Storage bit patterns of ``2**max(emin, storage emin)``, of ``2**(emax + 1)`` (the
    infinity pattern when that passes the storage) and of ``xmax``."""
    def bits(v: float) -> int:
        m, e = np.frexp(v)  # v = m * 2**e, m in [0.5, 1): biased exponent e - 1 + bias
        return ((int(e) - 1 + sbias) << ssig) | int(np.ldexp(m * 2 - 1, ssig))

    inf_bits = (2 * sbias + 1) << ssig
    emax = int(np.floor(np.log2(p.xmax))) if np.isfinite(p.xmax) else sbias
    hi = inf_bits if emax + 1 > sbias else (emax + 1 + sbias) << ssig
    lo = (max(p.emin, 1 - sbias) + sbias) << ssig
    top = bits(p.xmax) if np.isfinite(p.xmax) else inf_bits
    return lo, hi, top


def round_array(x, p: RoundingParams, mode, r62=None, ops: Ops = NUMPY_OPS, fast: bool = True):
    """Round a float32 or float64 array into the format described by ``p``.

    Parameters
    ----------
    x : array
        float32 or float64 values of any array library that ``ops`` describes.
    p : RoundingParams
    mode : int, str or RoundingMode
    r62 : int64 array, optional
        Random integers in ``[0, 2**62)``, one per element; required by the stochastic modes.
    ops : Ops
        The library shim (NumPy's by default).
    fast : bool
        Use the integer fast path for the elements in the format's normal range when
        ``ops`` supports it (:attr:`Ops.fix_up`); the result is the same either way.

    Returns
    -------
    array
        Same library, dtype and shape as ``x``.
    """
    mode = rounding_mode(mode)
    if mode.is_stochastic and r62 is None:
        raise ValueError(f"rounding mode {mode.name.lower()} needs random bits (r62).")
    ssig, sbias = _STORAGE[ops.bits(x)]
    if fast and ops.fix_up is not None and p.t - 1 < ssig:
        sign_bit = -(1 << (ops.bits(x) - 1)) if p.signed else 0
        bits, ok = _fast_bits(ops.to_int(x), p, mode, r62, ssig, sbias, sign_bit)
        return ops.fix_up(ok, ops.from_int(bits, x), x, r62,
                          lambda xs, rs: _round_general(xs, p, mode, rs, ops))
    return _round_general(x, p, mode, r62, ops)


def _round_general(x, p: RoundingParams, mode: RoundingMode, r62, ops: Ops):
    """:func:`round_array` for every element: exact float scaling and ``floor``."""
    b = ops.to_int(x)
    negative = b < 0
    a = ops.where(negative, -x, x)
    zeros = ops.to_float_int(b * 0, x)  # +0.0 everywhere; constants are built from it
    finite_nonzero = (a > 0) & (a < float("inf"))  # NaN compares False
    safe = ops.where(finite_nonzero, a, zeros + 1)  # specials are replaced at the end
    e = _storage_exponent(safe, ops)
    gap = e - (p.t - 1)
    below = p.emin - (p.t - 1) if p.subnormal else p.emin
    q = ops.where(e >= p.emin, gap, gap * 0 + below)
    # magnitude in gaps: exact scaling in two halves so that no power of two overflows
    half_q = q // 2
    m = ops.ldexp(ops.ldexp(safe, -half_q), -(q - half_q))
    kept = ops.floor(m)
    frac = m - kept
    up = _decision(mode, kept, frac, negative, r62, ops, _lower_odd(kept, q, p, ops))
    k = kept + ops.where(up, zeros + 1, zeros)
    value = ops.ldexp(ops.ldexp(k, half_q), q - half_q)
    outward = _outward(mode, negative, ops)
    value = ops.where(value > p.xmax, ops.where(outward, zeros + p.overflow_value, zeros + p.xmax), value)
    keep_sign = negative & (p.negzero and p.signed)
    zero_out = ops.where(keep_sign, -zeros, zeros)
    result = ops.where(negative, -value, value)
    result = ops.where(k == 0, zero_out, result)
    inf_out = ops.where(negative, -(zeros + p.inf_value), zeros + p.inf_value)
    result = ops.where(a == float("inf"), inf_out, result)
    result = ops.where(a == 0, zero_out, result)
    if not p.signed:  # a nonzero negative result does not exist: NaN, or 0 when saturating
        neg_result = 0.0 if p.overflow_value == p.xmax else float("nan")
        result = ops.where(negative & (result != 0), zeros + neg_result, result)
    return ops.where(x != x, x, result)


def _storage_exponent(safe, ops: Ops):
    """``floor(log2(safe))`` of positive finite values of either storage width, exact
    even for storage subnormals (scaled up first)."""
    ssig, sbias = _STORAGE[ops.bits(safe)]
    boost = 64
    tiny = safe < 2.0 ** (1 - sbias)
    scaled_up = ops.where(tiny, ops.ldexp(safe, _full_int(safe, boost, ops)), safe)
    e = ((ops.to_int(scaled_up) >> ssig) & (2 * sbias + 1)) - sbias
    return ops.where(tiny, e - boost, e)


def flip_array(v, p: RoundingParams, has_nan: bool, hit, bit, ops: Ops = NUMPY_OPS):
    """Soft errors: where ``hit``, flip significand bit ``bit`` (an integer array in
    ``[0, t - 1)``) of each finite nonzero format value of ``v``.

    Whole-array twin of ``_kernels.flip_bits`` given its random draws: the flipped
    magnitude ``k * 2**q`` (``k`` the integer significand in gaps ``2**q``) goes to NaN,
    or ``xmax`` in a format without NaN, if it passes ``xmax``. ``v`` is returned
    unchanged for ``t < 2`` (no trailing bits).
    """
    if p.t < 2:
        return v
    negative = ops.to_int(v) < 0
    a = ops.where(negative, -v, v)
    zeros = a * 0
    good = hit & (a > 0) & (a < float("inf"))
    safe = ops.where(good, a, zeros + 1)
    e = _storage_exponent(safe, ops)
    q = ops.where(e >= p.emin, e - (p.t - 1), e * 0 + (p.emin - (p.t - 1)))
    half_q = q // 2
    k = ops.float_to_int64(ops.floor(ops.ldexp(ops.ldexp(safe, -half_q), -(q - half_q))))
    k = k ^ (_full_int(safe, 1, ops) << bit)
    y = ops.ldexp(ops.ldexp(ops.to_float_int(k, v), half_q), q - half_q)
    y = ops.where(y > p.xmax, zeros + (float("nan") if has_nan else p.xmax), y)
    return ops.where(good, ops.where(negative, -y, y), v)


def _outward(mode: RoundingMode, negative, ops: Ops):
    """Where an overflow goes to the overflow value rather than stopping at ``xmax``."""
    if mode == RoundingMode.UP:
        return ~negative
    if mode == RoundingMode.DOWN:
        return negative
    if mode in (RoundingMode.TOWARD_ZERO, RoundingMode.ODD):
        return negative & ~negative
    return negative | ~negative


# --------------------------------------------------------------------------------------
# Correctly rounded arithmetic in whole-array operations (shared by torch and JAX):
# error-free transformations give the exact result as ``(hi + lo) * 2**scale`` and
# :func:`round_pair` rounds that once, bit-identical to ``_kernels.round_pair`` and the
# ``binary_op`` kernel behind :mod:`lowprec.arith`. Float64 operands only.

ADD, SUBTRACT, MULTIPLY, DIVIDE, SQRT = range(5)  # the numbering of ``_kernels``
_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp's splitter for binary64


def _ldexp_wide(x, k, ops: Ops):
    """``x * 2**k`` for any integer array ``k``: three exact steps, so that each power of
    two stays normal; only the last step can round (the kernels' ``math.ldexp``)."""
    bias = _STORAGE[ops.bits(x)][1]
    lim = 3 * (bias - 1)
    k = ops.where(k > lim, k * 0 + lim, ops.where(k < -lim, k * 0 - lim, k))
    k1 = k // 3  # floor division: the three parts share the sign of k
    k2 = (k - k1) // 2
    return ops.ldexp(ops.ldexp(ops.ldexp(x, k1), k2), k - k1 - k2)


def _sqrt(x):
    """Correctly rounded square root of any supported array (method or NumPy ufunc)."""
    method = getattr(x, "sqrt", None)
    return method() if callable(method) else np.sqrt(x)


def _exponent(a, ops: Ops):
    """``floor(log2(a))`` of positive finite float64 ``a`` (storage subnormals included),
    as an int64 array."""
    boost = 64
    small = a < 2.0 ** -1022
    up = ops.where(small, ops.ldexp(a, _full_int(a, boost, ops)), a)
    e = ((ops.to_int(up) >> 52) & 2047) - 1023
    return ops.where(small, e - boost, e)


def _signbit(x, ops: Ops):
    return ops.to_int(x) < 0


def _finite_nonzero(x):
    return (x != 0) & (x == x) & (x != float("inf")) & (x != -float("inf"))


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _two_prod(a, b):
    """``a*b == p + e`` exactly for ``|a|, |b|`` in [1, 4) (Veltkamp/Dekker, no FMA)."""
    p = a * b
    t = _SPLIT * a
    ah = t - (t - a)
    al = a - ah
    t = _SPLIT * b
    bh = t - (t - b)
    bl = b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def exact_sum(a, b, mode, ops: Ops = NUMPY_OPS):
    """``(hi, lo, scale)`` with ``a + b == (hi + lo) * 2**scale`` exactly (``_kernels.exact_sum``)."""
    mode = rounding_mode(mode)
    zeros = ops.to_float_int(ops.to_int(a) * 0, a)  # +0.0
    ok = (a == a) & (b == b)
    s, e = _two_sum(a, b)
    na, nb = _signbit(a, ops), _signbit(b, ops)
    both_neg = na & nb
    both_pos = ~na & ~nb
    neg_zero = both_neg | (~both_pos & (mode == RoundingMode.DOWN))
    exact_zero = (s == 0) & (e == 0) & ok
    inf = float("inf")
    a_fin = (a == a) & (a != inf) & (a != -inf)
    b_fin = (b == b) & (b != inf) & (b != -inf)
    over = ((s == inf) | (s == -inf)) & a_fin & b_fin
    s2, e2 = _two_sum(a * 0.5, b * 0.5)
    special = (s != s) | (s == inf) | (s == -inf)
    hi = ops.where(over, s2, s)
    lo = ops.where(over, e2, ops.where(special, zeros, e))
    scale = ops.float_to_int64(zeros) + ops.float_to_int64(ops.where(over, zeros + 1, zeros))
    hi = ops.where(exact_zero, ops.where(neg_zero, -zeros, zeros), hi)
    lo = ops.where(exact_zero, zeros, lo)
    return hi, lo, scale


def _split(a, ops: Ops):
    """``a == m * 2**e`` with ``|m|`` in [1, 2) for finite nonzero ``a`` (else m = 1, e = 0)."""
    good = _finite_nonzero(a)
    one = ops.to_float_int(ops.to_int(a) * 0 + 1, a)
    safe = ops.where(good, a, one)
    mag = ops.where(safe < 0, -safe, safe)
    e = _exponent(mag, ops)
    return _ldexp_wide(safe, -e, ops), e, good


def exact_product(a, b, ops: Ops = NUMPY_OPS):
    """``(hi, lo, scale)`` with ``a * b == (hi + lo) * 2**scale`` exactly."""
    ma, ea, ga = _split(a, ops)
    mb, eb, gb = _split(b, ops)
    p, e = _two_prod(ma, mb)
    good = ga & gb
    plain = a * b
    zero = ops.to_float_int(ops.to_int(a) * 0, a)
    return ops.where(good, p, plain), ops.where(good, e, zero), ops.where(good, ea + eb, ea * 0)


def _spacing(hi, toward_zero, ops: Ops):
    """The binary64 spacing next to ``|hi|`` in [0.5, 2], above it or (``toward_zero``) below."""
    ahi = ops.where(hi < 0, -hi, hi)
    zero = ahi * 0
    above = ops.where(ahi >= 2.0, zero + 2.0**-51, ops.where(ahi >= 1.0, zero + 2.0**-52, zero + 2.0**-53))
    power = (ahi == 0.5) | (ahi == 1.0) | (ahi == 2.0)
    return ops.where(toward_zero & power, above * 0.5, above)


def _inside(hi, lo, ops: Ops):
    """``lo`` kept strictly within half the spacing of ``hi`` (``|hi|`` in [0.5, 2]) on its
    side, as ``_kernels._inside``: the exact residual of a correctly rounded quotient or
    root always is, the computed one may round onto that half (a false tie)."""
    half = _spacing(hi, (hi < 0) != (lo < 0), ops) * 0.5
    alo = ops.where(lo < 0, -lo, lo)
    return ops.where(alo >= half, ops.where(lo < 0, -half, half) * (1 - 2.0**-53), lo)


def _nearest_root(s, r, ops: Ops):
    """Move ``s`` in [1, 2] one spacing toward the root of ``m`` where the exact remainder
    ``r = m - s*s`` shows the root beyond the midpoint: ``m - (s ± h)**2 = r ∓ s*2h - h*h``,
    and ``r ∓ s*2h`` is a multiple of ``2**-105`` (so the ``h*h <= 2**-106`` term only
    breaks a zero), computed with its exact sign. Makes a root within one spacing of the
    true one correctly rounded."""
    step = _spacing(s, r < 0, ops)
    beyond = ops.where(r > 0, (r - s * step) > 0, (r < 0) & ((r + s * step) <= 0))
    return ops.where(beyond, ops.where(r > 0, s + step, s - step), s)


def exact_quotient(a, b, ops: Ops = NUMPY_OPS):
    """``(hi, lo, scale)`` with ``a / b == (hi + lo) * 2**scale``, ``lo`` from the exact
    remainder (exact to within a rounding of ``r / mb``, as in the kernels)."""
    ma, ea, ga = _split(a, ops)
    mb, eb, gb = _split(b, ops)
    q = ma / mb
    p, e = _two_prod(q, mb)
    r = (ma - p) - e
    good = ga & gb
    zero = ops.to_float_int(ops.to_int(a) * 0, a)
    lo = ops.where(good, _inside(q, r / mb, ops), zero)
    return ops.where(good, q, a / b), lo, ops.where(good, ea - eb, ea * 0)


def exact_sqrt(a, ops: Ops = NUMPY_OPS):
    """``(hi, lo, scale)`` with ``sqrt(a) == (hi + lo) * 2**scale`` (remainder-based ``lo``)."""
    good = _finite_nonzero(a) & (a > 0)
    m, e, _ = _split(ops.where(good, a, a * 0 + 1), ops)
    m = ops.where(good, m, m * 0 + 1)
    odd = (e % 2) != 0
    m = ops.where(odd, m * 2.0, m)
    e = ops.where(odd, e - 1, e)
    sqrt = ops.sqrt or _sqrt
    s = sqrt(m)
    p, err = _two_prod(s, s)
    r = (m - p) - err
    # torch's float64 CPU sqrt can be 1 ulp off: one exact correction from the remainder
    # (a Newton step s + r/(2s) is not enough: it rounds to the wrong side of a midpoint,
    # e.g. to 2.0 for m = nextbelow(4)).
    s = _nearest_root(s, r, ops)
    p, err = _two_prod(s, s)
    r = (m - p) - err
    zero = m * 0
    nan = zero + float("nan")
    special = ops.where(a < 0, nan, sqrt(a))
    lo = ops.where(good, _inside(s, r / (2.0 * s), ops), zero)
    return ops.where(good, s, special), lo, ops.where(good, e // 2, e * 0)


def exact_op(op: int, a, b, mode, ops: Ops = NUMPY_OPS):
    """The exact pair of ``a op b`` (``b`` ignored for ``SQRT``), numbered as ``_kernels``."""
    if op == ADD:
        return exact_sum(a, b, mode, ops)
    if op == SUBTRACT:
        return exact_sum(a, -b, mode, ops)
    if op == MULTIPLY:
        return exact_product(a, b, ops)
    if op == DIVIDE:
        return exact_quotient(a, b, ops)
    if op == SQRT:
        return exact_sqrt(a, ops)
    raise ValueError(f"unknown operation {op!r}")


def _sr_threshold(f_hi, d, ops: Ops):
    """``floor((f_hi + d) * 2**62)`` exactly, as int64 (``_kernels._sr_threshold``)."""
    k62 = _full_int(f_hi, 62, ops)
    a = ops.ldexp(f_hi, k62)
    whole = ops.floor(a)
    extra = ops.float_to_int64(ops.floor(ops.ldexp(d, k62)))
    return ops.float_to_int64(whole) + ops.where(a != whole, extra * 0, extra)


def round_pair(hi, lo, scale, p: RoundingParams, mode, r62=None, ops: Ops = NUMPY_OPS):
    """Round the exact values ``(hi + lo) * 2**scale`` into the format, once.

    Whole-array twin of ``_kernels.round_pair`` (same decisions, bit for bit): ``hi``
    float64, ``lo`` a residual with ``|lo| <= ulp(hi)/2``, ``scale`` an int64 array. A
    zero ``hi`` is an exact zero of that sign; NaN and infinite ``hi`` are specials.
    """
    mode = rounding_mode(mode)
    if mode.is_stochastic and r62 is None:
        raise ValueError(f"rounding mode {mode.name.lower()} needs random bits (r62).")
    inf = float("inf")
    neg = _signbit(hi, ops)
    ahi = ops.where(neg, -hi, hi)
    zeros = ops.to_float_int(ops.to_int(hi) * 0, hi)
    ints = ops.float_to_int64(zeros)
    good = (ahi > 0) & (ahi < inf)
    safe = ops.where(good, ahi, zeros + 1)
    lo = ops.where(good, lo, zeros)
    alo = ops.where(neg, -lo, lo)
    scale = ints + scale
    e0 = _exponent(safe, ops)
    mf = _ldexp_wide(safe, 52 - e0, ops)  # the 53-bit significand as an integer-valued float
    e = e0 + scale
    e = ops.where((mf == 2.0 ** 52) & (alo < 0), e - 1, e)
    below = p.emin - (p.t - 1) if p.subnormal else p.emin
    q = ops.where(e >= p.emin, e - (p.t - 1), ints + below)
    s = q - (e0 - 52 + scale)
    # s < 0 only by one (t = 53 below a power of two); s > 53 leaves a tiny fraction whose
    # exact size no decision depends on, so the shift is capped where it stays normal
    s = ops.where(s > 1000, ints + 1000, s)
    shifted = _ldexp_wide(mf, -s, ops)
    kept = ops.floor(shifted)
    f_hi = shifted - kept
    d = _ldexp_wide(alo, scale - q, ops)
    tiny = zeros + 5e-324
    d = ops.where((d == 0) & (alo != 0), ops.where(alo < 0, -tiny, tiny), d)
    borrow = (f_hi == 0) & (d < 0)
    kept = ops.where(borrow, kept - 1, kept)
    d = ops.where(borrow, d + 0.5, d)
    f_hi = ops.where(borrow, zeros + 0.5, f_hi)
    inexact = (f_hi != 0) | (d != 0)
    odd = _lower_odd(kept, q, p, ops)
    c = (f_hi - 0.5) + d
    if mode == RoundingMode.STOCHASTIC:
        up = r62 < _sr_threshold(f_hi, d, ops)
    elif mode == RoundingMode.STOCHASTIC_UNIFORM:
        up = ((r62 >> 61) & 1) == 1
    elif mode == RoundingMode.UP:
        up = ~neg
    elif mode == RoundingMode.DOWN:
        up = neg
    elif mode == RoundingMode.TOWARD_ZERO:
        up = neg & ~neg
    elif mode == RoundingMode.ODD:
        up = ~((kept - 2 * ops.floor(kept / 2)) == 1)
    elif mode == RoundingMode.NEAREST_EVEN:
        up = (c > 0) | ((c == 0) & odd)
    elif mode == RoundingMode.NEAREST_AWAY:
        up = c >= 0
    else:
        up = c > 0
    up = up & inexact
    k = kept + ops.where(up, zeros + 1, zeros)
    v = _ldexp_wide(k, q, ops)
    outward = _outward(mode, neg, ops)
    # not where(v > xmax, xmax, v): XLA rewrites that to min(v, xmax), which flushes a
    # subnormal v to zero on CPU
    big = ops.where(outward, zeros + p.overflow_value, zeros + p.xmax)
    zero_out = ops.where(neg & (p.negzero and p.signed), -zeros, zeros)
    result = ops.where(v > p.xmax, ops.where(neg, -big, big), ops.where(neg, -v, v))
    result = ops.where(k == 0, zero_out, result)
    if not p.signed:
        neg_result = 0.0 if p.overflow_value == p.xmax else float("nan")
        result = ops.where(neg & (k != 0), zeros + neg_result, result)
    inf_out = ops.where(neg, -(zeros + p.inf_value), zeros + p.inf_value)
    if not p.signed:
        inf_out = ops.where(neg, zeros + (0.0 if p.overflow_value == p.xmax else float("nan")), inf_out)
    result = ops.where(ahi == inf, inf_out, result)
    result = ops.where(hi == 0, zero_out, result)
    return ops.where(hi != hi, hi, result)


def round_op(op: int, a, b, p: RoundingParams, mode, r62=None, ops: Ops = NUMPY_OPS):
    """``round(a op b)`` correctly rounded, float64 arrays of one shape (``b`` ignored by
    ``SQRT``): :func:`exact_op` then :func:`round_pair`."""
    hi, lo, scale = exact_op(op, a, b, mode, ops)
    return round_pair(hi, lo, scale, p, mode, r62, ops)
