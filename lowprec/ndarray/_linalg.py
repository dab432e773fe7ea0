"""Emulated dense linear algebra: LU with partial pivoting, triangular solves,
``solve``, ``inv``, ``det``, ``cholesky``, and mixed-precision iterative refinement.

Every operation is an emulated LPFloat operation, so each is rounded into the format;
the accumulation model (:mod:`lowprec.policy`) decides how the updates round:

* ``"sequential"`` (default): each product rounded, then each difference, in the order
  of the right-looking algorithm (element ``a_ij`` receives ``- l_ik u_kj`` for
  ``k = 0, 1, ...``): the standard model of LU's error analysis.
* ``"fma"``: each update ``a_ij - l_ik u_kj`` rounded once.
* a wider format (``"fp32"``): the trailing matrix is kept and updated in that format;
  each entry of ``L`` and ``U`` is rounded into the working format when it is final.
* ``"exact"``: the factorization computed in binary64, its factors rounded once.
* ``"pairwise"`` has no meaning for these recurrences: an error says so.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..errors import UnsupportedOperationError
from ..formats import FloatFormat
from ..policy import accumulate, accumulation_model
from ._functions import dispatched


def _lp(x):
    from ._float import LPFloat
    if not isinstance(x, LPFloat):
        raise TypeError(f"expected an LPFloat (lp.asarray(x, fmt)), got {type(x).__name__}.")
    return x


def _as(template, values):
    from ._float import asarray
    return asarray(values, template.format, template.rmode, dtype=template.dtype)


def _square(a, name):
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise np.linalg.LinAlgError(f"{name}: expected a square matrix, got shape {a.shape}.")


def _update(a, l, u, model):
    """``a - outer(l, u)`` under the model (``a`` in the working or accumulator format)."""
    if model == "fma":
        from ..arith import fma
        values = fma(-l.values[:, None], u.values[None, :], a.values, a.format, a.rmode)
        return type(a)._wrap(values, a.format, a.rmode)
    return a - np.multiply.outer(l, u)


def lu_factor(a, *, model=None) -> Tuple["np.ndarray", np.ndarray]:
    """LU factorization with partial pivoting, emulated.

    Parameters
    ----------
    a : LPFloat, shape (n, n)
    model : str or format, optional
        Accumulation model (default: the one in force, see :func:`lowprec.accumulate`).

    Returns
    -------
    lu : LPFloat
        ``U`` in the upper triangle, the multipliers of ``L`` (unit diagonal) below.
    piv : ndarray of int
        Row ``i`` was interchanged with row ``piv[i]`` (LAPACK/SciPy convention).

    Notes
    -----
    **Rounding:** each multiplier ``a_ik / a_kk`` correctly rounded; the trailing
    updates as described in :mod:`lowprec.ndarray._linalg`.

    **Singular matrices:** as LAPACK's ``getrf`` (and so NumPy): when the pivot column is
    exactly zero in the emulated arithmetic, ``U[k, k]`` is an exact zero, the column's
    multipliers stay zero and the factorization goes on (no error).
    :func:`singular` tells; ``solve``/``inv`` then raise ``LinAlgError("Singular
    matrix")`` and ``det`` is ``0.0``. A matrix singular in exact arithmetic may well
    factor with nonzero pivots after rounding (and a regular one hit a zero pivot), as
    in binary64 NumPy: the test is the emulated LU's exact zero pivot, nothing else.
    """
    a = _lp(a)
    _square(a, "lu_factor")
    model = accumulation_model(model)
    if model == "pairwise":
        raise UnsupportedOperationError("lu_factor: the 'pairwise' model does not apply to LU's recurrences; "
                                        "use 'sequential', 'fma', 'exact' or a wider format.")
    if model == "exact":
        lu, piv = _lu_float64(np.asarray(a, dtype=np.float64))
        return _as(a, lu), piv
    wide = isinstance(model, FloatFormat)
    work = _in_format(a, model) if wide else a.copy()
    final = (lambda x: _in_format(_in_format(x, a.format), model)) if wide else (lambda x: x)
    n = a.shape[0]
    piv = np.arange(n)
    with accumulate("sequential"):
        for k in range(n):
            p = k + int(np.argmax(np.abs(work.values[k:, k])))
            piv[k] = p
            if p != k:
                work.values[[k, p]] = work.values[[p, k]]
            work[k, k:] = final(work[k, k:])  # row k of U is final
            if k + 1 == n:
                break
            if work.values[k, k] == 0:  # a zero pivot column (getrf: info > 0): nothing to eliminate
                continue
            col = final(work[k + 1:, k] / work[k, k])
            work[k + 1:, k] = col
            work[k + 1:, k + 1:] = _update(work[k + 1:, k + 1:], col, work[k, k + 1:], model)
    return (_in_format(work, a.format) if wide else work), piv


def _in_format(x, fmt):
    """The LPFloat ``x`` rounded into ``fmt`` (same mode and storage)."""
    from ._float import asarray
    return asarray(x.values, fmt, x.rmode, dtype=x.dtype)


def _lu_float64(a: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    a = a.copy()
    n = a.shape[0]
    piv = np.arange(n)
    for k in range(n):
        p = k + int(np.argmax(np.abs(a[k:, k])))
        piv[k] = p
        a[[k, p]] = a[[p, k]]
        if k + 1 < n and a[k, k] != 0:  # a zero pivot column: nothing to eliminate (getrf)
            with np.errstate(all="ignore"):
                a[k + 1:, k] /= a[k, k]
                a[k + 1:, k + 1:] -= np.outer(a[k + 1:, k], a[k, k + 1:])
    return a, piv


def lu_solve(lu_and_piv, b, *, model=None):
    """Solve ``A x = b`` from :func:`lu_factor`'s output, emulated.

    Parameters
    ----------
    lu_and_piv : (LPFloat, ndarray)
    b : array_like, shape (n,) or (n, k)
        Plain arrays are rounded into the factor's format first.
    model : str or format, optional

    Returns
    -------
    LPFloat

    Notes
    -----
    **Rounding:** forward then back substitution, column oriented: ``y[j+1:] -=
    L[j+1:, j] * y[j]`` (products and differences rounded, or fused under ``"fma"``),
    ``x[j] = y[j] / U[j, j]`` correctly rounded.
    """
    lu, piv = lu_and_piv
    lu = _lp(lu)
    if singular(lu):
        raise np.linalg.LinAlgError("Singular matrix")
    model = accumulation_model(model)
    if isinstance(model, FloatFormat) or model in ("exact", "pairwise"):
        model = "sequential" if model != "fma" else model
    x = _as(lu, np.asarray(b)).copy() if not hasattr(b, "format") else b.copy()
    if x.shape[0] != lu.shape[0]:
        raise ValueError(f"lu_solve: b has {x.shape[0]} rows, the matrix {lu.shape[0]}.")
    for k, p in enumerate(piv):
        if p != k:
            x.values[[k, p]] = x.values[[p, k]]
    n = lu.shape[0]
    with accumulate("sequential"):
        for j in range(n - 1):
            x[j + 1:] = _axpy(x[j + 1:], lu[j + 1:, j], x[j], model)
        for j in range(n - 1, -1, -1):
            x[j] = x[j] / lu[j, j]
            if j:
                x[:j] = _axpy(x[:j], lu[:j, j], x[j], model)
    return x


def singular(lu) -> bool:
    """Whether :func:`lu_factor`'s factors have an exact zero pivot (``U[k, k] == 0``):
    the matrix is singular in the emulated arithmetic (LAPACK's ``info > 0``)."""
    return bool(np.any(np.diagonal(np.asarray(lu)) == 0))


def _axpy(y, col, xj, model):
    """``y - col * xj`` (``col`` a column, ``xj`` a scalar or a row), per the model."""
    col = col.reshape(col.shape + (1,) * (y.ndim - 1))
    if model == "fma":
        from ..arith import fma
        values = fma(-np.asarray(col), np.asarray(xj), np.asarray(y), y.format, y.rmode)
        return type(y)._wrap(np.asarray(values).reshape(y.shape), y.format, y.rmode)
    return y - col * xj


@dispatched(np.linalg.solve)
def solve(a, b):
    """Emulated solve. **Rounding:** :func:`lu_factor` then :func:`lu_solve`."""
    return lu_solve(lu_factor(a), b)


@dispatched(np.linalg.inv)
def inv(a):
    """Emulated inverse. **Rounding:** :func:`lu_factor`, then :func:`lu_solve` with
    the identity's columns."""
    a = _lp(a)
    _square(a, "inv")
    return lu_solve(lu_factor(a), np.eye(a.shape[0]))


@dispatched(np.linalg.det)
def det(a):
    """Emulated determinant. **Rounding:** :func:`lu_factor`, then the product of the
    pivots under the accumulation model, its sign flipped per interchange."""
    lu, piv = lu_factor(a)
    if singular(lu):  # an exact zero pivot: 0.0, as NumPy (its det is 0 whenever getrf reports one)
        return _as(lu, np.float64(0.0))
    d = np.prod(np.diagonal(lu))
    return -d if np.count_nonzero(piv != np.arange(piv.size)) % 2 else d


@dispatched(np.linalg.cholesky)
def cholesky(a, /, *, upper=False):
    """Emulated Cholesky factorization. **Rounding:** right-looking: ``l_kk =
    sqrt(a_kk)`` and ``l_ik = a_ik / l_kk`` correctly rounded, trailing updates as in
    :func:`lu_factor`. A non-positive pivot raises ``LinAlgError``."""
    a = _lp(a)
    _square(a, "cholesky")
    model = accumulation_model()
    if model == "pairwise" or isinstance(model, FloatFormat) or model == "exact":
        model = "sequential" if model != "exact" else "exact"
    if model == "exact":
        low = np.linalg.cholesky(np.asarray(a, dtype=np.float64))
        result = _as(a, low)
    else:
        work = a.copy()
        n = a.shape[0]
        with accumulate("sequential"):
            for k in range(n):
                if not work.values[k, k] > 0:
                    raise np.linalg.LinAlgError("Matrix is not positive definite")
                work[k, k] = np.sqrt(work[k, k])
                if k + 1 < n:
                    work[k + 1:, k] = work[k + 1:, k] / work[k, k]
                    work[k + 1:, k + 1:] = _update(work[k + 1:, k + 1:], work[k + 1:, k], work[k + 1:, k], model)
        result = np.tril(work)
    return np.transpose(result) if upper else result


def refine(a, b, fmt="half", *, residual: str = "double", rmode=1, maxiter: int = 10,
           tol: Optional[float] = None):
    """Mixed-precision iterative refinement: factor ``a`` in ``fmt``, compute residuals
    in ``residual``, correct in ``fmt``'s factors.

    Parameters
    ----------
    a, b : array_like
        The system ``a x = b`` (plain values; ``a`` is rounded into ``fmt`` to factor).
    fmt : format, default "half"
        Precision of the LU factorization and of the correction solves.
    residual : format, default "double"
        Precision of ``r = b - a x`` (and of ``x``'s updates).
    maxiter : int
    tol : float, optional
        Stop when ``||dx||_inf <= tol * ||x||_inf`` (default: the residual format's ``u``).

    Returns
    -------
    x : ndarray
        The refined solution (plain float64 values).
    history : list of float
        ``||b - a x||_inf / (||a||_inf ||x||_inf)`` after each iteration (the first
        entry is for the unrefined solution).
    """
    from ..formats import format as as_format
    from ._float import asarray
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    res_fmt = as_format(residual)
    tol = res_fmt.u if tol is None else tol
    factors = lu_factor(asarray(a64, fmt, rmode))
    x = np.asarray(lu_solve(factors, b64), dtype=np.float64)
    ar = asarray(a64, res_fmt, rmode)
    history = []
    for _ in range(maxiter):
        r = np.asarray(asarray(b64, res_fmt, rmode) - ar @ asarray(x, res_fmt, rmode), dtype=np.float64)
        history.append(float(np.max(np.abs(r)) / (np.max(np.sum(np.abs(a64), axis=1)) * np.max(np.abs(x)))))
        # r is tiny: scaled by a power of two into the format's range before it is rounded
        # into fmt for the correction solve (which is linear), scaled back exactly after.
        scale = 2.0 ** -np.ceil(np.log2(np.max(np.abs(r)))) if np.any(r) else 1.0
        d = np.asarray(lu_solve(factors, r * scale), dtype=np.float64) / scale
        x = np.asarray(asarray(x, res_fmt, rmode) + asarray(d, res_fmt, rmode), dtype=np.float64)
        if np.max(np.abs(d)) <= tol * np.max(np.abs(x)):
            break
    r = b64 - a64 @ x
    history.append(float(np.max(np.abs(r)) / (np.max(np.sum(np.abs(a64), axis=1)) * np.max(np.abs(x)))))
    return x, history

