"""Integer quantization: IntFormat, lp.quantize_int / lp.int_codes and LPInt."""

import pickle
import warnings
from fractions import Fraction

import numpy as np
import pytest

import lowprec as lp
from lowprec.errors import FormatMismatchError, FormatRangeError
from lowprec.formats import IntFormat
from verification import fixed as V

PLAIN4 = IntFormat(4, scale=1, symmetric=False)


def test_format_strings():
    assert lp.format("int8") == IntFormat(8)
    assert lp.format("int4") == IntFormat(4)
    assert lp.format("uint8") == IntFormat(8, signed=False, symmetric=False)
    assert IntFormat(8).qlo == -127 and IntFormat(8, symmetric=False).qlo == -128
    assert PLAIN4.requant == "static" and IntFormat(8).requant == "dynamic"
    with pytest.raises(ValueError, match="scale"):
        IntFormat(8, scale=0.0)
    with pytest.raises(ValueError, match="requant"):
        IntFormat(8, requant="sometimes")


@pytest.mark.parametrize("fmt", [IntFormat(8), IntFormat(4, symmetric=False), IntFormat(8, signed=False, symmetric=False),
                                 IntFormat(12), IntFormat(3, symmetric=False, overflow="wrap")])
def test_against_the_section_3_3_formulas(fmt):
    checks = V.int_check(fmt, np.random.default_rng(fmt.bits), 40)
    assert len(checks) == 10 and all(c.ok for c in checks), [c.examples for c in checks if not c.ok][:2]


def test_symmetric_and_asymmetric_levels():
    x = np.linspace(-1.0, 3.0, 1001)
    sym = lp.int_codes(x, "int8")
    assert sym.codes.min() == -42 and sym.codes.max() == 127 and sym.zero_point == 0
    assert sym.scale == 3.0 / 127
    asym = lp.int_codes(x, IntFormat(8, symmetric=False))
    assert asym.codes.min() == -128 and asym.codes.max() == 127  # all 256 levels
    assert len(np.unique(asym.codes)) == 256
    assert asym.scale == 4.0 / 255 and asym.zero_point == -128 + round(Fraction(1) / Fraction(4.0 / 255))
    assert x[250] == 0.0 and asym.values[250] == 0.0  # zero is exact
    u = lp.int_codes([0.0, 1.0, 2.0], "uint8")
    assert u.codes.dtype == np.uint8 and u.codes.tolist() == [0, 128, 255]


def test_code_dtypes_are_the_smallest():
    x = [0.5, -1.0]
    assert lp.int_codes(x, "int8").codes.dtype == np.int8
    assert lp.int_codes(x, "int4").codes.dtype == np.int8
    assert lp.int_codes(x, "int12").codes.dtype == np.int16
    assert lp.int_codes(x, "int32").codes.dtype == np.int32
    assert lp.int_codes(x, "uint16").codes.dtype == np.uint16


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_per_channel(axis):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 7)) * np.arange(1, 8)
    fmt = IntFormat(8, per_channel=True, axis=axis)
    q = lp.int_codes(x, fmt)
    n = x.shape[axis]
    assert q.scale.shape == (n,)
    for c in range(n):
        chan = np.take(x, c, axis=axis)
        one = lp.int_codes(chan, "int8")
        assert q.scale[c] == one.scale
        np.testing.assert_array_equal(np.take(q.codes, c, axis=axis), one.codes)
        np.testing.assert_array_equal(np.take(q.values, c, axis=axis), one.values)


def test_all_zero_tensors_do_not_give_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fmt in ("int8", IntFormat(8, symmetric=False), IntFormat(4, per_channel=True)):
            q = lp.int_codes(np.zeros((3, 4)), fmt)
            assert np.all(q.values == 0) and np.all(np.asarray(q.scale) == 1.0)
            assert np.all(q.codes == np.reshape(q.zero_point, (-1,) + (1,) * 0)[0])
        a = lp.asarray(np.zeros(4), "int8")
        assert np.all((a + a).values == 0)


