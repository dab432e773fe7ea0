"""LU factorization in emulated fp16, refined to double accuracy: plain NumPy code.

The functions below are ordinary NumPy (slicing, outer-product updates, scalar loops);
handed an LPFloat they run in emulated half precision, every operation rounded. The
residuals of the refinement are computed in double, on plain arrays.

Run: python examples/lu_refinement.py [n] [cond]
"""

from __future__ import annotations

import sys

import numpy as np

import lowprec as lp


def lu_inplace(A):
    """Gaussian elimination with partial pivoting, overwriting A with L\\U."""
    n = A.shape[0]
    piv = np.arange(n)
    for k in range(n - 1):
        p = k + int(np.argmax(np.abs(A[k:, k])))
        if p != k:
            A[[k, p]] = A[[p, k]]
            piv[[k, p]] = piv[[p, k]]
        A[k + 1:, k] /= A[k, k]
        A[k + 1:, k + 1:] -= np.outer(A[k + 1:, k], A[k, k + 1:])
    return A, piv


def lu_solve(LU, piv, b):
    """Forward and back substitution, one dot product per row."""
    n = b.shape[0]
    x = b[piv]
    for i in range(1, n):
        x[i] = x[i] - LU[i, :i] @ x[:i]
    for i in range(n - 1, -1, -1):
        x[i] = (x[i] - LU[i, i + 1:] @ x[i + 1:]) / LU[i, i]
    return x


def test_matrix(n: int, cond: float, seed: int = 0) -> np.ndarray:
    """A random n x n matrix with 2-norm condition number ``cond``."""
    rng = np.random.default_rng(seed)
    q1, _ = np.linalg.qr(rng.standard_normal((n, n)))
    q2, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return q1 @ np.diag(np.logspace(0, -np.log10(cond), n)) @ q2


def refine(A, b, fmt="half", iterations=30):
    """Factor in ``fmt``, compute residuals in double, correct; return x and the history
    of normwise relative backward errors."""
    LU, piv = lu_inplace(lp.asarray(A, fmt))
    x = np.asarray(lu_solve(LU, piv, lp.asarray(b, fmt)), dtype=np.float64)
    history = []
    for _ in range(iterations):
        r = b - A @ x
        history.append(np.linalg.norm(r, np.inf) / (np.linalg.norm(A, np.inf) * np.linalg.norm(x, np.inf)))
        if history[-1] < 2 * np.finfo(float).eps:
            break
        scale = 2.0 ** -np.ceil(np.log2(np.abs(r).max()))  # keep r inside fp16's range
        d = np.asarray(lu_solve(LU, piv, lp.asarray(r * scale, fmt)), dtype=np.float64) / scale
        x = x + d
    return x, history


def main(n: int = 100, cond: float = 1e3) -> None:
    A = test_matrix(n, cond)
    x_true = np.ones(n)
    b = A @ x_true
    x, history = refine(A, b)
    for i, h in enumerate(history):
        print(f"iteration {i:2d}: backward error {h:.2e}")
    print(f"forward error {np.linalg.norm(x - x_true, np.inf):.2e}")


if __name__ == "__main__":
    main(*(float(a) if i else int(a) for i, a in enumerate(sys.argv[1:])))
