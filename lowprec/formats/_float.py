"""Binary floating-point formats: which values exist and how they are encoded."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Optional

from ..errors import FormatError

#: The overflow policies, named by what an overflowing result becomes.
OVERFLOW_POLICIES = ("inf", "saturate", "nan")


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format with a sign bit, an exponent and a significand.

    The values are ``(-1)**s * 2**e * 1.f`` (normal) and ``(-1)**s * 2**emin * 0.f``
    (subnormal), with ``f`` of ``sig_bits`` bits. Encodings at the top of the
    magnitude range may be reserved for NaN (``high_nans`` codes) and infinity.

    Parameters
    ----------
    exp_bits : int
        Width of the exponent field, at least 1.
    sig_bits : int
        Width of the stored significand, the hidden bit excluded (``t = sig_bits + 1``).
    subnormal : bool, default True
        Whether gradual underflow is kept. ``False`` rounds values below ``xmin``
        onto ``{0, xmin}`` with the rounding mode.
    overflow : {"inf", "saturate", "nan"}, optional
        What a result beyond ``xmax`` in the outward direction becomes: infinity,
        ``±xmax`` or NaN. The default is ``"inf"`` for formats with infinities, ``"nan"``
        for formats with NaN but no infinity (the non-saturating conversion of the OCP
        spec and of ml_dtypes) and ``"saturate"`` for formats with neither.
    bias : int, optional
        Exponent bias; the IEEE bias ``2**(exp_bits-1) - 1`` by default.
    infs : bool, default True
        Whether the format encodes infinities (just below the high NaNs).
    high_nans : int, optional
        How many codes at the top of each sign's magnitude range are NaN. IEEE
        formats (default) have ``2**sig_bits - 1``; OCP e4m3fn has 1; fnuz has 0.
    negzero : bool, default True
        Whether ``-0`` exists. Without it (fnuz, P3109) the ``-0`` code is the NaN and
        a negative value that rounds to zero gives ``+0``.
    signed : bool, default True
        Unsigned formats have no sign bit; negative values become NaN (or 0 when
        saturating).
    name : str, optional
        Display name; does not take part in equality.
    """

    exp_bits: int
    sig_bits: int
    subnormal: bool = True
    overflow: Optional[str] = None
    bias: Optional[int] = None
    infs: bool = True
    high_nans: Optional[int] = None
    negzero: bool = True
    signed: bool = True
    name: Optional[str] = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for attr in ("exp_bits", "sig_bits"):
            value = getattr(self, attr)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise FormatError(f"{attr} must be a non-negative integer, got {value!r}.")
        if self.exp_bits < 1:
            raise FormatError("exp_bits must be at least 1.")
        if self.bias is None:
            object.__setattr__(self, "bias", 2 ** (self.exp_bits - 1) - 1)
        if self.high_nans is None:
            object.__setattr__(self, "high_nans", 2**self.sig_bits - 1)
        if self.high_nans < 0 or self.high_nans + int(self.infs) >= 2 ** (self.exp_bits + self.sig_bits):
            raise FormatError(f"high_nans={self.high_nans} leaves no finite values.")
        if self.overflow is None:
            default = "inf" if self.infs else ("nan" if self.has_nan else "saturate")
            object.__setattr__(self, "overflow", default)
        if self.overflow not in OVERFLOW_POLICIES:
            raise FormatError(
                f"overflow must be one of {OVERFLOW_POLICIES}, got {self.overflow!r}."
            )
        if self.overflow == "inf" and not self.infs:
            raise FormatError(
                f"{self.label} has no infinities, so overflow='inf' is impossible; "
                "use overflow='saturate' or 'nan'."
            )
        if self.overflow == "nan" and not self.has_nan:
            raise FormatError(
                f"{self.label} has no NaN encoding, so overflow='nan' is impossible; "
                "use overflow='saturate'."
            )
        if not self.subnormal and not isinstance(self.subnormal, bool):
            object.__setattr__(self, "subnormal", bool(self.subnormal))
        if self.emax < self.emin:
            # e.g. e1m0 (only zero is finite) or e1m1 (only subnormals): no binade of normal
            # numbers, so xmin, emax and the rounding's exponent range mean nothing
            raise FormatError(
                f"{self.label} has no normal finite numbers (emax={self.emax} < emin={self.emin}); a float "
                "format needs at least one: with the IEEE bias and infinities that takes exp_bits >= 2 "
                "(e.g. 'e2m1'), or more exponent codes (infs=False, fewer high_nans).")

    # -- structure -------------------------------------------------------------
    @property
    def bits(self) -> int:
        """Total width of an encoding in bits."""
        return int(self.signed) + self.exp_bits + self.sig_bits

    @property
    def t(self) -> int:
        """Precision in bits, hidden bit included."""
        return self.sig_bits + 1

    @property
    def has_nan(self) -> bool:
        """Whether some encoding is NaN."""
        return self.high_nans > 0 or (self.signed and not self.negzero)

    @property
    def has_inf(self) -> bool:
        """Whether the format encodes infinities."""
        return self.infs

    @property
    def max_code(self) -> int:
        """Largest code (sign bit clear) of a finite value."""
        return 2 ** (self.exp_bits + self.sig_bits) - 1 - self.high_nans - int(self.infs)

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number."""
        return 1 - self.bias

    @property
    def emax(self) -> int:
        """Exponent of the largest finite number."""
        return (self.max_code >> self.sig_bits) - self.bias

    # -- values (exact, as Fractions would be overkill: all are dyadic floats) -----
    @property
    def xmax(self) -> float:
        """Largest finite value."""
        return float(self.decode_magnitude(self.max_code))

    @property
    def xmin(self) -> float:
        """Smallest positive normal value (``2**emin``)."""
        return float(Fraction(2) ** self.emin)

    @property
    def xmins(self) -> float:
        """Smallest positive value: the smallest subnormal (``xmin`` without subnormals)."""
        if not self.subnormal:
            return self.xmin
        return float(Fraction(2) ** (self.emin - self.sig_bits))

    @property
    def u(self) -> float:
        """Unit roundoff ``2**-t``."""
        return 2.0 ** -self.t

    @property
    def eps(self) -> float:
        """Machine epsilon ``2**(1-t)``, the spacing of the numbers just above 1."""
        return 2.0 ** (1 - self.t)

    # -- naming ----------------------------------------------------------------
    @property
    def label(self) -> str:
        """A short name: the registry name if any, else ``eXmY``."""
        return self.name or f"e{self.exp_bits}m{self.sig_bits}"

    def __repr__(self) -> str:
        options = []
        if not self.subnormal:
            options.append("subnormal=False")
        if self.overflow != _default_overflow(self):
            options.append(f"overflow={self.overflow!r}")
        if self.name is not None:
            inner = ", ".join([repr(self.name)] + options)
            return f"FloatFormat({inner})" if options else f"FloatFormat({self.name!r})"
        parts = [str(self.exp_bits), str(self.sig_bits)]
        # (the defaults computed, not constructed: e1mY with its defaults is no valid format)
        defaults = {"bias": 2 ** (self.exp_bits - 1) - 1, "infs": True, "high_nans": 2**self.sig_bits - 1,
                    "negzero": True, "signed": True}
        for f in ("bias", "infs", "high_nans", "negzero", "signed"):
            if getattr(self, f) != defaults[f]:
                parts.append(f"{f}={getattr(self, f)!r}")
        return f"FloatFormat({', '.join(parts + options)})"

    def __str__(self) -> str:
        return self.label

    def replace(self, **changes) -> "FloatFormat":
        """Return a copy with some options changed (``subnormal``, ``overflow``, ...)."""
        if "overflow" not in changes and ("infs" in changes or "high_nans" in changes):
            changes["overflow"] = None
        return dataclasses.replace(self, **changes)

    # -- decoding --------------------------------------------------------------
    def decode_magnitude(self, code: int) -> Fraction:
        """Exact value of a code with the sign bit clear (finite codes only)."""
        e_field = code >> self.sig_bits
        frac = code & (2**self.sig_bits - 1)
        if e_field == 0:
            return Fraction(frac, 2**self.sig_bits) * Fraction(2) ** self.emin
        return Fraction(2**self.sig_bits + frac, 2**self.sig_bits) * Fraction(2) ** (
            e_field - self.bias
        )

    def decode(self, code: int) -> float:
        """Value of one encoding (an integer in ``[0, 2**bits)``) as a Python float."""
        if not 0 <= code < 2**self.bits:
            raise FormatError(f"code {code} is outside [0, 2**{self.bits}) for {self.label}.")
        magnitude_bits = self.exp_bits + self.sig_bits
        sign = (code >> magnitude_bits) & 1 if self.signed else 0
        mag = code & (2**magnitude_bits - 1)
        if sign and mag == 0 and not self.negzero:
            return float("nan")
        if mag > self.max_code + int(self.infs):
            return float("nan")
        if mag == self.max_code + 1 and self.infs:
            value = float("inf")
        else:
            value = float(self.decode_magnitude(mag))
        return -value if sign else value


def _default_overflow(fmt: FloatFormat) -> str:
    return "inf" if fmt.infs else ("nan" if fmt.has_nan else "saturate")
