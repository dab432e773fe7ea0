"""Accumulation models for reductions and matrix products."""

import numpy as np
import pytest

import lowprec as lp
from lowprec import arith


@pytest.fixture
def ab():
    rng = np.random.default_rng(0)
    return (lp.asarray(rng.standard_normal((7, 9)), "bf16"), lp.asarray(rng.standard_normal((9, 5)), "bf16"))


def loop_matmul(a, b, fused, fmt="bf16", mode=1):
    out = np.zeros((a.shape[0], b.shape[1]))
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            acc = None
            for k in range(a.shape[1]):
                if fused:
                    acc = (arith.multiply(a[i, k], b[k, j], fmt, mode) if acc is None
                           else arith.fma(a[i, k], b[k, j], acc, fmt, mode))
                else:
                    p = arith.multiply(a[i, k], b[k, j], fmt, mode)
                    acc = p if acc is None else arith.add(acc, p, fmt, mode)
            out[i, j] = acc
    return out


@pytest.mark.parametrize("mode", [1, 2, 3, 4, 9])
def test_sequential_matmul_equals_scalar_loop(ab, mode):
    a, b = (lp.asarray(x.values, "bf16", mode) for x in ab)
    assert np.array_equal((a @ b).values, loop_matmul(a.values, b.values, False, mode=mode))


def test_fma_matmul_equals_fma_loop(ab):
    a, b = ab
    with lp.accumulate("fma"):
        got = (a @ b).values
    assert np.array_equal(got, loop_matmul(a.values, b.values, True))


def test_exact_and_wide_models(ab):
    a, b = ab
    with lp.accumulate("exact"):
        assert np.array_equal((a @ b).values, lp.chop(a.values @ b.values, "bf16"))
    with lp.accumulate("fp32"):
        wide = (a @ b).values
    assert np.max(np.abs(wide - a.values @ b.values)) <= np.max(np.abs(a.values @ b.values)) * 2.0**-8


def test_matmul_shapes_and_dot(ab):
    a, b = ab
    v = a[0]
    assert (v @ b).shape == (5,) and (a @ b[:, 0]).shape == (7,) and np.dot(v, b[:, 0]).shape == ()
    batched = lp.asarray(np.ones((3, 2, 4)), "half") @ lp.asarray(np.ones((4, 2)), "half")
    assert batched.shape == (3, 2, 2) and np.all(batched.values == 4)
    with pytest.raises(ValueError, match="align"):
        a @ a


def test_sum_models():
    x = lp.asarray(np.ones(5000), "half")
    assert np.sum(x).values == 2048
    expected = {"sequential": 2048, "fma": 2048, "pairwise": 5000, "exact": 5000, "fp32": 5000}
    for model, want in expected.items():
        with lp.accumulate(model):
            assert np.sum(x).values == want, model
    with lp.accumulate("exact"):
        assert np.cumsum(x).values[-1] == 5000


def test_pairwise_tree_matches_manual():
    rng = np.random.default_rng(1)
    x = lp.asarray(rng.standard_normal(7), "e5m2")
    v = x.values
    def add(p, q):
        return float(arith.add(p, q, "e5m2"))
    manual = add(add(add(v[0], v[1]), add(v[2], v[3])), add(add(v[4], v[5]), v[6]))
    with lp.accumulate("pairwise"):
        assert np.sum(x).values == manual


def test_bad_model():
    with pytest.raises(lp.LowprecError, match="accumulation"):
        with lp.accumulate("kahan"):
            pass
