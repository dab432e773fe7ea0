"""Branch-free rounding of float32/float64 JAX arrays in integer arithmetic on their bits.

Every element is rounded by the same few dozen integer operations (no ``lax.cond``, no
float arithmetic), so XLA fuses the whole rounding into one loop over the array, and
storage subnormals, which XLA on CPU flushes to zero in float arithmetic, are exact.

The storage bits of ``|x|`` are read as an integer significand ``M`` (hidden bit
included) times ``2**lsb``. The format's gap at ``x`` is ``2**q``, so rounding drops
the ``s = q - lsb`` low bits of ``M``:

* in the format's normal range ``s = ssig - (t - 1)``, a constant;
* below ``2**emin`` the gap is fixed (``2**(emin - t + 1)``, or ``2**emin`` without
  subnormals), so ``s`` grows as ``x`` shrinks, up to beyond the width of ``M``;
* with ``explim=False`` the format's range reaches below the storage's normal range,
  where the exponent of a storage subnormal comes from its leading bit (``clz``).

Adding a mode's increment to ``M`` and masking the dropped bits rounds it; a carry out
of the significand is the step into the next binade, which the encoding
``base + M'`` (``base`` the exponent field minus one) absorbs. When no bit of ``M``
is kept the result is ``0`` or one gap, a constant. Overflow, infinities, NaN (kept
as they are), signed zeros and unsigned formats are selects on constants derived from
:class:`~lowprec.rounding.params.RoundingParams`, in the same order as
:func:`lowprec.rounding.array_api.round_array`, to which the result is bit-identical.

Stochastic modes take one random word ``u`` per element and decide as the reference
does with the 62-bit integer ``r62 = u * 2**30 + 2**30 - 1`` (32-bit words: up iff
``u < floor(fraction * 2**32)``, which needs only the top 32 bits of the exact
fraction) or ``r62 = u >> 2`` (64-bit words): see :func:`reference_r62`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import lax

from ..rounding.modes import RoundingMode
from ..rounding.params import RoundingParams


class _Storage(NamedTuple):
    sig: int  #: stored significand bits
    bias: int
    floats: type  #: the NumPy float dtype
    ints: type  #: the NumPy signed integer dtype of the same width


_STORAGE = {32: _Storage(23, 127, np.float32, np.int32), 64: _Storage(52, 1023, np.float64, np.int64)}


def supports(p: RoundingParams, width: int) -> bool:
    """Whether the format drops at least one significand bit of the storage (``t - 1 < sig``)."""
    return width in _STORAGE and p.t - 1 < _STORAGE[width].sig


def reference_r62(words: np.ndarray) -> np.ndarray:
    """The 62-bit integers of :func:`lowprec.chop.round_with_bits` that make the same
    stochastic decisions as the random words ``words`` (uint32 or uint64, NumPy)."""
    words = np.asarray(words)
    if words.dtype == np.uint32:
        return (words.astype(np.int64) << 30) | (2 ** 30 - 1)
    return (words >> np.uint64(2)).astype(np.int64)


def _float_bits(v: float, st: _Storage) -> int:
    """The storage encoding of the non-negative value ``v`` (inf and NaN included)."""
    return int(np.array(v, dtype=st.floats).view(st.ints))


class _Consts(NamedTuple):
    """Python integers of one (format, storage): folded into the graph as constants."""

    s0: int  #: dropped bits in the normal range
    sub_base: int  #: s = sub_base - max(E, 1) below 2**emin
    emin_field: int  #: exponent field of 2**emin (may be <= 0 with explim=False)
    gap_bits: int  #: encoding of one gap below 2**emin
    xmax_bits: int
    over_bits: int  #: encoding of the outward overflow value
    inf_in_bits: int  #: what an infinite input becomes
    neg_bits: int  #: what a nonzero negative result becomes in an unsigned format
    inf_bits: int  #: the storage's infinity


def _consts(p: RoundingParams, st: _Storage) -> _Consts:
    q_low = p.emin - (p.t - 1) if p.subnormal else p.emin  # the gap exponent below 2**emin
    lsb_of_field = -st.bias - st.sig  # lsb = max(E, 1) + lsb_of_field
    sub_base = q_low - lsb_of_field
    saturating = p.overflow_value == p.xmax
    return _Consts(
        s0=st.sig - (p.t - 1),
        sub_base=sub_base,
        emin_field=p.emin + st.bias,
        gap_bits=_float_bits(2.0 ** q_low, st),
        xmax_bits=_float_bits(p.xmax, st),
        over_bits=_float_bits(p.overflow_value, st),
        inf_in_bits=_float_bits(p.inf_value, st),
        neg_bits=0 if saturating else _float_bits(float("nan"), st),
        inf_bits=_float_bits(float("inf"), st),
    )


def _shift(E, M, p: RoundingParams, c: _Consts, st: _Storage, width: int):
    """Per element: ``s``, the number of low bits of ``M`` the rounding drops, and the
    exponent ``e`` of ``x`` (needed only by ``t == 1``'s tie parity)."""
    E1 = jnp.maximum(E, 1)
    e = E - st.bias
    s = jnp.where(E >= c.emin_field, c.s0, c.sub_base - E1)
    if c.emin_field < 1:  # explim=False: storage subnormals can lie in the format's normal range
        bitlen = width - lax.clz(M)
        e_sub = bitlen - 1 + (1 - st.bias - st.sig)
        s_sub = jnp.where(e_sub >= p.emin, bitlen - p.t, c.sub_base - 1)
        s = jnp.where(E == 0, s_sub, s)
        e = jnp.where(E == 0, e_sub, e)
    return s, e


def _sr_threshold32(u, rem, s):
    """``up`` of stochastic rounding for 32-bit words: ``u < floor(rem * 2**(32 - s))``,
    which is the reference's ``r62 < floor(rem * 2**(62 - s))`` for
    ``r62 = u * 2**30 + 2**30 - 1`` (``rem < 2**s``, ``rem < 2**24``, any ``s >= 0``)."""
    r = rem.astype(jnp.uint32)
    near = r << jnp.clip(32 - s, 0, 31).astype(jnp.uint32)
    far = r >> jnp.clip(s - 32, 0, 31).astype(jnp.uint32)
    return u < jnp.where(s <= 32, near, far)


def _sr_threshold64(u, rem, s):
    """``up`` for 64-bit words: ``u >> 2 < floor(rem * 2**(62 - s))`` (``rem < 2**53``)."""
    r = rem.astype(jnp.uint64)
    near = r << jnp.clip(62 - s, 0, 63).astype(jnp.uint64)
    far = r >> jnp.clip(s - 62, 0, 63).astype(jnp.uint64)
    return (u >> np.uint64(2)) < jnp.where(s <= 62, near, far)


_SR_UP = {32: _sr_threshold32, 64: _sr_threshold64}


#: The increment each directed or nearest mode adds before the dropped bits are masked
#: off (``mask = 2**s - 1``; a carry out of them is the step up).
_INCREMENT = {
    RoundingMode.NEAREST_AWAY: lambda mask, neg: mask - (mask >> 1),  # half
    RoundingMode.NEAREST_ZERO: lambda mask, neg: mask >> 1,  # half, less one
    RoundingMode.TOWARD_ZERO: lambda mask, neg: jnp.zeros_like(mask),
    RoundingMode.UP: lambda mask, neg: jnp.where(neg, 0, mask),
    RoundingMode.DOWN: lambda mask, neg: jnp.where(neg, mask, 0),
}


def _rounded(M, s, sc, e, neg, p: RoundingParams, mode: RoundingMode, u, width: int):
    """``M`` with its ``sc`` low bits rounded away (a carry may reach bit ``sig + 1``)."""
    mask = (jnp.ones_like(M) << sc) - 1
    if mode in _INCREMENT:
        return (M + _INCREMENT[mode](mask, neg)) & ~mask
    if mode == RoundingMode.NEAREST_EVEN:  # half, less one on an even kept bit (0 if s == 0)
        lsb = (M >> sc) & 1
        if p.t == 1:  # the encoding's last bit is the exponent's: odd iff e + 1 - emin is
            lsb = lsb & ((e + (1 - p.emin)) & 1)
        return (M + ((mask + lsb) >> 1)) & ~mask
    inexact = (M & mask) != 0
    if mode == RoundingMode.ODD:  # set the last kept bit: up from an even kept, stays on odd
        return (M & ~mask) | jnp.where(inexact, mask + 1, 0)
    if mode == RoundingMode.STOCHASTIC:
        up = _SR_UP[width](u, M & mask, s)
    else:  # STOCHASTIC_UNIFORM: the top bit of the word (bit 61 of r62)
        up = inexact & ((u >> (width - 1)) == 1)
    return (M & ~mask) + jnp.where(up, mask + 1, 0)


def _outward(mode: RoundingMode, neg):
    """Where an overflow goes to the overflow value rather than to ``xmax``."""
    if mode == RoundingMode.UP:
        return ~neg
    if mode == RoundingMode.DOWN:
        return neg
    return mode not in (RoundingMode.TOWARD_ZERO, RoundingMode.ODD)


def round_bits(x, p: RoundingParams, mode: RoundingMode, u=None):
    """Round a float32/float64 array into the format ``p`` (``supports(p, width)``).

    Parameters
    ----------
    x : jax.Array
        float32 or float64.
    p : RoundingParams
    mode : RoundingMode
    u : jax.Array, optional
        One random word per element, uint32 for float32 and uint64 for float64 (see
        :mod:`lowprec.jax._random`); required by the stochastic modes.

    Returns
    -------
    jax.Array
        Same shape and dtype: bit-identical to :func:`lowprec.chop` on NumPy, the
        stochastic modes with ``r62 = reference_r62(u)``.
    """
    width = jnp.dtype(x.dtype).itemsize * 8
    st = _STORAGE[width]
    c = _consts(p, st)
    b = lax.bitcast_convert_type(x, st.ints)
    neg = b < 0
    mag = b & ((1 << (width - 1)) - 1)
    E = mag >> st.sig
    base = (jnp.maximum(E, 1) - 1) << st.sig  # mag = base + M
    M = mag - base
    s, e = _shift(E, M, p, c, st, width)
    sc = jnp.minimum(s, width - 2)  # beyond the width of M, the same decisions (see _rounded)
    M2 = _rounded(M, s, sc, e, neg, p, mode, u, width)
    nothing_kept = (M >> sc) == 0  # below 2**emin: the result is 0 or one gap
    out = jnp.where(nothing_kept, jnp.where(M2 != 0, c.gap_bits, 0), base + M2)
    outward = _outward(mode, neg)  # a Python bool unless it depends on the sign
    over = out > c.xmax_bits
    if c.over_bits == c.xmax_bits or outward is False:
        out = jnp.where(over, c.xmax_bits, out)
    elif outward is True:
        out = jnp.where(over, c.over_bits, out)
    else:
        out = jnp.where(over, jnp.where(outward, c.over_bits, c.xmax_bits), out)
    out = jnp.where(mag == c.inf_bits, c.inf_in_bits, out)
    sign = b & np.array(-(1 << (width - 1)), dtype=st.ints)
    if p.signed:
        # -0 exists: a negative input keeps its sign, also when it rounds to zero
        out = out | (sign if p.negzero else jnp.where(out != 0, sign, 0))
    else:  # no negative values: a nonzero negative result is NaN, or 0 when saturating
        out = jnp.where(neg & (out != 0), c.neg_bits, out)
    out = jnp.where(mag > c.inf_bits, b, out)  # NaN stays NaN, payload and sign included
    return lax.bitcast_convert_type(out.astype(st.ints), x.dtype)
