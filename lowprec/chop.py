"""``lp.chop``: round anything array-like into a low-precision format.

The front end validates the options once into a :class:`RoundSpec` and hands it to
the backend registered for the input's type (:mod:`lowprec.dispatch`). This module
also holds the NumPy backend, which drives the numba kernels.
"""

from __future__ import annotations

import decimal
import fractions
import numbers
from functools import lru_cache
from typing import Any, NamedTuple, Optional, Union

import numpy as np

from .dispatch import find_backend
from .errors import FormatError, FormatMismatchError, UnsupportedTypeError
from .formats import FloatFormat, format as as_format
from .random import next_key
from .rounding import _kernels
from .rounding.modes import RoundingMode, rounding_mode
from .rounding.params import STORAGES, check_storage, rounding_params

_FLIP_STREAM = np.uint64(0xD1B54A32D192ED03)
_INT_VIEW = {np.dtype(np.float64): np.int64, np.dtype(np.float32): np.int32}


class RoundSpec(NamedTuple):
    """Validated options of one rounding call, shared by every backend."""

    fmt: FloatFormat
    mode: RoundingMode
    subnormal: Optional[bool]
    explim: bool
    seed: Optional[int]
    rng: Any
    flip: bool
    p: float

    def needs_key(self) -> bool:
        return self.mode.is_stochastic or self.flip

    def key(self) -> np.uint64:
        """The random key of this call (0 when no randomness is needed)."""
        return next_key(self.seed, self.rng) if self.needs_key() else np.uint64(0)


def make_spec(fmt, rmode=1, *, subnormal=None, explim=True, seed=None, rng=None, flip=False,
              p=0.5) -> RoundSpec:
    """Validate the options of :func:`chop` (shared with the other backends)."""
    f = as_format(fmt)
    if not isinstance(f, FloatFormat):
        raise FormatError(
            f"lp.chop rounds into floating-point formats; {f} is a {type(f).__name__}: "
            "use the fixed-point or integer quantizers for it."
        )
    if subnormal is not None:
        check_bool(subnormal, "subnormal", " (or None)")
    check_bool(explim, "explim")
    check_bool(flip, "flip")
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p is a probability in [0, 1], got {p}.")
    return RoundSpec(f, rounding_mode(rmode), None if subnormal is None else bool(subnormal),
                     bool(explim), seed, rng, bool(flip), p)


