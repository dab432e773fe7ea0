"""Reductions and matrix products of tensors under the accumulation models of
:mod:`lowprec.policy`, bit-identical to the NumPy ``LPFloat`` (:mod:`lowprec.ndarray._accumulate`).

Two drivers compute the same thing:

* **CPU tensors** go through the NumPy implementation itself on zero-copy views (the
  numba kernels): the same code, hence the same bits, and the fastest path;
* **other devices** (CUDA, ...) use whole-tensor torch operations: vectorized over the
  output elements, a Python loop over the reduction dimension (a balanced tree for
  ``"pairwise"``), every step correctly rounded by
  :func:`lowprec.rounding.array_api.round_op` through :data:`TORCH_OPS`. ``device_ops=True``
  forces this driver on the CPU (the tests compare both with NumPy).

The order is the NumPy side's. ``sequential``: ``acc = round(a[0]*b[0])``, then ``acc =
round(acc + round(a[k]*b[k]))`` for ``k`` ascending (sums: ``acc = x[0]``, then ``acc =
round(acc + x[j])``). ``fma`` (and a wider accumulator format, in which the steps are
rounded before one final rounding into the operands' format): ``acc = round(acc +
a[k]*b[k])`` with the exact product. ``pairwise``: the rounded products (or the terms),
summed by a balanced tree that pairs neighbours ``(0,1), (2,3), ...`` level by level, an
odd last term carried to the next level. ``exact``: computed in float64 by the native
kernel, rounded once. Stochastic modes draw their bits per step on devices (the NumPy
stream on the CPU), so they agree with NumPy in distribution, not bit for bit, off the CPU.
"""

from __future__ import annotations

from typing import Union

import numpy as np
import torch

from ..formats import FloatFormat
from ..ndarray import _accumulate as np_accumulate
from ..policy import accumulation_model
from ..rounding.array_api import ADD, MULTIPLY, exact_product, exact_sum, round_op, round_pair
from ..rounding.modes import RoundingMode
from ._chop import params_for, random62, round_like_spec, serial_if_small
from ._ops import TORCH_OPS, ldexp_wide

Model = Union[str, FloatFormat]


def _params(fmt: FloatFormat):
    return params_for(fmt, True, torch.float64)


def _r62(like: torch.Tensor, mode: RoundingMode):
    return random62(like.shape, like.device) if mode.is_stochastic else None


def _round(x: torch.Tensor, fmt: FloatFormat, mode: RoundingMode) -> torch.Tensor:
    """Round float64 ``x`` into ``fmt`` (the one rounding core)."""
    from ..chop import make_spec

    return round_like_spec(x, make_spec(fmt, mode))


def _op(op: int, a: torch.Tensor, b: torch.Tensor, fmt: FloatFormat, mode: RoundingMode) -> torch.Tensor:
    a, b = torch.broadcast_tensors(a, b)
    return round_op(op, a, b, _params(fmt), mode, _r62(a, mode), ops=TORCH_OPS)


def _from_numpy(a) -> torch.Tensor:
    a = np.asarray(a)
    return torch.from_numpy(a if a.flags.c_contiguous and a.flags.writeable else a.copy())


def _on_cpu(*xs: torch.Tensor) -> bool:
    return all(x.device.type == "cpu" for x in xs)


# ------------------------------------------------------------------ reductions

def fold_sum(rows: torch.Tensor, fmt: FloatFormat, mode: RoundingMode, model: Model = None,
             device_ops: bool = False) -> torch.Tensor:
    """Sum each row of the 2-D float64 ``rows`` under the model (one value per row)."""
    model = accumulation_model(model)
    if _on_cpu(rows) and not device_ops:
        with serial_if_small(rows.numel()):
            final, _ = np_accumulate.fold(True, rows.detach().contiguous().numpy(), fmt, mode, False, model)
        return _from_numpy(final)
    if model == "exact":
        return _round(rows.sum(dim=1), fmt, mode)
    if rows.shape[1] == 0:
        return rows.new_zeros(rows.shape[0])
    if model == "pairwise":
        return _pairwise(rows, fmt, mode)
    acc_fmt = model if isinstance(model, FloatFormat) else fmt
    acc = rows[:, 0]
    for j in range(1, rows.shape[1]):
        acc = _op(ADD, acc, rows[:, j], acc_fmt, mode)
    return acc if acc_fmt is fmt else _round(acc, fmt, mode)


def _pairwise(rows: torch.Tensor, fmt: FloatFormat, mode: RoundingMode) -> torch.Tensor:
    """A balanced tree over the last dimension, every node rounded (``_accumulate._pairwise``)."""
    while rows.shape[-1] > 1:
        half = rows.shape[-1] // 2
        combined = _op(ADD, rows[..., 0:2 * half:2], rows[..., 1:2 * half:2], fmt, mode)
        rows = torch.cat([combined, rows[..., 2 * half:]], dim=-1) if rows.shape[-1] % 2 else combined
    return rows[..., 0]


# ------------------------------------------------------------------ matrix products

