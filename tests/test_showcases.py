"""The showcases of the LPFloat issue: unchanged NumPy code in emulated precision."""

import importlib.util
import math
import pathlib
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import lowprec as lp

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _example(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lu_with_iterative_refinement_reaches_double_accuracy():
    ex = _example("lu_refinement")
    A = ex.test_matrix(40, 1e3, seed=1)
    x_true = np.ones(40)
    x, history = ex.refine(A, A @ x_true)
    assert history[0] > 1e-5  # the fp16 solution alone is fp16-accurate only
    assert history[-1] < 2 * np.finfo(float).eps
    assert np.linalg.norm(x - x_true, np.inf) < 1e3 * 40 * np.finfo(float).eps


def test_lu_of_the_plain_code_is_emulated_half():
    ex = _example("lu_refinement")
    A = ex.test_matrix(12, 1e2, seed=2)
    LU, piv = ex.lu_inplace(lp.asarray(A, "half"))
    assert isinstance(LU, lp.LPFloat) and LU.format == lp.format("half")
    np.testing.assert_array_equal(LU.values, lp.chop(LU.values, "half"))  # on the fp16 grid
    # and it is the same computation as lp.linalg.lu_factor (same algorithm, same roundings)
    lu2, piv2 = lp.linalg.lu_factor(lp.asarray(A, "half"))
    np.testing.assert_array_equal(LU.values, lu2.values)


@pytest.mark.parametrize("fmt,stop,value", [("half", 513, 7.0859375), ("bf16", 65, 5.0625)])
def test_harmonic_series_stagnates(fmt, stop, value):
    n = stop + 200
    one = lp.asarray(1.0, fmt)
    s = lp.asarray(0.0, fmt)
    partial = []
    for k in range(1, n + 1):  # a scalar loop
        s = s + one / k
        partial.append(float(s))
    partial = np.array(partial)
    assert partial[stop - 2] == value and np.all(partial[stop - 1:] == value)  # term `stop` adds nothing
    assert partial[stop - 3] < value
    terms = one / lp.asarray(np.arange(1, n + 1), fmt)
    assert float(np.sum(terms)) == value
    np.testing.assert_array_equal(np.asarray(np.cumsum(terms)), partial)


@pytest.mark.parametrize("fmt,stop", [("half", 513), ("bf16", 65)])
def test_harmonic_series_with_stochastic_rounding_keeps_growing(fmt, stop):
    lp.seed(7)
    n = 4 * stop
    terms = lp.asarray(1.0 / np.arange(1, n + 1), fmt, rmode="stochastic")
    partial = np.asarray(np.cumsum(terms))
    assert partial[-1] > partial[stop]  # no stagnation
    exact = float(sum(Fraction(1, k) for k in range(1, n + 1)))
    assert abs(partial[-1] - exact) / exact < 0.05


def test_geometric_series_gradual_underflow():
    """Paper, section 3.1: addends straddling fp16's subnormal boundary."""
    n = 80
    exact = float(sum(Fraction(2) ** -13 * Fraction(3, 4) ** i for i in range(n)))
    result = {}
    for subnormal in (True, False):
        terms = lp.asarray(2.0 ** -13 * 0.75 ** np.arange(n), "half", subnormal=subnormal)
        partial = np.asarray(np.cumsum(terms))
        last_change = np.flatnonzero(np.diff(partial))[-1] + 2
        result[subnormal] = (partial[-1], last_change)
    (on, on_stop), (off, off_stop) = result[True], result[False]
    assert off_stop < on_stop  # flush to zero stagnates early
    assert abs(on - exact) / exact < 2 ** -10  # within fp16's unit roundoff
    assert abs(off - exact) / exact > 0.1


_finite = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=True)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 30), elements=_finite),
       hnp.arrays(np.float64, st.integers(1, 30), elements=_finite))
def test_double_format_equals_plain_numpy(x, y):
    n = min(x.size, y.size)
    x, y = x[:n], y[:n]
    a, b = lp.asarray(x, "double"), lp.asarray(y, "double")
    same = np.testing.assert_array_equal
    with np.errstate(all="ignore"):
        for op in (np.add, np.subtract, np.multiply, np.divide, np.maximum, np.hypot, np.arctan2):
            same(op(a, b).values, op(x, y))
        for op in (np.sqrt, np.exp, np.log, np.sin, np.tanh, np.cbrt, np.abs, np.floor, np.square):
            same(op(a).values, op(x))
        with lp.accumulate("exact"):  # the exact results rounded once, not NumPy's rounded steps
            exact = [Fraction(v) for v in x]
            same(np.sum(a).values, math.fsum(x))
            same(np.prod(a).values, float(math.prod(exact)))
            same(np.cumsum(a).values, [math.fsum(x[:i + 1]) for i in range(n)])
            same(np.mean(a).values, math.fsum(x) / n)
            same((a @ b).values, float(sum(Fraction(u) * Fraction(v) for u, v in zip(x, y))))
            same(np.max(a).values, np.max(x))

