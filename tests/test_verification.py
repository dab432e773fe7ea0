"""The verification package: its oracles on hand-checked values, and a slice of every
family of ``python -m verification`` run through the suite's own functions."""

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

import lowprec as lp
from verification import cases as C
from verification import checks as K
from verification import suite
from verification.oracle import (
    DETERMINISTIC, DOWN, NEAREST_AWAY, NEAREST_EVEN, NEAREST_ZERO, ODD, STOCHASTIC, STOCHASTIC_UNIFORM,
    TOWARD_ZERO, UP, format_values, round_by_table, round_oracle, stochastic_fraction,
)

HALF, BF16, E4M3FN = lp.format("half"), lp.format("bf16"), lp.format("e4m3fn")


def rng(i=0):
    return np.random.default_rng([20240, i])


def bits_equal(a, b):
    return bool(K.same(a, b).all())


# --------------------------------------------------------------------------- oracle, by hand

def test_bf16_round_up_of_an_mpf_beyond_double_precision():
    with mpmath.workprec(200):
        x = 1 + mpmath.mpf(2) ** -100
    assert round_oracle(x, BF16, UP) == 1 + 2**-7
    assert round_oracle(x, BF16, NEAREST_EVEN) == 1.0
    assert round_oracle(Fraction(2**100 + 1, 2**100), BF16, ODD) == 1 + 2**-7


def test_half_overflow_threshold():
    assert round_oracle(65520.0, HALF, NEAREST_EVEN) == math.inf  # the tie 65504 | 65536 goes up
    assert round_oracle(65519.99, HALF, NEAREST_EVEN) == 65504.0
    assert round_oracle(-65520, HALF, NEAREST_EVEN) == -math.inf
    assert round_oracle(65520.0, HALF, NEAREST_ZERO) == 65504.0


def test_e4m3fn_rounds_at_precision_t_before_the_overflow_rule():
    assert round_oracle(464, E4M3FN, NEAREST_EVEN) == 448.0  # tie 448 | 480: 448 is even
    assert math.isnan(round_oracle(465, E4M3FN, NEAREST_EVEN))
    assert round_oracle(-464.0, E4M3FN, NEAREST_EVEN) == -448.0
    assert math.isnan(round_oracle(math.inf, E4M3FN, NEAREST_EVEN))
    assert round_oracle(math.inf, lp.format("fp4_e2m1"), NEAREST_EVEN) == 6.0  # saturating


@pytest.mark.parametrize("mode, x, want", [
    (TOWARD_ZERO, 1e6, 65504.0), (TOWARD_ZERO, -1e6, -65504.0), (ODD, 1e6, 65504.0),
    (UP, 1e6, math.inf), (UP, -1e6, -65504.0), (DOWN, -1e6, -math.inf), (DOWN, 1e6, 65504.0),
    (NEAREST_AWAY, 1e6, math.inf),
])
def test_overflow_per_mode(mode, x, want):
    assert round_oracle(x, HALF, mode) == want


def test_without_subnormals_the_gap_below_xmin_is_one_step():
    xmin = HALF.xmin
    assert round_oracle(xmin / 2, HALF, NEAREST_EVEN, subnormal=False) == 0.0
    assert round_oracle(xmin / 2, HALF, UP, subnormal=False) == xmin
    assert round_oracle(xmin / 2, HALF, NEAREST_AWAY, subnormal=False) == xmin
    assert round_oracle(0.75 * xmin, HALF, NEAREST_ZERO, subnormal=False) == xmin
    assert round_oracle(-xmin / 2, HALF, DOWN, subnormal=False) == -xmin
    assert round_oracle(xmin / 4, HALF, ODD, subnormal=False) == xmin
    assert round_oracle(xmin / 2, HALF, NEAREST_EVEN) == xmin / 2  # a subnormal when they are on


def test_signed_zeros_and_specials():
    assert bits_equal(round_oracle(-2.0**-30, HALF, NEAREST_EVEN), -0.0)
    assert bits_equal(round_oracle(-0.0, HALF, UP), -0.0)
    fnuz = lp.format("e4m3fnuz")
    assert bits_equal(round_oracle(-2.0**-30, fnuz, NEAREST_EVEN), 0.0)  # no -0 in fnuz
    assert bits_equal(round_oracle(-0.0, fnuz, NEAREST_EVEN), 0.0)
    assert math.isnan(round_oracle(math.nan, HALF, UP))
    assert round_oracle(-math.inf, HALF, TOWARD_ZERO) == -math.inf


