"""The whole-array implementation (used by the torch and JAX backends) equals the kernels."""

import numpy as np
import pytest

import lowprec as lp
from lowprec.chop import round_with_bits
from lowprec.rounding import RoundingMode, array_api, rounding_params

FORMATS = ["half", "bf16", "tf32", "e4m3", "e4m3fn", "e5m2fnuz", "fp4_e2m1", "binary8p1", "binary8p3uf",
           "single", "double", "e3m4"]


def values(fmt, rng, n=200):
    grid = np.ldexp(1.0, rng.integers(fmt.emin - fmt.t - 3, fmt.emax + 3, n))
    with np.errstate(over="ignore"):
        return np.concatenate([rng.uniform(-2, 2, n) * grid, [
            0.0, -0.0, np.inf, -np.inf, np.nan, fmt.xmax, -fmt.xmax, fmt.xmax * (1 + fmt.u / 2),
            fmt.xmins / 2, -fmt.xmins / 2, fmt.xmin * 0.75, 3e-320, -1e-310]])


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_array_api_equals_kernels(name, dtype):
    fmt = lp.format(name)
    try:
        rounding_params(fmt, True, np.dtype(dtype))
    except lp.FormatError:
        pytest.skip(f"{name} does not fit {np.dtype(dtype)}")
    rng = np.random.default_rng(len(name))
    with np.errstate(all="ignore"):
        x = values(fmt, rng).astype(dtype)
    ints = np.int64 if dtype == np.float64 else np.int32
    checked = 0
    for subnormal in (True, False):
        for explim in (True, False):
            p = rounding_params(fmt, explim, np.dtype(dtype), subnormal)
            for mode in RoundingMode:
                r62 = rng.integers(0, 2**62, x.size, dtype=np.int64)
                want = round_with_bits(x, fmt, mode, r62, subnormal=subnormal, explim=explim)
                for fast in (True, False):  # the integer fast path with its fix-up, and the general path
                    with np.errstate(all="ignore"):
                        got = array_api.round_array(x, p, mode, r62, fast=fast)
                    assert got.dtype == x.dtype
                    same = (got.view(ints) == want.view(ints)) | (np.isnan(got) & np.isnan(want))
                    assert same.all(), (mode, fast, subnormal, explim, x[~same][:3], got[~same][:3])
                    checked += x.size
    assert checked == 4 * 9 * 2 * x.size


def test_fast_path_in_the_normal_range_alone():
    """Inputs that all take the fast path (no fix-up) round as the kernels do, t = 1 included."""
    rng = np.random.default_rng(1)
    for name in ("bf16", "e4m3", "binary8p1", "fp4_e2m1"):
        fmt = lp.format(name)
        x = rng.uniform(1, 2, 500) * np.ldexp(1.0, rng.integers(fmt.emin, fmt.emax, 500))
        x = np.minimum(x, fmt.xmax) * rng.choice([-1, 1], 500)
        p = rounding_params(fmt)
        for mode in RoundingMode:
            r62 = rng.integers(0, 2**62, x.size, dtype=np.int64)
            got = array_api.round_array(x, p, mode, r62)
            assert np.array_equal(got, round_with_bits(x, fmt, mode, r62)), (name, mode)


def test_stochastic_needs_bits():
    with pytest.raises(ValueError, match="random bits"):
        array_api.round_array(np.ones(3), rounding_params(lp.format("half")), "stochastic")
