"""OCP MX and block floating point: formats, lp.quantize_mx / lp.mx_encode.

The hand-checked examples follow the OCP Microscaling Formats (MX) v1.0 conversion
(section 6.3): ``X = floor(log2(amax)) - emax_elem``, elements ``x / 2**X`` rounded to
nearest even in the element format and clamped to its largest normal.
"""

import numpy as np
import pytest

import lowprec as lp
from lowprec.formats import MX_FORMATS, BlockFormat, FixedFormat
from verification import fixed as V


def block(values, size=32):
    out = np.zeros(size)
    out[: len(values)] = values
    return out


@pytest.mark.parametrize("name, emax, xmax", [
    ("mxfp8_e4m3", 8, 448.0), ("mxfp8_e5m2", 15, 57344.0), ("mxfp6_e2m3", 2, 7.5), ("mxfp6_e3m2", 4, 28.0),
    ("mxfp4_e2m1", 2, 6.0), ("mxint8", 0, 127 / 64),
])
def test_mx_formats_match_the_spec_table(name, emax, xmax):
    f = lp.format(name)
    assert f is MX_FORMATS[name] and f.block_size == 32 and f.scale_rule == "floor"
    assert (f.emax_elem, f.element_max) == (emax, xmax)


def test_spec_example_mxfp8_e4m3():
    # amax = 1: X = 0 - 8 = -8 (E8M0 code 119); 0.001 * 2**8 = 0.256 -> e4m3 0.25
    q = lp.mx_encode(block([1.0, 0.001, -0.5, 3 / 1024]), "mxfp8_e4m3")
    assert q.exponents.tolist() == [-8] and q.exponents[0] + 127 == 119
    assert q.elements[:4].tolist() == [256.0, 0.25, -128.0, 0.75]
    assert q.values[:4].tolist() == [1.0, 2**-10, -0.5, 3 / 1024]


def test_spec_saturation_and_the_ceil_rule():
    # amax = 1.9: FLOOR gives X = -8 and 1.9 * 256 = 486.4 > 448: clamped to 448 (= 1.75)
    floor = lp.quantize_mx(block([1.9, 1.0]), "mxfp8_e4m3")
    assert floor[:2].tolist() == [1.75, 1.0]
    # CEIL: X = ceil(log2(1.9 / 448)) = -7; 1.9 * 128 = 243.2 -> 240 (step 16 in [128, 256))
    ceil = lp.quantize_mx(block([1.9, 1.0]), "mxfp8_e4m3", scale_rule="ceil")
    assert ceil[:2].tolist() == [1.875, 1.0]
    assert lp.mx_encode(block([1.9]), "mxfp8_e4m3", scale_rule="ceil").exponents.tolist() == [-7]


def test_spec_example_mxfp4_and_mxint8():
    # FP4: amax 1000 -> X = 9 - 2 = 7; 1000/128 = 7.8125 saturates to 6; 1/128 -> 0
    assert lp.quantize_mx([1.0, 0.3, 1000.0, 1e-3], "mxfp4_e2m1", block_size=4) == [0.0, 0.0, 768.0, 0.0]
    # MXINT8: elements are 8-bit integers times 2**-6; amax 1.99 -> X = 0, 1.99 * 64 = 127.36 -> 127
    q = lp.mx_encode(block([1.99, -1.0, 0.01]), "mxint8")
    assert q.exponents.tolist() == [0]
    assert q.elements[:3].tolist() == [127 / 64, -1.0, 1 / 64]


def test_zero_nan_tiny_and_huge_blocks():
    x = np.concatenate([np.zeros(32), block([np.nan, 1.0]), block([2.0**-140]), block([2.0**135, 1.0])])
    q = lp.mx_encode(x, "mxfp8_e4m3")
    assert q.exponents.tolist() == [-127, 128, -127, 127]
    assert np.all(q.values[:32] == 0) and np.all(np.isnan(q.values[32:64]))
    assert q.values[64] == 0.0  # 2**-140 is below 2**-127 * the smallest e4m3 subnormal 2**-9 / 2
    assert q.values[96] == 256.0 * 2.0**127  # the largest scale, in range
    assert lp.quantize_mx(x, "mxfp8_e4m3", "up")[64] == 2.0**-136


