"""lowprec: emulated low-precision arithmetic for NumPy, PyTorch and JAX.

>>> import lowprec as lp
>>> lp.chop(0.1, "bf16")
0.10009765625
"""

# First, before any numba kernel runs: make the fork- and thread-safe TBB layer loadable.
from ._threading import load_tbb as _load_tbb

_load_tbb()

# Also first: where numba caches the kernels when the package directory is read-only.
from ._cache import install as _install_cache_locator

_install_cache_locator()

from .chop import chop
from .dispatch import register_backend
from .errors import (
    FormatError,
    FormatMismatchError,
    FormatRangeError,
    LowprecError,
    LowprecWarning,
    RoundingModeError,
    UnsupportedOperationError,
    UnsupportedTypeError,
)
from .formats import FixedFormat, FloatFormat, IntFormat, finfo, format, p3109
from .arith import fma
from .ndarray import LPArray, LPFixed, LPFloat, LPInt, asarray, semantics
from .formats import BlockFormat, bfp
from .quant import fixed_codes, int_codes, mx_encode, quantize_block, quantize_fixed, quantize_int, quantize_mx
from .policy import accumulate, policy
from . import linalg
from .bits import from_bits, to_bits
from .io import load, save, savez
from .ndarray._percall import (cumprod, cumsum, dot, einsum, inner, matmul, mean, norm, prod, std, sum,
                               tensordot, trace, var, vdot)
from .random import seed
from .rounding import RoundingMode, rounding_mode
from ._dask import register_when_distributed_imported as _register_distributed

_register_distributed()  # LP arrays keep their type in dask.distributed (now or once it is imported)

__version__ = "0.1.0"

__all__ = [
    "FixedFormat", "FloatFormat", "FormatError", "FormatMismatchError", "FormatRangeError",
    "IntFormat", "LPArray", "LPFloat", "LowprecError", "LowprecWarning", "RoundingMode", "RoundingModeError",
    "UnsupportedOperationError", "UnsupportedTypeError", "accumulate", "asarray", "cumprod", "cumsum", "dot", "einsum", "from_bits", "inner", "matmul",
    "mean", "norm", "prod", "std", "sum", "tensordot", "trace", "var", "vdot", "linalg", "policy", "to_bits", "chop", "finfo", "fma", "format", "p3109",
    "register_backend", "rounding_mode", "seed", "semantics", "__version__",
    "BlockFormat", "LPFixed", "LPInt", "bfp", "fixed_codes", "int_codes", "mx_encode", "quantize_block",
    "quantize_fixed", "quantize_int", "quantize_mx", "load", "save", "savez",
]


def __getattr__(name):
    # Subpackages with heavier imports load on first use: lp.matlab, lp.jax, lp.torch.
    if name in ("matlab", "jax", "torch"):
        import importlib
        return importlib.import_module(f"lowprec.{name}")
    raise AttributeError(f"module 'lowprec' has no attribute {name!r}")