def check_bool(value, name: str, extra: str = "") -> None:
    """Boolean options take ``True``/``False`` only: ``None``, ``0``/``1`` or ``"no"`` would
    otherwise be read by truthiness (``"no"`` is true). MATLAB's numeric options are
    accepted by ``lp.matlab.chop`` only."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False{extra}, got {value!r}"
                        + (" (lp.matlab.chop takes MATLAB's 0/1 options)." if isinstance(value, (int, float)) else "."))


def chop(x: Any, fmt: Union[str, FloatFormat] = "half", rmode: Union[int, str] = 1, *,
         subnormal: Optional[bool] = None, explim: bool = True, seed: Optional[int] = None,
         rng: Optional[np.random.Generator] = None, flip: bool = False, p: float = 0.5,
         out: Optional[np.ndarray] = None) -> Any:
    """Round ``x`` into a floating-point format.

    Parameters
    ----------
    x : array_like, number, or a registered array type
        NumPy arrays and scalars, Python numbers and (nested) sequences; other array
        libraries through their registered backends. Integer inputs are converted to
        float64 (each integer rounded once from its exact value, int64 beyond ``2**53``
        too); complex inputs have their real and imaginary parts rounded separately.
        ``Fraction``, ``Decimal`` and ints of any size (and object arrays of them) are
        rounded exactly, from their rational value. Big-endian data gives the native
        dtype; a masked array keeps its mask; an ``np.matrix`` stays a matrix.
    fmt : str or FloatFormat, default "half"
        Any spelling accepted by :func:`lowprec.format`.
    rmode : int or str, default 1
        Rounding mode, 1-9 or a name (see :class:`lowprec.RoundingMode`).
    subnormal : bool, optional
        Override the format's subnormal flag. Without subnormals, values below ``xmin``
        round onto ``{0, xmin}`` with the rounding mode.
    explim : bool, default True
        ``False`` keeps the precision but drops the format's exponent range (the
        storage dtype's range applies).
    seed : int, optional
        Fixes the random stream of this call (stochastic modes, ``flip``).
    rng : numpy.random.Generator, optional
        Draws this call's random key from the generator.
    flip : bool, default False
        Soft errors: after rounding, each element with probability ``p`` gets one of
        its trailing significand bits flipped (as MATLAB chop does).
    p : float, default 0.5
        Probability of a bit flip per element.
    out : ndarray, optional
        Where to write the result: same shape and dtype as the result. ``out=x``
        rounds in place; otherwise ``x`` is never modified (an ``out`` overlapping ``x``
        otherwise is read from a copy of ``x``). An emulated array as ``out`` must be of
        the result's format (a ``FormatMismatchError`` otherwise).

    Returns
    -------
    Same kind as ``x``
        Same type, dtype and shape (a list for a list, a float for a float, ...).

    Raises
    ------
    FormatError
        Unknown format, or a format the storage dtype cannot hold exactly.
    RoundingModeError
        Unknown rounding mode.
    UnsupportedTypeError
        Object, string or boolean input.

    Notes
    -----
    **Rounding.** Each element is rounded once, correctly, from its exact stored value:
    the result is the reference rounding of ``lowprec.rounding.reference``. Stochastic
    modes use the exact residual; see :mod:`lowprec.random` for reproducibility.

    **NaN and infinities.** NaN stays NaN, also in formats that have no NaN encoding
    (``fp4_e2m1``, ``fp6_e2m3``, ``fp6_e3m2``): the result marks an invalid value in the
    storage, and :func:`lowprec.to_bits` raises for it (no NaN encoding), since no code of
    the format holds it. (In MX blocks the E8M0 scale's NaN carries it, see
    :func:`lowprec.quantize_mx`.) Infinities become the format's infinity, or its
    overflow value where it has none (``±xmax`` for saturating formats).

    Examples
    --------
    >>> import lowprec as lp
    >>> lp.chop(1/3, "half")
    0.333251953125
    >>> lp.chop(1 + 2**-20, "bf16", "up")
    1.0078125
    """
    spec = make_spec(fmt, rmode, subnormal=subnormal, explim=explim, seed=seed, rng=rng,
                     flip=flip, p=p)
    return find_backend(x, chop_numpy)(x, spec, out)


# --------------------------------------------------------------------------- NumPy backend

def chop_numpy(x: Any, spec: RoundSpec, out: Optional[np.ndarray] = None) -> Any:
    """The NumPy backend of :func:`chop`: arrays, NumPy scalars, Python numbers, sequences."""
    if out is not None:
        effective = spec.fmt if spec.subnormal is None else spec.fmt.replace(subnormal=spec.subnormal)
        check_out_format(out, effective if spec.explim else None, "lp.chop")
    if isinstance(x, (np.ma.MaskedArray, np.matrix)):
        return _round_subclass(x, spec, out)
    if isinstance(x, np.ndarray):
        return _round_ndarray(x, spec, out)
    if out is not None:
        raise TypeError("out= is only supported for NumPy array inputs.")
    if isinstance(x, np.generic):
        return _round_ndarray(np.asarray(x), spec, None)[()]
    if isinstance(x, bool):
        raise UnsupportedTypeError("cannot round a bool; convert it to float first.")
    if _exact_only(x):  # a Fraction, Decimal or an int beyond binary64's integers: round it exactly
        return float(_round_objects(np.array([x], dtype=object), spec)[0])
    if isinstance(x, numbers.Number):
        result = _round_ndarray(np.asarray(x), spec, None)[()]
        return complex(result) if isinstance(x, complex) else float(result)
    if isinstance(x, (str, bytes)):
        raise UnsupportedTypeError(f"cannot round a {type(x).__name__}; pass numbers.")
    result = _round_ndarray(_as_array(x), spec, None)
    if isinstance(x, list):
        return result.tolist()
    if isinstance(x, tuple):
        return _to_tuple(result.tolist())
    return result


def _round_subclass(x: np.ndarray, spec: RoundSpec, out: Optional[np.ndarray]) -> np.ndarray:
    """``np.matrix`` and masked arrays: their data rounded as a plain array, the result of
    the same kind (a matrix; a masked array with a copy of ``x``'s mask and fill value)."""
    plain_out = None if out is None else np.ma.getdata(out).view(np.ndarray)
    result = _round_ndarray(np.ma.getdata(x).view(np.ndarray), spec, plain_out)
    if isinstance(x, np.ma.MaskedArray):
        mask = np.ma.getmask(x)
        mask = mask if mask is np.ma.nomask else mask.copy()
        if isinstance(out, np.ma.MaskedArray):
            out.mask = mask
            return out
        if out is not None:
            return out
        return np.ma.MaskedArray(result, mask=mask, fill_value=x.fill_value)
    return out if out is not None else result.view(type(x))


def _exact_only(x) -> bool:
    """Whether the Python number ``x`` has no exact binary64 value for NumPy to hold: a
    ``Fraction`` (or other rational), a ``Decimal``, an int beyond ``2**53``."""
    if isinstance(x, (bool, np.generic)):
        return False
    if isinstance(x, int):
        return abs(x) > 2**53
    return isinstance(x, (numbers.Rational, decimal.Decimal))


def _round_objects(x: np.ndarray, spec: RoundSpec) -> np.ndarray:
    """An object array of real Python numbers (ints of any size, Fractions, Decimals,
    floats) rounded exactly, element by element, by the reference rounder (float64
    result). Slow, but each element is rounded once from its exact value."""
    from .rounding.reference import round_value

    flat = x.reshape(-1)
    for v in flat:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, decimal.Decimal)):
            raise UnsupportedTypeError(
                f"cannot round a {type(v).__name__} ({v!r}) in an object array; lp.chop takes real numbers "
                "(int, float, Fraction, Decimal) or integer, float or complex arrays.")
    params = rounding_params(spec.fmt, spec.explim, np.dtype(np.float64), spec.subnormal)
    key = spec.key() if spec.mode.is_stochastic else np.uint64(0)
    out = np.empty(flat.size)
    for i, v in enumerate(flat):
        if isinstance(v, (float, np.floating)) or (isinstance(v, decimal.Decimal) and not v.is_finite()):
            v = float(v)
            exact = v if not np.isfinite(v) or v == 0 else fractions.Fraction(v)
        else:
            exact = fractions.Fraction(v)
        r62 = int(_kernels.random_bits(key, i)) >> 2 if spec.mode.is_stochastic else 0
        out[i] = round_value(exact, params, spec.mode, r62)
    out = out.reshape(x.shape)
    if spec.flip:  # values of the format: rounding them again is exact in every mode, then the flips
        out = _round_ndarray(out, spec._replace(mode=RoundingMode.NEAREST_EVEN), None)
    return out


