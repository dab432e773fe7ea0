"""Counter-based random words for stochastic rounding, computed inside the jitted graph.

``jax.random.bits`` (threefry) costs about twenty times a copy of the array on CPU; the
rounding needs only a well-mixed word per element. Element ``i`` (row-major flat index)
of a call gets a hash of ``(seed, i)``, the seed being two 32-bit words drawn once from
the caller's PRNG key. So the same key gives the same words, another key other words,
and there is no state outside the key.

* :func:`words32` (float32 storage, no ``jax_enable_x64`` needed): two rounds of
  Wellons' ``lowbias32`` integer hash; the index wraps after ``2**32`` elements.
* :func:`words64` (float64 storage, under ``jax_enable_x64``): SplitMix64 of
  ``key64 + (i + 1) * golden``, the stream of lowprec's numba kernels and torch backend
  (``_kernels.random_bits``), so a given 64-bit key draws the same bits as there.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

_GOLDEN32 = np.uint32(0x9E3779B9)
_GOLDEN64 = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def seed_words(key):
    """Two uint32 words from a PRNG key (one tiny threefry draw), the seed of a call."""
    return jax.random.bits(key, (2,), jnp.uint32)


def _index(shape, dtype):
    """The row-major flat index of each element, in ``dtype``."""
    n = int(np.prod(shape, dtype=np.int64))
    return lax.iota(dtype, n).reshape(shape)


def _lowbias32(z):
    # Wellons' hash-prospector "lowbias32": a bijection of uint32 with low avalanche bias.
    z = z ^ (z >> 16)
    z = z * np.uint32(0x7FEB352D)
    z = z ^ (z >> 15)
    z = z * np.uint32(0x846CA68B)
    return z ^ (z >> 16)


def hash32(seed, index):
    """The uint32 word of element ``index`` (uint32 array) for ``seed`` (uint32[2])."""
    z = _lowbias32(index * _GOLDEN32 + seed[0])
    return _lowbias32(z ^ seed[1])


def words32(key, shape):
    """One uint32 random word per element of ``shape``, drawn from ``key``."""
    return hash32(seed_words(key), _index(shape, jnp.uint32))


def splitmix64(key64, index):
    """SplitMix64 of ``key64 + (index + 1) * golden`` (uint64, ``_kernels.random_bits``)."""
    z = key64 + (index + np.uint64(1)) * _GOLDEN64
    z = (z ^ (z >> 30)) * _M1
    z = (z ^ (z >> 27)) * _M2
    return z ^ (z >> 31)


def key64(key):
    """The 64-bit SplitMix key of a PRNG key (needs ``jax_enable_x64``)."""
    s = seed_words(key).astype(jnp.uint64)
    return (s[0] << 32) | s[1]


def words64(key, shape):
    """One uint64 random word per element of ``shape``, drawn from ``key`` (x64 only)."""
    return splitmix64(key64(key), _index(shape, jnp.uint64))


#: The random words by storage width in bits.
WORDS = {32: words32, 64: words64}
