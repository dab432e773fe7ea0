"""Rounding of JAX arrays: the jitted core and the ``lp.chop`` backend.

Formats with fewer significand bits than the storage (every format but ``single`` in
float32 and ``double`` in float64) go the branch-free integer way of
:mod:`lowprec.jax._fastround`, with the counter-based random words of
:mod:`lowprec.jax._random`; the others, and :func:`round_with_bits`, go through
:func:`lowprec.rounding.array_api.round_array` with :data:`lowprec.jax._ops.JAX_OPS`.
This module adds the static-argument ``jit``, the storage checks and the explicit PRNG
keys.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

from ..chop import RoundSpec, make_spec
from ..errors import FormatError, UnsupportedOperationError, UnsupportedTypeError
from ..formats import FloatFormat
from ..rounding import array_api
from ..rounding.modes import RoundingMode
from ..rounding.params import rounding_params
from . import _fastround
from ._ops import _STORAGE, JAX_OPS, Split62, random62, x64_enabled
from ._random import WORDS

#: How many times the rounding core was traced (one per format, mode, dtype and shape):
#: tests read it to check the jit cache.
TRACE_COUNT = [0]


def _params(fmt: FloatFormat, explim: bool, dtype, subnormal: Optional[bool]):
    """RoundingParams for a JAX storage dtype, with a JAX-specific error for wide formats."""
    dtype = np.dtype(dtype)
    try:
        p = rounding_params(fmt, explim, dtype, subnormal)
    except FormatError as err:
        if dtype == np.float32 and not x64_enabled():
            raise FormatError(
                f"format {fmt.label} does not fit in float32 storage and JAX float64 needs "
                "jax_enable_x64: call jax.config.update('jax_enable_x64', True) and pass float64 "
                f"arrays ({err})"
            ) from None
        if dtype == np.float32:
            raise FormatError(f"{err} With jax_enable_x64 on: x.astype(jnp.float64).") from None
        raise
    # Python scalars are weakly typed in JAX: constants never promote float32 to float64.
    return p._replace(t=int(p.t), emin=int(p.emin), xmax=float(p.xmax),
                      overflow_value=float(p.overflow_value), inf_value=float(p.inf_value),
                      subnormal=bool(p.subnormal), negzero=bool(p.negzero), signed=bool(p.signed))


#: Storage-subnormal inputs are scaled up by 2**_LIFT (exact, from their bits) and
#: rounded against a format range lifted by as much, then scaled back.
_LIFT = 64


def _round_core(x, p, mode, r62):
    """``round_array`` with storage-subnormal inputs made exact under XLA's denormals-are-zero.

    A storage-subnormal ``x`` lies below the format's normal range (every format fits its
    storage), so its rounding is at most ``2**emin`` and never overflows. Rounding commutes
    with scaling by a power of two when the format's range moves along, so such elements
    are rounded as ``x * 2**64`` (exact, from the bits) into the format with ``emin + 64``
    and an overflow threshold that cannot be reached, then scaled back (exact, by bits);
    elements far below the format's smallest gap get an equivalent stand-in.
    The second pass runs only when some element is a storage subnormal (``lax.cond``).
    """
    ssig, sbias, ints = _STORAGE[x.dtype.itemsize * 8]
    bx = jax.lax.bitcast_convert_type(x, ints)
    tiny = (((bx >> ssig) & (2 * sbias + 1)) == 0) & ((bx & ((1 << ssig) - 1)) != 0)
    out = array_api.round_array(x, p, mode, r62, ops=JAX_OPS)

    def with_tiny(out):
        mant = bx & ((1 << ssig) - 1)
        lifted = mant.astype(x.dtype) * (2.0 ** (1 - sbias - ssig + _LIFT))
        # Far below the format's smallest gap, |x| / gap would itself be a storage subnormal
        # (flushed): any stand-in strictly inside (0, 2**-62) gaps rounds the same way in
        # every mode (kept 0, fraction > 0, stochastic threshold 0).
        below = p.emin - (p.t - 1) if p.subnormal else p.emin
        far = lifted < 2.0 ** (below + _LIFT + (1 - sbias))
        lifted = jnp.where(far, 2.0 ** (below + _LIFT - 64), lifted)
        lifted = jnp.where(bx < 0, -lifted, lifted)
        big = float(np.finfo(x.dtype).max)
        saturating = p.overflow_value == p.xmax
        q = p._replace(emin=p.emin + _LIFT, xmax=big, overflow_value=big if saturating else p.overflow_value)
        low = array_api.round_array(lifted, q, mode, r62, ops=JAX_OPS)
        low = JAX_OPS.ldexp(low, jnp.full(low.shape, -_LIFT, ints))
        return jnp.where(tiny, low, out)

    return jax.lax.cond(jnp.any(tiny), with_tiny, lambda out: out, out)


def round_params(x, p, mode: RoundingMode, key=None):
    """Round float32/float64 ``x`` (array or tracer) into ``p``, drawing from ``key``
    (stochastic modes): the integer fast path where it applies, else ``_round_core``."""
    width = jnp.dtype(x.dtype).itemsize * 8
    if _fastround.supports(p, width):
        u = WORDS[width](key, x.shape) if mode.is_stochastic else None
        return _fastround.round_bits(x, p, mode, u)
    return _round_core(x, p, mode, random62(key, x.shape) if mode.is_stochastic else None)


@partial(jax.jit, static_argnames=("fmt", "mode", "explim", "subnormal"))
def _round_jit(x, key, fmt: FloatFormat, mode: RoundingMode, explim: bool, subnormal: Optional[bool]):
    TRACE_COUNT[0] += 1
    return round_params(x, _params(fmt, explim, x.dtype, subnormal), mode, key)


@partial(jax.jit, static_argnames=("fmt", "mode", "explim", "subnormal"))
def _round_bits_jit(x, r62, fmt, mode, explim, subnormal):
    p = _params(fmt, explim, x.dtype, subnormal)
    if isinstance(r62, tuple):
        r62 = Split62(*r62)
    return _round_core(x, p, mode, r62)


def _as_key(key):
    """A PRNG key from a key array, a raw uint32[2] key, or an int seed."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return jax.random.key(int(key))
    if isinstance(key, (jax.Array, np.ndarray)):
        if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) or key.shape == (2,) and key.dtype == jnp.uint32:
            return key
    raise TypeError(
        f"a stochastic rounding mode needs a JAX PRNG key (jax.random.key(0)), got {type(key).__name__}."
    )


