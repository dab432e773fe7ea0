"""Error-free ``+ - * / sqrt`` of float64 JAX arrays that XLA's flush-to-zero cannot touch.

XLA on CPU flushes subnormal operands and results of float arithmetic to zero
(``5e-324 * 1.0`` is 0), so the error-free transformations of
:mod:`lowprec.rounding.array_api` lose every operand or intermediate below ``2**-1022``.
Here every operand is first read from its bits as ``x = m * 2**e`` with ``|m|`` in
[1, 2) (storage subnormals normalised with ``clz``), the transformation runs on the
``m`` (all in binary64's normal range), and the exponents travel in the integer
``scale`` of the exact pair ``(hi + lo) * 2**scale``, which
:func:`lowprec.rounding.array_api.round_pair` rounds once (it builds subnormal results
from bits through :data:`lowprec.jax._ops.JAX_OPS`).

Sums scale both operands by ``2**-top`` (``top`` the larger exponent). An operand more
than 200 binades below the other is replaced by ``±2**(top - 200)``: both lie far below
a quarter of the result's gap (``t <= 53``), the rounding of the sum depends on them
only through their sign (the kept bits, the inexactness, the borrow) and the
stochastic fraction beyond ``2**-62`` gaps, which neither reaches.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

from ..rounding import array_api
from ..rounding.array_api import ADD, DIVIDE, MULTIPLY, SQRT, SUBTRACT
from ._ops import JAX_OPS

_MANT = np.int64((1 << 52) - 1)
_FAR = 200  #: binades below the larger operand at which a summand becomes a stand-in


def _pow2(k):
    """``2.0**k`` for int64 ``k`` in binary64's normal exponent range."""
    return lax.bitcast_convert_type((k + 1023) << 52, jnp.float64)


def decompose(x):
    """``(m, e, good)``: ``x == m * 2**e`` with ``|m|`` in [1, 2) where ``good`` (finite
    nonzero, storage subnormals included, from the bits); elsewhere ``m = x``, ``e = 0``."""
    b = lax.bitcast_convert_type(x, jnp.int64)
    field = (b >> 52) & 0x7FF
    mant = b & _MANT
    sub = field == 0
    sh = lax.clz(mant) - 11  # moves a subnormal's leading bit to the hidden bit 52
    frac = jnp.where(sub, (mant << jnp.clip(sh, 0, 52)) & _MANT, mant)
    e = jnp.where(sub, -1022 - sh, field - 1023)
    m = lax.bitcast_convert_type((b & np.int64(-(1 << 63))) | (np.int64(1023) << 52) | frac, jnp.float64)
    good = (field != 0x7FF) & ~(sub & (mant == 0))
    return jnp.where(good, m, x), jnp.where(good, e, 0), good


def _sum(a, b, mode):
    ma, ea, ga = decompose(a)
    mb, eb, gb = decompose(b)
    low = np.int64(-(1 << 40))
    top = jnp.maximum(jnp.where(ga, ea, low), jnp.where(gb, eb, low))
    top = jnp.where(ga | gb, top, 0)
    sa = jnp.where(ga, ma * _pow2(jnp.maximum(ea - top, -_FAR)), ma)
    sb = jnp.where(gb, mb * _pow2(jnp.maximum(eb - top, -_FAR)), mb)
    hi, lo, scale = array_api.exact_sum(sa, sb, mode, JAX_OPS)
    return hi, lo, scale + top


def _product(a, b):
    ma, ea, ga = decompose(a)
    mb, eb, gb = decompose(b)
    good = ga & gb
    p, err = array_api._two_prod(ma, mb)
    # specials: a finite nonzero operand matters only by its sign (ma has it)
    return jnp.where(good, p, ma * mb), jnp.where(good, err, 0.0), jnp.where(good, ea + eb, 0)


def _quotient(a, b):
    ma, ea, ga = decompose(a)
    mb, eb, gb = decompose(b)
    good = ga & gb
    q = ma / mb
    p, err = array_api._two_prod(q, mb)
    r = (ma - p) - err
    lo = array_api._inside(q, r / mb, JAX_OPS)
    return jnp.where(good, q, ma / mb), jnp.where(good, lo, 0.0), jnp.where(good, ea - eb, 0)


def _root(a):
    m, e, good = decompose(a)
    odd = (e & 1) == 1
    hi, lo, scale = array_api.exact_sqrt(jnp.where(odd, m * 2.0, m), JAX_OPS)
    return hi, lo, jnp.where(good, scale + (e >> 1), scale)


def exact_op(op: int, a, b, mode):
    """The exact pair ``(hi, lo, scale)`` of ``a op b`` (float64, ``b`` ignored by ``SQRT``)."""
    if op == ADD:
        return _sum(a, b, mode)
    if op == SUBTRACT:  # -b from the bits: XLA may flush a negated subnormal
        return _sum(a, lax.bitcast_convert_type(lax.bitcast_convert_type(b, jnp.int64) ^ np.int64(-(1 << 63)),
                                                jnp.float64), mode)
    if op == MULTIPLY:
        return _product(a, b)
    if op == DIVIDE:
        return _quotient(a, b)
    if op == SQRT:
        return _root(a)
    raise ValueError(f"unknown operation {op!r}")


def round_op(op: int, a, b, p, mode, r62=None):
    """``round(a op b)`` correctly rounded for float64 ``a, b`` of one shape, subnormals included."""
    hi, lo, scale = exact_op(op, a, b, mode)
    return array_api.round_pair(hi, lo, scale, p, mode, r62, ops=JAX_OPS)
