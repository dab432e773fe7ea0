"""lp.linalg and np.linalg on LPFloat: every operation rounded under the accumulation model."""

import numpy as np
import pytest

import lowprec as lp
from lowprec.errors import UnsupportedOperationError


def r(x, fmt="half"):
    return float(lp.chop(np.float64(x), fmt))


def reference_lu(A, fmt="half", fused=False):
    """Right-looking LU with partial pivoting, one scalar operation at a time."""
    a = lp.chop(np.array(A, dtype=np.float64), fmt)
    n = a.shape[0]
    piv = np.arange(n)
    for k in range(n):
        p = k + int(np.argmax(np.abs(a[k:, k])))
        piv[k] = p
        a[[k, p]] = a[[p, k]]
        for i in range(k + 1, n):
            a[i, k] = r(a[i, k] / a[k, k], fmt)
            for j in range(k + 1, n):
                if fused:
                    a[i, j] = float(lp.fma(-a[i, k], a[k, j], a[i, j], fmt))
                else:
                    a[i, j] = r(a[i, j] - r(a[i, k] * a[k, j], fmt), fmt)
    return a, piv


@pytest.fixture
def A():
    rng = np.random.default_rng(5)
    return rng.standard_normal((7, 7))


@pytest.mark.parametrize("fmt", ["half", "bf16", "e4m3"])
def test_lu_factor_matches_the_scalar_reference(A, fmt):
    lu, piv = lp.linalg.lu_factor(lp.asarray(A, fmt))
    ref, ref_piv = reference_lu(A, fmt)
    np.testing.assert_array_equal(lu.values, ref)
    np.testing.assert_array_equal(piv, ref_piv)


def test_lu_factor_fma_model(A):
    with lp.accumulate("fma"):
        lu, _ = lp.linalg.lu_factor(lp.asarray(A, "half"))
    ref, _ = reference_lu(A, "half", fused=True)
    np.testing.assert_array_equal(lu.values, ref)
    seq, _ = lp.linalg.lu_factor(lp.asarray(A, "half"))
    assert not np.array_equal(lu.values, seq.values)


def test_lu_factor_exact_and_wide_models(A):
    lu_exact, piv = lp.linalg.lu_factor(lp.asarray(A, "half"), model="exact")
    np.testing.assert_array_equal(lu_exact.values, lp.chop(lu_exact.values, "half"))
    P = np.eye(7)
    for k, p in enumerate(piv):
        P[[k, p]] = P[[p, k]]
    L = np.tril(lu_exact.values, -1) + np.eye(7)
    U = np.triu(lu_exact.values)
    assert np.abs(P @ lp.chop(A, "half") - L @ U).max() < 20 * 2 ** -11 * np.abs(A).max()
    lu_wide, _ = lp.linalg.lu_factor(lp.asarray(A, "half"), model="fp32")
    assert lu_wide.format == lp.format("half")
    np.testing.assert_array_equal(lu_wide.values, lp.chop(lu_wide.values, "half"))
    with pytest.raises(UnsupportedOperationError, match="pairwise"):
        lp.linalg.lu_factor(lp.asarray(A, "half"), model="pairwise")


def test_solve_inv_det(A):
    a = lp.asarray(A, "half")
    b = np.arange(7.0)
    x = np.linalg.solve(a, b)
    assert isinstance(x, lp.LPFloat) and x.format == a.format
    x_true = np.linalg.solve(lp.chop(A, "half"), b)
    assert np.abs(x.values - x_true).max() / np.abs(x_true).max() < 0.05
    np.testing.assert_array_equal(x.values, lp.linalg.lu_solve(lp.linalg.lu_factor(a), b).values)
    inv = np.linalg.inv(a)
    assert np.abs(inv.values @ a.values - np.eye(7)).max() < 0.05
    d = np.linalg.det(a)
    assert abs(float(d) - np.linalg.det(a.values)) / abs(np.linalg.det(a.values)) < 0.02
    lu, piv = lp.linalg.lu_factor(a)
    prod = 1.0
    for v in np.diagonal(lu.values):
        prod = r(prod * v)
    swaps = np.count_nonzero(piv != np.arange(7))
    assert float(d) == (-prod if swaps % 2 else prod)


def test_lu_solve_matches_scalar_substitution(A):
    a = lp.asarray(A, "half")
    lu, piv = lp.linalg.lu_factor(a)
    b = lp.chop(np.linspace(-1, 1, 7), "half")
    y = b.copy()
    for k, p in enumerate(piv):
        y[[k, p]] = y[[p, k]]
    L = lu.values
    for j in range(7):
        for i in range(j + 1, 7):
            y[i] = r(y[i] - r(L[i, j] * y[j]))
    for j in range(6, -1, -1):
        y[j] = r(y[j] / L[j, j])
        for i in range(j):
            y[i] = r(y[i] - r(L[i, j] * y[j]))
    np.testing.assert_array_equal(lp.linalg.lu_solve((lu, piv), b).values, y)


def test_cholesky():
    rng = np.random.default_rng(2)
    M = rng.standard_normal((6, 6))
    S = M @ M.T + 6 * np.eye(6)
    low = np.linalg.cholesky(lp.asarray(S, "half"))
    assert isinstance(low, lp.LPFloat)
    s = lp.chop(S, "half")
    ref = np.zeros((6, 6))
    work = s.copy()
    for k in range(6):
        ref[k, k] = r(np.sqrt(work[k, k]))
        for i in range(k + 1, 6):
            ref[i, k] = r(work[i, k] / ref[k, k])
        for i in range(k + 1, 6):
            for j in range(k + 1, 6):
                work[i, j] = r(work[i, j] - r(ref[i, k] * ref[j, k]))
    np.testing.assert_array_equal(low.values, ref)
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(lp.asarray(-np.eye(3), "half"))


def test_refine_reaches_double_accuracy():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((30, 30)) + 10 * np.eye(30)
    x_true = rng.standard_normal(30)
    x, history = lp.linalg.refine(A, A @ x_true, "half")
    assert history[0] > 1e-6 and history[-1] < 1e-15
    assert np.abs(x - x_true).max() < 1e-12


def test_non_square_is_an_error():
    with pytest.raises(np.linalg.LinAlgError, match="square"):
        lp.linalg.lu_factor(lp.asarray(np.ones((2, 3)), "half"))
