"""Correctly rounded ``+ - * / sqrt`` of JAX arrays, and plain rounding with explicit keys.

Two paths give the exact result rounded once, bit-identical to :mod:`lowprec.arith` and
``LPFloat``:

* **float64** (``jax_enable_x64``; float32 operands are widened exactly): the error-free
  transformations and :func:`lowprec.rounding.array_api.round_op` shared with PyTorch,
  through :data:`lowprec.jax._ops.JAX_OPS`. Every mode, stochastic ones included (the
  exact residual sets the probability).
* **float32 without x64**: an error-free transformation in float32 gives the exact
  result as a 24-bit value *rounded to odd* (truncated, last bit set when inexact), and
  the shared rounding core rounds that. Rounding to odd with two more bits than the
  target is innocuous: it keeps both format neighbours and the inexactness, so it gives
  the same result as rounding the exact value in every deterministic mode and in
  ``stochastic_uniform``; this path serves formats with ``t <= 22`` (everything that
  fits float32 but ``single`` itself). ``stochastic`` also needs the fraction beyond the
  lower neighbour to 32 bits: for ``+ - *`` the float32 pair ``h + err`` is exact, for
  ``/`` the quotient ``q + r / d`` with the exact remainder ``r`` (floored by integer
  long division), and :func:`_sr_words` reads it from there; ``sqrt`` (whose residual
  the reference itself approximates in float64) and ``t > 22`` need the float64 path
  and say so. Storage subnormals are read and written through their bits, so XLA's
  flush-to-zero on CPU does not touch them.

Random bits: float32 storage draws the 32-bit words of :func:`lowprec.jax._random.words32`
on both paths (as ``r62 = u * 2**30 + 2**30 - 1`` on the float64 one, see
:func:`lowprec.jax._fastround.reference_r62`), so a result does not depend on
``jax_enable_x64``; float64 storage draws :func:`~lowprec.jax._random.words64`.
"""

from __future__ import annotations

from functools import partial
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..errors import FormatError
from ..formats import FloatFormat
from ..rounding import array_api
from ..rounding.array_api import ADD, DIVIDE, MULTIPLY, SQRT, SUBTRACT
from ..rounding.modes import RoundingMode
from ._chop import _params, round_params
from ._ops import JAX_OPS, x64_enabled
from ._fastround import round_bits
from . import _exact64
from ._random import words32, words64

__all__ = ["ADD", "SUBTRACT", "MULTIPLY", "DIVIDE", "SQRT", "round_values", "correctly_rounded", "check_x64_path",
           "to_storage", "widen"]

_I32 = jnp.int32
_SIGN = np.int32(-2 ** 31)
_F32MAX_BITS = np.int32(np.float32(np.finfo(np.float32).max).view(np.int32))
_F32INF_BITS = np.int32(0x7F800000)


@partial(jax.jit, static_argnames=("fmt", "mode"))
def _round(x, key, fmt: FloatFormat, mode: RoundingMode):
    return round_params(x, _params(fmt, True, x.dtype, None), mode, key)


def round_values(x, fmt: FloatFormat, mode: RoundingMode, key=None):
    """Round a float32/float64 JAX array (or tracer) into ``fmt``; ``key`` for stochastic modes."""
    return _round(x, key if mode.is_stochastic else None, fmt, mode)


# ------------------------------------------------------------------ float64 path

@partial(jax.jit, static_argnames=("op", "fmt", "mode", "storage"))
def _op64(a, b, key, op: int, fmt: FloatFormat, mode: RoundingMode, storage):
    a, b = jnp.broadcast_arrays(widen(a), widen(b))
    p = _params(fmt, True, storage, None)
    r62 = _r62(key, a.shape, storage) if mode.is_stochastic else None
    return to_storage(_exact64.round_op(op, a, b, p, mode, r62), storage)


