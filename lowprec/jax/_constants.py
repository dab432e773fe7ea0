"""Python constants as weak operands of ``lp.jax.numpy``: rounded once from their exact value.

A Python float is a binary64 value and a Python int an exact integer; converting either
to a float32 array first (JAX's default without ``jax_enable_x64``) and rounding that
into the format would round twice. The deterministic modes round on the host
(``lp.chop``, exact). The stochastic modes find the two neighbours and the exact
fraction ``frac`` on the host (as :mod:`lowprec.rounding.reference` does) and draw the
decision in JAX from the operand's key: up when the reference's 62-bit integer is below
``floor(frac * 2**62)``; for float32 storage that integer is ``(u32 << 30) | (2**30 - 1)``
from one 32-bit word (as the float32 kernels), so the probability is within ``2**-32``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import jax.numpy as jnp
import numpy as np

from ..formats import FloatFormat
from ..rounding.modes import RoundingMode
from ..rounding.params import rounding_params
from ..rounding.reference import RANDOM_BITS, floor_log2, quantum_exponent, round_value


def constant(x, fmt: FloatFormat, mode: RoundingMode, dtype, key):
    """The weak operand of the Python number ``x`` in ``dtype`` (a 0-d JAX array)."""
    from ..chop import chop
    from ._random import words32, words64

    dtype = np.dtype(dtype)
    if not mode.is_stochastic:
        return jnp.asarray(np.asarray(chop(x, fmt, mode), dtype=dtype))
    p = rounding_params(fmt, True, dtype)
    # the reference's two outcomes: never up (r62 = 2**62 - 1 / top bit clear), always up (0 / top bit set)
    never, always = (2**RANDOM_BITS - 1, 0) if mode == RoundingMode.STOCHASTIC else (0, 2**(RANDOM_BITS - 1))
    inward, outward = round_value(x, p, mode, never), round_value(x, p, mode, always)
    if same_value(inward, outward):  # exact (or beyond every gap): no draw decides anything
        return jnp.asarray(np.asarray(inward, dtype=dtype))
    a = abs(Fraction(x))
    scaled = a / Fraction(2) ** quantum_exponent(floor_log2(a), p)
    frac = scaled - math.floor(scaled)
    if mode == RoundingMode.STOCHASTIC:
        threshold = math.floor(frac * 2**RANDOM_BITS)  # up when r62 < threshold
        if dtype == np.float64:
            up = (words64(key, ()) >> 2).astype(jnp.int64) < threshold
        else:  # r62 = (u << 30) | (2**30 - 1) < threshold  <=>  u < ceil((threshold - 2**30 + 1) / 2**30)
            bound = max(0, -(-(threshold - 2**30 + 1) // 2**30))
            up = words32(key, ()) < np.uint32(bound) if bound < 2**32 else jnp.asarray(True)
    else:  # STOCHASTIC_UNIFORM: the top bit of r62
        word = words64(key, ()) if dtype == np.float64 else words32(key, ())
        up = (word >> (63 if dtype == np.float64 else 31)) == 1
    return jnp.where(up, jnp.asarray(outward, dtype), jnp.asarray(inward, dtype))


def same_value(a: float, b: float) -> bool:
    return (a == b and math.copysign(1.0, a) == math.copysign(1.0, b)) or (math.isnan(a) and math.isnan(b))
