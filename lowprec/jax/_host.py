"""The ``"exact"`` accumulation model of JAX on the CPU: NumPy's implementation, called
through :func:`jax.pure_callback`.

On the CPU backend the arrays already live in host memory, and NumPy's exact model
(:mod:`lowprec.ndarray._accumulate`: BLAS with an interval certificate, an integer
superaccumulator for the rest) is both much faster than anything XLA can run without
float64 (the error bound of a float32 dot is too wide to certify half or bf16 results)
and immune to XLA's flush-to-zero. The results are then LPFloat's, bit for bit, in every
deterministic mode; stochastic modes draw their words from the call's JAX key. Other
backends keep the in-JAX path (:mod:`lowprec.jax._superacc`). XLA calls back with
flush-to-zero set: the NumPy work runs inside :func:`lowprec._fpenv.ieee_subnormals`. Works under ``jit`` and
``vmap`` (one callback per batch element); not differentiated (the emulated ops give
their derivative straight through).
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np

from .._fpenv import ieee_subnormals
from ..formats import FloatFormat
from ..rounding.modes import RoundingMode


def on_host() -> bool:
    """Whether this trace runs on the CPU backend."""
    return jax.default_backend() == "cpu"


def _key_words(key):
    """The key as two uint32 words for the callback (zeros for no key)."""
    if key is None:
        return jnp.zeros(2, jnp.uint32)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return jnp.ravel(key).astype(jnp.uint32)[-2:]


def _stream(mode: RoundingMode, words):
    from .. import random
    if not mode.is_stochastic:
        return contextlib.nullcontext()
    w = np.asarray(words, dtype=np.uint64)
    return random.keyed((int(w[0]) << 32) | int(w[1]))


def fold(rows, op_add: bool, fmt: FloatFormat, mode: RoundingMode, key, dtype, keep: bool):
    """Row sums (``op_add``) or products of 2-D ``rows`` under "exact", or with ``keep``
    every running result (:func:`lowprec.ndarray._accumulate.fold`), in ``dtype``."""
    from ..ndarray import _accumulate

    def run(x, words):
        with ieee_subnormals(), _stream(mode, words):
            final, partials = _accumulate.fold(op_add, np.asarray(x, np.float64), fmt, mode, keep, "exact")
            return np.asarray(partials if keep else final, dtype=dtype)  # (a conversion FTZ would flush)

    shape = rows.shape if keep else rows.shape[:1]
    return jax.pure_callback(run, jax.ShapeDtypeStruct(shape, dtype), rows, _key_words(key),
                             vmap_method="sequential")


def matmul(a, b, fmt: FloatFormat, mode: RoundingMode, key, dtype):
    """2-D ``a @ b`` under "exact" (:func:`lowprec.ndarray._accumulate.matmul`), in ``dtype``."""
    from ..ndarray import _accumulate

    def run(x, y, words):
        with ieee_subnormals(), _stream(mode, words):
            out = _accumulate.matmul(np.asarray(x, np.float64), np.asarray(y, np.float64), fmt, mode, "exact")
            return np.asarray(out, dtype=dtype)

    return jax.pure_callback(run, jax.ShapeDtypeStruct((a.shape[0], b.shape[1]), dtype), a, b, _key_words(key),
                             vmap_method="sequential")