@pytest.mark.parametrize("name", ["mxfp8_e4m3", "mxfp4_e2m1", "mxint8"])
def test_scale_overflow_is_never_silent(name):
    f = lp.format(name)
    limit = 2.0 ** (128 + f.emax_elem)  # the floor rule's X = 128: beyond E8M0
    x = np.concatenate([block([limit, 1.0]), block([1e300]), block([limit * 0.75, 1.0]), block([3.0])])
    with pytest.raises(OverflowError, match="2\\*\\*127.*scale_overflow"):
        lp.quantize_mx(x, name)
    with pytest.raises(OverflowError):
        lp.mx_encode(x, name)
    with pytest.warns(lp.LowprecWarning, match="clamped"):
        sat = lp.quantize_mx(x, name, scale_overflow="saturate")
    assert sat[0] == sat[32] == f.element_max * 2.0**127  # the old clamp, now with a warning
    q = lp.mx_encode(x, name, scale_overflow="nan")
    assert q.exponents.tolist()[:3] == [128, 128, 127]  # code 255: the blocks are NaN
    assert np.isnan(q.values[:64]).all() and not np.isnan(q.values[64:]).any()
    np.testing.assert_array_equal(lp.quantize_mx(x, name, scale_overflow="nan"), q.values)
    np.testing.assert_array_equal(q.values[64:], lp.quantize_mx(x[64:], name))  # other blocks as before
    ceil = lp.quantize_mx(np.array([f.element_max * 2.0**127]), name, block_size=1, scale_rule="ceil")
    assert ceil[0] == f.element_max * 2.0**127  # in range under the ceil rule
    with pytest.raises(OverflowError):
        lp.quantize_mx(np.array([f.element_max * 2.0**127 * 1.5]), name, block_size=1, scale_rule="ceil")
    with pytest.raises(ValueError, match="scale_overflow"):
        lp.quantize_mx(x, name, scale_overflow="clamp")


def test_scale_overflow_with_out_equal_to_input():
    x = np.concatenate([block([1e300]), block([1.0])])
    with pytest.raises(OverflowError):
        lp.quantize_mx(x, "mxfp8_e4m3", out=x)


@pytest.mark.parametrize("name", ["mxfp4_e2m1", "mxfp6_e2m3", "mxfp6_e3m2", "mxint8", "mxfp8_e4m3"])
def test_nan_into_elements_without_nan_is_a_nan_scale(name):
    # OCP MX: the scale's NaN (E8M0 0xFF) is the block's NaN, also where the element
    # format has no NaN encoding; the elements stay encodable
    x = np.concatenate([block([np.nan, 1.0]), block([np.inf, 1.0]), block([2.0, -1.0])])
    q = lp.mx_encode(x, name)
    assert q.exponents.tolist()[:2] == [128, 128]
    assert np.isnan(q.values[:64]).all() and np.isfinite(q.values[64:]).all()
    elem = lp.format(name).element
    if isinstance(elem, lp.FloatFormat):
        if elem.has_nan:
            assert np.isnan(q.elements[:64]).all()
        else:
            assert (q.elements[:64] == 0).all()
            lp.to_bits(q.elements, elem)  # every element encodes


def test_chop_nan_into_a_format_without_nan_is_documented():
    # lp.chop keeps NaN as the storage NaN (documented in lp.chop); encoding it is the error
    for name in ("fp4_e2m1", "fp6_e2m3", "fp6_e3m2"):
        assert np.isnan(lp.chop(np.array([np.nan]), name)[0])
        with pytest.raises(lp.FormatError, match="no NaN encoding"):
            lp.to_bits(np.array([np.nan]), name)
    assert "no NaN encoding" in lp.chop.__doc__