def test_ties_and_odd():
    tie = 1 + 2**-8  # halfway between 1 and 1 + 2**-7 in bf16
    assert round_oracle(tie, BF16, NEAREST_EVEN) == 1.0
    assert round_oracle(tie, BF16, NEAREST_ZERO) == 1.0
    assert round_oracle(tie, BF16, NEAREST_AWAY) == 1 + 2**-7
    assert round_oracle(-tie, BF16, NEAREST_AWAY) == -(1 + 2**-7)
    assert round_oracle(1 + 3 * 2**-8, BF16, NEAREST_EVEN) == 1 + 2**-6  # 1 + 2**-7 is odd
    assert round_oracle(1 + 3 * 2**-8, BF16, ODD) == 1 + 2**-7
    assert round_oracle(Fraction(1, 3), HALF, NEAREST_EVEN) == 0.333251953125


def test_p3109_precision_one_ties_go_to_the_even_encoding():
    f = lp.p3109(8, 1)  # bias 64: 1.0 has code 64 (even), 2.0 code 65, 4.0 code 66
    assert round_oracle(1.5, f, NEAREST_EVEN) == 1.0
    assert round_oracle(3.0, f, NEAREST_EVEN) == 4.0
    x = np.array([1.5, 3.0, -1.5, 6.0])
    assert bits_equal(round_by_table(x, f, NEAREST_EVEN), [round_oracle(v, f, NEAREST_EVEN) for v in x])


def test_explim_false_keeps_precision_and_takes_the_storage_range():
    x = 3 * 2.0**-200 + 2.0**-220
    assert round_oracle(x, BF16, NEAREST_EVEN, explim=False) == 3 * 2.0**-200
    assert round_oracle(x, BF16, NEAREST_EVEN) == 0.0
    assert round_oracle(2.0**-151, BF16, UP, explim=False, storage="float32") == 2.0**-149
    top = 2.0**128 * (1 - 2.0**-8)  # the largest 8-bit float32
    assert round_oracle(2.0**128, BF16, TOWARD_ZERO, explim=False, storage="float32") == top
    assert round_oracle(2.0**128, BF16, NEAREST_EVEN, explim=False, storage="float32") == math.inf
    # storage subnormals keep up to t bits: precision only, down to the storage's own grid
    assert round_oracle(3 * 2.0**-1074, BF16, NEAREST_EVEN, explim=False) == 3 * 2.0**-1074
    assert round_oracle(2.0**-1030 * (1 + 2**-20), BF16, NEAREST_EVEN, explim=False) == 2.0**-1030
    assert round_oracle(2.0**-1075, BF16, NEAREST_EVEN, explim=False) == 0.0


def test_stochastic_decisions_from_explicit_bits():
    x = 1 + 2**-9  # a quarter of the way from 1 to 1 + 2**-7 in bf16
    assert stochastic_fraction(x, BF16) == Fraction(1, 4)
    assert round_oracle(x, BF16, STOCHASTIC, rbits=2**60 - 1) == 1 + 2**-7
    assert round_oracle(x, BF16, STOCHASTIC, rbits=2**60) == 1.0
    assert round_oracle(-x, BF16, STOCHASTIC, rbits=0) == -(1 + 2**-7)
    assert round_oracle(x, BF16, STOCHASTIC_UNIFORM, rbits=2**61) == 1 + 2**-7
    assert round_oracle(x, BF16, STOCHASTIC_UNIFORM, rbits=2**61 - 1) == 1.0
    assert round_oracle(1.0, BF16, STOCHASTIC_UNIFORM, rbits=2**61) == 1.0  # exact values stay


# --------------------------------------------------------------------------- table oracle

def test_format_values():
    v = format_values(E4M3FN)
    assert v.size == C.finite_count(E4M3FN) == 253
    assert v[-1] == 448.0 and v[0] == -448.0
    assert np.all(np.diff(v) > 0) and bits_equal(v[v == 0], [0.0])
    assert format_values(HALF).size == 63487


SAMPLED = [HALF, E4M3FN, lp.format("fp4_e2m1"), lp.p3109(8, 3), lp.p3109(8, 5, signed=False), lp.p3109(8, 1)]


@pytest.mark.parametrize("fmt", SAMPLED, ids=lambda f: f.label)
def test_table_oracle_agrees_with_mpmath_on_a_sample(fmt):
    pool = np.concatenate([C.format_points(fmt).x, C.boundaries(fmt).x, C.fp16_bits().x])
    x = C.take(C.Cases("pool", pool, 0), 150, rng(1)).x
    for sub in (True, False):
        for mode in DETERMINISTIC:
            want = [round_oracle(float(v), fmt, mode, subnormal=sub) for v in x]
            assert bits_equal(round_by_table(x, fmt, mode, sub), want), (fmt.label, sub, mode)


