"""lp.to_bits / lp.from_bits: every code of the small formats, against the format's own
decoder and ml_dtypes' bit patterns."""

import ml_dtypes
import numpy as np
import pytest

import lowprec as lp
from lowprec.errors import FormatRangeError

SMALL = ["half", "bf16", "e4m3", "e4m3fn", "e4m3fnuz", "e5m2", "e5m2fnuz", "fp6_e2m3", "fp6_e3m2",
         "fp4_e2m1", "binary8p3", "binary8p1", "binary8p7"]
ML = {"half": np.float16, "bf16": ml_dtypes.bfloat16, "e4m3fn": ml_dtypes.float8_e4m3fn,
      "e4m3fnuz": ml_dtypes.float8_e4m3fnuz, "e5m2": ml_dtypes.float8_e5m2,
      "e5m2fnuz": ml_dtypes.float8_e5m2fnuz}


@pytest.mark.parametrize("name", SMALL)
def test_every_code_round_trips(name):
    fmt = lp.format(name)
    codes = np.arange(2 ** fmt.bits)
    values = lp.from_bits(codes, fmt)
    want = np.array([fmt.decode(int(c)) for c in codes])
    np.testing.assert_array_equal(values.values, want)  # NaN == NaN here
    finite_or_inf = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(values.values[finite_or_inf]), np.signbit(want[finite_or_inf]))
    back = lp.to_bits(values)
    np.testing.assert_array_equal(back[finite_or_inf], codes[finite_or_inf])
    nan_codes = np.unique(back[~finite_or_inf])  # one canonical NaN code, if the format has NaN
    assert nan_codes.size == int(fmt.has_nan)
    assert all(np.isnan(fmt.decode(int(c))) for c in nan_codes)
    assert back.dtype == (np.uint8 if fmt.bits <= 8 else np.uint16)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")
@pytest.mark.parametrize("name", sorted(ML))
def test_bit_patterns_match_ml_dtypes(name):
    fmt = lp.format(name)
    ml = ML[name]
    uint = np.uint8 if fmt.bits == 8 else np.uint16
    codes = np.arange(2 ** fmt.bits, dtype=uint)
    values = codes.view(ml).astype(np.float64)
    ok = ~np.isnan(values)
    np.testing.assert_array_equal(lp.to_bits(values[ok], fmt), codes[ok])
    nan = lp.to_bits(np.array([np.nan]), fmt)
    assert np.isnan(nan.view(ml).astype(np.float64)[0])


@pytest.mark.parametrize("name,dtype,uint", [("single", np.float32, np.uint32), ("double", np.float64, np.uint64)])
def test_wide_formats_match_the_hardware_encoding(name, dtype, uint):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1000).astype(dtype) * dtype(2.0) ** rng.integers(-140, 120, 1000).astype(dtype)
    x = np.concatenate([x, np.array([0.0, -0.0, np.inf, -np.inf, np.finfo(dtype).smallest_subnormal,
                                     np.finfo(dtype).max], dtype=dtype)])
    np.testing.assert_array_equal(lp.to_bits(x.astype(np.float64), name), x.view(uint))
    np.testing.assert_array_equal(lp.from_bits(x.view(uint), name).values, x.astype(np.float64))


def test_lpfloat_method_and_errors():
    a = lp.asarray([1.0, 0.1], "half")
    np.testing.assert_array_equal(a.to_bits(), np.array([1.0, 0.1], np.float16).view(np.uint16))
    with pytest.raises(FormatRangeError, match="lp.chop"):
        lp.to_bits([0.1], "half")
    with pytest.raises(FormatRangeError):
        lp.from_bits([256], "e4m3fn")
    with pytest.raises(TypeError):
        lp.to_bits([1.0])
