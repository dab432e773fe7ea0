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
  target is innocuous: it gives the same result as rounding the exact value in every
  deterministic mode, so this path serves formats with ``t <= 22`` (everything that fits
  float32 but ``single`` itself) in the deterministic modes. Storage subnormals are read
  and written through their bits, so XLA's flush-to-zero on CPU does not touch them.
  Stochastic modes and ``t > 22`` need the float64 path and say so.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..errors import FormatError
from ..formats import FloatFormat
from ..rounding import array_api
from ..rounding.array_api import ADD, DIVIDE, MULTIPLY, SQRT, SUBTRACT
from ..rounding.modes import RoundingMode
from ._chop import _params, _round_core
from ._ops import JAX_OPS, random62, x64_enabled

__all__ = ["ADD", "SUBTRACT", "MULTIPLY", "DIVIDE", "SQRT", "round_values", "correctly_rounded", "check_x64_path",
           "to_storage", "widen"]

_I32 = jnp.int32
_SIGN = np.int32(-2 ** 31)
_F32MAX_BITS = np.int32(np.float32(np.finfo(np.float32).max).view(np.int32))


@partial(jax.jit, static_argnames=("fmt", "mode"))
def _round(x, key, fmt: FloatFormat, mode: RoundingMode):
    p = _params(fmt, True, x.dtype, None)
    r62 = random62(key, x.shape) if mode.is_stochastic else None
    return _round_core(x, p, mode, r62)


def round_values(x, fmt: FloatFormat, mode: RoundingMode, key=None):
    """Round a float32/float64 JAX array (or tracer) into ``fmt``; ``key`` for stochastic modes."""
    return _round(x, key if mode.is_stochastic else None, fmt, mode)


# ------------------------------------------------------------------ float64 path

@partial(jax.jit, static_argnames=("op", "fmt", "mode", "storage"))
def _op64(a, b, key, op: int, fmt: FloatFormat, mode: RoundingMode, storage):
    a, b = jnp.broadcast_arrays(widen(a), widen(b))
    p = _params(fmt, True, storage, None)
    r62 = random62(key, a.shape) if mode.is_stochastic else None
    return to_storage(array_api.round_op(op, a, b, p, mode, r62, ops=JAX_OPS), storage)


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


def _assemble(obits, e, neg):
    """``±o * 2**e`` as float32: normal results exact, subnormal ones rounded to odd from the
    bits, overflow replaced by ±float32-max (beyond every ``t <= 22`` format's overflow
    threshold in every mode)."""
    x = ((obits >> 23) & 0xFF) - 127 + e
    frac = obits & 0x7FFFFF
    m = frac | (1 << 23)
    shift = jnp.clip(-126 - x, 1, 25)
    sticky = (m & (jnp.left_shift(jnp.ones_like(shift), shift) - 1)) != 0
    sub = (m >> shift) | sticky.astype(_I32)
    bits = jnp.where(x > 127, _F32MAX_BITS, jnp.where(x >= -126, ((x + 127) << 23) | frac, sub))
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
    value = _assemble(_odd(p, err), ea + eb, neg)
    inf = _f32(jnp.where(neg, np.int32(0xFF800000 - 2 ** 32), np.int32(0x7F800000)))
    value = jnp.where(za | zb, _signed_zero(neg), value)
    value = jnp.where(ia | ib, inf, value)
    return jnp.where(qa | qb | (ia & zb) | (za & ib), jnp.nan, value)


def _div32(a, b, mode):
    na, za, ia, qa = _classes(a)
    nb, zb, ib, qb = _classes(b)
    neg = na ^ nb
    ma, ea = _parts(a)
    mb, eb = _parts(b)
    q = ma / mb
    ph, pl = _two_prod(q, mb)
    r = (ma - ph) - pl
    value = _assemble(_odd(q, r), ea - eb, neg)
    inf = _f32(jnp.where(neg, np.int32(0xFF800000 - 2 ** 32), np.int32(0x7F800000)))
    value = jnp.where(za | ib, _signed_zero(neg), value)
    value = jnp.where(ia | zb, inf, value)
    return jnp.where(qa | qb | (za & zb) | (ia & ib), jnp.nan, value)


def _sqrt32(a, mode):
    na, za, ia, qa = _classes(a)
    m, e = _parts(a)
    odd = (e & 1) == 1
    m = jnp.where(odd, m * 2, m)
    e = jnp.where(odd, e - 1, e)
    s = jnp.sqrt(m)
    ph, pl = _two_prod(s, s)
    r = (m - ph) - pl
    value = _assemble(_odd(s, r), e >> 1, jnp.zeros_like(na))
    value = jnp.where(ia, jnp.inf, value)
    value = jnp.where(za, a, value)  # ±0 (and storage subnormal zeros stay as they are)
    return jnp.where(qa | (na & ~za), jnp.nan, value)


def _add32(a, b, mode):
    na, za, ia, qa = _classes(a)
    nb, zb, ib, qb = _classes(b)
    ma, ea = _parts(a)
    mb, eb = _parts(b)
    top = jnp.maximum(ea, eb)
    # the smaller operand, if far below the larger one's last bit, only matters by its sign:
    # a stand-in of magnitude 2**-30 (relative) rounds to odd the same way
    da = jnp.maximum(ea - top, -30)
    db = jnp.maximum(eb - top, -30)
    sa = jnp.where(na, -ma, ma) * _f32((da + 127) << 23)
    sb = jnp.where(nb, -mb, mb) * _f32((db + 127) << 23)
    s, err = _two_sum(sa, sb)
    neg = s < 0
    value = _assemble(_odd(jnp.abs(s), jnp.where(neg, -err, err)), top, neg)
    exact_zero_neg = (na & nb) | (~(~na & ~nb) & (mode == RoundingMode.DOWN))
    value = jnp.where(s == 0, _signed_zero(jnp.zeros_like(neg) | (mode == RoundingMode.DOWN)), value)
    value = jnp.where(zb, a, value)
    value = jnp.where(za, b, value)
    value = jnp.where(za & zb, _signed_zero(exact_zero_neg), value)
    return jnp.where(ia | ib | qa | qb, a + b, value)


_OPS32 = {
    ADD: lambda a, b, m: _add32(a, b, m),
    SUBTRACT: lambda a, b, m: _add32(a, -b, m),
    MULTIPLY: _mul32,
    DIVIDE: _div32,
    SQRT: lambda a, b, m: _sqrt32(a, m),
}


@partial(jax.jit, static_argnames=("op", "fmt", "mode"))
def _op32(a, b, op: int, fmt: FloatFormat, mode: RoundingMode):
    a, b = jnp.broadcast_arrays(a.astype(jnp.float32), b.astype(jnp.float32))
    odd = _OPS32[op](a, b, mode)
    return _round_core(odd, _params(fmt, True, jnp.float32, None), mode, None)


def check_x64_path(fmt: FloatFormat, mode: RoundingMode, what: str = "correctly rounded arithmetic"):
    """Raise unless float32 storage without x64 can serve ``fmt`` and ``mode`` exactly."""
    if mode.is_stochastic or fmt.t > 22:
        reason = (f"stochastic mode {mode.name.lower()} needs the exact residual"
                  if mode.is_stochastic else f"format {fmt.label} has t = {fmt.t} > 22")
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
    check_x64_path(fmt, mode)
    return _op32(a, b, op, fmt, mode)
