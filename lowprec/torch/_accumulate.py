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
a[k]*b[k])`` with the exact product (exact digits, :func:`_exact.fma_round`, where the
product needs more than float64). ``pairwise``: the correctly rounded products (or the
terms), summed by a balanced tree that pairs neighbours ``(0,1), (2,3), ...`` level by
level, an odd last term carried to the next level. ``exact``: the exact result rounded
once: ``torch.matmul`` for the entries it provably gets exactly (the NumPy side's
certificate), the exact digits of :mod:`lowprec.torch._exact` for the others and for sums;
its random words are the NumPy side's (one key per 2-D product, word ``i*n + j``), so it
equals NumPy bit for bit in every mode on every device. The other models' stochastic
modes draw their bits per step on devices (the NumPy stream on the CPU), so they agree
with NumPy in distribution, not bit for bit, off the CPU.
"""

from __future__ import annotations

from typing import Union

import numpy as np
import torch

from ..formats import FloatFormat
from ..ndarray import _accumulate as np_accumulate
from ..policy import accumulation_model
from ..rounding.array_api import ADD, MULTIPLY, exact_product, exact_sum, round_op, round_pair
from ..rounding import certify
from ..rounding.modes import RoundingMode
from ._chop import params_for, random62, round_like_spec, serial_if_small
from ..random import next_key
from . import _exact
from ._ops import TORCH_OPS, ldexp_wide, splitmix62

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
    if model == "exact":  # the exact sum rounded once; random word i of one key per row i
        return _exact_sums(rows.detach().to(torch.float64), fmt, mode)
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
            out = np_accumulate.matmul(a.numpy(), b.numpy(), fmt, mode, model, product=_torch_product)
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


def _exact_sums(rows, fmt, mode):
    """The exactly rounded row sums: from ``torch.sum`` where its error bound certifies the
    rounding (:mod:`lowprec.rounding.certify`), else the exact digits."""
    n, k = rows.shape
    p = _params(fmt)
    r62 = _keyed_r62(n, rows.device, mode)
    if not (n and k and certify.worth_trying(fmt.t, k)):
        return _exact.exact_sums(rows, p, mode, r62)
    c = rows.sum(dim=1)
    err = certify.error_bound(c, rows.abs().sum(dim=1), k, 64, torch)
    out, ok = certify.certified(c, err, _rounder(p, mode, r62), fmt.emin, 64, torch, fmt.subnormal)
    bad = torch.nonzero(~ok).squeeze(1)
    if bad.numel():
        out[bad] = _exact.exact_sums(rows[bad], p, mode, None if r62 is None else r62[bad])
    return out


def _rounder(p, mode, r62):
    """Rounding of a float64 tensor like the results, word ``r62[i]`` for flat element ``i``."""
    def round_fn(v):
        flat = v.reshape(-1)
        zeros = torch.zeros_like(flat)
        return round_pair(flat, zeros, zeros.to(torch.int64), p, mode, r62, ops=TORCH_OPS).reshape(v.shape)
    return round_fn


def _torch_product(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Binary64 ``x @ y`` by torch's BLAS (its thread pool, not a second one of NumPy's)."""
    def tensor(v):  # (broadcast views are read-only; torch wants writable memory)
        return torch.from_numpy(v if v.flags.writeable else v.copy())
    return tensor(x).matmul(tensor(y)).numpy()


def _keyed_r62(n: int, device, mode: RoundingMode):
    """The NumPy side's random words ``0 .. n-1`` of one new key (None if not stochastic)."""
    return splitmix62(int(next_key()), n, device) if mode.is_stochastic else None