def _r62(key, shape, storage):
    """The reference's 62-bit integers (int64, x64 only) from the words of ``storage``'s width."""
    if np.dtype(storage) == np.float32:
        return (words32(key, shape).astype(jnp.int64) << 30) | (2 ** 30 - 1)
    return (words64(key, shape) >> 2).astype(jnp.int64)


def widen(x):
    """``x`` as float64, exactly: float32 subnormals from their bits (XLA's conversion on
    CPU reads them as zero)."""
    if x.dtype != jnp.float32:
        return x.astype(jnp.float64)
    b = _bits(x)
    tiny = ((b >> 23) & 0xFF) == 0
    sub = (b & 0x7FFFFF).astype(jnp.float64) * 2.0 ** -149
    return jnp.where(tiny, jnp.where(b < 0, -sub, sub), x.astype(jnp.float64))


def to_storage(x, dtype):
    """``x`` in ``dtype``; float64 values that float32 holds exactly stay exact, its
    subnormals included (XLA's conversion on CPU flushes those to zero)."""
    if x.dtype == dtype or np.dtype(dtype) != np.float32 or x.dtype != jnp.float64:
        return x.astype(dtype)
    tiny = jnp.abs(x) < 2.0 ** -126
    mant = (jnp.abs(jnp.where(tiny, x, 0.0)) * 2.0 ** 149).astype(_I32)
    sub = _f32(jnp.where(x < 0, mant | _SIGN, mant))
    return jnp.where(tiny & (x != 0), sub, x.astype(jnp.float32))


# ------------------------------------------------------------------ float32 path (round to odd)

def _f32(bits):
    return lax.bitcast_convert_type(bits, jnp.float32)


def _bits(x):
    return lax.bitcast_convert_type(x, _I32)


def _parts(x):
    """``|x| = m * 2**e`` with ``m`` in [1, 2), exact, storage subnormals from their bits."""
    b = _bits(x)
    field = (b >> 23) & 0xFF
    mant = b & 0x7FFFFF
    normal_m = _f32(mant | (127 << 23))
    fb = _bits(mant.astype(jnp.float32))  # subnormal: |x| = mant * 2**-149, mant exact in float32
    sub_m = _f32((fb & 0x7FFFFF) | (127 << 23))
    sub_e = ((fb >> 23) & 0xFF) - 127 - 149
    sub = field == 0
    return jnp.where(sub, sub_m, normal_m), jnp.where(sub, sub_e, field - 127)


def _split12(a):
    """``a == hi + lo`` with 12-bit halves, by masking the bits (no arithmetic to contract)."""
    hi = _f32(_bits(a) & ~0xFFF)
    return hi, a - hi


