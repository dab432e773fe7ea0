"""Dask arrays: ``lp.chop`` rounds them chunk by chunk, ``lp.asarray`` makes a dask
array whose chunks are LPFloat, so elementwise operations stay emulated.

Nothing is computed until the user calls ``.compute()``. Stochastic modes draw from one
key per call, mixed with each chunk's position, so a seeded call is reproducible for
the same chunking (other chunkings draw other bits).
"""

from __future__ import annotations

import importlib.abc
import pickle
import sys
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


# -- dask.distributed: keep the LP type across process boundaries ---------------------
# distributed sends numpy arrays with its own serializer (``dask_serialize`` for
# np.ndarray), which rebuilds a plain ndarray: results came back from workers unwrapped
# and an operation on operands that moved between workers ran unrounded. The LP types get
# the same zero-copy frames plus their metadata (format, mode, scales) in the header.

def _lp_serialize(x, context=None):
    from distributed.protocol.numpy import serialize_numpy_ndarray
    header, frames = serialize_numpy_ndarray(x.view(np.ndarray), context=context)
    header["lowprec"] = pickle.dumps((type(x), dict(x.__dict__)))
    return header, frames


def _lp_deserialize(header, frames):
    from distributed.protocol.numpy import deserialize_numpy_ndarray
    cls, state = pickle.loads(header["lowprec"])
    obj = deserialize_numpy_ndarray(header, frames).view(cls)
    obj.__dict__.update(state)
    return obj


def register_distributed() -> None:
    """Register the LP array types with distributed's serializer (idempotent).

    Runs at ``import lowprec`` when distributed is already imported, else right after
    ``distributed.protocol`` is imported (:class:`_AfterImport`). Every class is
    registered by name, not only the base: distributed's dispatch caches the lookup of a
    class, so an LPFloat sent before this ran would otherwise keep the ndarray serializer.
    """
    from distributed.protocol import dask_deserialize, dask_serialize

    from .ndarray._base import LPArray
    classes, todo = [], [LPArray]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    for cls in classes:
        dask_serialize.register(cls)(_lp_serialize)
        dask_deserialize.register(cls)(_lp_deserialize)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls :func:`register_distributed` once ``distributed.protocol`` has been executed,
    so that the registration needs neither an import of distributed by lowprec (slow) nor
    an import order from the user."""

    name = "distributed.protocol"

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return spec

        def exec_then_register(module):
            exec_module(module)
            register_distributed()

        loader.exec_module = exec_then_register  # this module's own loader instance
        return spec


def register_when_distributed_imported() -> None:
    """At ``import lowprec``: register now, or as soon as distributed is imported."""
    if _AfterImport.name in sys.modules:
        register_distributed()
    elif not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())
