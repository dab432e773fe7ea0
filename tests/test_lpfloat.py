"""LPFloat: the ndarray subclass mechanics, ufunc categories, promotion, accumulation."""

import copy
import pickle
from fractions import Fraction

import numpy as np
import pytest

import lowprec as lp
from lowprec.ndarray._ufuncs import CATEGORIES
from lowprec.rounding import rounding_params
from lowprec.rounding.reference import round_value


@pytest.fixture
def A():
    return lp.asarray(np.array([[1.0, 2.0], [3.0, 1 / 3]]), "half")


def test_asarray_rounds_and_carries_format(A):
    assert isinstance(A, lp.LPFloat) and A.format == lp.format("half") and A.rmode == 1
    assert A[1, 1].values == 0.333251953125
    assert "binary16" in repr(A) and "nearest_even" in repr(A)


def test_every_ufunc_classified_once():
    ufuncs = {getattr(np, n) for n in dir(np) if isinstance(getattr(np, n), np.ufunc)}
    missing = sorted(u.__name__ for u in ufuncs if u not in CATEGORIES)
    assert not missing, missing
    assert len(CATEGORIES) >= 90


def test_scalar_indexing_and_iteration_stay_emulated(A):
    x = A[0, 0]
    assert isinstance(x, lp.LPFloat) and x.shape == () and x.format == A.format
    assert all(isinstance(row, lp.LPFloat) for row in A)
    assert all(isinstance(v, lp.LPFloat) for v in A[0])
    s = A[1, 1] * A[1, 1]  # a scalar loop stays rounded
    assert isinstance(s, lp.LPFloat) and float(s.values) == 0.11108398437500


def test_mutators_round(A):
    A[0, 0] = 0.1
    assert A.values[0, 0] == lp.chop(0.1, "half")
    A.fill(1 / 3)
    assert np.all(A.values == lp.chop(1 / 3, "half"))
    A += 1e-4  # in place: rounded into A's format
    assert np.all(A.values == lp.chop(1 / 3, "half"))


def test_pickle_copy_deepcopy_keep_format(A):
    for B in (pickle.loads(pickle.dumps(A)), copy.copy(A), copy.deepcopy(A), A.copy()):
        assert isinstance(B, lp.LPFloat) and B.format == A.format and np.array_equal(B.values, A.values)


def test_views_and_shape_functions_keep_format(A):
    for B in (A.T, A.reshape(4), np.transpose(A), np.concatenate([A, A]) if False else A[::-1], np.sort(A, axis=None)):
        assert isinstance(B, lp.LPFloat) and B.format == A.format
    plain = A.view(np.ndarray)
    assert type(plain) is np.ndarray


def test_view_without_format_refuses_arithmetic():
    v = np.ones(3).view(lp.LPFloat)
    with pytest.raises(lp.FormatError, match="asarray"):
        v + 1


def test_directed_rounding_of_sums_is_exact():
    x = lp.asarray(1.0, "bf16", "up")
    assert (x + 2.0**-100).values == 1 + 2.0**-7
    assert (lp.asarray(1.0, "bf16", "down") + 2.0**-100).values == 1.0


@pytest.mark.parametrize("op", [np.add, np.subtract, np.multiply, np.divide])
@pytest.mark.parametrize("mode", [1, 2, 3, 4, 7, 8, 9])
def test_elementwise_ops_correctly_rounded(op, mode):
    rng = np.random.default_rng(mode)
    a = lp.asarray(rng.standard_normal(100) * 100, "bf16", mode)
    b = lp.asarray(rng.standard_normal(100), "bf16", mode)
    got = op(a, b)
    p = rounding_params(lp.format("bf16"))
    exact = {np.add: lambda x, y: x + y, np.subtract: lambda x, y: x - y,
             np.multiply: lambda x, y: x * y, np.divide: lambda x, y: x / y}[op]
    for x, y, g in zip(a.values, b.values, got.values):
        assert g == round_value(exact(Fraction(float(x)), Fraction(float(y))), p, mode)