def check_out_format(out, fmt, name: str) -> None:
    """An emulated array (LPFloat, LPFixed, LPInt) as ``out=`` of a rounding function must
    have the very format of the result (``fmt``; ``None``: no emulated array fits, e.g.
    ``explim=False`` values or a per-call scale): never store values of one format in an
    array labelled with another."""
    from .ndarray._base import LPArray

    if isinstance(out, LPArray) and (fmt is None or out.format != fmt):
        what = "values of no single format" if fmt is None else f"{fmt} values"
        raise FormatMismatchError(
            f"{name}: out is an {type(out).__name__} of {out.format}, but the result is {what}. "
            "Round into out's own format (out[...] = x rounds x into it), or pass a plain array "
            "(out=out.values) to leave emulation explicitly.")


def partial_overlap(x: np.ndarray, out: Optional[np.ndarray]) -> bool:
    """Whether ``out`` may share memory with ``x`` other than as the very same view (an
    elementwise kernel may run in place, ``out=x``, but not on shifted or strided overlaps)."""
    if out is None or out is x or not np.may_share_memory(x, out):
        return False
    same = (x.__array_interface__["data"][0] == out.__array_interface__["data"][0] and x.shape == out.shape
            and x.strides == out.strides and x.dtype == out.dtype)
    return not same


def _to_tuple(value):
    return tuple(_to_tuple(v) for v in value) if isinstance(value, list) else value


def _as_array(x) -> np.ndarray:
    try:
        return np.asarray(x)
    except ValueError as err:  # ragged nested sequences
        raise UnsupportedTypeError(f"cannot round {type(x).__name__}: {err}") from err


def _result_dtype(dtype: np.dtype) -> np.dtype:
    """Float and complex dtypes are kept; integers become float64 (documented)."""
    if dtype.kind in "iu":
        return np.dtype(np.float64)
    if dtype.kind in "fc" and dtype.itemsize <= (16 if dtype.kind == "c" else 8):
        return dtype
    if dtype.kind in "fc":
        raise UnsupportedTypeError(
            f"{dtype} has no rounding kernel; convert to float64 first (x.astype(np.float64))."
        )
    what = {"b": "boolean", "O": "object", "U": "string", "S": "bytes"}.get(dtype.kind, str(dtype))
    raise UnsupportedTypeError(
        f"cannot round a {what} array; lp.chop takes integer, float or complex data."
    )


