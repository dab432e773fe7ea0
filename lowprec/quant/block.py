"""Block formats (OCP MX, block floating point): ``lp.quantize_mx`` and ``mx_encode``.

Along ``axis``, each run of ``block_size`` elements shares the exponent ``X``
(:mod:`lowprec.formats._block` gives the rules). The quantized value of an element is
``2**X * P`` with ``P`` the element-format rounding of ``x / 2**X``, saturated to
``±element_max`` (OCP MX section 6.3). The scaling by ``2**X`` is exact; the element
rounding is :func:`lowprec.chop` with the element format (saturating) for float
elements, and the fixed-point quantizer for integer elements, in any of the nine modes
(the spec's conversion is round-to-nearest-even, mode 1).

A length that ``block_size`` does not divide ends with a shorter block: the same
result as zero padding, since zeros change no block maximum.

Special values and the scale range (OCP MX v1.0, section 6):

* A block holding a NaN or an infinity gets the NaN scale (E8M0 code 255): all its
  values are NaN. This is also how a NaN reaches element formats without a NaN encoding
  (``fp4_e2m1``, ``fp6_e2m3``, ``fp6_e3m2``, MXINT8): the scale is the block's only NaN.
  :func:`mx_encode` gives such a block's elements as NaN where the element format has a
  NaN, else as ``+0`` (encodable; the NaN lives in the scale).
* The scale ``2**X`` has ``X`` in [-127, 127]. Blocks too small for ``2**-127`` are
  scaled by ``2**-127`` and their elements underflow as the element rounding says (the
  spec's clamp). A block whose maximum needs ``X > 127`` (``|x| >= 2**(128 + emax_elem)``
  under the floor rule, ``|x| > element_max * 2**127`` under the ceil rule: only float64
  input can) follows ``scale_overflow``: ``"error"`` (default) raises
  :class:`OverflowError`; ``"saturate"`` clamps the scale to ``2**127`` so that the
  elements saturate to ``±element_max * 2**127``, with a :class:`~lowprec.LowprecWarning`;
  ``"nan"`` gives the block the NaN scale.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple, Optional, Union

import numpy as np

from ..chop import check_out_format, chop, partial_overlap
from ..errors import FormatError, LowprecWarning
from ..formats import BlockFormat, FixedFormat, FloatFormat, format as as_format
from ..random import next_key
from ..rounding import rounding_mode
from . import _kernels as K
from ._common import as_float_array, check_axis, result_buffer
from .fixed import round_flat


class BlockQuant(NamedTuple):
    """A block quantization along one axis."""

    #: The element values ``P`` (before the shared scale), shaped like the input.
    elements: np.ndarray
    #: Shared exponents ``X`` (int16; 128 marks a NaN block), shape of the input with the
    #: block axis replaced by the number of blocks. The E8M0 code is ``X + 127``.
    exponents: np.ndarray
    #: The quantized values ``2**X * P``.
    values: np.ndarray


def block_format(fmt, block_size: Optional[int] = None, scale_rule: Optional[str] = None) -> BlockFormat:
    """``fmt`` as a BlockFormat with optional overrides."""
    f = as_format(fmt)
    if not isinstance(f, BlockFormat):
        raise FormatError(f"{f} is not a block format; use e.g. 'mxfp8_e4m3', 'mxint8' or 'bfp8'.")
    changes = {}
    if block_size is not None and block_size != f.block_size:
        changes["block_size"] = block_size
    if scale_rule is not None and scale_rule != f.scale_rule:
        changes["scale_rule"] = scale_rule
    return f.replace(**changes) if changes else f


def _rows(a: np.ndarray, axis: int):
    """``a`` with ``axis`` moved last, as C-contiguous float64 rows, and the moved shape."""
    moved = np.moveaxis(a.reshape(1) if a.ndim == 0 else a, axis, -1)
    rows = int(np.prod(moved.shape[:-1], dtype=np.int64))  # (-1 is ambiguous for empty arrays)
    return np.ascontiguousarray(moved, dtype=np.float64).reshape(rows, moved.shape[-1]), moved.shape


def _quantize_rows(rows: np.ndarray, f: BlockFormat, mode, seed, rng, values=None):
    """Quantized values (into ``values`` when given) and shared exponents of the blocks of
    each row."""
    nblk = -(-rows.shape[1] // f.block_size)
    exps = np.empty((rows.shape[0], nblk), np.int16)
    values = np.empty_like(rows) if values is None else values
    elem = f.element
    fixed = isinstance(elem, FixedFormat)
    if int(mode) <= 4 and (fixed or elem.subnormal):  # one vectorized pass
        t, emin = (elem.frac_bits + 2, 1) if fixed else (elem.t, elem.emin)
        K.block_quantize_fast(rows, rows.view(np.int64), values, exps, f.block_size, f.emax_elem, f.element_max,
                              f.scale_rule == "ceil", t, emin, not fixed and elem.negzero, int(mode))
        return values, exps
    K.block_scale(rows, f.block_size, f.emax_elem, f.element_max, f.scale_rule == "ceil", values, exps)
    flat_values = values.reshape(-1)
    if fixed:
        nan = np.isnan(flat_values)
        work = np.where(nan, 0.0, flat_values)
        sat = elem.replace(overflow="saturate")
        np.clip(work, -sat.max, sat.max, out=work)  # symmetric elements: clamp before rounding
        key = next_key(seed, rng) if mode.is_stochastic else np.uint64(0)
        round_flat(work, sat, mode, key, False, flat_values)
        flat_values[nan] = np.nan
    else:
        chop(flat_values, elem.replace(overflow="saturate"), mode, seed=seed, rng=rng, out=flat_values)
    K.block_unscale(values, f.block_size, exps)
    return values, exps


#: What a block whose maximum needs a shared exponent above 127 gets.
SCALE_OVERFLOW = ("error", "saturate", "nan")


def _check_scale_overflow(policy: str) -> str:
    if policy not in SCALE_OVERFLOW:
        raise ValueError(f"scale_overflow must be one of {SCALE_OVERFLOW}, got {policy!r}.")
    return policy


def _scale_overflow(rows: np.ndarray, exps: np.ndarray, f: BlockFormat, policy: str):
    """Which blocks needed a shared exponent above 127 (None when none did), after the
    ``"error"`` and ``"saturate"`` policies have raised or warned. Only blocks whose
    (clamped) exponent is 127 can have: the common case costs one look at ``exps``."""
    candidates = exps == 127
    if not candidates.any():
        return None
    limit = math.ldexp(1.0, 128 + f.emax_elem) if f.scale_rule == "floor" else f.element_max * 2.0 ** 127
    n = rows.shape[1]
    nblk = exps.shape[1]
    mag = np.abs(np.pad(rows, ((0, 0), (0, nblk * f.block_size - n)))).reshape(rows.shape[0], nblk, f.block_size)
    amax = mag.max(axis=2)  # blocks with NaN or inf have exponent 128, not candidates
    over = candidates & ((amax >= limit) if f.scale_rule == "floor" else (amax > limit))
    if not over.any():
        return None
    msg = (f"{f.label}: a block maximum of {float(amax[over].max())!r} needs a shared exponent above 127, "
           f"beyond E8M0's largest scale 2**127 ({int(over.sum())} block(s))")
    if policy == "error":
        raise OverflowError(msg + "; rescale the data, or pass scale_overflow='saturate' (clamp the scale, "
                            "elements saturate) or scale_overflow='nan' (such blocks become NaN).")
    if policy == "saturate":
        warnings.warn(msg + f": the scale is clamped to 2**127 and the elements saturate to "
                      f"±{f.element_max!r} * 2**127.", LowprecWarning, stacklevel=3)
        return None
    return over


def _nan_blocks(values: np.ndarray, exps: np.ndarray, over, block: int) -> None:
    """Give the blocks ``over`` (rows x blocks) the NaN scale, in place."""
    if over is None:
        return
    exps[over] = 128
    mask = np.repeat(over, block, axis=1)[:, : values.shape[1]]
    values[mask] = np.nan


def _restore(r: np.ndarray, moved_shape, axis: int, ndim: int) -> np.ndarray:
    return np.moveaxis(r.reshape(moved_shape), -1, axis) if ndim else r.reshape(())


def mx_encode(x: Any, fmt: Union[str, BlockFormat] = "mxfp8_e4m3", rmode: Union[int, str] = 1, *,
              axis: int = -1, block_size: Optional[int] = None, scale_rule: Optional[str] = None,
              seed: Optional[int] = None, rng: Optional[np.random.Generator] = None,
              scale_overflow: str = "error") -> BlockQuant:
    """Quantize ``x`` into a block format along ``axis``: elements, exponents and values.

    Parameters
    ----------
    x : array_like
    fmt : str or BlockFormat, default "mxfp8_e4m3"
        ``"mxfp8_e4m3"``, ``"mxfp8_e5m2"``, ``"mxfp6_e2m3"``, ``"mxfp6_e3m2"``,
        ``"mxfp4_e2m1"``, ``"mxint8"``, ``"bfp8"``, ... or a :class:`BlockFormat`.
    rmode : int or str, default 1
        Rounding of the elements (the OCP conversion is 1, nearest even).
    axis : int, default -1
        The axis along which blocks run.
    block_size : int, optional
        Override the format's block size (32 for MX).
    scale_rule : {"floor", "ceil"}, optional
        Override the shared-exponent rule.
    seed, rng
        Random stream of the stochastic modes.
    scale_overflow : {"error", "saturate", "nan"}, default "error"
        What a block whose maximum needs a shared exponent above 127 gets (module
        docstring): an :class:`OverflowError`, the clamped scale with saturated elements
        and a warning, or the NaN scale.

    Returns
    -------
    BlockQuant
    """
    f = block_format(fmt, block_size, scale_rule)
    mode = rounding_mode(rmode)
    _check_scale_overflow(scale_overflow)
    a, _ = as_float_array(x)
    axis = check_axis(axis, a.ndim, "lp.mx_encode")
    rows, moved_shape = _rows(a, axis)
    values, exps = _quantize_rows(rows, f, mode, seed, rng)
    _nan_blocks(values, exps, _scale_overflow(rows, exps, f, scale_overflow), f.block_size)
    scale = np.repeat(exps.astype(np.int64), f.block_size, axis=1)[:, : rows.shape[1]]
    elem = f.element
    nan_element = np.nan if isinstance(elem, FloatFormat) and elem.has_nan else 0.0
    with np.errstate(invalid="ignore"):
        elements = np.where(scale == 128, nan_element, np.ldexp(values, -np.minimum(scale, 127)))
    exps_out = (np.moveaxis(exps.reshape(moved_shape[:-1] + (exps.shape[1],)), -1, axis) if a.ndim
                else exps.reshape(()))
    return BlockQuant(_restore(elements, moved_shape, axis, a.ndim).astype(a.dtype), exps_out,
                      _restore(values, moved_shape, axis, a.ndim).astype(a.dtype))


def quantize_mx(x: Any, fmt: Union[str, BlockFormat] = "mxfp8_e4m3", rmode: Union[int, str] = 1, *,
                axis: int = -1, block_size: Optional[int] = None, scale_rule: Optional[str] = None,
                seed: Optional[int] = None, rng: Optional[np.random.Generator] = None,
                out: Optional[np.ndarray] = None, scale_overflow: str = "error") -> Any:
    """Quantize ``x`` into a block format and return the values (``2**X * P``), as
    :func:`lowprec.chop` does: same type, dtype and shape; ``x`` is not modified.

    See :func:`mx_encode` for the parameters (``scale_overflow`` included) and the module
    docstring for the rules.

    Examples
    --------
    >>> import numpy as np, lowprec as lp
    >>> lp.quantize_mx([1.0, 0.3, 1000.0, 1e-3], "mxfp4_e2m1", block_size=4)
    [0.0, 0.0, 768.0, 0.0]
    """
    f = block_format(fmt, block_size, scale_rule)
    mode = rounding_mode(rmode)
    a, back = as_float_array(x)
    check_out_format(out, None, "lp.quantize_mx")
    dst = result_buffer(a, out)
    if partial_overlap(a, dst):  # rows of a are written into dst: read from a copy instead
        a = a.copy()
    axis = check_axis(axis, a.ndim, "lp.quantize_mx")
    _check_scale_overflow(scale_overflow)
    rows, moved_shape = _rows(a, axis)
    if (axis == a.ndim - 1 or a.ndim == 0) and dst.dtype == np.float64 and dst.flags.c_contiguous:
        if np.shares_memory(rows, dst):  # out=x: the scale-overflow check reads the input after
            rows = rows.copy()
        flat, exps = _quantize_rows(rows, f, mode, seed, rng, dst.reshape(rows.shape))  # straight into the result
        _nan_blocks(flat, exps, _scale_overflow(rows, exps, f, scale_overflow), f.block_size)
        return back(dst)
    values, exps = _quantize_rows(rows, f, mode, seed, rng)
    _nan_blocks(values, exps, _scale_overflow(rows, exps, f, scale_overflow), f.block_size)
    np.copyto(dst, _restore(values, moved_shape, axis, a.ndim), casting="unsafe")
    return back(dst)


def quantize_block(x: Any, fmt: Union[str, BlockFormat] = "bfp8", rmode: Union[int, str] = 1, **kwargs) -> Any:
    """:func:`quantize_mx` with a block floating point default (``"bfp8"``)."""
    return quantize_mx(x, fmt, rmode, **kwargs)
