"""Dask arrays: lp.chop chunk by chunk, lp.asarray with LPFloat chunks."""

import numpy as np
import pytest

import lowprec as lp

da = pytest.importorskip("dask.array")


@pytest.fixture
def x():
    rng = np.random.default_rng(0)
    return rng.standard_normal((40, 30)) * 2.0 ** rng.integers(-20, 20, (40, 30))


@pytest.mark.parametrize("mode", [1, 2, 3, 4, 7, 8, 9])
def test_chop_equals_numpy(x, mode):
    d = da.from_array(x, chunks=(16, 7))
    r = lp.chop(d, "bf16", mode)
    assert isinstance(r, da.Array)
    np.testing.assert_array_equal(r.compute(), lp.chop(x, "bf16", mode))
    np.testing.assert_array_equal(d.compute(), x)  # the input is untouched


def test_stochastic_is_reproducible_for_a_seed(x):
    d = da.from_array(x, chunks=(16, 7))
    a = lp.chop(d, "half", "stochastic", seed=3).compute()
    b = lp.chop(d, "half", "stochastic", seed=3).compute()
    c = lp.chop(d, "half", "stochastic", seed=4).compute()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    down, up = lp.chop(x, "half", "down"), lp.chop(x, "half", "up")
    assert np.all((a == down) | (a == up))


def test_asarray_gives_lpfloat_chunks_and_emulated_ops(x):
    d = lp.asarray(da.from_array(x, chunks=(16, 7)), "half")
    assert isinstance(d, da.Array)
    ref = lp.asarray(x, "half")
    s = (d * d + 1.0).compute()
    assert isinstance(s, lp.LPFloat) and s.format == lp.format("half")
    np.testing.assert_array_equal(s.values, (ref * ref + 1.0).values)
    np.testing.assert_array_equal(np.sqrt(abs(d)).compute().values, np.sqrt(abs(ref)).values)


def test_dask_reductions_stay_emulated(x):
    d = lp.asarray(da.from_array(np.abs(x) + 1, chunks=(16, 7)), "half")
    total = d.sum().compute()
    assert isinstance(total, lp.LPFloat) and total.format == lp.format("half")
    # blockwise sums, then a tree of rounded sums: a half value, not the binary64 sum
    assert float(total) == float(lp.chop(float(total), "half"))
