"""The emulated ndarray types."""

from ._base import LPArray
from ._float import _OTHER_KINDS, LPFloat, asarray
from ._functions import array_function, semantics
from . import _linalg, _products, _reductions  # noqa: F401  (register their functions)
from ._fixed import LPFixed, asarray_fixed
from ._int import LPInt, asarray_int
from ..formats import FixedFormat, IntFormat

LPFloat.__array_function__ = array_function
_OTHER_KINDS.update({FixedFormat: asarray_fixed, IntFormat: asarray_int})

__all__ = ["LPArray", "LPFixed", "LPFloat", "LPInt", "asarray", "semantics"]
