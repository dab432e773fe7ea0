"""Block formats: OCP Microscaling (MX) and block floating point.

A block of ``block_size`` consecutive elements (along one axis) shares one power-of-two
scale ``2**X`` held as an E8M0 number (``X`` in [-127, 127]; the code 255 is NaN).
Each element is a value of the *element format* times the shared scale.

* MX (OCP Microscaling Formats v1.0): elements are ``e4m3fn``, ``e5m2``, ``fp6_e2m3``,
  ``fp6_e3m2``, ``fp4_e2m1`` or MXINT8 (8-bit two's complement with an implicit
  ``2**-6``, i.e. the fixed-point format ``fixed(2,6)``), 32 elements per block.
* Block floating point ``bfpN``: the elements are ``N``-bit signed mantissas sharing
  the exponent, i.e. ``fixed(2, N-2)`` elements (``bfp8`` with block 32 is MXINT8).

The shared exponent follows the OCP rule ``X = floor(log2(amax)) - emax_elem``
(``scale_rule="floor"``); elements that then exceed the element format's largest
value saturate to it. ``scale_rule="ceil"`` instead takes the smallest ``X`` with
``amax <= xmax_elem * 2**X`` (no element saturates: the "round the scale up" recipe of
NVIDIA's MXFP8 training and torchao's ``RCEIL``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Optional, Union

from ..errors import FormatError
from ._fixed import FixedFormat
from ._float import FloatFormat

#: Shared-exponent rules.
SCALE_RULES = ("floor", "ceil")

ElementFormat = Union[FloatFormat, FixedFormat]


@dataclass(frozen=True)
class BlockFormat:
    """A block format: ``block_size`` elements of ``element`` sharing an E8M0 scale.

    Parameters
    ----------
    element : FloatFormat or FixedFormat
        The element format (a signed fixed-point element is an integer mantissa).
    block_size : int, default 32
    scale_rule : {"floor", "ceil"}, default "floor"
        ``"floor"``: the OCP MX rule ``X = floor(log2(amax)) - emax_elem`` (elements
        beyond the element range saturate). ``"ceil"``: the smallest ``X`` with
        ``amax <= xmax_elem * 2**X`` (nothing saturates).
    name : str, optional
    """

    element: ElementFormat
    block_size: int = 32
    scale_rule: str = "floor"
    name: Optional[str] = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.element, (FloatFormat, FixedFormat)):
            raise FormatError(f"a block element is a FloatFormat or FixedFormat, got {self.element!r}.")
        if isinstance(self.element, FixedFormat) and not self.element.signed:
            raise FormatError("block elements must be signed.")
        if not isinstance(self.block_size, int) or isinstance(self.block_size, bool) or self.block_size < 1:
            raise FormatError(f"block_size must be a positive integer, got {self.block_size!r}.")
        if self.scale_rule not in SCALE_RULES:
            raise FormatError(f"scale_rule must be one of {SCALE_RULES}, got {self.scale_rule!r}.")

    @property
    def emax_elem(self) -> int:
        """Exponent of the largest power of two of the element format."""
        return math.frexp(self.element_max)[1] - 1

    @property
    def element_max(self) -> float:
        """Largest finite element value."""
        e = self.element
        return e.xmax if isinstance(e, FloatFormat) else e.max

    @property
    def element_min(self) -> float:
        """Smallest element value: ``-element_max`` (MXINT8 and BFP elements are used
        symmetrically, as the OCP spec permits and the microxcaling library does)."""
        return -self.element_max

    @property
    def label(self) -> str:
        base = self.name or f"block({self.element},{self.block_size})"
        return base if self.scale_rule == "floor" else f"{base}[{self.scale_rule}]"

    def replace(self, **changes) -> "BlockFormat":
        """A copy with some fields changed (``block_size``, ``scale_rule``)."""
        if "element" in changes or "block_size" in changes:
            changes.setdefault("name", None)
        return dataclasses.replace(self, **changes)

    def __str__(self) -> str:
        return self.label


def bfp(bits: int, block_size: int = 32, scale_rule: str = "floor") -> BlockFormat:
    """Block floating point: ``bits``-bit signed mantissas (sign included) sharing an
    8-bit exponent, i.e. ``fixed(2, bits-2)`` elements.

    ``bfp(8)`` equals MXINT8.
    """
    if not isinstance(bits, int) or not 2 <= bits <= 53:
        raise FormatError(f"bfp mantissas have 2 to 53 bits, got {bits!r}.")
    name = f"bfp{bits}" if block_size == 32 else f"bfp{bits}_b{block_size}"
    return BlockFormat(FixedFormat(2, bits - 2), block_size, scale_rule, name=name)
