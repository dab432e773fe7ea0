"""Reductions and matrix products under the accumulation models of :mod:`lowprec.policy`."""

from __future__ import annotations

import numpy as np

from ..arith import binary, exact_in_binary64
from ..chop import chop, fast_range
from ..errors import UnsupportedOperationError
from ..formats import FloatFormat
from ..policy import accumulation_model
from ..random import next_key
from ..rounding import _kernels
from ..rounding.params import rounding_params


def _key(mode):
    return next_key() if mode.is_stochastic else np.uint64(0)


def _kernel_params(fmt, mode):
    p = rounding_params(fmt)
    key = _key(mode)
    return (p.t, p.emin, p.subnormal, p.xmax, p.overflow_value, p.inf_value, p.negzero, p.signed,
            int(mode), key, 0)


def fold(op_add: bool, rows: np.ndarray, fmt, mode, keep_partials: bool, model=None):
    """Reduce each row of the 2-D float64 ``rows`` with ``+`` (or ``*``) under the model.

    Returns the final values (and every partial result when ``keep_partials``).
    """
    model = accumulation_model(model)
    op = _kernels.ADD if op_add else _kernels.MULTIPLY
    if model == "exact":
        with np.errstate(all="ignore"):
            ufunc = np.add if op_add else np.multiply
            partials = ufunc.accumulate(rows, axis=1) if keep_partials else None
            final = ufunc.reduce(rows, axis=1)
        return chop(final, fmt, mode), (chop(partials, fmt, mode) if keep_partials else None)
    if model == "pairwise" and not keep_partials:
        return _pairwise(op, rows, fmt, mode), None
    acc_fmt = model if isinstance(model, FloatFormat) else fmt
    identity = 0.0 if op_add else 1.0
    out = np.full(rows.shape[0], identity)
    partials = np.empty(rows.shape if keep_partials else (1, 1))
    _kernels.fold_rows(op, rows, out, partials, keep_partials, *_kernel_params(acc_fmt, mode))
    if acc_fmt is not fmt:
        return chop(out, fmt, mode), (chop(partials, fmt, mode) if keep_partials else None)
    return out, (partials if keep_partials else None)


def _pairwise(op, rows, fmt, mode):
    """A balanced tree over each row, every node rounded."""
    if rows.shape[1] == 0:
        return np.full(rows.shape[0], 0.0 if op == _kernels.ADD else 1.0)
    while rows.shape[1] > 1:
        half = rows.shape[1] // 2
        left = np.ascontiguousarray(rows[:, 0:2 * half:2]).reshape(-1)
        right = np.ascontiguousarray(rows[:, 1:2 * half:2]).reshape(-1)
        combined = binary(op, left, right, rounding_params(fmt), mode, _key(mode), on_grid=True)
        combined = combined.reshape(rows.shape[0], half)
        rows = np.concatenate([combined, rows[:, 2 * half:]], axis=1) if rows.shape[1] % 2 else combined
    return rows[:, 0].copy()


def matmul(a: np.ndarray, b: np.ndarray, fmt, mode, model=None) -> np.ndarray:
    """``a @ b`` of format values under the accumulation model.

    **Rounding.** ``sequential``: each product rounded, then each partial sum rounded,
    ``k`` ascending. ``fma``: each step ``acc + a*b`` rounded once. ``pairwise``: products
    rounded, then a balanced tree of rounded sums. ``exact``: binary64 product, rounded
    once. A wider format: products and sums accumulated in it with one rounding per step
    (as ``fma``), the result rounded once into ``fmt``.
    """
    model = accumulation_model(model)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim == 0 or b.ndim == 0:
        raise UnsupportedOperationError("matmul of a 0-d operand: use * instead.")
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align.")
    if a2.ndim > 2 or b2.ndim > 2:
        shape = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        a3 = np.broadcast_to(a2, shape + a2.shape[-2:]).reshape((-1,) + a2.shape[-2:])
        b3 = np.broadcast_to(b2, shape + b2.shape[-2:]).reshape((-1,) + b2.shape[-2:])
        result = np.stack([_matmul2(x, y, fmt, mode, model) for x, y in zip(a3, b3)])
        result = result.reshape(shape + result.shape[-2:])
    else:
        result = _matmul2(a2, b2, fmt, mode, model)
    if a.ndim == 1:
        result = result[..., 0, :]
    if b.ndim == 1:
        result = result[..., 0]
    return result


def _matmul2(a, b, fmt, mode, model):
    if model == "exact":
        return chop(a @ b, fmt, mode)
    if model == "pairwise":
        products = chop(a[:, :, None] * b[None, :, :], fmt, mode)  # exact products of <= 26-bit values
        rows = np.ascontiguousarray(np.moveaxis(products, 1, -1)).reshape(-1, a.shape[1])
        return _pairwise(_kernels.ADD, rows, fmt, mode).reshape(a.shape[0], b.shape[1])
    acc_fmt = model if isinstance(model, FloatFormat) else fmt
    fused = model != "sequential"
    out = np.empty((a.shape[0], b.shape[1]))
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    if _products_exact(a, b, fmt) and rounding_params(acc_fmt).t < 52:
        p = rounding_params(acc_fmt)
        lo, hi, top = fast_range(p, np.dtype(np.float64))
        sign_bit = np.int64(-(2**63)) if p.signed else np.int64(0)
        flip = -1 if p.t > 1 else (1022 + p.emin) & 1
        fast = (lo, hi, top, sign_bit, 52 - (p.t - 1), flip)
        if not fused and exact_in_binary64(_kernels.ADD, p) and exact_in_binary64(_kernels.MULTIPLY, p):
            _kernels.matmul_exact_rows(a, b, out, *_kernel_params(acc_fmt, mode), *fast)
        else:
            _kernels.matmul_rows_fast(a, b, out, fused, *_kernel_params(acc_fmt, mode), *fast)
    else:
        _kernels.matmul_rows(a, b, out, fused, *_kernel_params(acc_fmt, mode))
    return out if acc_fmt is fmt else chop(out, fmt, mode)


def _products_exact(a, b, fmt) -> bool:
    """Whether every product ``a[i,k] * b[k,j]`` is exact in binary64: operands of at
    most 26 significant bits whose products stay inside binary64's normal range."""
    if fmt.t > 26:
        return False
    with np.errstate(invalid="ignore"):
        big = max(_max_finite(a), _max_finite(b))
        small = min(_min_nonzero(a), _min_nonzero(b))
    return big < 2.0 ** 500 and small > 2.0 ** -500


def _max_finite(x) -> float:
    m = np.abs(x[np.isfinite(x)])
    return float(m.max()) if m.size else 0.0


def _min_nonzero(x) -> float:
    m = np.abs(x[np.isfinite(x) & (x != 0)])
    return float(m.min()) if m.size else np.inf