def _storage(x):
    """The float dtype the rounding runs in for ``x``'s dtype (float16 goes through float32)."""
    dt = x.dtype
    if dt == jnp.bool_:
        raise UnsupportedTypeError("cannot round a boolean JAX array; convert it to float first.")
    if jnp.issubdtype(dt, jnp.integer):
        return jnp.dtype(jnp.float64 if x64_enabled() else jnp.float32)
    if dt in (jnp.float32, jnp.float64, jnp.float16):
        return dt
    raise UnsupportedTypeError(
        f"no JAX rounding for dtype {dt}; convert to float32 (or float64 with jax_enable_x64)."
    )


def round_to(x, fmt, rmode=1, key=None, *, subnormal: Optional[bool] = None, explim: bool = True):
    """Round a JAX array into ``fmt``: jittable, bit-identical to :func:`lowprec.chop` on NumPy.

    Parameters
    ----------
    x : jax.Array (or anything ``jnp.asarray`` takes)
        float32, float64 (``jax_enable_x64``), float16 (rounded through float32; the format
        must fit float16) or integer data (converted to the default float dtype).
    fmt : str or FloatFormat
    rmode : int, str or RoundingMode, default 1
    key : PRNG key, optional
        Required by the stochastic modes (``jax.random.key(seed)``); the same key gives
        the same rounding, also under ``jit``. Ignored by the deterministic modes.
    subnormal, explim
        As in :func:`lowprec.chop`.

    Returns
    -------
    jax.Array
        Same shape and dtype as ``x`` (integer input gives floats).

    Notes
    -----
    **Compilation.** Format, mode, ``subnormal`` and ``explim`` are static: the first call
    per (format, mode, dtype, shape) compiles, later calls reuse the executable. Inside a
    caller's ``jit`` this simply inlines.

    **Subnormals.** XLA on CPU flushes storage subnormals (below ``2**-126`` in float32,
    ``2**-1022`` in float64) to zero in float arithmetic; the rounding reads and writes
    them through their bits, so it is exact for them too (bf16 subnormals in float32).
    What later JAX operations do with such values is XLA's behaviour.

    **Random bits.** A stochastic rounding draws one word per element from a counter-based
    hash seeded by ``key`` (:mod:`lowprec.jax._random`: 32-bit words for float32 storage,
    SplitMix64 for float64), computed inside the same fused loop as the rounding. The
    decisions are those of :func:`lowprec.chop.round_with_bits` with the integers of
    :func:`lowprec.jax._fastround.reference_r62`.
    """
    spec = make_spec(fmt, rmode, subnormal=subnormal, explim=explim)
    return _round_spec(jnp.asarray(x), spec, key)


