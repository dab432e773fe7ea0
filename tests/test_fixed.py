"""Fixed point: FixedFormat, lp.quantize_fixed and LPFixed against exact references."""

import copy
import pickle
from fractions import Fraction

import numpy as np
import pytest

import lowprec as lp
from lowprec.errors import FormatMismatchError, FormatRangeError
from lowprec.formats import FixedFormat, join_fixed
from verification import fixed as V

MODES = list(range(1, 10))
DETERMINISTIC = [1, 2, 3, 4, 7, 8, 9]


# ----------------------------------------------------------------------------- formats

@pytest.mark.parametrize("spec, want", [
    ("q8.8", FixedFormat(8, 8)), ("fixed(8,8)", FixedFormat(8, 8)), ("Q4.12", FixedFormat(4, 12)),
    ("uq4.4", FixedFormat(4, 4, signed=False)), ("ufixed(1, 7)", FixedFormat(1, 7, signed=False)),
])
def test_format_strings(spec, want):
    assert lp.format(spec) == want


def test_format_ranges():
    f = FixedFormat(4, 4)
    assert (f.min, f.max, f.code_min, f.code_max, f.resolution) == (-8.0, 7.9375, -128, 127, 0.0625)
    u = FixedFormat(4, 4, signed=False)
    assert (u.min, u.max, u.code_min, u.code_max) == (0.0, 15.9375, 0, 255)
    with pytest.raises(ValueError, match="53"):
        FixedFormat(30, 24)


def test_join_is_the_smallest_common_format():
    assert join_fixed(FixedFormat(2, 6), FixedFormat(5, 3)) == FixedFormat(5, 6)
    # an unsigned operand needs one more integer bit in a signed result
    assert join_fixed(FixedFormat(4, 4), FixedFormat(6, 2, signed=False)) == FixedFormat(7, 4)
    assert join_fixed(FixedFormat(4, 4, signed=False), FixedFormat(2, 6, signed=False)) == FixedFormat(4, 6, signed=False)
    with pytest.raises(FormatMismatchError, match="overflow"):
        join_fixed(FixedFormat(4, 4), FixedFormat(4, 4, overflow="wrap"))
    with pytest.raises(FormatMismatchError, match="53"):
        join_fixed(FixedFormat(50, 2), FixedFormat(2, 50))


# ----------------------------------------------------------------------------- quantize_fixed

# q4.4: the grid step is 1/16; 1/32 is a tie, 3/32 a tie above an odd code.
@pytest.mark.parametrize("mode, want", [
    (1, [0.0, 0.125, -0.0, -0.125, 0.0625]), (2, [0.0625, 0.125, -0.0, -0.0625, 0.0625]),
    (3, [0.0, 0.0625, -0.0625, -0.125, 0.0]), (4, [0.0, 0.0625, -0.0, -0.0625, 0.0]),
    (7, [0.0, 0.0625, -0.0, -0.0625, 0.0625]), (8, [0.0625, 0.125, -0.0625, -0.125, 0.0625]),
    (9, [0.0625, 0.0625, -0.0625, -0.0625, 0.0625]),
])
def test_every_deterministic_mode_on_ties(mode, want):
    x = np.array([1 / 32, 3 / 32, -1 / 32, -3 / 32, 0.04])
    got = lp.quantize_fixed(x, "q4.4", mode)
    np.testing.assert_array_equal(got, want)


def test_overflow_policies():
    x = np.array([7.9, 8.0, 9.0, -8.5, -9.0, 100.25])
    np.testing.assert_array_equal(lp.quantize_fixed(x, "q4.4"), [7.875, 7.9375, 7.9375, -8.0, -8.0, 7.9375])
    # wrap: modulo 16 into [-8, 8), two's complement
    np.testing.assert_array_equal(lp.quantize_fixed(x, "q4.4", overflow="wrap"), [7.875, -8.0, -7.0, 7.5, 7.0, 4.25])
    with pytest.raises(FormatRangeError, match=r"5 elements outside the range \[-8.0, 7.9375\]"):
        lp.quantize_fixed(x, "q4.4", overflow="error")
    assert lp.quantize_fixed(-0.5, "uq4.4") == 0.0
    assert lp.quantize_fixed(-0.5, "uq4.4", overflow="wrap") == 15.5


