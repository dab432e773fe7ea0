"""``__array_ufunc__`` for LPFloat: every NumPy ufunc in exactly one category.

| category | what happens |
|---|---|
| ``correctly_rounded`` | ``+ - * / sqrt`` (and ``square``, ``reciprocal``): the exact result rounded once |
| ``rounded`` | computed on the stored values in binary64, then rounded into the format |
| ``exact`` | the result is a format value already (sign changes, max/min, floor, ...); rounded anyway, which is the identity except for formats without -0 |
| ``predicate`` | comparisons and tests: plain boolean arrays |
| ``grid`` | ``nextafter``, ``spacing``, ``frexp``, ``ldexp``, ``modf`` on the format's grid, not binary64's |
| ``product`` | ``matmul`` under the accumulation model (:mod:`lowprec.policy`) |
| ``integer_only`` / ``unsupported`` | raise :class:`~lowprec.errors.UnsupportedOperationError` |
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from ..errors import UnsupportedOperationError
from ..rounding import _kernels

CORRECTLY_ROUNDED = {
    np.add: _kernels.ADD, np.subtract: _kernels.SUBTRACT, np.multiply: _kernels.MULTIPLY,
    np.true_divide: _kernels.DIVIDE, np.sqrt: _kernels.SQRT, np.square: _kernels.MULTIPLY,
    np.reciprocal: _kernels.DIVIDE,
}
ROUNDED = {
    np.exp, np.exp2, np.expm1, np.log, np.log2, np.log10, np.log1p, np.sin, np.cos, np.tan,
    np.arcsin, np.arccos, np.arctan, np.sinh, np.cosh, np.tanh, np.arcsinh, np.arccosh, np.arctanh,
    np.arctan2, np.hypot, np.power, np.float_power, np.cbrt, np.logaddexp, np.logaddexp2,
    np.deg2rad, np.rad2deg, np.degrees, np.radians, np.remainder, np.fmod, np.floor_divide, np.divmod, np.heaviside,
}
EXACT = {
    np.negative, np.positive, np.absolute, np.fabs, np.copysign, np.maximum, np.minimum, np.fmax,
    np.fmin, np.floor, np.ceil, np.trunc, np.rint, np.conjugate, np.sign,
}
PREDICATE = {
    np.isnan, np.isinf, np.isfinite, np.signbit, np.equal, np.not_equal, np.less, np.less_equal,
    np.greater, np.greater_equal, np.logical_and, np.logical_or, np.logical_xor, np.logical_not,
}
GRID = {np.nextafter, np.spacing, np.frexp, np.ldexp, np.modf}
INTEGER_ONLY = {
    np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.invert, np.left_shift, np.right_shift,
    np.gcd, np.lcm, np.bitwise_count,
}
#: Matrix products, under the accumulation models of lowprec.policy.
PRODUCT = {np.matmul}
#: Not (yet) emulated, or without a float meaning.
UNSUPPORTED = {np.vecdot, np.isnat, np.matvec, np.vecmat}

CATEGORIES: Dict[np.ufunc, str] = {}
for _name, _set in [("correctly_rounded", CORRECTLY_ROUNDED), ("rounded", ROUNDED), ("exact", EXACT),
                    ("predicate", PREDICATE), ("grid", GRID), ("product", PRODUCT), ("integer_only", INTEGER_ONLY),
                    ("unsupported", UNSUPPORTED)]:
    for _u in _set:
        if _u in CATEGORIES:
            raise AssertionError(f"{_u.__name__} is in two categories")
        CATEGORIES[_u] = _name


#: scipy.special ufuncs of real arguments and results (the paper's special functions and
#: their kin): rounded like exp and log. Registered on first use, so that importing
#: lowprec never imports scipy.
SCIPY_SPECIAL = ("erf", "erfc", "erfinv", "erfcinv", "erfcx", "gamma", "gammaln", "loggamma", "digamma",
                 "expit", "logit", "log_expit", "ndtr", "ndtri", "log_ndtr", "i0", "i1", "j0", "j1", "y0", "y1",
                 "sinc", "xlogy", "xlog1py", "beta", "betaln", "exprel", "softplus")


def _scipy_special() -> None:
    import scipy.special
    for name in SCIPY_SPECIAL:
        u = getattr(scipy.special, name, None)
        if isinstance(u, np.ufunc) and u not in CATEGORIES:
            CATEGORIES[u] = "rounded"
            ROUNDED.add(u)


def category(ufunc: np.ufunc) -> str:
    """The category of ``ufunc`` (see the module docstring)."""
    if ufunc not in CATEGORIES and ufunc.__name__ in SCIPY_SPECIAL:
        try:
            _scipy_special()
        except ImportError:
            pass
    try:
        return CATEGORIES[ufunc]
    except KeyError:
        raise UnsupportedOperationError(
            f"np.{ufunc.__name__} has no emulated implementation for LPFloat; convert with "
            "np.asarray(x) to compute in binary64 explicitly."
        ) from None