def test_block_size_not_dividing_the_axis_is_zero_padding():
    rng = np.random.default_rng(0)
    x = rng.normal(size=70)
    padded = np.concatenate([x, np.zeros(26)])
    for name in ("mxfp8_e4m3", "mxint8", "bfp4"):
        np.testing.assert_array_equal(lp.quantize_mx(x, name), lp.quantize_mx(padded, name)[:70])
    assert lp.mx_encode(x, "mxfp4_e2m1").exponents.shape == (3,)


def test_axis():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 5)) * np.exp2(rng.integers(-8, 8, (64, 1)))
    a = lp.quantize_mx(x, "mxfp6_e3m2", axis=0)
    b = lp.quantize_mx(x.T, "mxfp6_e3m2", axis=-1).T
    np.testing.assert_array_equal(a, b)
    assert lp.mx_encode(x, "mxfp6_e3m2", axis=0).exponents.shape == (2, 5)
    assert not np.array_equal(a, lp.quantize_mx(x, "mxfp6_e3m2", axis=1))


@pytest.mark.parametrize("name", ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp4_e2m1", "mxint8", "bfp6"])
def test_against_the_ocp_oracle(name):
    checks = V.mx_check(lp.format(name), np.random.default_rng(5), rows=6, length=45)
    assert len(checks) == 7 and all(c.ok for c in checks), [c.examples for c in checks if not c.ok][:2]


def test_block_floating_point():
    assert lp.format("bfp8") == lp.bfp(8) and lp.bfp(8).element == FixedFormat(2, 6)
    x = np.random.default_rng(2).normal(size=64)
    np.testing.assert_array_equal(lp.quantize_mx(x, "bfp8"), lp.quantize_mx(x, "mxint8"))
    q = lp.mx_encode(x, "bfp4_b16")
    assert q.exponents.shape == (4,)
    assert np.all(np.abs(q.elements) <= 1.75) and np.all(q.elements * 4 == np.round(q.elements * 4))
    assert lp.quantize_block(x, "bfp4_b16").tolist() == q.values.tolist()
    with pytest.raises(ValueError, match="block"):
        lp.quantize_mx(x, "int8")


def test_kinds_dtypes_and_input_untouched():
    x = np.random.default_rng(3).normal(size=(4, 40))
    keep = x.copy()
    y = lp.quantize_mx(x, "mxfp8_e4m3")
    assert y.shape == x.shape and y.dtype == np.float64
    np.testing.assert_array_equal(x, keep)
    y32 = lp.quantize_mx(x.astype(np.float32), "mxfp8_e4m3")
    assert y32.dtype == np.float32 and np.array_equal(y32, y.astype(np.float32))
    assert isinstance(lp.quantize_mx(0.3, "mxfp8_e4m3"), float)
    assert lp.quantize_mx([0.3, 0.1], "mxfp4_e2m1") == [0.25, 0.09375]
    out = np.empty_like(x)
    assert lp.quantize_mx(x, "mxfp8_e4m3", out=out) is out and np.array_equal(out, y)


def test_stochastic_element_rounding_is_unbiased():
    n = 64_000
    x = np.tile(block([4.0, 1.1]), n // 32)  # X = 2 - 2 = 0 in fp4: 1.1 lies between 1 and 1.5
    y = lp.quantize_mx(x, "mxfp4_e2m1", "stochastic", seed=2)
    vals = y[1::32]
    assert set(np.unique(vals)) == {1.0, 1.5}
    assert abs(np.mean(vals) - 1.1) < 4 * 0.5 * np.sqrt(0.2 * 0.8 / vals.size)


def test_block_format_validation():
    with pytest.raises(ValueError, match="scale_rule"):
        BlockFormat(lp.format("e4m3fn"), 32, "round")
    with pytest.raises(ValueError, match="signed"):
        BlockFormat(FixedFormat(2, 6, signed=False))
    assert str(lp.format("mxfp8").replace(scale_rule="ceil")) == "mxfp8_e4m3[ceil]"
