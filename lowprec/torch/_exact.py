"""Exact sums, dot products and fused steps in whole-tensor torch operations: the twin of
:mod:`lowprec.rounding._exact_sum` for the device path of :mod:`lowprec.torch._accumulate`.

The exact value lives in 32-bit digits held in int64 tensors, one row of digits per
result (``_exact_sum.BASE``/``ND`` for whole sums, a window of ``_WD`` digits for one
fused step); every term is split from its bits into an integer significand and an
exponent and added in carry-save form with ``scatter_add_``, all terms of a chunk at
once. The digits are then normalized and read as ``hi + lo`` (53 bits to nearest, then 53
bits to odd) and rounded by :func:`lowprec.rounding.array_api.round_pair`; the stochastic
modes decide on the digits as the numba kernels do (``r62 < floor(frac * 2**62)``), so the
results are the kernels' bit for bit, given the same random words.
"""

from __future__ import annotations

import torch

from ..rounding import _exact_sum as K
from ..rounding.array_api import exact_product, round_pair
from ..rounding.modes import RoundingMode
from ..rounding.params import RoundingParams
from ._ops import TORCH_OPS

_M32 = 0xFFFFFFFF
_M31 = 0x7FFFFFFF
_WD = K._WD + 1  #: one digit more than the kernels': a subnormal acc's few bits sit at its top
_I64 = torch.int64


def man_exp(x: torch.Tensor):
    """``x == m * 2**e`` (``m`` the signed integer significand from the bits) where ``x`` is
    finite and nonzero; elsewhere ``m = 0``."""
    b = x.view(_I64)
    field = (b >> 52) & 0x7FF
    frac = b & ((1 << 52) - 1)
    normal = field > 0
    m = torch.where(normal, frac | (1 << 52), frac)
    e = torch.where(normal, field - 1075, torch.full_like(field, -1074))
    good = (x != 0) & (x.abs() < float("inf"))
    m = torch.where(good, torch.where(b < 0, -m, m), torch.zeros_like(m))
    return m, torch.where(good, e, torch.zeros_like(e))


def _add(dig: torch.Tensor, base, m: torch.Tensor, e: torch.Tensor) -> None:
    """``dig[i] += sum_k m[i, k] * 2**e[i, k]`` (``|m| < 2**62``, ``e >= base``; zero ``m``
    ignored); ``base`` an int or an ``(N, 1)`` tensor."""
    zero = m == 0
    rel = torch.where(zero, torch.zeros_like(e), e - base)
    d = rel >> 5
    r = rel & 31
    sgn = torch.where(m < 0, -1, 1).to(_I64)
    a = m.abs()
    lo = (a & ((torch.ones_like(r) << (32 - r)) - 1)) << r
    rest = a >> (32 - r)
    dig.scatter_add_(1, d, sgn * lo)
    dig.scatter_add_(1, d + 1, sgn * (rest & _M32))
    dig.scatter_add_(1, d + 2, sgn * (rest >> 32))


def _normalize(dig: torch.Tensor) -> torch.Tensor:
    """Carries propagated in place (the top digit keeps the sign, as the kernels'); True
    where the value is negative."""
    for i in range(dig.shape[1] - 1):
        c = dig[:, i] >> 32
        dig[:, i] -= c << 32
        dig[:, i + 1] += c
    return dig[:, -1] < 0


def _magnitude(dig: torch.Tensor) -> torch.Tensor:
    """Normalize to the magnitude in place; True where the value is negative."""
    neg = _normalize(dig)
    dig.copy_(torch.where(neg[:, None], -dig, dig))
    _normalize(dig)
    return neg


