"""Fixed-point formats: values on the grid ``2**-frac_bits`` in a bounded range."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

from ..errors import FormatError, FormatMismatchError

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
    def code_min(self) -> int:
        """Smallest integer code (``min * 2**frac_bits``)."""
        return -(2 ** (self.bits - 1)) if self.signed else 0

    @property
    def code_max(self) -> int:
        """Largest integer code (``max * 2**frac_bits``)."""
        return 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        base = f"fixed({self.int_bits},{self.frac_bits})" if self.signed else f"ufixed({self.int_bits},{self.frac_bits})"
        return base if self.overflow == "saturate" else f"{base}[{self.overflow}]"

    def replace(self, **changes) -> "FixedFormat":
        """A copy with some fields changed (e.g. ``overflow="wrap"``)."""
        changes.setdefault("name", None)
        return dataclasses.replace(self, **changes)

    def __str__(self) -> str:
        return self.label


def join_fixed(a: FixedFormat, b: FixedFormat) -> FixedFormat:
    """The smallest fixed-point format holding every value of ``a`` and ``b``.

    The most fraction bits, and enough integer bits for both ranges (an unsigned
    operand needs one more integer bit in a signed result). Both must share an overflow
    policy; a join wider than 53 bits is an error.
    """
    if a == b:
        return a
    if a.overflow != b.overflow:
        raise FormatMismatchError(
            f"{a} and {b} have different overflow policies ({a.overflow}, {b.overflow}); cast one "
            "explicitly, e.g. lp.asarray(x.values, x.format.replace(overflow='saturate'))."
        )
    signed = a.signed or b.signed
    need = [f.int_bits + (1 if signed and not f.signed else 0) for f in (a, b)]
    try:
        return FixedFormat(max(need), max(a.frac_bits, b.frac_bits), signed=signed, overflow=a.overflow)
    except FormatError:
        raise FormatMismatchError(
            f"the join of {a} and {b} needs more than 53 bits; cast one operand explicitly."
        ) from None


#: How results of LPInt operations get their scale (see IntFormat).
REQUANT_POLICIES = ("dynamic", "static")


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
        Symmetric quantization (zero point 0; signed codes in ``±(2**(bits-1)-1)``,
        unsigned codes in ``[0, 2**bits-1]``) or asymmetric (a zero point, every level
        used). A fixed ``scale`` always has zero point 0.
    per_channel : bool, default False
        One scale per slice along ``axis`` instead of one per tensor.
    axis : int, default 0
        The channel axis for per-channel quantization.
    overflow : {"saturate", "wrap", "error"}, default "saturate"
        What an out-of-range code becomes. ``"wrap"`` wraps into the ``bits``-bit
        storage range (two's complement when signed).
    scale : float, optional
        A fixed scale (per tensor). ``None``: calibrated from the data (min/max).
        ``scale=1`` with ``symmetric=False`` (zero point 0 then) is plain ``intN``
        arithmetic; the string ``"int8"`` etc. gives exactly that.
    requant : {"dynamic", "static"}, optional
        How results of operations are re-quantized: ``"dynamic"`` recalibrates every
        result; ``"static"`` keeps the scale and zero point of the (left-most) operand and
        saturates. Default: ``"static"`` with a fixed ``scale``, ``"dynamic"`` otherwise.

    Notes
    -----
    Calibration (:func:`lowprec.quant.int_codes`): symmetric ``s = max|x| / qmax`` with
    codes in ``[-qmax, qmax]``; asymmetric ``s = (beta - alpha) / (2**bits - 1)`` over
    ``[alpha, beta] = [min(min x, 0), max(max x, 0)]`` (zero is always exact) and
    ``z = qmin - round(alpha / s)``; ``code = clamp(round(x / s) + z)``,
    value ``s * (code - z)`` (the paper's section 3.3). An all-zero tensor gets ``s = 1``.
    """

    bits: int
    signed: bool = True
    symmetric: bool = True
    per_channel: bool = False
    axis: int = 0
    overflow: str = "saturate"
    scale: Optional[float] = None
    requant: Optional[str] = None
    name: Optional[str] = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.bits, int) or isinstance(self.bits, bool) or not 1 <= self.bits <= 53:
            raise FormatError(f"bits must be an integer in [1, 53], got {self.bits!r}.")
        if self.overflow not in INTEGER_OVERFLOW_POLICIES:
            raise FormatError(
                f"overflow must be one of {INTEGER_OVERFLOW_POLICIES}, got {self.overflow!r}."
            )
        if self.scale is not None:
            scale = float(self.scale)
            if not (scale > 0 and scale < float("inf")):
                raise FormatError(f"scale must be a positive finite number, got {self.scale!r}.")
            object.__setattr__(self, "scale", scale)
        if self.requant is None:
            object.__setattr__(self, "requant", "dynamic" if self.scale is None else "static")
        if self.requant not in REQUANT_POLICIES:
            raise FormatError(f"requant must be one of {REQUANT_POLICIES}, got {self.requant!r}.")
        if self.per_channel and self.scale is not None:
            raise FormatError("a fixed scale is per tensor; per_channel=True calibrates one per channel.")

    @property
    def qmin(self) -> int:
        """Smallest code."""
        return -(2 ** (self.bits - 1)) if self.signed else 0

    @property
    def qmax(self) -> int:
        """Largest code."""
        return 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1

    @property
    def qlo(self) -> int:
        """Smallest code that quantization produces (``-qmax`` when symmetric and signed)."""
        return -self.qmax if (self.symmetric and self.signed) else self.qmin

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        base = f"{'' if self.signed else 'u'}int{self.bits}"
        opts = []
        if self.scale is not None:
            opts.append(f"scale={self.scale:g}" + (",sym" if self.symmetric else ""))
        elif not self.symmetric:
            opts.append("asym")
        if self.per_channel:
            opts.append(f"axis={self.axis}")
        if self.requant != ("dynamic" if self.scale is None else "static"):
            opts.append(self.requant)
        if self.overflow != "saturate":
            opts.append(self.overflow)
        return base + (f"[{','.join(opts)}]" if opts else "")

    def replace(self, **changes) -> "IntFormat":
        """A copy with some fields changed."""
        changes.setdefault("name", None)
        if "scale" in changes and "requant" not in changes:
            changes["requant"] = None
        return dataclasses.replace(self, **changes)

    def __str__(self) -> str:
        return self.label
