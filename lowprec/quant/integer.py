"""Integer quantization (the paper's section 3.3): ``lp.quantize_int`` and ``int_codes``.

Calibration (min/max) gives one scale ``s`` and zero point ``z`` per tensor, or per
channel along ``fmt.axis``:

* symmetric: ``s = max|x| / qmax`` (``qmax = 2**(bits-1) - 1`` signed, ``2**bits - 1``
  unsigned), ``z = 0``, codes in ``[-qmax, qmax]`` (``[0, qmax]`` unsigned);
* asymmetric: ``[alpha, beta] = [min(min x, 0), max(max x, 0)]`` (zero stays exact),
  ``s = (beta - alpha) / (2**bits - 1)``, ``z = qmin - round(alpha / s)`` (ties to even),
  codes in ``[qmin, qmax]``: every level is used.

``s`` is the binary64 result of that formula (one correctly rounded operation per
step, as stored in any real quantized model); an all-zero tensor or channel gets
``s = 1`` (never NaN). Then ``code = clamp(round(x / s) + z)`` with ``x / s`` rounded
*exactly* in the chosen mode, and the value is ``s * (code - z)`` (one binary64 rounding;
float32 storage rounds that value once more, to float32).

Speed: per tensor, or per channel with runs of at least 256 elements along the
channel axis, modes 1-4 with a clamping policy take vectorized kernels (the binary64
quotient decides, the exact significand ratio only where it is an integer or a
half-integer); other cases take the general exact kernel (stochastic rounding computes
the 62-bit fraction by long division: about 20x slower).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, NamedTuple, Optional, Union

import numpy as np

from ..errors import FormatError
from ..chop import check_out_format, partial_overlap
from ..formats import IntFormat, format as as_format
from ..random import next_key
from ..rounding import RoundingMode, rounding_mode
from . import _kernels as K
from ._common import (
    as_float_array, check_axis, flat, raise_nonfinite, raise_overflow, result_buffer, smallest_int_dtype,
)

#: Per-channel layouts whose channel runs are at least this long take the run kernels.
_RUN = 256


class IntQuant(NamedTuple):
    """An integer quantization: codes, their scale and zero point, and the values."""

    #: The integer codes, in the smallest integer dtype holding the format's range.
    codes: np.ndarray
    #: float64 scales: shape ``()`` per tensor, ``(channels,)`` per channel.
    scale: np.ndarray
    #: int64 zero points, shaped like ``scale``.
    zero_point: np.ndarray
    #: ``scale * (codes - zero_point)`` (along the channel axis), float64 or float32.
    values: np.ndarray


def int_format(fmt) -> IntFormat:
    """``fmt`` as an IntFormat."""
    f = as_format(fmt)
    if not isinstance(f, IntFormat):
        raise FormatError(f"{f} is not an integer format; use e.g. 'int8' or lp.IntFormat(4).")
    return f


def calibrate(a: np.ndarray, fmt: IntFormat):
    """Min/max calibration of ``a``: ``(scale, zero_point)`` arrays, one entry per channel."""
    if fmt.per_channel and a.ndim > 0:
        axis = check_axis(fmt.axis, a.ndim, f"per-channel {fmt}")
        nch = a.shape[axis]
        inner = int(np.prod(a.shape[axis + 1:], dtype=np.int64))
        if inner >= _RUN and a.size:  # runs of one channel: one pass of the kernel
            blo, bhi, bad = K.block_min_max(flat(a).astype(np.float64, copy=False), inner, a.size // inner)
            raise_nonfinite(int(bad.sum()), fmt)
            lo, hi = blo.reshape(-1, nch).min(axis=0), bhi.reshape(-1, nch).max(axis=0)
        else:
            _, _, bad = K.min_max(flat(a).astype(np.float64, copy=False))
            raise_nonfinite(int(bad), fmt)
            others = tuple(i for i in range(a.ndim) if i != axis)
            lo = np.min(a, axis=others).astype(np.float64) if a.size else np.zeros(nch)
            hi = np.max(a, axis=others).astype(np.float64) if a.size else np.zeros(nch)
    else:
        lo, hi, bad = K.min_max(flat(a).astype(np.float64, copy=False))
        raise_nonfinite(int(bad), fmt)
        lo, hi = np.array([lo]), np.array([hi])
    return scale_from_range(np.minimum(lo, 0.0), np.maximum(hi, 0.0), fmt)


def scale_from_range(alpha: np.ndarray, beta: np.ndarray, fmt: IntFormat):
    """Scale and zero point of the ranges ``[alpha, beta]`` (``alpha <= 0 <= beta``)."""
    if fmt.symmetric:
        amax = np.maximum(-alpha, beta) if fmt.signed else beta
        scale = amax / float(fmt.qmax)
        zero = np.zeros(scale.shape, np.int64)
    else:
        scale = (beta - alpha) / float(fmt.qmax - fmt.qmin)
        zero = np.zeros(scale.shape, np.int64)
    scale = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
    if not fmt.symmetric:
        for i, (al, s) in enumerate(zip(alpha, scale)):
            zero[i] = min(fmt.qmax, max(fmt.qmin, fmt.qmin - round(Fraction(float(al)) / Fraction(float(s)))))
    return scale.astype(np.float64), zero


def _channel_layout(shape, fmt: IntFormat, nch: int) -> int:
    """``inner`` of the kernels: elements between consecutive channel indices."""
    if nch == 1:
        return 1
    axis = check_axis(fmt.axis, len(shape), f"per-channel {fmt}")
    if shape[axis] != nch:
        raise ValueError(f"{nch} scales for axis {fmt.axis} of length {shape[axis]}.")
    return int(np.prod(shape[axis + 1:], dtype=np.int64))


def _params(a: np.ndarray, fmt: IntFormat, scale, zero_point):
    if scale is None and fmt.scale is not None:
        scale = fmt.scale
    if scale is None:
        if zero_point is not None:
            raise ValueError("zero_point is only meaningful with a given scale.")
        return calibrate(a, fmt)
    scale = np.atleast_1d(np.asarray(scale, dtype=np.float64)).reshape(-1)
    if not np.all((scale > 0) & np.isfinite(scale)):
        raise ValueError(f"scales must be positive and finite, got {scale}.")
    zero = np.zeros(scale.shape, np.int64) if zero_point is None else np.broadcast_to(
        np.asarray(zero_point, dtype=np.int64).reshape(-1), scale.shape).copy()
    return scale, zero


def quantize_flat(a: np.ndarray, shape, fmt: IntFormat, mode: RoundingMode, key, scale, zero,
                  want_codes: bool, out: Optional[np.ndarray] = None):
    """Run the kernel on the flat ``a``: ``(values, int64 codes or None)``."""
    nch = scale.shape[0]
    inner = _channel_layout(shape, fmt, nch)
    values = np.empty(a.shape, a.dtype) if out is None else out
    fast = not want_codes and int(mode) <= 4 and fmt.overflow != "wrap"
    if fast and (nch == 1 or (inner >= _RUN and a.size)):  # vectorized fast paths
        los = (fmt.qlo - zero).astype(np.float64)
        his = (fmt.qmax - zero).astype(np.float64)
        if nch == 1:
            bad, over = K.quantize_int_fast(a, values, float(scale[0]), float(los[0]), float(his[0]), int(mode))
        else:
            bad, over = K.quantize_int_fast_blocks(a, values, inner, scale, los, his, int(mode))
        raise_nonfinite(bad, fmt)
        if fmt.overflow == "error":
            raise_overflow(over, fmt, f"code {fmt.qlo}", f"code {fmt.qmax}")
        return values, None
    codes = np.empty(a.shape if want_codes else 1, np.int64)
    bad, over = K.quantize_int(
        a, max(inner, 1), scale, zero, values, codes, want_codes, fmt.qlo, fmt.qmax, fmt.qmin, fmt.bits,
        K.OVERFLOW_CODES[fmt.overflow], int(mode), key, 0,
    )
    raise_nonfinite(bad, fmt)
    if fmt.overflow == "error":
        raise_overflow(over, fmt, f"code {fmt.qlo}", f"code {fmt.qmax}")
    return values, (codes if want_codes else None)


def int_codes(x: Any, fmt: Union[str, IntFormat] = "int8", rmode: Union[int, str] = 1, *,
              scale=None, zero_point=None, seed: Optional[int] = None,
              rng: Optional[np.random.Generator] = None) -> IntQuant:
    """Quantize ``x`` to integer codes.

    Parameters
    ----------
    x : array_like
    fmt : str or IntFormat, default "int8"
        Bits, signedness, symmetric/asymmetric, per-tensor or per-channel (``axis``),
        overflow policy, and an optional fixed scale.
    rmode : int or str, default 1
        Rounding of ``x / s`` (exact in every mode).
    scale : float or array, optional
        Use this scale (per tensor, or one per channel) instead of calibrating.
    zero_point : int or array, optional
        With ``scale``: the zero point (default 0).
    seed, rng
        Random stream of the stochastic modes.

    Returns
    -------
    IntQuant
        ``codes``, ``scale``, ``zero_point`` and the dequantized ``values``.

    Raises
    ------
    FormatRangeError
        NaN or infinity in ``x``; under ``overflow="error"``, codes out of range.
    """
    f = int_format(fmt)
    mode = rounding_mode(rmode)
    a, _ = as_float_array(x)
    s, z = _params(a, f, scale, zero_point)
    key = next_key(seed, rng) if mode.is_stochastic else np.uint64(0)
    values, codes = quantize_flat(flat(a), a.shape, f, mode, key, s, z, True)
    dtype = smallest_int_dtype(f.qmin, f.qmax)
    per_tensor = s.shape[0] == 1 and not f.per_channel
    shape_of = (lambda v: v.reshape(())) if per_tensor else (lambda v: v)
    return IntQuant(codes.reshape(a.shape).astype(dtype), shape_of(s), shape_of(z), values.reshape(a.shape))


def quantize_int(x: Any, fmt: Union[str, IntFormat] = "int8", rmode: Union[int, str] = 1, *,
                 scale=None, zero_point=None, seed: Optional[int] = None,
                 rng: Optional[np.random.Generator] = None, out: Optional[np.ndarray] = None) -> Any:
    """Quantize and dequantize ``x`` (the values ``s * (code - z)``), as :func:`lowprec.chop`
    does for float formats: same type, dtype and shape; ``x`` is not modified.

    See :func:`int_codes` for the parameters and the module docstring for the formulas.

    Examples
    --------
    >>> import lowprec as lp
    >>> lp.quantize_int([0.0, 0.5, 1.27], "int8")
    [0.0, 0.5, 1.27]
    >>> lp.quantize_int([1.0, 2.6, 300.0], lp.IntFormat(8, scale=1, symmetric=False))
    [1.0, 3.0, 127.0]
    """
    f = int_format(fmt)
    mode = rounding_mode(rmode)
    a, back = as_float_array(x)
    s, z = _params(a, f, scale, zero_point)
    key = next_key(seed, rng) if mode.is_stochastic else np.uint64(0)
    check_out_format(out, None, "lp.quantize_int")  # an LPInt's scale is its own, not this call's
    dst = result_buffer(a, out)
    if partial_overlap(a, dst):  # the kernel streams a into dst: read from a copy instead
        a = a.copy()
    if dst.flags.c_contiguous:
        quantize_flat(flat(a), a.shape, f, mode, key, s, z, False, dst.reshape(-1))
    else:
        values, _ = quantize_flat(flat(a), a.shape, f, mode, key, s, z, False)
        np.copyto(dst, values.reshape(a.shape))
    return back(dst)