def _get31(dig: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """The 31 bits ``[p, p + 31)`` of each row of normalized ``dig`` (zeros outside)."""
    nd = dig.shape[1]
    padded = torch.nn.functional.pad(dig, (2, 2))  # digit j at column j + 2
    d = torch.clamp((p >> 5) + 2, 0, nd + 2)
    r = p & 31
    d0 = padded.gather(1, d[:, None])[:, 0]
    d1 = padded.gather(1, (d + 1)[:, None])[:, 0]
    v = ((d0 >> r) | ((d1 & _M31) << (32 - r))) & _M31
    return torch.where((p >> 5) + 2 < 0, torch.zeros_like(v), v)


def _bits(dig, p, n: int):
    """The ``n <= 62`` bits ``[p, p + n)`` per row, as int64."""
    low = _get31(dig, p)
    if n <= 31:
        return low & ((1 << n) - 1)
    return low | ((_get31(dig, p + 31) & ((1 << (n - 31)) - 1)) << 31)


def _any_below(dig, p):
    """Whether some bit below position ``p`` (per row) of normalized ``dig`` is set."""
    nd = dig.shape[1]
    nz = (dig != 0).to(_I64).cumsum(1)  # nonzero digits up to each one
    d = torch.clamp(p >> 5, 0, nd)
    below = torch.where(d > 0, torch.nn.functional.pad(nz, (1, 0)).gather(1, d[:, None])[:, 0] > 0,
                        torch.zeros_like(d, dtype=torch.bool))
    part = _get31(dig, (p >> 5) << 5) & ((torch.ones_like(p) << torch.clamp(p & 31, 0, 31)) - 1)
    part = torch.where((p >= 0) & ((p >> 5) < nd), part, torch.zeros_like(part))
    return (below | (part != 0)) & (p > 0)


def _bit_length(v: torch.Tensor) -> torch.Tensor:
    """``floor(log2(v)) + 1`` of int64 values in ``[1, 2**32)`` (exact through float64)."""
    return ((v.to(torch.float64).view(_I64) >> 52) & 0x7FF) - 1022


def round_digits(dig, base, neg, p: RoundingParams, mode: RoundingMode, r62):
    """Round each row's nonzero magnitude in normalized ``dig`` (least significant bit
    ``2**base``, ``base`` an int64 tensor) into the format (``_exact_sum.round_digits``)."""
    nd = dig.shape[1]
    idx = torch.arange(nd, device=dig.device, dtype=_I64)
    top = torch.where(dig != 0, idx, torch.full_like(idx, -1)).max(1).values
    topv = dig.gather(1, top.clamp(min=0)[:, None])[:, 0]
    lead = top * 32 + _bit_length(topv.clamp(min=1)) - 1
    e_val = lead + base
    h = _bits(dig, lead - 52, 53)
    lo = _bits(dig, lead - 105, 53) | _any_below(dig, lead - 105).to(_I64)
    up_h = lo > (1 << 52)
    h = torch.where(up_h, h + 1, h)
    lo = torch.where(up_h, lo - (1 << 53), lo)
    hi = h.to(torch.float64)
    lof = lo.to(torch.float64) * 2.0 ** -53
    scale = e_val - 52
    hi = torch.where(neg, -hi, hi)
    lof = torch.where(neg, -lof, lof)
    if not mode.is_stochastic:
        return round_pair(hi, lof, scale, p, mode, None, ops=TORCH_OPS)
    below = p.emin - (p.t - 1) if p.subnormal else p.emin
    q = torch.where(e_val >= p.emin, e_val - (p.t - 1), torch.full_like(e_val, below))
    qp = q - base
    if mode == RoundingMode.STOCHASTIC:
        up = r62 < _bits(dig, qp - 62, 62)
    else:
        up = _any_below(dig, qp) & (((r62 >> 61) & 1) == 1)
    away = torch.where(neg, round_pair(hi, lof, scale, p, RoundingMode.DOWN, None, ops=TORCH_OPS),
                       round_pair(hi, lof, scale, p, RoundingMode.UP, None, ops=TORCH_OPS))
    unclamped = p._replace(xmax=float("inf"), overflow_value=float("inf"))
    toward = round_pair(hi, lof, scale, unclamped, RoundingMode.TOWARD_ZERO, None, ops=TORCH_OPS)
    over = torch.where(toward < 0, torch.full_like(toward, -p.overflow_value), torch.full_like(toward, p.overflow_value))
    toward = torch.where(toward.abs() > p.xmax, over, toward)
    return torch.where(up, away, toward)


def finish(dig, base, k: int, any_neg, any_pos, nan, pinf, ninf, p: RoundingParams, mode: RoundingMode, r62):
    """The rounded results of accumulations (``_exact_sum.finish``); ``dig`` is consumed."""
    neg = _magnitude(dig)
    zero = (dig == 0).all(1)
    safe = dig.clone()
    safe[:, 0] = torch.where(zero, torch.ones_like(safe[:, 0]), safe[:, 0])
    base = torch.as_tensor(base, dtype=_I64, device=dig.device).expand(dig.shape[0])
    value = round_digits(safe, base, neg, p, mode, r62)
    if k == 0:
        z = torch.zeros_like(value)
    elif mode == RoundingMode.DOWN:
        z = torch.where(any_neg, -torch.zeros_like(value), torch.zeros_like(value))
    else:
        z = torch.where(any_pos, torch.zeros_like(value), -torch.zeros_like(value))
    z = round_pair(z, z * 0, torch.zeros_like(base), p, mode, r62, ops=TORCH_OPS)
    value = torch.where(zero, z, value)
    inf = torch.where(ninf, -float("inf"), float("inf")).to(value.dtype)
    inf = round_pair(inf, value * 0, torch.zeros_like(base), p, mode, r62, ops=TORCH_OPS)
    value = torch.where(pinf | ninf, inf, value)
    return torch.where(nan | (pinf & ninf), torch.full_like(value, float("nan")), value)


def _flags(x: torch.Tensor):
    """Per row: some term with the sign bit set, some without, NaN, +inf, -inf."""
    negbit = x.view(_I64) < 0
    return (negbit.any(1), (~negbit).any(1), torch.isnan(x).any(1), (x == float("inf")).any(1),
            (x == -float("inf")).any(1))


def exact_sums(rows: torch.Tensor, p: RoundingParams, mode: RoundingMode, r62) -> torch.Tensor:
    """The exactly rounded sum of each row of the 2-D float64 ``rows``."""
    n, k = rows.shape
    dig = torch.zeros((n, K.ND), dtype=_I64, device=rows.device)
    for j0 in range(0, k, 1 << 20):  # carry-save digits hold far more than 2**20 additions
        m, e = man_exp(rows[:, j0:j0 + (1 << 20)])
        _add(dig, K.BASE, m, e)
        _normalize(dig)
    return finish(dig, K.BASE, k, *_flags(rows), p, mode, r62)


def _halves(m):
    m1 = m >> 27
    return m1, m - (m1 << 27)


def exact_dots(a: torch.Tensor, b: torch.Tensor, p: RoundingParams, mode: RoundingMode, r62) -> torch.Tensor:
    """The exactly rounded ``a @ b`` (2-D float64), entry by entry, ``r62`` per flat entry."""
    m_, kk = a.shape
    n = b.shape[1]
    ma, ea = man_exp(a)
    mb, eb = man_exp(b)
    out = torch.empty(m_ * n, dtype=torch.float64, device=a.device)
    rows_per = max(1, min((1 << 22) // max(1, kk * n), (1 << 15) // max(1, n)))
    for i0 in range(0, m_, rows_per):
        i1 = min(m_, i0 + rows_per)
        xa = a[i0:i1, :, None]
        yb = b[None, :, :]
        x = torch.broadcast_to(xa, (i1 - i0, kk, n)).transpose(1, 2).reshape(-1, kk)
        y = torch.broadcast_to(yb, (i1 - i0, kk, n)).transpose(1, 2).reshape(-1, kk)
        a1, a0 = _halves(torch.broadcast_to(ma[i0:i1, :, None], (i1 - i0, kk, n)).transpose(1, 2).reshape(-1, kk))
        b1, b0 = _halves(torch.broadcast_to(mb[None], (i1 - i0, kk, n)).transpose(1, 2).reshape(-1, kk))
        e = (torch.broadcast_to(ea[i0:i1, :, None], (i1 - i0, kk, n))
             + torch.broadcast_to(eb[None], (i1 - i0, kk, n))).transpose(1, 2).reshape(-1, kk)
        dig = torch.zeros((x.shape[0], K.ND), dtype=_I64, device=a.device)
        _add(dig, K.BASE, a0 * b0, e)
        _add(dig, K.BASE, a1 * b0 + a0 * b1, e + 27)
        _add(dig, K.BASE, a1 * b1, e + 54)
        sign = (x.view(_I64) < 0) != (y.view(_I64) < 0)  # of each product, zeros included
        special = (x.abs() == float("inf")) | (y.abs() == float("inf"))
        nan_t = torch.isnan(x) | torch.isnan(y) | (special & ((x == 0) | (y == 0)))
        inf_t = special & ~nan_t
        any_neg, any_pos, nan = sign.any(1), (~sign).any(1), nan_t.any(1)
        pinf, ninf = (inf_t & ~sign).any(1), (inf_t & sign).any(1)
        rr = None if r62 is None else r62[i0 * n:i1 * n]
        out[i0 * n:i1 * n] = finish(dig, K.BASE, kk, any_neg, any_pos, nan, pinf, ninf, p, mode, rr)
    return out.reshape(m_, n)


def fma_round(acc, x, y, p: RoundingParams, mode: RoundingMode, r62):
    """``round(acc + x*y)`` once with the exact product, for finite ``acc``, ``x``, ``y``
    (``_exact_sum.fma_round``; the caller handles specials)."""
    hp, lp, sp = exact_product(x, y, TORCH_OPS)
    n = acc.shape[0]
    ma, ea = man_exp(acc)
    mh, eh = man_exp(hp)
    ml, el = man_exp(lp)
    eh, el = eh + sp, el + sp
    ta = ea + _bit_length_any(ma) - 1
    tp = eh + _bit_length_any(mh)  # |product| < 2**tp
    top = torch.maximum(ta, tp)
    base = top - 344
    far_a = ta < top - 160
    far_p = tp < top - 160
    one = torch.ones_like(ma)
    ma2 = torch.where(far_a, torch.where(ma < 0, -one, one), ma)
    ea2 = torch.where(far_a, top - 160, ea)
    mh2 = torch.where(far_p, torch.where(mh < 0, -one, one), mh)
    eh2 = torch.where(far_p, top - 160, eh)
    ml2 = torch.where(far_p, torch.zeros_like(ml), ml)
    ok_a = ma != 0
    ok_p = mh != 0
    terms_m = torch.stack([torch.where(ok_a & ok_p, ma2, 0 * ma), torch.where(ok_a & ok_p, mh2, 0 * mh),
                           torch.where(ok_a & ok_p, ml2, 0 * ml)], 1)
    terms_e = torch.stack([ea2, eh2, torch.where(ml2 != 0, el, eh2)], 1)
    base_safe = torch.where(ok_a & ok_p, base, torch.zeros_like(base))
    terms_e = torch.where(terms_m != 0, terms_e, base_safe[:, None])
    dig = torch.zeros((n, _WD), dtype=_I64, device=acc.device)
    _add(dig, base_safe[:, None], terms_m, terms_e)
    neg = _magnitude(dig)
    zero = (dig == 0).all(1)
    safe = dig.clone()
    safe[:, 0] = torch.where(zero, torch.ones_like(safe[:, 0]), safe[:, 0])
    value = round_digits(safe, base_safe, neg, p, mode, r62)
    zeros = torch.zeros_like(acc)
    z = -zeros if mode == RoundingMode.DOWN else zeros
    z = round_pair(z, zeros, torch.zeros_like(base), p, mode, r62, ops=TORCH_OPS)
    value = torch.where(zero, z, value)
    # a zero product: IEEE's acc + (signed zero); a zero acc: the product rounded once
    s = acc + hp
    both_neg = (acc.view(_I64) < 0) & (hp.view(_I64) < 0)
    both_pos = (acc.view(_I64) >= 0) & (hp.view(_I64) >= 0)
    zs = torch.where(both_neg | (~both_pos if mode == RoundingMode.DOWN else both_neg), -zeros, zeros)
    s = torch.where(s == 0, zs, s)
    by_zero_p = round_pair(s, zeros, torch.zeros_like(base), p, mode, r62, ops=TORCH_OPS)
    by_zero_a = round_pair(hp, lp, sp, p, mode, r62, ops=TORCH_OPS)
    value = torch.where(~ok_a & ok_p, by_zero_a, value)
    return torch.where(~ok_p, by_zero_p, value)


def _bit_length_any(m: torch.Tensor) -> torch.Tensor:
    """``floor(log2|m|) + 1`` of int64 ``|m| < 2**62`` (1 for 0), exact through two halves."""
    a = m.abs()
    hi = a >> 31
    low = _bit_length((a & _M31).clamp(min=1))
    return torch.where(hi > 0, _bit_length(hi.clamp(min=1)) + 31, low)


__all__ = ["exact_dots", "exact_sums", "fma_round", "man_exp"]
