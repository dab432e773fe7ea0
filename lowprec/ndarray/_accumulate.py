"""Reductions and matrix products under the accumulation models of :mod:`lowprec.policy`."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..arith import binary, exact_in_binary64
from ..chop import chop, fast_arguments, fast_range
from ..errors import UnsupportedOperationError
from ..formats import FloatFormat
from ..policy import accumulation_model
from ..random import next_key
from ..rounding import _certificate, _exact_sum, _kernels, certify
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

    **Rounding.** ``sequential``, ``fma``: ``acc = x[0]``, then ``acc = round(acc op
    x[j])`` left to right (an accumulator format: rounded in it, then once into
    ``fmt``). ``pairwise`` (reductions): a balanced tree, each node rounded. ``exact``:
    each result (and each partial) is the exact sum or product rounded once, with IEEE
    signed zeros and specials (see :mod:`lowprec.policy`); random word ``i`` per row, or
    ``i*k + j`` per partial.

    Returns the final values (and every partial result when ``keep_partials``).
    """
    model = accumulation_model(model)
    op = _kernels.ADD if op_add else _kernels.MULTIPLY
    if model == "exact":
        return _exact_fold(op_add, np.ascontiguousarray(rows, dtype=np.float64), fmt, mode, keep_partials)
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


def _core_params(fmt, mode):
    """The rounding arguments of the kernels without the stream (``key``, ``offset``)."""
    p = rounding_params(fmt)
    return (p.t, p.emin, p.subnormal, p.xmax, p.overflow_value, p.inf_value, p.negzero, p.signed, int(mode))


#: The exact product of a row grows by ``t`` bits per factor and costs quadratic time:
#: beyond this many significand bits in all, ``prod`` under "exact" is an error.
EXACT_PROD_BITS = 1 << 18


def _exact_fold(op_add, rows, fmt, mode, keep):
    """``fold`` under "exact": each result (and each partial) the exact sum or product,
    rounded once (:mod:`lowprec.rounding._exact_sum`); random word ``i`` per row, or
    ``i*k + j`` per partial."""
    n, k = rows.shape
    key = _key(mode)
    params = _core_params(fmt, mode)
    if not op_add:
        if k * fmt.t > EXACT_PROD_BITS:
            raise UnsupportedOperationError(
                f"an exact product of {k} factors of {fmt.t} bits needs {k * fmt.t} significand bits "
                f"(the limit is {EXACT_PROD_BITS}); use another accumulation model for prod, e.g. "
                "with lp.accumulate('sequential'), or take the product of smaller pieces.")
        out = np.empty(n)
        partials = np.empty(rows.shape if keep else (1, 1))
        _exact_sum.prods_exact(rows, out, partials, keep, *params, key, 0)
        return out, (partials if keep else None)
    if keep:
        partials = np.empty(rows.shape)
        _exact_sum.cumsums_exact(rows, partials, *params, key, 0)
        return (partials[:, -1].copy() if k else np.zeros(n)), partials
    out, ok = _certified_sums(rows, fmt, mode, key)
    rest = np.flatnonzero(~ok)
    if rest.size:
        _exact_sum.sums_exact(rows, rest, out, *params, key, 0)
    return out, None


_CHUNK = 4096  #: elements per parallel piece of the binary64 sums of long rows