def _round_ndarray(x: np.ndarray, spec: RoundSpec, out: Optional[np.ndarray]) -> np.ndarray:
    if x.dtype.kind == "O" and out is None:
        return _round_objects(x, spec)
    if not x.dtype.isnative:  # big-endian data (on a little-endian machine): native values, exactly
        x = x.astype(x.dtype.newbyteorder("="))
    if out is not None and not out.dtype.isnative:  # a non-native out: round, then store (exact)
        _check_out(out, x.shape, _result_dtype(x.dtype).newbyteorder(out.dtype.byteorder))
        np.copyto(out, _round_ndarray(x, spec, None))
        return out
    dtype = _result_dtype(x.dtype)
    real = np.empty(0, dtype).real.dtype
    params = rounding_params(spec.fmt, spec.explim, real, spec.subnormal)
    if out is None:
        dst = np.empty(x.shape, dtype)
    else:
        _check_out(out, x.shape, dtype)
        dst = out
        if partial_overlap(x, out):  # the kernels stream x into out: read from a copy instead
            x = x.copy()
    if real == np.float16:  # no float16 kernel: round in float32, exact back-conversion
        work = x.astype(np.complex64 if dtype.kind == "c" else np.float32)
        _round_contiguous(work, work, spec, params, np.dtype(np.float32))
        np.copyto(dst, work)
        return dst
    if x.dtype.kind in "iu" and x.dtype.itemsize == 8 and _beyond_2_53(x):
        np.copyto(dst, _round_wide_ints(x, spec, params))
        return dst
    src = x
    if not (_c_contiguous(src) and _c_contiguous(dst) and src.dtype == dtype):
        target = dst if _c_contiguous(dst) else np.empty(x.shape, dtype)
        np.copyto(target, x, casting="unsafe")
        _round_contiguous(target, target, spec, params, real)
        if target is not dst:
            np.copyto(dst, target)
        return dst
    _round_contiguous(src, dst, spec, params, real)
    return dst


def _beyond_2_53(x: np.ndarray) -> bool:
    """Whether integer data has values that converting to float64 would round."""
    return bool(x.size) and bool(np.any(x > 2**53) or (x.dtype.kind == "i" and np.any(x < -(2**53))))


def _round_wide_ints(x: np.ndarray, spec: RoundSpec, params) -> np.ndarray:
    """int64/uint64 data rounded once from its exact value (converting to float64 first
    would round twice): each integer is ``hi + lo`` with ``hi = (x >> 32) * 2**32`` and
    ``lo = x & (2**32 - 1)``, both exact in binary64, and the correctly rounded sum of the
    two is the rounded integer."""
    from .arith import binary

    flat = np.ascontiguousarray(x).reshape(-1)
    shift = np.uint64(32) if x.dtype.kind == "u" else 32
    mask = np.uint64(0xFFFFFFFF) if x.dtype.kind == "u" else 0xFFFFFFFF
    hi = np.ldexp((flat >> shift).astype(np.float64), 32)
    lo = (flat & mask).astype(np.float64)
    result = binary(_kernels.ADD, hi, lo, params, spec.mode, spec.key())
    if spec.flip:  # values of the format: rounding again is exact, then the flips
        result = _round_ndarray(result, spec._replace(mode=RoundingMode.NEAREST_EVEN), None)
    return result.reshape(x.shape)


def _c_contiguous(a: np.ndarray) -> bool:
    return a.flags.c_contiguous


def _check_out(out, shape, dtype) -> None:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a NumPy array, got {type(out).__name__}.")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}, the result has shape {shape}.")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, the result has dtype {dtype}; they must match.")
    if not out.flags.writeable:
        raise ValueError("out is read-only.")


#: Below this many elements one thread is faster than starting the parallel loop.
_SERIAL_BELOW = 16384


def _round_contiguous(src: np.ndarray, dst: np.ndarray, spec: RoundSpec, params, real: np.dtype) -> None:
    """Round C-contiguous ``src`` into ``dst`` (possibly the same array)."""
    s = src.reshape(-1).view(real)
    d = dst.reshape(-1).view(real)
    storage = STORAGES[real]
    key = spec.key()
    ints = _INT_VIEW[real]
    if params.t <= storage.sig_bits:
        kernel = _kernels.round_array_fast_serial if s.size < _SERIAL_BELOW else _kernels.round_array_fast
        kernel(s, s.view(ints), d, d.view(ints), *fast_arguments(params, spec.mode, key, real))
    else:  # the format's precision is the storage's: only range and specials change
        _kernels.round_array(s, s.view(ints), d, *_common_arguments(params, spec.mode, key, real))
    if spec.flip:
        _kernels.flip_bits(d, d.view(ints), storage.sig_bits, storage.emax, params.t, params.emin, params.xmax,
                           spec.fmt.has_nan, spec.p, key ^ _FLIP_STREAM, 0)


