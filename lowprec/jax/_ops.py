"""The :class:`lowprec.rounding.array_api.Ops` shim for JAX, and 62-bit random integers.

The rounding itself is :func:`lowprec.rounding.array_api.round_array`, written once for
every array library; this module only spells its few library-specific operations in
``lax``/``jnp``.

Two JAX facts shape it:

* **Denormals.** XLA on CPU flushes subnormal operands and results of float arithmetic
  to zero (DAZ/FTZ). ``ldexp`` here therefore builds storage-subnormal *results* from
  bits, so that rounding into a format with values below the storage's normal range
  (bf16 subnormals in float32, for instance) is exact. Storage-subnormal *inputs* are
  read as signed zero by the comparisons, as everywhere else in XLA on CPU.
* **64-bit integers** exist only under ``jax_enable_x64``. Without it the stochastic
  threshold stays an integer-valued float and the random integers are a
  :class:`Split62` pair of uint32 words compared lexicographically.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from ..rounding.array_api import Ops

#: (significand bits, bias, same-width integer dtype) by float width in bits
_STORAGE = {32: (23, 127, jnp.int32), 64: (52, 1023, jnp.int64)}


def x64_enabled() -> bool:
    return bool(jax.config.jax_enable_x64)


def _bits(x) -> int:
    return jnp.dtype(x.dtype).itemsize * 8


def _to_int(x):
    return lax.bitcast_convert_type(x, _STORAGE[_bits(x)][2])


def _pow2(j, dtype, ssig, sbias, ints):
    """2.0**j for integer arrays j in the storage's normal exponent range."""
    return lax.bitcast_convert_type((j + sbias).astype(ints) << ssig, dtype)


def _ldexp(x, k):
    """``x * 2**k``, exact whenever the result is representable, subnormal results included."""
    ssig, sbias, ints = _STORAGE[_bits(x)]
    k = jnp.asarray(k).astype(ints)
    k1 = k >> 1
    k2 = k - k1
    lim = sbias - 1
    scaled = x * _pow2(jnp.clip(k1, -lim, lim), x.dtype, ssig, sbias, ints) \
        * _pow2(jnp.clip(k2, -lim, lim), x.dtype, ssig, sbias, ints)
    # Results below the normal range: from the bits (XLA flushes them to zero on CPU).
    bx = _to_int(x)
    field = (bx >> ssig) & (2 * sbias + 1)
    biased = field + k
    tiny = (field > 0) & (biased <= 0)
    mant = (bx & ((1 << ssig) - 1)) | (1 << ssig)
    shift = jnp.clip(1 - biased, 0, ssig + 2)
    nbits = _bits(x)
    sign = (bx >> (nbits - 1)) << (nbits - 1)
    sub = lax.bitcast_convert_type((mant >> shift) | sign, x.dtype)
    return jnp.where(tiny, sub, scaled)


def _float_to_int64(x):
    # Under x64, real int64; otherwise the integer-valued float itself (exact), which
    # _ldexp accepts as an exponent and Split62 compares against.
    if x64_enabled():
        return x.astype(jnp.int64)
    return x


JAX_OPS = Ops(
    where=jnp.where,
    floor=jnp.floor,
    ldexp=_ldexp,
    to_int=_to_int,
    to_float_int=lambda k, like: k.astype(like.dtype),
    float_to_int64=_float_to_int64,
    bits=_bits,
    sqrt=jnp.sqrt,  # tracers have no .sqrt method, and np.sqrt would leave the trace
)


class Split62:
    """A 62-bit random integer ``hi * 2**32 + lo`` as two uint32 arrays (no int64 needed).

    Supports exactly what :func:`lowprec.rounding.array_api.round_array` does with
    ``r62``: ``r62 < threshold`` (an integer-valued float array, or int64) and
    ``(r62 >> 61) & 1``.
    """

    def __init__(self, hi, lo):
        self.hi = hi  #: uint32, top 30 bits
        self.lo = lo  #: uint32, low 32 bits

    @classmethod
    def from_int64(cls, r):
        import numpy as np
        r = np.asarray(r, dtype=np.int64)
        return cls(jnp.asarray((r >> 32).astype(np.uint32)), jnp.asarray((r & 0xFFFFFFFF).astype(np.uint32)))

    def __lt__(self, threshold):
        t_hi = jnp.floor(threshold * (2.0 ** -32))
        t_lo = threshold - t_hi * (2.0 ** 32)  # exact: the low bits of an integer-valued float
        t_hi = t_hi.astype(jnp.uint32)
        t_lo = t_lo.astype(jnp.uint32)
        return (self.hi < t_hi) | ((self.hi == t_hi) & (self.lo < t_lo))

    def __rshift__(self, n):
        if n < 32:
            raise NotImplementedError("Split62 only shifts by 32 bits or more")
        return self.hi >> (n - 32)


def random62(key, shape):
    """62-bit random integers per element drawn from ``key``: int64 under x64, else :class:`Split62`.

    Both spellings hold the same integers for the same key, so a rounding does not depend
    on ``jax_enable_x64``.
    """
    words = jax.random.bits(key, (2,) + tuple(shape), jnp.uint32)
    hi = words[0] >> 2
    lo = words[1]
    if x64_enabled():
        return (hi.astype(jnp.int64) << 32) | lo.astype(jnp.int64)
    return Split62(hi, lo)