def test_weak_python_numbers_are_rounded_first(A):
    # 0.1 becomes fp16's 0.0999755859375 before the multiplication
    assert (A[0, 0] * 0.1).values == lp.chop(lp.chop(0.1, "half") * 1.0, "half")


def test_promotion_is_the_join():
    h = lp.asarray([1.0], "half")
    b = lp.asarray([1.0], "bf16")
    assert (h + b).format == lp.format("tf32")
    assert (h + lp.asarray([1.0], "e5m2")).format == lp.format("half")


def test_mixed_modes_are_an_error():
    with pytest.raises(lp.FormatMismatchError, match="rmode"):
        lp.asarray([1.0], "half", "up") + lp.asarray([1.0], "half", "down")


def test_comparisons_give_plain_booleans(A):
    r = A > 1
    assert type(r) is np.ndarray and r.dtype == bool


def test_sequential_sum_stagnates():
    ones = lp.asarray(np.ones(5000), "half")
    assert np.sum(ones).values == 2048.0
    assert ones.sum().values == 2048.0
    c = np.cumsum(ones)
    assert isinstance(c, lp.LPFloat) and c.values[2047] == 2048.0 and c.values[-1] == 2048.0


def test_sum_matches_scalar_loop(A):
    s = lp.asarray(0.0, "half")
    for v in A.reshape(-1):
        s = s + v
    assert np.sum(A).values == s.values
    assert np.mean(A).values == (s / 4).values


def test_other_ufuncs_round_their_result(A):
    e = np.exp(A)
    assert isinstance(e, lp.LPFloat)
    assert np.array_equal(e.values, lp.chop(np.exp(A.values), "half"))


def test_grid_functions_use_the_format_grid():
    one = lp.asarray(1.0, "half")
    assert np.nextafter(one, 2).values == 1 + 2.0**-10
    assert np.nextafter(one, 0).values == 1 - 2.0**-11
    assert np.spacing(one).values == 2.0**-10
    m, e = np.frexp(lp.asarray(12.0, "half"))
    assert m.values == 0.75 and e == 4


def test_unsupported_functions_raise_with_advice(A):
    with pytest.raises(lp.UnsupportedOperationError, match="np.asarray"):
        np.polyval(A[0], A[1])
    with pytest.raises(lp.UnsupportedOperationError):
        np.bitwise_and(A, A)
    assert "unsupported" in lp.semantics(np.polyval)


def test_out_argument_rounds_into_out_format(A):
    out = lp.asarray(np.zeros((2, 2)), "e4m3")
    r = np.multiply(A, 3.0, out=(out,))
    assert r is out and np.array_equal(out.values, lp.chop(A.values * 3, "e4m3"))


def test_astype_checks_storage(A):
    assert A.astype(np.float32).dtype == np.float32 and A.astype(np.float32).format == A.format
    with pytest.raises(ValueError, match="float64"):
        lp.asarray([1.0], "double").astype(np.float32)
    assert type(A.astype(np.int64)) is np.ndarray


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["nearest_even", "down", "stochastic"])
def test_in_place_ops_equal_out_of_place(dtype, mode):
    """In-place results (the kernel's output aliasing an operand) equal fresh ones, bit for
    bit, for every correctly rounded op, with inexact sums and zero results in the data."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((30, 50)) * np.ldexp(1.0, rng.integers(-40, 40, (30, 50)))
    y = rng.standard_normal((30, 50))
    y[:, :5] = -x[:, :5]  # exact zeros
    a0, b = lp.asarray(x.astype(dtype), "bf16", mode), lp.asarray(y.astype(dtype), "bf16", mode)
    a0 = abs(a0)
    for ufunc in (np.add, np.subtract, np.multiply, np.true_divide, np.sqrt):
        args = (a0,) if ufunc is np.sqrt else (a0, b)
        lp.seed(3)
        want = ufunc(*args)
        a = a0.copy()
        lp.seed(3)
        got = ufunc(*((a,) if ufunc is np.sqrt else (a, b)), out=a)
        assert got is a and a.dtype == dtype
        np.testing.assert_array_equal(np.asarray(a.values).view(np.uint8), np.asarray(want.values).view(np.uint8))
