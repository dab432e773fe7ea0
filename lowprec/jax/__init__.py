"""lowprec for JAX: rounding of JAX arrays, the ``LPArray`` pytree, ``lp.jax.numpy`` and ``emulate``.

>>> import jax.numpy as jnp, lowprec as lp
>>> lp.chop(jnp.float32(1/3), "bf16")                     # doctest: +SKIP
Array(0.333984, dtype=float32)
>>> x = lp.asarray(jnp.arange(4.0), "bf16")               # an lp.jax.LPArray
>>> lp.jax.numpy.sum(x / 3)                                # doctest: +SKIP

Importing ``lowprec`` never imports JAX; ``lp.jax`` (or ``lp.chop``/``lp.asarray`` on a
JAX array) does.
"""

from . import numpy as numpy
from ._arith import correctly_rounded as correctly_rounded
from ._array import LPArray as LPArray
from ._array import apply_updates as apply_updates
from ._array import asarray as asarray
from ._chop import chop_jax as chop_jax
from ._chop import round_to as round_to
from ._chop import round_with_bits as round_with_bits
from ._emulate import RULES as RULES
from ._emulate import emulate as emulate
from ._keys import rng as rng
from ._ops import JAX_OPS as JAX_OPS

__all__ = ["JAX_OPS", "LPArray", "RULES", "apply_updates", "asarray", "chop_jax", "correctly_rounded", "emulate", "numpy",
           "rng", "round_to", "round_with_bits"]