def _certified_sums(rows, fmt, mode, key):
    """The rounded sum of each row where its binary64 sum provably fixes it
    (:mod:`lowprec.rounding.certify`), and where it does. Few long rows are summed in
    parallel pieces, whose sums are then summed: one more order, the same bound."""
    n, k = rows.shape
    if not (n and k and certify.worth_trying(fmt.t, k)):
        return np.empty(n), np.zeros(n, dtype=bool)
    chunk = k if (n >= 8 or k <= 2 * _CHUNK) else _CHUNK
    pieces = -(-k // chunk)
    sums = np.empty((n, pieces))
    mags = np.empty((n, pieces))
    _certificate.sums_magnitudes(rows, chunk, sums, mags)
    with np.errstate(all="ignore"):
        if pieces > 1:
            sums, mags = sums.sum(axis=1), mags.sum(axis=1)
        else:
            sums, mags = sums[:, 0], mags[:, 0]
        r, ok = _round_certified(sums[:, None], mags, np.ones(1), k, fmt, mode, key)
    return r[:, 0], ok[:, 0]


def _round_certified(c, row, col, k, fmt, mode, key):
    """``(rounded c, ok)`` for the 2-D float result ``c`` of sums of ``k`` terms whose
    magnitudes sum to at most ``row[i] * col[j]`` (up to float rounding): where ``ok``, the
    rounding of ``c`` is provably that of the exact result (:mod:`lowprec.rounding.certify`),
    random word ``i`` of ``key`` for flat element ``i``. In the deterministic modes
    ``rounded`` is the rounding of ``c`` everywhere."""
    g, eta = certify.constants(k, 64)
    if mode.is_stochastic:  # both ends rounded with the same random words
        err = certify.error_bound(c, row[:, None] * col[None, :], k, 64, np)
        return certify.certified(c, err, _rounder(fmt, mode, key), fmt.emin, 64, np, fmt.subnormal)
    # one rounding; the interval checked against the cell of the result, in its pass
    c = np.ascontiguousarray(c, dtype=np.float64)
    r = np.empty(c.shape)
    ok = np.empty(c.shape, dtype=np.bool_)
    p = rounding_params(fmt)
    floor = certify.floor_of(fmt.emin, 64, fmt.subnormal)
    nbad = _certificate.round_certify(c, c.view(np.int64), r, r.view(np.int64),
                                      *fast_arguments(p, mode, key, np.dtype(np.float64)), row * (1 + 2 * g), col,
                                      g, eta, floor, float(p.xmax), np.array(_certificate.CELLS[mode]), ok)
    if nbad:  # what the cells leave out (overflow, binade edges): both ends rounded
        bad = np.flatnonzero(~ok)
        i, j = np.divmod(bad, c.shape[1])
        cb = c.reshape(-1)[bad]
        err = certify.error_bound(cb, row[i] * col[j % col.size], k, 64, np)
        rb, okb = certify.certified(cb, err, _rounder(fmt, mode, key), fmt.emin, 64, np, fmt.subnormal)
        ok.reshape(-1)[bad[okb]] = True  # (rb is r there)
    return r, ok


def _rounder(fmt, mode, key):
    """Rounding of an array into ``fmt`` with random word ``i`` of ``key`` for flat element ``i``."""
    def round_fn(v):
        r = np.empty(v.shape)
        _round_keyed(v, r, fmt, mode, key)
        return r
    return round_fn


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


def matmul(a: np.ndarray, b: np.ndarray, fmt, mode, model=None, product=None) -> np.ndarray:
    """``a @ b`` of format values under the accumulation model.

    **Rounding.** ``sequential``: each product correctly rounded, then each partial sum
    rounded, ``k`` ascending. ``fma``: the first product rounded, then each step ``acc +
    a*b`` rounded once with the exact product. ``pairwise``: products correctly rounded,
    then a balanced tree of rounded sums. ``exact``: the exact real dot product rounded
    once (IEEE signed zeros; infinities and NaN as IEEE; no intermediate overflow). A
    wider format: the steps of ``fma`` rounded in it, the result rounded once into ``fmt``.
    Every model is exact in every format and mode (also ``t > 26`` and exponent ranges
    beyond binary64's products). ``product``: the binary64 ``a @ b`` of 2-D arrays that the
    exact model certifies (default NumPy's BLAS; LPTensor passes torch's, so that a torch
    program runs one BLAS thread pool, not two fighting for the cores).
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
        result = np.stack([_matmul2(x, y, fmt, mode, model, product) for x, y in zip(a3, b3)])
        result = result.reshape(shape + result.shape[-2:])
    else:
        result = _matmul2(a2, b2, fmt, mode, model, product)
    if a.ndim == 1:
        result = result[..., 0, :]
    if b.ndim == 1:
        result = result[..., 0]
    return result


def _matmul2(a, b, fmt, mode, model, product=None):
    if model == "exact":
        return _exact_matmul(np.ascontiguousarray(a), np.ascontiguousarray(b), fmt, mode, product)
    if model == "pairwise":
        if _products_exact(a, b, fmt):  # binary64 products are exact: round them
            with np.errstate(invalid="ignore"):  # inf * 0 is NaN, as it should be
                products = chop(a[:, :, None] * b[None, :, :], fmt, mode)
        else:  # correctly rounded products (exact_product + round_pair)
            x = np.broadcast_to(a[:, :, None], (a.shape[0], a.shape[1], b.shape[1])).reshape(-1)
            y = np.broadcast_to(b[None, :, :], (a.shape[0], a.shape[1], b.shape[1])).reshape(-1)
            products = binary(_kernels.MULTIPLY, x, y, rounding_params(fmt), mode, _key(mode), on_grid=True)
            products = products.reshape(a.shape[0], a.shape[1], b.shape[1])
        rows = np.ascontiguousarray(np.moveaxis(products, 1, -1)).reshape(-1, a.shape[1])
        return _pairwise(_kernels.ADD, rows, fmt, mode).reshape(a.shape[0], b.shape[1])
    acc_fmt = model if isinstance(model, FloatFormat) else fmt
    fused = model != "sequential"
    out = np.empty((a.shape[0], b.shape[1]))
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    if fused and not _products_exact(a, b, fmt):  # products beyond binary64: exact fused steps
        _exact_sum.matmul_fused(a, b, out, *_kernel_params(acc_fmt, mode))
    elif _products_exact(a, b, fmt) and rounding_params(acc_fmt).t < 52:
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


def _exact_matmul(a, b, fmt, mode, product=None):
    """``a @ b`` (2-D) under "exact": every entry the exact dot product rounded once
    (random word ``i*n + j`` of one key). Entries that binary64 provably gets exactly
    (:func:`_certified`) come from BLAS: from one product, or, when that certifies too
    few, from the two products of ``a`` split by magnitude (their sum an exact TwoSum
    pair, rounded once); up to a quarter of uncertified entries are summed in binary64
    with a TwoSum check of every step (:func:`lowprec.rounding._exact_sum.dots_checked`);
    what remains (inexact there, zero or special results, formats of more than 26 bits)
    goes to the integer superaccumulator."""
    m, kk = a.shape
    n = b.shape[1]
    key = _key(mode)
    params = _core_params(fmt, mode)
    done, product_ab, stats = None, None, None  # what the interval certificate fixed; its BLAS product
    if m and n and kk and certify.worth_trying(fmt.t, kk):
        fixed, done, product_ab, stats = _interval_matmul(a, b, fmt, mode, key, product)
        if done.all():
            return fixed
        ii, jj = np.nonzero(~done)
        if ii.size < 8 * (m + n):  # a few entries: split each product where it is needed
            cols, jj_at = np.unique(jj, return_inverse=True)  # (transposing all of b costs more)
            bt = np.ascontiguousarray(b[:, cols].T)
            _exact_sum.dots_exact_direct(a, bt, ii, jj, jj_at.reshape(-1), fixed, *params, key, 0)
            return fixed
    out = np.empty((m, n)) if done is None else fixed.copy()
    todo = np.ones((m, n), dtype=bool) if done is None else ~done
    if m and n and kk and fmt.t <= 26:  # wider formats: no binary64 product is certified
        sa, sb = stats or (_stats(a, rows=True), _stats(b, rows=False))
        ok = _certified(sa, sb, fmt, kk)
        lo = None
        if ok.mean() < 0.9:
            a_hi, a_lo = _split(a, fmt, sa)
            ok2 = _certified(_stats(a_hi, rows=True), sb, fmt, kk) & _certified(_stats(a_lo, rows=True), sb, fmt, kk)
            if ok2.sum() > ok.sum():
                ok = ok2
                with np.errstate(all="ignore"):
                    c1, c2 = a_hi @ b, a_lo @ b
                    c = c1 + c2  # TwoSum: c + lo == c1 + c2 exactly
                    bb = c - c1
                    lo = (c1 - (c - bb)) + (c2 - bb)
        if ok.any():
            if lo is None:
                with np.errstate(all="ignore"):
                    c = a @ b if product_ab is None else product_ab  # (not computed twice)
            ok &= (c != 0) & (np.abs(c) < np.inf)
        else:
            c = np.zeros((m, n))
        bt = np.ascontiguousarray(b.T)
        ii, jj = np.nonzero(~ok)
        if 0 < ii.size <= m * n // 4:  # the rest in binary64 with a TwoSum check (cheap)
            if lo is not None:
                lo[ii, jj] = 0.0
            _exact_sum.dots_checked(a, bt, ii, jj, c, ok)
        _round_keyed(c, out, fmt, mode, key)
        if lo is not None:
            _exact_sum.round_pairs(c.reshape(-1), lo.reshape(-1), ok.reshape(-1), out.reshape(-1), *params, key, 0)
        todo = ~ok if done is None else ~ok & ~done
        if done is not None:  # round(c) above is not theirs where c is not certified exact
            out[done] = fixed[done]
        if not todo.any():
            return out
    else:
        bt = np.ascontiguousarray(b.T)
    ii, jj = np.nonzero(todo)
    if ii.size < 8 * (m + n):  # a few entries: split each product where it is needed
        _exact_sum.dots_exact_direct(a, bt, ii, jj, jj, out, *params, key, 0)
    else:  # many: integer significands of every element once
        _exact_sum.dots_exact(*_decomposed(a), *_decomposed(bt), ii, jj, out, *params, key, 0)
    return out


def _interval_matmul(a, b, fmt, mode, key, product=None):
    """``(rounded, ok, c, stats)``: ``c = a @ b`` by BLAS, its rounding, and where that
    provably is the rounding of each exact entry: by :mod:`lowprec.rounding.certify`
    (Cauchy-Schwarz for the sum of magnitudes), or, for what that leaves (exact ties and
    grid hits), where ``c`` is exact (:func:`_spans`) and nonzero. ``stats``: the
    :func:`_stats` of the rows of ``a`` and the columns of ``b``."""
    m, k = a.shape
    with np.errstate(all="ignore"):
        # before BLAS: its threads spin a while after it, and slow what runs then
        (row, sa), (col, sb) = _summaries(a, rows=True), _summaries(b, rows=False)
        c = a @ b if product is None else product(a, b)
        row = certify.norm_bound(row, k, 64, np)
        col = certify.norm_bound(col, k, 64, np)
        g, _ = certify.constants(k, 64)  # (1 + 2g): the rounding of the norms' product
        r, ok = _round_certified(c, row * (1 + 2 * g), col, k, fmt, mode, key)
    bad = np.flatnonzero(~ok)
    stats = sa, sb
    if not bad.size or fmt.t > 26:
        return r, ok, c, stats
    pa, pb = _spans(*stats, fmt, k)
    i, j = np.divmod(bad, c.shape[1])
    exact = ((pa[0][i] + pb[0][j] <= 0) & (pa[1][i] + pb[1][j] >= 0) & (pa[2][i] + pb[2][j] <= 0)
             & (c.reshape(-1)[bad] != 0))
    if exact.any():
        if mode.is_stochastic:  # r is the rounding of an end of the interval
            r.reshape(-1)[bad[exact]] = _rounder(fmt, mode, key)(c).reshape(-1)[bad[exact]]
        ok.reshape(-1)[bad[exact]] = True
    return r, ok, c, stats


class _KeySpec(NamedTuple):
    """What :func:`lowprec.chop._round_contiguous` reads of a spec, with a given key."""

    fmt: FloatFormat
    mode: object
    fixed: np.uint64
    flip: bool = False
    p: float = 0.5

    def key(self) -> np.uint64:
        return self.fixed


def _round_keyed(x, out, fmt, mode, key):
    """``out = round(x)`` elementwise by the fast rounding kernel with the random word
    ``i`` of ``key`` for flat element ``i`` (C order)."""
    from ..chop import _round_contiguous

    x = np.ascontiguousarray(x, dtype=np.float64)
    _round_contiguous(x, out, _KeySpec(fmt, mode, key), rounding_params(fmt), np.dtype(np.float64))


def _stats(x, rows: bool):
    """Per row (or column) of ``x``: the largest magnitude, the smallest nonzero one and
    whether all are finite (:func:`_summaries`)."""
    return _summaries(x, rows)[1]


def _summaries(x, rows: bool):
    """``(sums of squares, (largest finite magnitudes, smallest nonzero ones (inf if
    none), all finite))`` of the rows (or columns) of ``x``, in one pass."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    n = x.shape[0] if rows else x.shape[1]
    squares, top, low = np.empty(n), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    (_certificate.row_summaries if rows else _certificate.col_summaries)(x, x.view(np.int64), squares, top, low)
    finite = top < _INF_BITS
    big = np.where(finite, top.view(np.float64), 0.0)
    small = np.where(low < _INF_BITS, low.view(np.float64), np.inf)
    return squares, (big, small, finite)


_INF_BITS = int(np.array(np.inf).view(np.int64))


def _spans(sa, sb, fmt, k):
    """``(span_a, span_b)``, int64 of shapes ``(3, rows of a)`` and ``(3, columns of b)``:
    ``(a @ b)[i, j]`` is exact in binary64 whatever the order of the sum where
    ``span_a[0, i] + span_b[0, j] <= 0``, ``span_a[1, i] + span_b[1, j] >= 0`` and
    ``span_a[2, i] + span_b[2, j] <= 0``, from the row statistics ``sa`` of ``a`` and the
    column statistics ``sb`` of ``b`` (:func:`_stats`). Every nonzero format value ``x`` is
    a multiple of ``2**(max(e_x, emin) - t + 1)``: the products of row ``i`` and column
    ``j`` are multiples of ``2**(qa_i + qb_j)`` below ``2**(ea_i + eb_j)``, and so is every
    partial sum (times ``k``). Exact when that takes at most 53 bits, the quantum is at
    least binary64's ``2**-1074`` and the bound stays below ``2**1020``. Never where the
    products themselves may not be exact (``t > 26``) or a value is not finite."""
    width = int(np.ceil(np.log2(k))) if k > 1 else 0

    def parts(s):
        big, small, finite = s
        top = np.frexp(big)[1].astype(np.int64)  # big < 2**top
        quantum = np.maximum(np.frexp(np.where(small < np.inf, small, 1.0))[1] - 1, fmt.emin) - (fmt.t - 1)
        never = ~finite | (fmt.t > 26)
        return np.stack([np.where(never, 10 ** 6, top - quantum), quantum.astype(np.int64), top])

    pa, pb = parts(sa), parts(sb)
    pa += np.array([[width - 53], [1074], [width - 1020]])
    return pa, pb


def _certified(sa, sb, fmt, k) -> np.ndarray:
    """Where ``(a @ b)[i, j]`` is exact in binary64 whatever the order of the sum
    (:func:`_spans`)."""
    pa, pb = _spans(sa, sb, fmt, k)
    if pa[0].max() + pb[0].max() <= 0 and pa[1].min() + pb[1].min() >= 0 and pa[2].max() + pb[2].max() <= 0:
        return np.ones((pa.shape[1], pb.shape[1]), dtype=bool)
    if pa[1].min() + pb[1].min() >= 0 and pa[2].max() + pb[2].max() <= 0:  # the common case
        return pb[0].astype(np.int32)[None, :] <= (-pa[0]).astype(np.int32)[:, None]
    return ((pa[0][:, None] + pb[0][None, :] <= 0) & (pa[1][:, None] + pb[1][None, :] >= 0)
            & (pa[2][:, None] + pb[2][None, :] <= 0))


def _split(a, fmt, sa):
    """``a == a_hi + a_lo`` exactly: the elements of magnitude at least ``2**tau`` and
    the others, ``tau`` halfway between the largest exponent and the smallest quantum
    (from the row statistics ``sa``), so that each part spans about half the bits."""
    big, small, _ = sa
    if not (small < np.inf).any():
        return a, np.zeros_like(a)
    top = int(np.frexp(big.max())[1])
    bottom = max(int(np.frexp(small.min())[1]) - 1, fmt.emin) - (fmt.t - 1)
    tau = float(np.ldexp(1.0, min(max((top + bottom + fmt.t) // 2, -1074), 1023)))
    with np.errstate(invalid="ignore"):  # inf rows give NaN parts: never certified
        hi = a * (np.abs(a) >= tau)  # a or a signed zero; NaN goes to the low part
        return hi, a - hi


def _decomposed(x):
    man = np.empty(x.shape, dtype=np.int64)
    ex = np.empty(x.shape, dtype=np.int64)
    cls = np.empty(x.shape, dtype=np.int8)
    neg = np.empty(x.shape, dtype=np.bool_)
    _exact_sum.decompose(x, man, ex, cls, neg)
    return man, ex, cls, neg
