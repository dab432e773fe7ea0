"""Per-call accumulation models: ``lp.sum(x, accumulate="pairwise")``, ``lp.matmul(a, b,
accumulate="fp32")``, ... — the NumPy function under ``with lp.accumulate(model):``."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..policy import accumulate as _accumulate

#: lowprec name -> NumPy function whose accumulation follows the model.
FUNCTIONS = {
    "sum": np.sum, "prod": np.prod, "cumsum": np.cumsum, "cumprod": np.cumprod, "mean": np.mean,
    "var": np.var, "std": np.std, "dot": np.dot, "vdot": np.vdot, "inner": np.inner, "matmul": np.matmul,
    "tensordot": np.tensordot, "einsum": np.einsum, "trace": np.trace, "norm": np.linalg.norm,
}


def _per_call(name: str, func: Callable) -> Callable:
    def wrapper(*args, accumulate=None, **kwargs):
        if accumulate is None:
            return func(*args, **kwargs)
        with _accumulate(accumulate):
            return func(*args, **kwargs)
    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = (f"``np.{func.__name__}`` on emulated arrays with an accumulation model for this call.\n\n"
                       "    Parameters\n    ----------\n    *args, **kwargs\n"
                       f"        As for ``np.{func.__name__}``.\n"
                       "    accumulate : str or format, optional\n"
                       "        ``\"sequential\"``, ``\"pairwise\"``, ``\"fma\"``, ``\"exact\"`` or a wider format;\n"
                       "        default: the model in force (see :func:`lowprec.accumulate`).\n")
    return wrapper


globals().update({name: _per_call(name, func) for name, func in FUNCTIONS.items()})
__all__ = sorted(FUNCTIONS)