def _exact_matmul(a, b, fmt, mode):
    """``a @ b`` (2-D) under "exact", as ``_accumulate._exact_matmul``: the entries that
    binary64 provably gets exactly (``_certified``, one product) from ``torch.matmul``, the
    others from the exact digits; random word ``i*n + j`` of one key."""
    m, kk = a.shape
    n = b.shape[1]
    p = _params(fmt)
    r62 = _keyed_r62(m * n, a.device, mode)
    if m == 0 or n == 0:
        return a.new_zeros((m, n))
    if kk and certify.worth_trying(fmt.t, kk):  # BLAS and its error bound
        c = a @ b
        row = certify.norm_bound((a * a).sum(dim=1), kk, 64, torch)
        col = certify.norm_bound((b * b).sum(dim=0), kk, 64, torch)
        err = certify.error_bound(c, certify.dot_magnitude(row, col, kk, 64), kk, 64, torch)
        out, ok = certify.certified(c, err, _rounder(p, mode, r62), fmt.emin, 64, torch, fmt.subnormal)
        return _exact_where_not(ok, out, a, b, p, mode, r62)
    ok = torch.zeros((m, n), dtype=torch.bool, device=a.device)
    if kk and fmt.t <= 26:
        sa = np_accumulate._stats(a.cpu().numpy(), rows=True)
        sb = np_accumulate._stats(b.cpu().numpy(), rows=False)
        ok = torch.from_numpy(np_accumulate._certified(sa, sb, fmt, kk)).to(a.device)
    c = a @ b if bool(ok.any()) else a.new_zeros((m, n))
    ok &= (c != 0) & (c.abs() < float("inf"))
    return _exact_where_not(ok, _rounder(p, mode, r62)(c), a, b, p, mode, r62)


def _exact_where_not(ok, out, a, b, p, mode, r62):
    """``out`` with the entries not ``ok`` from the exact digits (the rows holding them)."""
    m, n = out.shape
    bad = torch.nonzero(~ok.reshape(-1)).squeeze(1)
    if bad.numel():
        rows = torch.unique(bad // n)
        sub = _exact.exact_dots(a[rows], b, p, mode, None if r62 is None else r62.reshape(m, n)[rows].reshape(-1))
        out[rows] = torch.where(ok[rows], out[rows], sub.reshape(rows.numel(), n))
    return out


def _matmul_batched(a, b, fmt, mode, model):
    """``a @ b`` for ``(..., m, k) @ (..., k, n)``, vectorized over ``(..., m, n)``."""
    if model == "exact":  # one 2-D product at a time, one key each, as the NumPy side
        lead = a.shape[:-2]
        a3 = a.reshape((-1,) + a.shape[-2:])
        b3 = b.reshape((-1,) + b.shape[-2:])
        out = torch.stack([_exact_matmul(x, y, fmt, mode) for x, y in zip(a3, b3)]) if a3.shape[0] else \
            a.new_zeros((0, a.shape[-2], b.shape[-1]))
        return out.reshape(lead + out.shape[-2:])
    kk = a.shape[-1]
    if kk == 0:
        return a.new_zeros(a.shape[:-1] + b.shape[-1:])
    col = [a[..., :, k:k + 1] for k in range(kk)]  # (..., m, 1)
    row = [b[..., k:k + 1, :] for k in range(kk)]  # (..., 1, n)
    if model == "pairwise":  # correctly rounded products, then the tree
        products = _op(MULTIPLY, a.unsqueeze(-1), b.unsqueeze(-3), fmt, mode)  # (..., m, k, n)
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
        acc = _fused_step(acc, x, y, p, mode, _r62(x, mode))
    return acc if acc_fmt is fmt else _round(acc, fmt, mode)


def _fused_step(acc, x, y, p, mode, r62):
    """``round(acc + x*y)`` once with the exact product: binary64's sum of the exact pair
    where the product is exact in float64, else the exact digits (:func:`_exact.fma_round`);
    binary64 with a NaN or infinite operand (an infinite ``acc`` stays with finite ``x*y``)."""
    prod = x * y
    hp, lp, sp = exact_product(x, y, TORCH_OPS)
    inf = float("inf")
    exact = (lp == 0) & (ldexp_wide(prod, -sp) == hp) & (prod.abs() != inf)
    finite = (acc.abs() < inf) & (x.abs() < inf) & (y.abs() < inf)
    result = round_pair(*exact_sum(acc, torch.where(exact, prod, prod * 0), mode, TORCH_OPS), p, mode, r62,
                        ops=TORCH_OPS)
    slow = finite & ~exact
    if bool(slow.any()):
        idx = torch.nonzero(slow.reshape(-1)).squeeze(1)
        flat = result.reshape(-1).clone()
        flat[idx] = _exact.fma_round(acc.reshape(-1)[idx], x.reshape(-1)[idx], y.reshape(-1)[idx], p, mode,
                                     None if r62 is None else r62.reshape(-1)[idx])
        result = flat.reshape(result.shape)
    special = ~finite
    if bool(special.any()):
        v = torch.where((x.abs() < inf) & (y.abs() < inf), acc, acc + prod)
        result = torch.where(special, round_pair(v, v * 0, torch.zeros_like(v, dtype=torch.int64), p, mode, r62,
                                                 ops=TORCH_OPS), result)
    return result


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