def matmul(a: torch.Tensor, b: torch.Tensor, fmt: FloatFormat, mode: RoundingMode, model: Model = None,
           device_ops: bool = False) -> torch.Tensor:
    """``a @ b`` (``torch.matmul`` shapes and broadcasting) of format values, float64 out."""
    model = accumulation_model(model)
    a = a.detach().to(torch.float64)
    b = b.detach().to(torch.float64)
    if a.dim() == 0 or b.dim() == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D.")
    if _on_cpu(a, b) and not device_ops:
        work = a.shape[:-1].numel() * b.shape[-1] * a.shape[-1]  # multiply-adds, batch aside
        with serial_if_small(work):
            out = np_accumulate.matmul(a.numpy(), b.numpy(), fmt, mode, model)
        return _from_numpy(out)
    a2 = a.unsqueeze(0) if a.dim() == 1 else a
    b2 = b.unsqueeze(-1) if b.dim() == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise RuntimeError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied.")
    batch = torch.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    a2 = a2.expand(batch + a2.shape[-2:])
    b2 = b2.expand(batch + b2.shape[-2:])
    result = _matmul_batched(a2, b2, fmt, mode, model)
    if a.dim() == 1:
        result = result.squeeze(-2)
    if b.dim() == 1:
        result = result.squeeze(-1)
    return result


def _matmul_batched(a, b, fmt, mode, model):
    """``a @ b`` for ``(..., m, k) @ (..., k, n)``, vectorized over ``(..., m, n)``."""
    if model == "exact":
        return _round(a @ b, fmt, mode)
    kk = a.shape[-1]
    if kk == 0:
        return a.new_zeros(a.shape[:-1] + b.shape[-1:])
    col = [a[..., :, k:k + 1] for k in range(kk)]  # (..., m, 1)
    row = [b[..., k:k + 1, :] for k in range(kk)]  # (..., 1, n)
    if model == "pairwise":
        # float64 products rounded once, as the NumPy side (exact for formats of <= 26 bits)
        products = _round(a.unsqueeze(-1) * b.unsqueeze(-3), fmt, mode)  # (..., m, k, n)
        return _pairwise(products.movedim(-2, -1), fmt, mode)
    if model == "sequential":
        acc = _op(MULTIPLY, col[0], row[0], fmt, mode)
        for k in range(1, kk):
            acc = _op(ADD, acc, _op(MULTIPLY, col[k], row[k], fmt, mode), fmt, mode)
        return acc
    acc_fmt = model if isinstance(model, FloatFormat) else fmt
    p = _params(acc_fmt)
    x, y = torch.broadcast_tensors(col[0], row[0])
    acc = round_pair(*exact_product(x, y, TORCH_OPS), p, mode, _r62(x, mode), ops=TORCH_OPS)
    for k in range(1, kk):
        x, y = torch.broadcast_tensors(col[k], row[k])
        term = _fused_term(x, y)
        acc = round_pair(*exact_sum(acc, term, mode, TORCH_OPS), p, mode, _r62(x, mode), ops=TORCH_OPS)
    return acc if acc_fmt is fmt else _round(acc, fmt, mode)


def _fused_term(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x * y`` when exact in float64, else the product rounded to odd in float64 (a
    sticky value that rounds correctly afterwards): ``_kernels.matmul_rows``'s rule."""
    p = x * y
    hp, lp, sp = exact_product(x, y, TORCH_OPS)
    exact = (lp == 0) & (ldexp_wide(p, -sp) == hp) & (p.abs() != float("inf"))
    v = ldexp_wide(hp, sp)
    even = (hp.view(torch.int64) & 1) == 0
    nudged = torch.nextafter(v, torch.where(lp > 0, float("inf"), -float("inf")).to(v.dtype))
    odd = torch.where((lp != 0) & even, nudged, v)
    return torch.where(exact, p, odd)


def conv(x: torch.Tensor, weight: torch.Tensor, stride, padding, dilation, groups: int,
         fmt: FloatFormat, mode: RoundingMode, model: Model = None, device_ops: bool = False) -> torch.Tensor:
    """N-d convolution (``torch.nn.functional.conv1d/2d/3d`` without bias) of format values
    under the model: im2col, then :func:`matmul` over ``(in_channels/groups) * prod(kernel)``
    in ``F.unfold`` order (channel, then kernel positions in C order). float64 out."""
    nd = weight.dim() - 2
    unbatched = x.dim() == nd + 1
    if unbatched:
        x = x.unsqueeze(0)
    stride, dilation = _tuple(stride, nd), _tuple(dilation, nd)
    ksize = weight.shape[2:]
    if padding == "valid":
        padding = 0
    if padding == "same":
        total = [d * (k - 1) for d, k in zip(dilation, ksize)]
        pads = [(t // 2, t - t // 2) for t in total]
    else:
        pads = [(p, p) for p in _tuple(padding, nd)]
    flat_pad = [v for pair in reversed(pads) for v in pair]
    cols = torch.nn.functional.pad(x.detach().to(torch.float64), flat_pad)
    for d in range(nd):  # sliding windows along each spatial dimension
        span = dilation[d] * (ksize[d] - 1) + 1
        cols = cols.unfold(2 + d, span, stride[d])[..., ::dilation[d]]
    n, c = cols.shape[:2]
    out_sizes = cols.shape[2:2 + nd]
    # (N, C, L..., K...) -> (N, groups, L, C/groups * K)
    cols = cols.permute(0, *range(2, 2 + nd), 1, *range(2 + nd, 2 + 2 * nd))
    cols = cols.reshape(n, -1, groups, (c // groups) * int(np.prod(ksize))).transpose(1, 2)
    w = weight.detach().to(torch.float64).reshape(groups, weight.shape[0] // groups, -1)
    out = matmul(cols, w.transpose(-1, -2).unsqueeze(0), fmt, mode, model, device_ops)  # (N, g, L, O/g)
    out = out.permute(0, 1, 3, 2).reshape(n, weight.shape[0], *out_sizes)
    return out.squeeze(0) if unbatched else out


def _tuple(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


__all__ = ["conv", "fold_sum", "matmul"]