def _two_prod(a, b):
    """``a * b == p + e`` exactly for normal float32 ``a, b`` of moderate size (Dekker)."""
    p = a * b
    ah, al = _split12(a)
    bh, bl = _split12(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _odd(h, err):
    """Bits of the 24-bit round-to-odd of ``h + err`` (``h > 0`` normal, ``|err| <= ulp(h)/2``)."""
    hb = _bits(h)
    step = jnp.where(err > 0, 1, -1).astype(_I32)
    return jnp.where((err != 0) & ((hb & 1) == 0), hb + step, hb)


def _assemble(obits, e, neg, mode):
    """``±o * 2**e`` as float32: normal results exact, subnormal ones rounded to odd from the
    bits, overflow replaced by ±float32-max (beyond every ``t <= 22`` format's overflow
    threshold in every deterministic mode), or by ±inf in the stochastic modes, where
    the down neighbour of float32-max can be a format value (``check_x64_path`` lets it
    through only where an infinite input and an overflow give the same result)."""
    x = ((obits >> 23) & 0xFF) - 127 + e
    frac = obits & 0x7FFFFF
    m = frac | (1 << 23)
    shift = jnp.clip(-126 - x, 1, 25)
    sticky = (m & (jnp.left_shift(jnp.ones_like(shift), shift) - 1)) != 0
    sub = (m >> shift) | sticky.astype(_I32)
    over = _F32INF_BITS if mode.is_stochastic else _F32MAX_BITS
    bits = jnp.where(x > 127, over, jnp.where(x >= -126, ((x + 127) << 23) | frac, sub))
    return _f32(jnp.where(neg, bits | _SIGN, bits))


def _classes(x):
    b = _bits(x)
    mag = b & 0x7FFFFFFF
    return b < 0, mag == 0, mag == 0x7F800000, mag > 0x7F800000


def _signed_zero(neg):
    return _f32(jnp.where(neg, _SIGN, np.int32(0)))


def _mul32(a, b, mode):
    na, za, ia, qa = _classes(a)
    nb, zb, ib, qb = _classes(b)
    neg = na ^ nb
    ma, ea = _parts(a)
    mb, eb = _parts(b)
    p, err = _two_prod(ma, mb)
    value = _assemble(_odd(p, err), ea + eb, neg, mode)
    inf = _f32(jnp.where(neg, np.int32(0xFF800000 - 2 ** 32), np.int32(0x7F800000)))
    value = jnp.where(za | zb, _signed_zero(neg), value)
    value = jnp.where(ia | ib, inf, value)
    return jnp.where(qa | qb | (ia & zb) | (za & ib), jnp.nan, value), (p, err, ea + eb)


def _div32(a, b, mode):
    na, za, ia, qa = _classes(a)
    nb, zb, ib, qb = _classes(b)
    neg = na ^ nb
    ma, ea = _parts(a)
    mb, eb = _parts(b)
    q = ma / mb
    ph, pl = _two_prod(q, mb)
    r = (ma - ph) - pl
    value = _assemble(_odd(q, r), ea - eb, neg, mode)
    inf = _f32(jnp.where(neg, np.int32(0xFF800000 - 2 ** 32), np.int32(0x7F800000)))
    value = jnp.where(za | ib, _signed_zero(neg), value)
    value = jnp.where(ia | zb, inf, value)
    return jnp.where(qa | qb | (za & zb) | (ia & ib), jnp.nan, value), (q, (r, mb), ea - eb)


def _sqrt32(a, mode):
    na, za, ia, qa = _classes(a)
    m, e = _parts(a)
    odd = (e & 1) == 1
    m = jnp.where(odd, m * 2, m)
    e = jnp.where(odd, e - 1, e)
    s = jnp.sqrt(m)
    ph, pl = _two_prod(s, s)
    r = (m - ph) - pl
    value = _assemble(_odd(s, r), e >> 1, jnp.zeros_like(na), mode)
    value = jnp.where(ia, jnp.inf, value)
    value = jnp.where(za, a, value)  # ±0 (and storage subnormal zeros stay as they are)
    return jnp.where(qa | (na & ~za), jnp.nan, value), None  # the residual r / 2s is not exact


def _add32(a, b, mode):
    na, za, ia, qa = _classes(a)
    nb, zb, ib, qb = _classes(b)
    ma, ea = _parts(a)
    mb, eb = _parts(b)
    top = jnp.maximum(ea, eb)
    # the smaller operand, if far below the larger one's last bit, only matters by its sign:
    # a stand-in of magnitude 2**-60 (relative) rounds to odd the same way, and is below
    # the resolution of every stochastic decision (_sr_words)
    da = jnp.maximum(ea - top, -60)
    db = jnp.maximum(eb - top, -60)
    sa = jnp.where(na, -ma, ma) * _f32((da + 127) << 23)
    sb = jnp.where(nb, -mb, mb) * _f32((db + 127) << 23)
    s, err = _two_sum(sa, sb)
    neg = s < 0
    h, err = jnp.abs(s), jnp.where(neg, -err, err)
    value = _assemble(_odd(h, err), top, neg, mode)
    exact_zero_neg = (na & nb) | (~(~na & ~nb) & (mode == RoundingMode.DOWN))
    value = jnp.where(s == 0, _signed_zero(jnp.zeros_like(neg) | (mode == RoundingMode.DOWN)), value)
    value = jnp.where(zb, a, value)
    value = jnp.where(za, b, value)
    value = jnp.where(za & zb, _signed_zero(exact_zero_neg), value)
    return jnp.where(ia | ib | qa | qb, a + b, value), (h, err, top)


_OPS32 = {
    ADD: lambda a, b, m: _add32(a, b, m),
    SUBTRACT: lambda a, b, m: _add32(a, -b, m),
    MULTIPLY: _mul32,
    DIVIDE: _div32,
    SQRT: lambda a, b, m: _sqrt32(a, m),
}


#: The operations whose float32 error-free transformation is exact (stochastic rounding):
#: a float32 pair, or for the quotient the exact remainder over the divisor.
_EXACT32 = (ADD, SUBTRACT, MULTIPLY, DIVIDE)


def _pow2(k):
    return _f32((jnp.clip(k, -126, 127) + 127) << 23)


def _floor_quotient(r, d, k):
    """``floor(r * 2**k / d)`` mod ``2**32`` (uint32) for float32 ``r`` and ``d`` in [1, 2),
    where ``|r / d| * 2**k < 2**31``: exact, by long division of the significands in
    8-bit steps (every partial remainder stays below ``2**32``)."""
    rb = _bits(r)
    Mr = (((rb & 0x7FFFFF) | (1 << 23)) * (r != 0)).astype(jnp.uint32)
    Md = ((_bits(d) & 0x7FFFFF) | (1 << 23)).astype(jnp.uint32)
    # |r| * 2**k / d = Mr * 2**J / Md, J = exponent of r + k (d's 2**-23 cancels Mr's)
    J = ((rb >> 23) & 0xFF) - 127 + k
    q0 = Mr // Md  # the quotient Mr * 2**32 / Md is q0 * 2**32 + low
    rem = Mr % Md
    low = jnp.zeros_like(Mr)
    for _ in range(4):
        rem = rem << 8
        low = (low << 8) | (rem // Md)
        rem = rem % Md
    sh = jnp.clip(32 - J, 0, 63).astype(jnp.uint32)
    lo_sh = jnp.minimum(sh, 31)
    whole = jnp.where(sh >= 32, q0 >> jnp.minimum(sh - 32, 31), (q0 << (31 - lo_sh) << 1) | (low >> lo_sh))
    dropped = jnp.where(sh >= 32, low != 0, (low & ((np.uint32(1) << lo_sh) - 1)) != 0)
    q0_dropped = (q0 & ((np.uint32(1) << jnp.minimum(sh - 32, 31)) - 1)) != 0
    inexact = (rem != 0) | dropped | ((sh >= 32) & q0_dropped)
    # a negative r floors away from zero: -(whole + inexact), mod 2**32
    return jnp.where(r < 0, -(whole + inexact.astype(jnp.uint32)), whole)


def _sr_words(h, err, e, u, p):
    """The word that makes ``round_bits(odd, p, STOCHASTIC, word)`` decide as stochastic
    rounding of the exact ``v = (h + err) * 2**e`` with the random word ``u`` does.

    ``h > 0`` is a normal float32, ``|err| <= ulp(h)/2``, ``e`` an int32 array. The
    decision is ``u < floor(F * 2**32)``, ``F`` the fraction of ``v`` beyond its format
    neighbour toward zero in gaps (:func:`lowprec.jax._fastround._sr_threshold32`); the
    round-to-odd value ``odd`` has the same neighbours and inexactness (``t <= 22``), so
    the word is 0 (up: ``round_bits`` rounds an inexact value up) or all ones (down).
    """
    quotient = isinstance(err, tuple)
    hb = _bits(h)
    field = (hb >> 23) & 0xFF
    M = (hb & 0x7FFFFF) | (1 << 23)
    below = (err[0] if quotient else err) < 0
    lsb = field - 150 + e  # exponent of h's last bit
    # floor(log2(v)), one less when h is a power of two and v lies below it
    ev = lsb + 23 - ((M == (1 << 23)) & below).astype(_I32)
    q_low = p.emin - (p.t - 1) if p.subnormal else p.emin
    s = jnp.where(ev >= p.emin, ev - (p.t - 1), q_low) - lsb  # bits of M below the gap (>= 1)
    um = M.astype(jnp.uint32)
    rem = um & ((jnp.ones_like(um) << jnp.minimum(s, 31).astype(jnp.uint32)) - 1)
    # s <= 32: floor((rem + err / ulp(h)) * 2**(32 - s)) mod 2**32 (a borrow wraps around)
    k = 182 - field - s
    if quotient:  # err = r / d, not a float32: floor it exactly in integers
        frac = _floor_quotient(err[0], err[1], k)
    else:
        frac = jnp.floor(err * _pow2(k)).astype(_I32).astype(jnp.uint32)
    near = (rem << jnp.clip(32 - s, 0, 31).astype(jnp.uint32)) + frac
    # s > 32: every bit of M lies below the gap; err only borrows one unit
    far = (um - below.astype(jnp.uint32)) >> jnp.clip(s - 32, 0, 31).astype(jnp.uint32)
    up = u < jnp.where(s <= 32, near, far)
    return jnp.where(up, np.uint32(0), np.uint32(0xFFFFFFFF))


@partial(jax.jit, static_argnames=("op", "fmt", "mode"))
def _op32(a, b, key, op: int, fmt: FloatFormat, mode: RoundingMode):
    a, b = jnp.broadcast_arrays(a.astype(jnp.float32), b.astype(jnp.float32))
    odd, pair = _OPS32[op](a, b, mode)
    p = _params(fmt, True, jnp.float32, None)
    if mode == RoundingMode.STOCHASTIC:
        return round_bits(odd, p, mode, _sr_words(*pair, words32(key, odd.shape), p))
    return round_params(odd, p, mode, key)


def _same(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)


def check_x64_path(fmt: FloatFormat, mode: RoundingMode, what: str = "correctly rounded arithmetic",
                   op: Optional[int] = None):
    """Raise unless float32 storage without x64 can serve ``fmt``, ``mode`` and ``op``
    (``None``: any operation) exactly."""
    p = _params(fmt, True, jnp.float32, None) if fmt.t <= 22 else None
    residual = mode == RoundingMode.STOCHASTIC and op not in _EXACT32
    if residual or fmt.t > 22 or (mode.is_stochastic and not _same(p.inf_value, p.overflow_value)):
        reason = (f"stochastic mode {mode.name.lower()} of sqrt needs the exact residual"
                  if residual else f"format {fmt.label} has t = {fmt.t} > 22"
                  if fmt.t > 22 else f"format {fmt.label} overflows to another value than infinity rounds to")
        raise FormatError(
            f"{what} on float32 storage: {reason}, which needs float64 in JAX: enable "
            "jax_enable_x64 (jax.config.update('jax_enable_x64', True))."
        )


def correctly_rounded(op: int, a, b, fmt: FloatFormat, mode: RoundingMode, key=None):
    """``round(a op b)``, the exact result rounded once into ``fmt`` (``b`` ignored by ``SQRT``).

    Parameters
    ----------
    op : int
        ``ADD``, ``SUBTRACT``, ``MULTIPLY``, ``DIVIDE`` or ``SQRT``.
    a, b : jax.Array
        float32 or float64 arrays of format values (broadcast together).
    fmt, mode
        The result format and rounding mode.
    key : PRNG key, optional
        Required by the stochastic modes.

    Returns
    -------
    jax.Array
        In the wider storage dtype of ``a`` and ``b``.
    """
    storage = jnp.result_type(a.dtype, b.dtype)
    if storage == jnp.float64 or x64_enabled():
        return _op64(a, b, key if mode.is_stochastic else None, op, fmt, mode, storage)
    check_x64_path(fmt, mode, op=op)
    return _op32(a, b, key if mode.is_stochastic else None, op, fmt, mode)
