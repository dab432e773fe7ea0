"""Input handling shared by the quantizers: the same kinds, dtypes and shapes as ``lp.chop``."""

from __future__ import annotations

import numbers
import sys
from typing import Any, Callable, Optional, Tuple

import numpy as np

from ..errors import FormatError, FormatRangeError, UnsupportedTypeError


def as_float_array(x: Any) -> Tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """``x`` as a float64/float32 ndarray (never a copy of an array's memory that is
    then written) and a function turning a result array back into ``x``'s kind."""
    if isinstance(x, np.ma.MaskedArray):  # calibration and NaN checks would read the masked data
        raise UnsupportedTypeError(
            "masked arrays cannot be quantized with their mask; pass x.filled(value) or x.compressed(), "
            "or quantize x.data and re-apply x.mask (lp.chop keeps masks: it rounds elementwise).")
    if isinstance(x, np.matrix):
        return _checked(np.asarray(x)), lambda r: r.view(np.matrix)
    if isinstance(x, np.ndarray):
        return _checked(x), lambda r: r
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return _from_tensor(x, torch)
    if isinstance(x, np.generic):
        return _checked(np.asarray(x)), lambda r: r[()]
    if isinstance(x, bool) or isinstance(x, (str, bytes)):
        raise UnsupportedTypeError(f"cannot quantize a {type(x).__name__}; pass numbers.")
    if isinstance(x, numbers.Rational) and not (isinstance(x, int) and abs(x) <= 2**53):
        # float(x) would round a Fraction (or an int beyond 2**53) before the quantizer rounds
        raise UnsupportedTypeError(
            f"cannot quantize {x!r} exactly: the quantizers round binary64 values; pass float(x) to accept "
            "that first rounding explicitly (lp.chop rounds Fractions and big ints exactly).")
    if isinstance(x, numbers.Real):
        return _checked(np.asarray(float(x))), lambda r: float(r[()])
    try:
        a = np.asarray(x)
    except ValueError as err:
        raise UnsupportedTypeError(f"cannot quantize {type(x).__name__}: {err}") from err
    if isinstance(x, list):
        return _checked(a), lambda r: r.tolist()
    if isinstance(x, tuple):
        return _checked(a), lambda r: _to_tuple(r.tolist())
    return _checked(a), lambda r: r


def _from_tensor(x, torch):
    """A torch tensor's values on the host (float16/bfloat16 widened to float32, exactly), and
    the way back: a plain tensor of ``x``'s float dtype on its device, with the
    straight-through estimator when ``x`` requires grad (the gradient passes unchanged)."""
    plain = x.as_subclass(torch.Tensor) if type(x) is not torch.Tensor else x
    if not plain.dtype.is_floating_point:
        raise UnsupportedTypeError(f"cannot quantize a {plain.dtype} tensor; pass a floating-point tensor.")
    host = plain.detach().cpu()
    if host.dtype not in (torch.float32, torch.float64):
        host = host.to(torch.float32)
    dtype = plain.dtype if plain.dtype in (torch.float32, torch.float64) else torch.float32

    def back(r: np.ndarray):
        q = torch.from_numpy(np.ascontiguousarray(r)).to(device=plain.device, dtype=dtype)
        if plain.requires_grad and torch.is_grad_enabled():
            return plain.to(dtype) + (q - plain.to(dtype)).detach()
        return q
    return _checked(host.numpy()), back


def _to_tuple(value):
    return tuple(_to_tuple(v) for v in value) if isinstance(value, list) else value


def _checked(a: np.ndarray) -> np.ndarray:
    if not a.dtype.isnative:  # big-endian data: the same values in native byte order (exact)
        a = a.astype(a.dtype.newbyteorder("="))
    if a.dtype.kind in "iu":
        return a.astype(np.float64)
    if a.dtype == np.float16:
        return a.astype(np.float32)
    if a.dtype in (np.float32, np.float64):
        return a
    what = {"b": "boolean", "O": "object", "U": "string", "S": "bytes", "c": "complex"}.get(a.dtype.kind, str(a.dtype))
    raise UnsupportedTypeError(f"cannot quantize a {what} array; pass real integer or float data.")


def flat(a: np.ndarray) -> np.ndarray:
    """A C-contiguous flat view of ``a`` (a copy only when ``a`` is not contiguous)."""
    return np.ascontiguousarray(a).reshape(-1)


def result_buffer(a: np.ndarray, out: Optional[np.ndarray]) -> np.ndarray:
    """Where the result goes: ``out`` (checked) or a new array like ``a``."""
    if out is None:
        return np.empty(a.shape, a.dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a NumPy array, got {type(out).__name__}.")
    if out.shape != a.shape or out.dtype != a.dtype:
        raise ValueError(f"out has shape {out.shape} and dtype {out.dtype}; the result has {a.shape}, {a.dtype}.")
    if not out.flags.writeable:
        raise ValueError("out is read-only.")
    return out


def check_float32(fmt, dtype, exact_bits: int) -> None:
    """float32 storage holds values of at most 24 significant bits exactly."""
    if dtype == np.float32 and exact_bits > 24:
        raise FormatError(
            f"{fmt} has {exact_bits}-bit values; float32 storage holds 24 bits exactly: use "
            "float64 input, e.g. x.astype(np.float64)."
        )


def raise_nonfinite(bad: int, fmt) -> None:
    if bad:
        raise FormatRangeError(
            f"{bad} element{'s are' if bad > 1 else ' is'} NaN or infinite; {fmt} has no NaN or "
            "infinity. Replace them first, e.g. np.nan_to_num(x)."
        )


def raise_overflow(count: int, fmt, lo, hi) -> None:
    if count:
        raise FormatRangeError(
            f"{count} element{'s' if count > 1 else ''} outside the range [{lo}, {hi}] of {fmt} "
            "(overflow='error'); use overflow='saturate' or 'wrap', or a wider format."
        )


def smallest_int_dtype(lo: int, hi: int) -> np.dtype:
    """The smallest NumPy integer dtype holding ``[lo, hi]``."""
    for dt in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return np.dtype(dt)
    raise FormatError(f"no integer dtype holds [{lo}, {hi}].")


def check_axis(axis, ndim: int, what: str) -> int:
    """``axis`` of an ``ndim``-dimensional array as a non-negative index; out of range is
    ``np.exceptions.AxisError`` (NumPy's rule, never a silent wrap-around). A 0-d array
    counts as one element along axis ``0``/``-1``."""
    from numpy.lib.array_utils import normalize_axis_index

    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{what}: axis must be an integer, got {axis!r}.")
    return normalize_axis_index(int(axis), max(ndim, 1), what)