def test_given_scale_and_zero_point():
    q = lp.int_codes([0.0, 0.26, 1.0, 10.0], "int8", scale=0.25, zero_point=3)
    assert q.codes.tolist() == [3, 4, 7, 43]
    np.testing.assert_array_equal(q.values, [0.0, 0.25, 1.0, 10.0])
    assert lp.quantize_int([2.5, 3.5, -2.5], PLAIN4) == [2.0, 4.0, -2.0]
    assert lp.quantize_int([2.5, 3.5, -2.5], PLAIN4, "nearest_away") == [3.0, 4.0, -3.0]


def test_bad_input():
    with pytest.raises(FormatRangeError, match="1 element is NaN or infinite"):
        lp.quantize_int([1.0, np.nan], "int8")
    with pytest.raises(FormatRangeError, match="2 elements are NaN"):
        lp.asarray([np.inf, -np.inf, 1.0], "int8")
    with pytest.raises(FormatRangeError, match=r"2 elements outside the range \[code -8, code 7\]"):
        lp.quantize_int([9.0, -20.0, 3.0], IntFormat(4, scale=1, symmetric=False, overflow="error"))


def test_kinds_dtypes_and_input_untouched():
    x = np.array([[0.1, -0.2], [0.3, 0.4]])
    keep = x.copy()
    y = lp.quantize_int(x, "int8")
    assert y.shape == x.shape and y.dtype == np.float64
    np.testing.assert_array_equal(x, keep)
    assert lp.quantize_int(x.astype(np.float32), "int8").dtype == np.float32
    assert isinstance(lp.quantize_int(0.7, "int8"), float)
    out = np.empty_like(x)
    assert lp.quantize_int(x, "int8", out=out) is out


def test_stochastic_rounding_statistics():
    n = 100_000
    x = np.full(n, 2.3)
    y = lp.quantize_int(x, PLAIN4, "stochastic", seed=1)
    assert set(np.unique(y)) == {2.0, 3.0}
    assert abs(np.mean(y) - 2.3) < 4 * np.sqrt(0.21 / n)


# ----------------------------------------------------------------------------- LPInt

def test_lpint_attributes():
    a = lp.asarray([0.0, 0.5, -1.0, 2.0], "int8")
    assert isinstance(a, lp.LPInt)
    assert a.scale == 2.0 / 127 and a.zero_point == 0
    assert a.codes.tolist() == [0, 32, -64, 127] and a.codes.dtype == np.int8
    np.testing.assert_array_equal(a.values, a.scale * a.codes.astype(float))
    b = pickle.loads(pickle.dumps(a))
    assert b.scale == a.scale and b.format == a.format and np.array_equal(b, a)
    p = lp.asarray(np.arange(6.0).reshape(2, 3), IntFormat(8, per_channel=True, axis=1))
    assert p.scale.shape == (3,)
    with pytest.raises(lp.UnsupportedOperationError, match="channel"):
        p[:, 0].codes


def test_dynamic_requantization_recalibrates():
    a = lp.asarray([1.0, 2.0, 3.0], "int8")
    b = a * 10
    assert isinstance(b, lp.LPInt) and b.scale == pytest.approx(30.0 / 127)
    want = lp.quantize_int(np.asarray(a) * np.asarray(lp.asarray(10.0, "int8")), "int8")
    np.testing.assert_array_equal(b.values, want)


def test_static_requantization_keeps_the_scale_and_saturates():
    fmt = IntFormat(8, scale=0.5)
    a = lp.asarray([10.0, 50.0, -60.0], fmt)
    b = a + a
    assert b.scale == 0.5 and b.values.tolist() == [20.0, 63.5, -63.5]