def test_huge_values_wrap_exactly():
    # 2**70 + 3.25 is not a float, but 2**60 + 3 * 2**8 is; the wrap is exact
    x = float(2**60 + 3 * 2**8)
    assert lp.quantize_fixed(x, FixedFormat(12, 4, overflow="wrap")) == float((2**60 + 768) % 2**12 - 2**12 * ((2**60 + 768) % 2**12 >= 2**11))
    assert lp.quantize_fixed(1e300, FixedFormat(12, 4, overflow="wrap")) == float(
        (int(1e300) % 2**12) - 2**12 * ((int(1e300) % 2**12) >= 2**11))


def test_nan_and_inf_are_errors_naming_the_count():
    with pytest.raises(FormatRangeError, match="2 elements are NaN or infinite"):
        lp.quantize_fixed([1.0, np.nan, np.inf], "q8.8")
    with pytest.raises(ValueError):
        lp.asarray([np.nan], "q8.8")


def test_kinds_dtypes_and_input_untouched():
    x = np.array([[0.1, 0.2], [0.3, 0.4]])
    keep = x.copy()
    y = lp.quantize_fixed(x, "q4.4")
    assert y.shape == x.shape and y.dtype == np.float64
    np.testing.assert_array_equal(x, keep)
    x32 = x.astype(np.float32)
    assert lp.quantize_fixed(x32, "q4.4").dtype == np.float32
    with pytest.raises(ValueError, match="float32"):
        lp.quantize_fixed(x32, "q8.24")
    assert lp.quantize_fixed([1, 2], "q4.4") == [1.0, 2.0]
    assert isinstance(lp.quantize_fixed(0.1, "q4.4"), float)
    assert lp.quantize_fixed((0.1, 0.2), "q4.4") == (0.125, 0.1875)
    out = np.empty_like(x)
    assert lp.quantize_fixed(x, "q4.4", out=out) is out
    lp.quantize_fixed(x, "q4.4", out=x)
    np.testing.assert_array_equal(x, y)
    xt = keep.T  # non-contiguous input
    np.testing.assert_array_equal(lp.quantize_fixed(xt, "q4.4"), y.T)


def test_codes():
    c = lp.fixed_codes([1.5, -2.25, 0.03], "q4.4")
    assert c.dtype == np.int8 and c.tolist() == [24, -36, 0]
    assert lp.fixed_codes([1.0], "q8.8").dtype == np.int16
    assert lp.fixed_codes([1.0], "uq4.4").dtype == np.uint8


@pytest.mark.parametrize("fmt", [FixedFormat(8, 8), FixedFormat(3, 50, signed=False), FixedFormat(53, 0)])
def test_quantize_against_the_fraction_oracle(fmt):
    checks = V.fixed_quantize_check(fmt, np.random.default_rng(1), 30)
    assert len(checks) == 27 and all(c.ok for c in checks), [c for c in checks if not c.ok][:2]


def test_stochastic_rounding_statistics():
    n = 200_000
    x = np.full(n, 0.3 / 16 + 2.0)  # 0.3 of a step above 2.0 in q4.4
    y = lp.quantize_fixed(x, "q4.4", "stochastic", seed=4)
    assert set(np.unique(y)) == {2.0, 2.0625}
    p = np.mean(y == 2.0625)
    assert abs(p - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n)
    u = lp.quantize_fixed(x, "q4.4", "stochastic_uniform", seed=4)
    assert abs(np.mean(u == 2.0625) - 0.5) < 4 * np.sqrt(0.25 / n)
    np.testing.assert_array_equal(y, lp.quantize_fixed(x, "q4.4", "stochastic", seed=4))
    assert lp.quantize_fixed(2.0625, "q4.4", "stochastic", seed=1) == 2.0625  # exact values stay


# ----------------------------------------------------------------------------- arithmetic

@pytest.mark.parametrize("a, b", [(FixedFormat(4, 4), FixedFormat(4, 4)),
                                  (FixedFormat(4, 4, signed=False), FixedFormat(4, 4, signed=False))])
def test_exhaustive_8bit_pairs(a, b):
    """Every pair of 8-bit words, + - * /, nine modes, three overflow policies."""
    checks = V.fixed_exhaustive(a, b)
    assert len(checks) == 3 * 4 * 9
    assert sum(c.checked for c in checks) == 108 * 65536
    assert all(c.ok for c in checks), [(c.family, c.options, c.mode, c.examples) for c in checks if not c.ok][:3]