def _common_arguments(params, mode, key, real: np.dtype) -> tuple:
    storage = STORAGES[real]
    return (storage.sig_bits, storage.emax, params.t, params.emin, params.subnormal, params.xmax,
            params.overflow_value, params.inf_value, params.negzero, params.signed, int(mode), key, 0)


def fast_arguments(params, mode, key, real: np.dtype) -> tuple:
    """The arguments of :func:`lowprec.rounding._kernels.round_array_fast` after the four
    arrays (``t`` below the storage's precision), for other kernels that round the same way."""
    storage = STORAGES[real]
    lo, hi, top = fast_range(params, real)
    sign_bit = np.int64(-(2**63)) if real == np.float64 else np.int64(2**31)
    if not params.signed:  # then negative inputs fail the fast range test
        sign_bit = np.int64(0)
    lo, emin_field = _subnormal_extension(params, storage, real, lo)
    return (*_common_arguments(params, mode, key, real), lo, hi, top, sign_bit, emin_field)


def _subnormal_extension(params, storage, real: np.dtype, lo: int):
    """The fast path's lower bound and ``emin_field`` for :func:`_kernels._fast_bits_sub`:
    down to twice the smallest subnormal when the format has subnormals (``t >= 2``,
    ``2**emin`` a storage normal), else unchanged (``emin_field = 0``)."""
    emin_field = params.emin + storage.emax
    if not params.subnormal or params.t < 2 or emin_field < 1:
        return lo, 0
    twice_smallest = np.ldexp(1.0, params.emin - params.t + 2)
    return int(np.array(twice_smallest, real).view(_INT_VIEW[real])), emin_field


@lru_cache(maxsize=1024)
def fast_range(params, real: np.dtype):
    """Storage bit patterns bounding the kernels' fast path: ``[2**emin, 2**(emax+1))``
    in magnitude, and the pattern of ``xmax``."""
    info = np.finfo(real)
    ints = _INT_VIEW[real]
    emax = int(np.floor(np.log2(params.xmax))) if np.isfinite(params.xmax) else info.maxexp - 1

    def bits(v: float) -> int:
        return int(np.array(v, real).view(ints))

    hi = bits(np.inf) if emax + 1 >= info.maxexp else bits(np.ldexp(1.0, emax + 1))
    # The bit trick needs a normal storage input: its exponent fixes the shift.
    lo = bits(np.ldexp(1.0, max(params.emin, info.minexp)))
    return lo, hi, bits(params.xmax)


def round_with_bits(x: np.ndarray, fmt, rmode, rbits: np.ndarray, *, subnormal=None,
                    explim: bool = True) -> np.ndarray:
    """Round float64 or float32 ``x`` with explicit 62-bit random integers per element.

    For tests and cross-backend checks: the stochastic decision of element ``i`` is made
    from ``rbits[i]`` exactly as in :func:`lowprec.rounding.reference.round_value`.
    """
    spec = make_spec(fmt, rmode, subnormal=subnormal, explim=explim)
    x = np.ascontiguousarray(x)
    real = x.dtype
    params = rounding_params(spec.fmt, explim, real, spec.subnormal)
    storage = STORAGES[real]
    s = x.reshape(-1)
    d = np.empty_like(s)
    bits = np.ascontiguousarray(np.broadcast_to(np.asarray(rbits, dtype=np.int64), x.shape)).reshape(-1)
    if bits.size and (bits.min() < 0 or bits.max() >= 2**62):
        raise ValueError("rbits must lie in [0, 2**62).")
    _kernels.round_array_with_bits(
        s, s.view(_INT_VIEW[real]), d, storage.sig_bits, storage.emax, params.t, params.emin,
        params.subnormal, params.xmax, params.overflow_value, params.inf_value, params.negzero,
        params.signed, int(spec.mode), bits,
    )
    return d.reshape(x.shape)


__all__ = ["RoundSpec", "chop", "chop_numpy", "make_spec", "round_with_bits", "check_storage"]