def test_plain_int4_arithmetic_saturates_or_wraps():
    a = lp.asarray([7, -8, 5, 3], PLAIN4)
    b = lp.asarray([1, -1, 2, 2], PLAIN4)
    assert (a + b).values.tolist() == [7, -8, 7, 5]
    assert (a * b).values.tolist() == [7, 7, 7, 6]
    assert (a / b).values.tolist() == [7, 7, 2, 2]  # 5/2 and 3/2 ties to even: 2, 2
    w = PLAIN4.replace(overflow="wrap")
    aw, bw = lp.asarray([7, -8, 5, 3], w), lp.asarray([1, -1, 2, 2], w)
    assert (aw + bw).values.tolist() == [-8, 7, 7, 5]
    assert (aw * bw).values.tolist() == [7, -8, -6, 6]
    assert np.sum(lp.asarray([7, 7, -7], PLAIN4)).tolist() == 0  # saturating partial sums
    assert np.sum(lp.asarray([7, 7, -7], w)).tolist() == 7
    d = lp.asarray([7, -7, 5], PLAIN4, "toward_zero") / lp.asarray([2, 2, 3], PLAIN4, "toward_zero")
    assert d.values.tolist() == [3, -3, 1]
    with pytest.raises(ZeroDivisionError):
        a / lp.asarray([0, 1, 1, 1], PLAIN4)
    m = lp.asarray([[1, 2], [3, 4]], PLAIN4) @ lp.asarray([[1, 1], [1, 1]], PLAIN4)
    assert m.values.tolist() == [[3, 3], [7, 7]]


def test_lpint_mixing_is_an_error():
    a = lp.asarray([1.0], "int8")
    with pytest.raises(FormatMismatchError, match="lp.asarray"):
        a + lp.asarray([1.0], "half")
    with pytest.raises(FormatMismatchError, match="integer formats"):
        a + lp.asarray([1.0], "int4")
    with pytest.raises(FormatMismatchError):
        a + lp.asarray([1.0], "q4.4")


def test_numpy_functions_on_lpint():
    a = lp.asarray([1.0, 2.0, 3.0], "int8")
    c = np.concatenate([a, a])
    assert isinstance(c, lp.LPInt) and c.scale == a.scale and c.codes.tolist() == a.codes.tolist() * 2
    d = np.concatenate([a, lp.asarray([10.0], "int8")])  # different scales: re-quantized (dynamic)
    assert d.scale == 10.0 / 127 and isinstance(d, lp.LPInt)
    with pytest.raises(lp.UnsupportedOperationError):
        np.linalg.norm(a)
    assert np.max(a).tolist() == 3.0


def test_per_channel_results_are_recalibrated_per_channel():
    x = np.array([[1.0, 100.0], [2.0, -50.0], [0.5, 25.0]])
    a = lp.asarray(x, IntFormat(8, per_channel=True, axis=1))
    b = a * 2
    assert b.scale.tolist() == [4.0 / 127, 200.0 / 127]
    np.testing.assert_array_equal(b.values, lp.quantize_int(x * 2, IntFormat(8, per_channel=True, axis=1)))


@pytest.mark.parametrize("shape, axis", [((3, 300), 0), ((2, 3, 300), 1), ((4, 2, 2, 150), 1)])
@pytest.mark.parametrize("mode", [1, 3])
def test_per_channel_long_runs(shape, axis, mode):
    """Channel runs of >= 256 elements take the run kernels: same as quantizing each slice."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=shape) * rng.uniform(0.1, 10, size=shape[axis]).reshape(
        [-1 if i == axis else 1 for i in range(len(shape))])
    fmt = IntFormat(8, symmetric=False, per_channel=True, axis=axis)
    got = lp.quantize_int(x, fmt, mode)
    q = lp.int_codes(x, fmt, mode)
    for c in range(shape[axis]):
        one = lp.int_codes(np.take(x, c, axis=axis), IntFormat(8, symmetric=False), mode)
        assert q.scale[c] == one.scale and q.zero_point[c] == one.zero_point
        np.testing.assert_array_equal(np.take(got, c, axis=axis), one.values)
