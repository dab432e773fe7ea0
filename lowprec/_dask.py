"""Dask arrays: ``lp.chop`` rounds them chunk by chunk, ``lp.asarray`` makes a dask
array whose chunks are LPFloat, so elementwise operations stay emulated.

Nothing is computed until the user calls ``.compute()``. Stochastic modes draw from one
key per call, mixed with each chunk's position, so a seeded call is reproducible for
the same chunking (other chunkings draw other bits).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .chop import RoundSpec, chop_numpy

_GOLDEN = 0x9E3779B97F4A7C15


def _chunk_seed(key: int, block_id) -> int:
    """A seed per chunk: the call's key mixed with the chunk's position."""
    h = int(key)
    for i in block_id:
        h = (h * _GOLDEN + int(i) + 1) % 2**63
    return h


def chop_dask(x: Any, spec: RoundSpec, out: Optional[Any] = None) -> Any:
    """The ``lp.chop`` backend for dask arrays: a lazy dask array of rounded chunks."""
    if out is not None:
        raise TypeError("lp.chop on a dask array returns a new dask array; out= is not supported.")
    key = int(spec.key())

    def block(b, block_id=None):
        seed = _chunk_seed(key, block_id) if spec.needs_key() else None
        return chop_numpy(b, spec._replace(seed=seed, rng=None))

    dtype = np.float64 if np.dtype(x.dtype).kind in "iu" else x.dtype
    return x.map_blocks(block, dtype=dtype)


def asarray_dask(x: Any, fmt, rmode, *, dtype=None, subnormal=None, seed=None, rng=None) -> Any:
    """``lp.asarray`` for dask arrays: a dask array of LPFloat chunks."""
    from .chop import make_spec
    from .ndarray._float import LPFloat, array_format
    f, mode = array_format(fmt, rmode, subnormal)
    spec = make_spec(f, mode, seed=seed, rng=rng)
    key = int(spec.key())
    target = np.dtype(dtype) if dtype is not None else (np.dtype(np.float32) if x.dtype == np.float32
                                                        else np.dtype(np.float64))

    def block(b, block_id=None):
        seed = _chunk_seed(key, block_id) if spec.needs_key() else None
        values = chop_numpy(np.asarray(b, dtype=target), spec._replace(seed=seed, rng=None))
        return LPFloat._wrap(values, f, mode)

    meta = LPFloat._wrap(np.empty((0,) * x.ndim, target), f, mode)
    return x.map_blocks(block, dtype=target, meta=meta)