def _round_spec(x, spec: RoundSpec, key):
    if spec.flip:
        raise UnsupportedOperationError("flip=True (soft errors) is not implemented for JAX arrays yet.")
    if jnp.iscomplexobj(x):
        k1 = k2 = None
        if spec.mode.is_stochastic and key is not None:
            k1, k2 = jax.random.split(_as_key(key))
        return jax.lax.complex(_round_spec(jnp.real(x), spec, k1), _round_spec(jnp.imag(x), spec, k2))
    storage = _storage(x)
    if spec.mode.is_stochastic:
        if key is None:
            raise ValueError(
                f"rounding mode {spec.mode.name.lower()} is stochastic and needs an explicit PRNG key: "
                "lp.chop(x, fmt, mode, rng=jax.random.key(0)) or round_to(x, fmt, mode, key)."
            )
        key = _as_key(key)
    else:
        key = None
    if storage == jnp.float16:
        _params(spec.fmt, spec.explim, jnp.float16, spec.subnormal)  # the format must fit float16
        out = _round_jit(x.astype(jnp.float32), key, spec.fmt, spec.mode, spec.explim, spec.subnormal)
        return out.astype(jnp.float16)
    if x.dtype != storage:
        x = x.astype(storage)
    return _round_jit(x, key, spec.fmt, spec.mode, spec.explim, spec.subnormal)


def round_with_bits(x, fmt, rmode, r62, *, subnormal=None, explim=True):
    """Round with explicit 62-bit random integers per element (NumPy int64), for tests.

    The JAX twin of :func:`lowprec.chop.round_with_bits`, through the general path
    (the fast path takes one 32- or 64-bit word per element, see
    :func:`lowprec.jax._fastround.reference_r62`).
    """
    spec = make_spec(fmt, rmode, subnormal=subnormal, explim=explim)
    x = jnp.asarray(x)
    r62 = np.broadcast_to(np.asarray(r62, dtype=np.int64), x.shape)
    if x64_enabled():
        bits = jnp.asarray(r62)
    else:
        s = Split62.from_int64(r62)
        bits = (s.hi, s.lo)
    return _round_bits_jit(x, bits, spec.fmt, spec.mode, spec.explim, spec.subnormal)


def chop_jax(x: Any, spec: RoundSpec, out=None):
    """The :func:`lowprec.chop` backend for JAX arrays (and tracers, under ``jit``).

    The PRNG key of a stochastic mode comes as ``rng=jax.random.key(...)``; ``seed=n``
    is shorthand for ``rng=jax.random.key(n)``.
    """
    if out is not None:
        raise TypeError("out= is not supported for JAX arrays (they are immutable).")
    key = spec.rng if spec.rng is not None else spec.seed
    return _round_spec(x, spec, key)
