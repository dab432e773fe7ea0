"""Which format an operation on several formats returns: the join of a lattice.

The join of two float formats is the smallest IEEE-style format holding every value of
both: the most exponent bits and the most significand bits. Because it is a lattice
join, promotion is associative and commutative and can never cycle.
"""

from __future__ import annotations

from typing import Optional, Sequence

from .errors import FormatMismatchError
from .formats import FLOAT_FORMATS, FloatFormat
from .rounding import RoundingMode


def join(a: FloatFormat, b: FloatFormat) -> FloatFormat:
    """The smallest float format that holds every value of ``a`` and of ``b``.

    >>> from lowprec.formats import binary16, bfloat16
    >>> join(binary16, bfloat16).label
    'tf32'
    """
    if a == b:
        return a
    if _contains(a, b):
        return a
    if _contains(b, a):
        return b
    sig_bits = max(a.sig_bits, b.sig_bits)
    for exp_bits in range(max(a.exp_bits, b.exp_bits, 2), 16):  # (e1 IEEE-style formats have no normals)
        candidate = FloatFormat(exp_bits, sig_bits, subnormal=a.subnormal or b.subnormal)
        if _contains(candidate, a) and _contains(candidate, b):
            return _named(candidate)
    raise FormatMismatchError(f"no IEEE-style format holds both {a} and {b}; cast one explicitly.")


def _named(fmt: FloatFormat) -> FloatFormat:
    """The built-in instance equal to ``fmt`` (e8m10 is tf32), for readable reprs."""
    return next((f for f in FLOAT_FORMATS.values() if f == fmt), fmt)


def _contains(big: FloatFormat, small: FloatFormat) -> bool:
    """Whether every finite value (and every special) of ``small`` is one of ``big``."""
    lowest = lambda f: f.emin - (f.t - 1) if f.subnormal else f.emin  # noqa: E731
    return (big.t >= small.t and big.emax >= small.emax and big.xmax >= small.xmax
            and lowest(big) <= lowest(small) and big.emin <= small.emin
            and (big.has_inf or not small.has_inf) and (big.has_nan or not small.has_nan)
            and (big.negzero or not small.negzero) and (big.signed or not small.signed))


def result_format(formats: Sequence[FloatFormat]) -> FloatFormat:
    """The join of every format in ``formats`` (at least one)."""
    result = formats[0]
    for f in formats[1:]:
        result = join(result, f)
    return result


def result_mode(modes: Sequence[RoundingMode], operation: str = "this operation") -> RoundingMode:
    """The common rounding mode; mixed modes are an error that says how to fix it."""
    unique = set(modes)
    if len(unique) > 1:
        names = ", ".join(sorted(m.name.lower() for m in unique))
        raise FormatMismatchError(
            f"{operation} mixes rounding modes ({names}); make them agree, e.g. "
            "lp.asarray(b, b.format, rmode=a.rmode)."
        )
    return next(iter(unique))


def optional_join(a: Optional[FloatFormat], b: FloatFormat) -> FloatFormat:
    return b if a is None else join(a, b)
