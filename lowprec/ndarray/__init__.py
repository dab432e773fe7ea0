"""The emulated ndarray types."""

from ._base import LPArray
from ._float import LPFloat, asarray
from ._functions import array_function, semantics

LPFloat.__array_function__ = array_function

__all__ = ["LPArray", "LPFloat", "asarray", "semantics"]