# --------------------------------------------------------------------------- cases

def test_case_families_have_their_promised_sizes():
    for cases in C.fp16_families() + [C.fp16_near(np.float32)]:
        assert cases.x.size == cases.expected
    for fmt in suite.SMALL:
        assert C.format_points(fmt).x.size == C.format_points(fmt).expected, fmt.label
        assert C.boundaries(fmt).x.size == C.BOUNDARY_COUNT
    assert C.fp16_bits().x.size == 2**16
    assert C.format_sample(BF16, 10, rng()).x.size == 40
    assert C.random_bits(10, rng(), np.float32).x.dtype == np.float32


# --------------------------------------------------------------------------- suite slices

def assert_all_ok(results):
    assert results, "no checks ran"
    bad = [c for c in results if not c.ok]
    assert not bad, suite.report(bad)
    assert all(c.checked > 0 for c in results)


def test_table_sweep_slice():
    fams = [C.take(C.fp16_near(), 3000, rng(2)), C.format_points(E4M3FN),
            C.take(C.fp16_near(np.float32), 2000, rng(3))]
    assert_all_ok(K.table_sweep(E4M3FN, fams, DETERMINISTIC))
    assert_all_ok(K.table_sweep(HALF, [C.fp16_bits()], (NEAREST_EVEN, ODD)))


def test_mpmath_sample_slice():
    pool = C.Cases("pool", np.concatenate([C.format_points(E4M3FN).x, C.fp16_bits().x]), 0)
    assert_all_ok(K.mpmath_sample(E4M3FN, pool, 40, rng(4), DETERMINISTIC))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mpmath_random_slice(dtype):
    g = rng(5)
    for fmt in (BF16, lp.format("tf32"), lp.format("e3m4")):
        fams = [C.random_bits(40, g, dtype), C.random_range(fmt, 40, g, dtype),
                C.format_sample(fmt, 10, g, dtype), C.boundaries(fmt, dtype)]
        assert_all_ok(K.mpmath_check(fmt, fams, (NEAREST_EVEN, UP, TOWARD_ZERO, ODD)))


def test_explim_false_slice():
    g = rng(6)
    for dtype in (np.float64, np.float32):
        fams = [C.random_bits(60, g, dtype), C.storage_boundaries(BF16, dtype)]
        assert_all_ok(K.mpmath_check(BF16, fams, DETERMINISTIC, subnormals=(True,), explim=False))


def test_roundtrip_and_ml_dtypes_slice():
    assert_all_ok(K.roundtrip(E4M3FN) + K.roundtrip(lp.p3109(8, 3)))
    assert_all_ok(K.ml_dtypes_check(E4M3FN, suite.ML_DTYPES["e4m3fn"]))


def test_stochastic_slices():
    f = lp.format("fp4_e2m1")
    fams = [C.take(C.fp16_near(), 3000, rng(7)), C.format_points(E4M3FN)]
    assert_all_ok(K.sr_neighbours(E4M3FN, fams, seed=3))
    assert_all_ok(K.sr_enumerate(f, 5, rng(8)) + K.sr_enumerate(f, 5, rng(9), subnormal=False))
    assert_all_ok(K.sr_enumerate(lp.format("fp32"), 4, rng(10)))
    near32 = C.random_range(BF16, 60, rng(13), np.float32)
    assert_all_ok(K.sr_rbits(BF16, C.random_bits(60, rng(11)), 60, rng(12))
                  + K.sr_rbits(BF16, near32, 60, rng(14), subnormal=False))
    assert_all_ok(K.sr_frequency(HALF, C.random_range(HALF, 64, rng(15)), 1, 2000, seed=5))


def test_a_failing_or_empty_check_fails_the_run():
    ok = K.Check("f", "half", "sub", 1, 10, 10, 0)
    assert ok.ok
    assert not K.Check("f", "half", "sub", 1, 10, 10, 1).ok
    assert not K.Check("f", "half", "sub", 1, 0, 0, 0).ok
    assert not K.Check("f", "half", "sub", 1, 9, 10, 0).ok
    text = suite.report([ok, K.Check("g", "half", "sub", 2, 3, 3, 1, ["x=1.0 got=2.0 want=1.0"])])
    assert "FAIL g half [sub] mode 2" in text and "x=1.0 got=2.0" in text


def test_a_tiny_plan_runs_clean():
    plan = suite.Plan(("fp4_e2m1",), ("e3m4",), 10, 10, 3, 400, 1)
    assert_all_ok(suite.run(plan, seed=1))


@pytest.mark.slow
def test_quick_plan_runs_clean():
    assert_all_ok(suite.run(suite.QUICK))