def test_mixed_formats_promote_to_the_join():
    a = lp.asarray([1.5, -0.75], "q2.6")
    b = lp.asarray([10.125, 3.5], "q5.3")
    c = a * b
    assert isinstance(c, lp.LPFixed) and c.format == FixedFormat(5, 6)
    want = [V.fixed_op_fraction("multiply", int(x * 64), 6, int(y * 8), 3, c.format, 1)[0] / 64
            for x, y in zip(a.values, b.values)]
    np.testing.assert_array_equal(c.values, want)


@pytest.mark.parametrize("mode", DETERMINISTIC)
@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide"])
def test_lpfixed_ufuncs_match_the_oracle(op, mode):
    fmt = FixedFormat(6, 10, overflow="wrap")
    rng = np.random.default_rng(mode)
    ca = rng.integers(fmt.code_min, fmt.code_max + 1, 300)
    cb = rng.integers(fmt.code_min, fmt.code_max + 1, 300)
    cb[cb == 0] = 1
    a = lp.LPFixed.from_bits(ca, fmt, mode)
    b = lp.LPFixed.from_bits(cb, fmt, mode)
    got = getattr(np, op)(a, b).to_bits()
    want = [V.fixed_op_fraction(op, int(x), 10, int(y), 10, fmt, mode)[0] for x, y in zip(ca, cb)]
    assert got.tolist() == want


@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_53_bit_products_and_quotients_are_exact(mode):
    fmt = FixedFormat(1, 52)  # the exact product has 104 fraction bits
    rng = np.random.default_rng(9)
    ca = rng.integers(-(2**52), 2**52, 200)
    cb = rng.integers(-(2**52), 2**52, 200)
    a, b = lp.LPFixed.from_bits(ca, fmt, mode), lp.LPFixed.from_bits(cb, fmt, mode)
    for op in ("multiply", "divide"):
        got = getattr(np, op)(a, b).to_bits()
        want = [V.fixed_op_fraction(op, int(x), 52, int(y), 52, fmt, mode)[0] for x, y in zip(ca, cb)]
        assert got.tolist() == want


def test_lpfixed_errors():
    a = lp.asarray([7.5, -8.0], FixedFormat(4, 4, overflow="error"))
    with pytest.raises(FormatRangeError, match="2 elements outside"):
        a + a
    with pytest.raises(FormatRangeError, match="1 element outside"):
        -a  # -(-8) does not exist in q4.4
    with pytest.raises(ZeroDivisionError, match="1 divisions by zero"):
        lp.asarray([1.0, 2.0], "q4.4") / lp.asarray([1.0, 0.0], "q4.4")
    with pytest.raises(FormatMismatchError, match="lp.asarray"):
        lp.asarray([1.0], "q4.4") + lp.asarray([1.0], "half")
    with pytest.raises(FormatMismatchError, match="rounding modes"):
        lp.asarray([1.0], "q4.4", 1) + lp.asarray([1.0], "q4.4", 2)
    with pytest.raises(lp.UnsupportedOperationError, match="bitwise_and"):
        np.bitwise_and(lp.asarray([1.0], "q4.4"), 1)


def test_lpfixed_mechanics():
    a = lp.asarray([1.5, -2.25, 3.0], "q4.4")
    assert isinstance(a, lp.LPFixed) and a.format == FixedFormat(4, 4)
    assert isinstance(a[0], lp.LPFixed) and a[0].ndim == 0
    assert (a + 0.1).tolist() == [1.625, -2.125, 3.125]  # 0.1 is weak: rounded into q4.4 first
    assert (a > 0).dtype == bool
    a[1] = 0.03
    assert a.values[1] == 0.0
    b = pickle.loads(pickle.dumps(a))
    assert isinstance(b, lp.LPFixed) and b.format == a.format and np.array_equal(b, a)
    assert copy.deepcopy(a).format == a.format
    assert a.to_bits().tolist() == [24, 0, 48]
    assert np.abs(lp.asarray([-1.5], "q4.4")).tolist() == [1.5]
    assert np.maximum(a, 2.0).tolist() == [2.0, 2.0, 3.0]
    s = np.sqrt(lp.asarray([2.0], "q4.4"))
    assert s.tolist() == [1.4375] and isinstance(s, lp.LPFixed)


