"""Fixed-point formats: values on the grid ``2**-frac_bits`` in a bounded range."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..errors import FormatError

#: What a fixed-point or integer result outside the range becomes.
INTEGER_OVERFLOW_POLICIES = ("saturate", "wrap", "error")


@dataclass(frozen=True)
class FixedFormat:
    """A binary fixed-point format ``Qm.n``.

    Parameters
    ----------
    int_bits : int
        Integer bits; they include the sign bit when ``signed``.
    frac_bits : int
        Fraction bits; the grid spacing is ``2**-frac_bits``.
    signed : bool, default True
        Two's complement when True, unsigned otherwise.
    overflow : {"saturate", "wrap", "error"}, default "saturate"
        What a value outside ``[min, max]`` becomes.
    """

    int_bits: int
    frac_bits: int
    signed: bool = True
    overflow: str = "saturate"
    name: Optional[str] = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for attr in ("int_bits", "frac_bits"):
            value = getattr(self, attr)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise FormatError(f"{attr} must be a non-negative integer, got {value!r}.")
        if self.bits < 1:
            raise FormatError("a fixed-point format needs at least one bit.")
        if self.bits > 53:
            raise FormatError(
                f"fixed({self.int_bits},{self.frac_bits}) has {self.bits} bits; float64 storage "
                "holds at most 53-bit words exactly."
            )
        if self.overflow not in INTEGER_OVERFLOW_POLICIES:
            raise FormatError(
                f"overflow must be one of {INTEGER_OVERFLOW_POLICIES}, got {self.overflow!r}."
            )

    @property
    def bits(self) -> int:
        """Word length."""
        return self.int_bits + self.frac_bits

    @property
    def resolution(self) -> float:
        """Grid spacing ``2**-frac_bits``."""
        return 2.0 ** -self.frac_bits

    @property
    def min(self) -> float:
        """Smallest representable value."""
        return -(2.0 ** (self.bits - 1)) * self.resolution if self.signed else 0.0

    @property
    def max(self) -> float:
        """Largest representable value."""
        top = 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1
        return top * self.resolution

    @property
    def label(self) -> str:
        return self.name or f"fixed({self.int_bits},{self.frac_bits})"

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class IntFormat:
    """An integer quantization format of ``bits`` bits.

    Parameters
    ----------
    bits : int
        Width of the integer codes.
    signed : bool, default True
        Codes in ``[-2**(bits-1), 2**(bits-1)-1]`` when signed, ``[0, 2**bits-1]`` otherwise.
    symmetric : bool, default True
        Symmetric quantization (zero point 0, codes in ``±(2**(bits-1)-1)``) or
        asymmetric (a zero point, every level used).
    per_channel : bool, default False
        One scale per slice along ``axis`` instead of one per tensor.
    axis : int, default 0
        The channel axis for per-channel quantization.
    overflow : {"saturate", "wrap", "error"}, default "saturate"
        What an out-of-range code becomes.
    """

    bits: int
    signed: bool = True
    symmetric: bool = True
    per_channel: bool = False
    axis: int = 0
    overflow: str = "saturate"
    name: Optional[str] = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.bits, int) or isinstance(self.bits, bool) or not 1 <= self.bits <= 53:
            raise FormatError(f"bits must be an integer in [1, 53], got {self.bits!r}.")
        if self.overflow not in INTEGER_OVERFLOW_POLICIES:
            raise FormatError(
                f"overflow must be one of {INTEGER_OVERFLOW_POLICIES}, got {self.overflow!r}."
            )

    @property
    def qmin(self) -> int:
        """Smallest code."""
        return -(2 ** (self.bits - 1)) if self.signed else 0

    @property
    def qmax(self) -> int:
        """Largest code."""
        return 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1

    @property
    def label(self) -> str:
        return self.name or f"{'' if self.signed else 'u'}int{self.bits}"

    def __str__(self) -> str:
        return self.label
