"""lowprec for JAX: rounding of JAX arrays and the ``LPArray`` pytree.

>>> import jax.numpy as jnp, lowprec as lp
>>> lp.chop(jnp.float32(1/3), "bf16")                     # doctest: +SKIP
Array(0.333984, dtype=float32)

Importing ``lowprec`` never imports JAX; ``lp.jax`` (or ``lp.chop`` on a JAX array)
does.
"""

from ._chop import chop_jax as chop_jax
from ._chop import round_to as round_to
from ._chop import round_with_bits as round_with_bits
from ._ops import JAX_OPS as JAX_OPS

__all__ = ["JAX_OPS", "chop_jax", "round_to", "round_with_bits"]