def test_reductions_saturate_at_every_step():
    a = lp.asarray([7.0, 7.0, -7.0], "q4.4")
    assert np.sum(a).tolist() == 0.9375  # 7 + 7 saturates to 7.9375, then - 7
    with lp.accumulate("exact"):
        assert np.sum(a).tolist() == 7.0
    assert np.cumsum(a).tolist() == [7.0, 7.9375, 0.9375]
    p = lp.asarray([1.5, 1.5, 1.5], "q4.4", "down")
    assert np.prod(p).tolist() == 3.375
    assert np.mean(lp.asarray([1.0, 2.0, 2.0], "q4.4")).tolist() == 1.6875  # 5/3 rounded to 1/16
    assert np.max(a).tolist() == 7.0


def test_matmul_rounds_each_product_and_partial_sum():
    fmt = FixedFormat(4, 2)
    A = lp.asarray([[0.25, 0.75], [1.5, -1.25]], fmt)
    B = lp.asarray([[0.75, 0.5], [0.25, 1.0]], fmt)
    got = (A @ B).values
    want = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            acc = 0
            for k in range(2):
                p = V.round_integer(Fraction(A.values[i, k]) * Fraction(B.values[k, j]) * 4, 1)
                acc = min(max(acc + p, -32), 31)
            want[i, j] = acc / 4
    np.testing.assert_array_equal(got, want)
    assert np.dot(A, B).tolist() == got.tolist()
    assert (A @ B.values[:, 0]).shape == (2,)


def test_stochastic_arithmetic_is_unbiased():
    lp.seed(3)
    a = lp.asarray(np.full(100_000, 0.25), "q4.4", "stochastic")
    b = lp.asarray(np.full(100_000, 0.3125), "q4.4", "stochastic")
    c = (a * b).values  # exact 0.078125 = 1.25 steps
    assert set(np.unique(c)) == {0.0625, 0.125}
    assert abs(np.mean(c) - 0.078125) < 4 * 0.0625 * np.sqrt(0.25 * 0.75 / 100_000)


def test_numpy_functions_on_lpfixed():
    a = lp.asarray([1.5, -2.25, 3.0], "q4.4")
    c = np.concatenate([a, [0.1]])  # plain data is rounded into the format
    assert isinstance(c, lp.LPFixed) and c.format == a.format and c.tolist() == [1.5, -2.25, 3.0, 0.125]
    assert np.reshape(a, (3, 1)).format == a.format
    w = np.where(a.values > 0, a, 0.3)
    assert isinstance(w, lp.LPFixed) and w.tolist() == [1.5, 0.3125, 3.0]
    assert np.argsort(a).tolist() == [1, 0, 2] and not isinstance(np.argsort(a), lp.LPArray)
    with pytest.raises(lp.UnsupportedOperationError, match="np.solve"):
        np.linalg.solve(lp.asarray([[1.0]], "q4.4"), lp.asarray([1.0], "q4.4"))
    with pytest.raises(FormatMismatchError):
        np.concatenate([a, lp.asarray([1.0], "q2.6")])
    b = a.copy()
    np.copyto(b, [0.03, 0.1, 9.0])
    assert b.tolist() == [0.0, 0.125, 7.9375]


@pytest.mark.parametrize("fmt", [FixedFormat(4, 4), FixedFormat(2, 10), FixedFormat(1, 52, signed=False)])
def test_sqrt_is_correctly_rounded(fmt):
    checks = V.fixed_sqrt_check(fmt, np.random.default_rng(0), 300)
    assert len(checks) == 7 and all(c.ok for c in checks), [c.examples for c in checks if not c.ok][:2]
    with pytest.raises(FormatRangeError, match="1 negative"):
        np.sqrt(lp.asarray([-1.0, 4.0], "q4.4"))


def test_stochastic_sqrt_is_unbiased():
    lp.seed(8)
    a = lp.asarray(np.full(100_000, 2.0), "q4.4", "stochastic")
    r = np.sqrt(a).values
    assert set(np.unique(r)) == {1.375, 1.4375}
    assert abs(np.mean(r) - np.sqrt(2.0)) < 4 * 0.0625 * 0.5 / np.sqrt(r.size)
