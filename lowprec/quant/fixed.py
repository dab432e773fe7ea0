"""Fixed-point quantization: ``lp.quantize_fixed`` and the code-level helpers of LPFixed."""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np

from ..errors import FormatError
from ..chop import check_out_format, partial_overlap
from ..formats import FixedFormat, format as as_format
from ..random import next_key
from ..rounding import RoundingMode, rounding_mode
from . import _kernels as K
from ._common import (
    as_float_array, check_float32, flat, raise_nonfinite, raise_overflow, result_buffer, smallest_int_dtype,
)


def fixed_format(fmt, overflow: Optional[str] = None) -> FixedFormat:
    """``fmt`` as a FixedFormat (with the overflow policy overridden when given)."""
    f = as_format(fmt)
    if not isinstance(f, FixedFormat):
        raise FormatError(f"{f} is not a fixed-point format; use e.g. 'q8.8' or lp.FixedFormat(8, 8).")
    return f if overflow is None or overflow == f.overflow else f.replace(overflow=overflow)


def round_flat(a: np.ndarray, fmt: FixedFormat, mode: RoundingMode, key, want_codes: bool,
               out: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Quantize the flat float array ``a``: ``(values, int64 codes or None)``; raises on
    NaN/inf and on overflow under ``"error"``."""
    values = np.empty(a.shape, a.dtype) if out is None else out
    if not want_codes and int(mode) <= 4 and fmt.overflow != "wrap":  # vectorized fast path
        bad, over = K.quantize_fixed_fast(a, values, float(2.0**fmt.frac_bits), float(fmt.code_min),
                                          float(fmt.code_max), int(mode))
        raise_nonfinite(bad, fmt)
        if fmt.overflow == "error":
            raise_overflow(over, fmt, fmt.min, fmt.max)
        return values, None
    codes = np.empty(a.shape if want_codes else 1, np.int64)
    bad, over = K.quantize_fixed(
        a, values, codes, want_codes, float(2.0**fmt.frac_bits), float(2.0**fmt.int_bits), fmt.code_min,
        fmt.code_max, fmt.bits, K.OVERFLOW_CODES[fmt.overflow], int(mode), key, 0,
    )
    raise_nonfinite(bad, fmt)
    if fmt.overflow == "error":
        raise_overflow(over, fmt, fmt.min, fmt.max)
    return values, (codes if want_codes else None)


def quantize_fixed(x: Any, fmt: Union[str, FixedFormat] = "q8.8", rmode: Union[int, str] = 1, *,
                   overflow: Optional[str] = None, seed: Optional[int] = None,
                   rng: Optional[np.random.Generator] = None, out: Optional[np.ndarray] = None) -> Any:
    """Round ``x`` onto a fixed-point grid.

    Parameters
    ----------
    x : array_like or number
        Real numbers; integer input gives float64, float16 gives float32.
    fmt : str or FixedFormat, default "q8.8"
        ``"q8.8"``, ``"fixed(8,8)"``, ``"uq4.4"``, ``lp.FixedFormat(...)``.
    rmode : int or str, default 1
        Any of the nine rounding modes (stochastic modes use the exact residual).
    overflow : {"saturate", "wrap", "error"}, optional
        Overrides the format's overflow policy.
    seed, rng
        Random stream of the stochastic modes (as :func:`lowprec.chop`).
    out : ndarray, optional
        Where to write the result (same shape and dtype as the result).

    Returns
    -------
    Same kind as ``x``
        Values ``k * 2**-frac_bits``; same type, dtype and shape. The input is never
        modified unless it is ``out``.

    Raises
    ------
    FormatRangeError
        NaN or infinity in ``x``; values out of range under ``overflow="error"``
        (the message names the count and the range).

    Notes
    -----
    **Rounding.** Each element is rounded once onto the grid with the mode (exact:
    ``x * 2**frac_bits`` is exact in binary64), then the overflow policy applies:
    saturate to ``[min, max]``, wrap modulo ``2**bits`` (two's complement), or error.

    Examples
    --------
    >>> import lowprec as lp
    >>> lp.quantize_fixed(3.14159, "q4.4")
    3.125
    >>> lp.quantize_fixed(9.0, "q4.4", overflow="wrap")
    -7.0
    """
    f = fixed_format(fmt, overflow)
    mode = rounding_mode(rmode)
    a, back = as_float_array(x)
    check_float32(f, a.dtype, f.bits)
    check_out_format(out, f, "lp.quantize_fixed")
    dst = result_buffer(a, out)
    if partial_overlap(a, dst):  # the kernel streams a into dst: read from a copy instead
        a = a.copy()
    key = next_key(seed, rng) if mode.is_stochastic else np.uint64(0)
    src = flat(a)
    if dst.flags.c_contiguous:
        round_flat(src, f, mode, key, False, dst.reshape(-1))
    else:
        values, _ = round_flat(src, f, mode, key, False)
        np.copyto(dst, values.reshape(a.shape))
    return back(dst)


def fixed_codes(x: Any, fmt: Union[str, FixedFormat] = "q8.8", rmode: Union[int, str] = 1, *,
                seed: Optional[int] = None, rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """The integer codes ``round(x * 2**frac_bits)`` (after the overflow policy) in the
    smallest integer dtype holding the format's codes (``to_bits`` of LPFixed)."""
    f = fixed_format(fmt)
    mode = rounding_mode(rmode)
    a, _ = as_float_array(x)
    key = next_key(seed, rng) if mode.is_stochastic else np.uint64(0)
    _, codes = round_flat(flat(a).astype(np.float64), f, mode, key, True)
    return codes.reshape(a.shape).astype(smallest_int_dtype(f.code_min, f.code_max))
