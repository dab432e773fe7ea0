"""``lp.to_bits`` / ``lp.from_bits``: the real bit patterns of emulated float values.

A format's magnitude codes ``0 .. max_code`` are its finite values in increasing order
(``exponent field << sig_bits | fraction``); above them come the infinity (if the
format has one) and the NaN codes; the top bit is the sign. Encoding is arithmetic on
``frexp`` (exact), so every format up to binary64 works without tables.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .errors import FormatError, FormatRangeError, UnsupportedTypeError
from .formats import FloatFormat, format as as_format

#: The unsigned dtype of each code width.
_CODE_DTYPES = ((8, np.uint8), (16, np.uint16), (32, np.uint32), (64, np.uint64))


def code_dtype(fmt: FloatFormat) -> np.dtype:
    """The smallest unsigned integer dtype that holds ``fmt``'s codes."""
    for width, dtype in _CODE_DTYPES:
        if fmt.bits <= width:
            return np.dtype(dtype)
    raise FormatError(f"{fmt.label} has {fmt.bits} bits: too wide for a NumPy integer.")


def _nan_code(fmt: FloatFormat) -> int:
    """The canonical NaN: IEEE's quiet NaN, the top code, or the ``-0`` code."""
    mag_bits = fmt.exp_bits + fmt.sig_bits
    top = 2**mag_bits - 1
    if fmt.high_nans == 2**fmt.sig_bits - 1 and fmt.sig_bits > 0:
        return (top - (2**fmt.sig_bits - 1)) | (1 << (fmt.sig_bits - 1))
    if fmt.high_nans >= 1:
        return top
    if not fmt.negzero and fmt.signed:
        return 1 << mag_bits
    raise FormatError(f"{fmt.label} has no NaN encoding.")


def _fmt_of(x, fmt) -> FloatFormat:
    if fmt is None:
        fmt = getattr(x, "format", None)
        if fmt is None:
            raise TypeError("lp.to_bits(x) needs a format: pass fmt= or an LPFloat.")
    fmt = as_format(fmt)
    if not isinstance(fmt, FloatFormat):
        raise FormatError(f"lp.to_bits works on float formats; {fmt} codes come from its array's .to_bits().")
    return fmt


def to_bits(x: Any, fmt=None) -> np.ndarray:
    """Encode values of a float format into its bit patterns.

    Parameters
    ----------
    x : array_like or LPFloat
        Values of the format (an LPFloat's values, or plain values already on the
        format's grid: a value that is not is an error, round with :func:`lowprec.chop`
        first).
    fmt : format, optional
        Defaults to ``x.format``.

    Returns
    -------
    ndarray of uint8/uint16/uint32/uint64
        The codes, in the smallest unsigned dtype that holds ``fmt.bits`` bits. NaN gets
        the format's canonical NaN code.

    Examples
    --------
    >>> import lowprec as lp
    >>> lp.to_bits([1.0, -2.0, float("inf")], "half")
    array([15360, 49152, 31744], dtype=uint16)
    >>> lp.to_bits(448.0, "e4m3fn")
    array(126, dtype=uint8)
    """
    fmt = _fmt_of(x, fmt)
    v = np.asarray(getattr(x, "values", x))
    if v.dtype.kind not in "fiu":
        raise UnsupportedTypeError(f"lp.to_bits takes real numbers, got {v.dtype}.")
    v = v.astype(np.float64)
    from .chop import chop
    with np.errstate(invalid="ignore"):
        off_grid = ~((chop(v, fmt) == v) | np.isnan(v))
    if np.any(off_grid):
        raise FormatRangeError(f"{np.count_nonzero(off_grid)} value(s) are not {fmt.label} values (e.g. "
                               f"{v[off_grid].flat[0]!r}); round them with lp.chop(x, fmt) first.")
    mag = np.abs(v)
    finite = np.isfinite(mag)
    _, e = np.frexp(np.where(finite & (mag > 0), mag, 1.0))
    ec = np.maximum(e - 1, fmt.emin)
    with np.errstate(invalid="ignore"):
        scaled = np.ldexp(np.where(finite, mag, 0.0), (fmt.sig_bits - ec).astype(np.int32))
    code = (ec - fmt.emin).astype(np.uint64) * np.uint64(2**fmt.sig_bits) + scaled.astype(np.uint64)
    code = np.where(mag == 0, np.uint64(0), code)
    if fmt.infs:
        code = np.where(np.isinf(mag), np.uint64(fmt.max_code + 1), code)
    negative = np.signbit(v) & ~np.isnan(v)
    if fmt.signed:
        code = code | (negative.astype(np.uint64) << np.uint64(fmt.exp_bits + fmt.sig_bits))
    if np.any(np.isnan(v)):
        code = np.where(np.isnan(v), np.uint64(_nan_code(fmt)), code)
    return np.asarray(code).astype(code_dtype(fmt))


def from_bits(codes: Any, fmt, rmode=1, *, dtype=None):
    """Decode bit patterns of a float format into an LPFloat.

    Parameters
    ----------
    codes : array_like of integers
        Codes in ``[0, 2**fmt.bits)``.
    fmt : format
    rmode : int or str, default 1
        The rounding mode of the returned array.
    dtype : {float64, float32}, optional
        Storage dtype (float64 by default).

    Returns
    -------
    LPFloat

    Examples
    --------
    >>> import lowprec as lp
    >>> lp.from_bits([0x3C00, 0x7BFF], "half").values.tolist()
    [1.0, 65504.0]
    """
    fmt = as_format(fmt)
    if not isinstance(fmt, FloatFormat):
        raise FormatError(f"lp.from_bits decodes float formats, got {fmt}.")
    c = np.asarray(codes)
    if c.dtype.kind not in "iu":
        raise UnsupportedTypeError(f"lp.from_bits takes integer codes, got {c.dtype}.")
    if c.size and (c.min() < 0 or int(c.max()) >= 2**fmt.bits):
        raise FormatRangeError(f"codes must lie in [0, 2**{fmt.bits}) for {fmt.label}.")
    c = c.astype(np.uint64)
    mag_bits = fmt.exp_bits + fmt.sig_bits
    mag = c & np.uint64(2**mag_bits - 1)
    sign = (c >> np.uint64(mag_bits)) & np.uint64(1) if fmt.signed else np.zeros_like(c)
    e_field = (mag >> np.uint64(fmt.sig_bits)).astype(np.int64)
    frac = (mag & np.uint64(2**fmt.sig_bits - 1)).astype(np.float64)
    normal = e_field > 0
    significand = np.where(normal, frac + 2.0**fmt.sig_bits, frac)
    exponent = np.where(normal, e_field - 1 + fmt.emin, fmt.emin) - fmt.sig_bits
    with np.errstate(over="ignore"):  # the infinity/NaN codes, replaced below
        value = np.ldexp(significand, exponent.astype(np.int32))
    max_code = np.uint64(fmt.max_code)
    if fmt.infs:
        value = np.where(mag == max_code + np.uint64(1), np.inf, value)
    value = np.where(mag > max_code + np.uint64(int(fmt.infs)), np.nan, value)
    if not fmt.negzero:
        value = np.where((sign == 1) & (mag == 0), np.nan, value)
    value = np.where(sign == 1, -value, value)
    from .ndarray import asarray
    return asarray(value, fmt, rmode, dtype=dtype)


def _bits_method(self, fmt: Optional[Any] = None) -> np.ndarray:
    """The bit patterns of this array's values (see :func:`lowprec.to_bits`)."""
    return to_bits(self, fmt)
