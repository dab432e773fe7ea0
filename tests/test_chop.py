"""lp.chop as a NumPy user meets it: kinds, dtypes, shapes, out=, errors, randomness."""

import math

import numba
import numpy as np
import pytest

import lowprec as lp
from lowprec.dispatch import register_backend


def bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.fixture
def x():
    return np.random.default_rng(0).standard_normal((7, 5)) * 100


# ------------------------------------------------------------------------ kinds and dtypes
def test_python_float_in_python_float_out():
    y = lp.chop(1 / 3)
    assert type(y) is float and y == 0.333251953125


def test_python_int_and_complex():
    assert lp.chop(2049, "half") == 2048.0 and type(lp.chop(2049)) is float
    z = lp.chop(complex(1 / 3, -1 / 3), "half")
    assert type(z) is complex and z == complex(0.333251953125, -0.333251953125)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_numpy_scalar_keeps_type(dtype):
    y = lp.chop(dtype(0.1), "e4m3")
    assert type(y) is dtype and y == dtype(0.1015625)


def test_zero_dim_array_stays_array():
    y = lp.chop(np.array(0.1), "bf16")
    assert isinstance(y, np.ndarray) and y.shape == () and y == 0.10009765625


def test_sequences_keep_their_kind():
    assert lp.chop([0.1, [0.2, 0.3]] if False else [[0.1, 0.2], [0.3, 0.4]], "bf16") == [
        [0.10009765625, 0.2001953125], [0.30078125, 0.400390625]]
    t = lp.chop((0.1, 0.2), "bf16")
    assert t == (0.10009765625, 0.2001953125) and isinstance(t, tuple)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.complex128, np.complex64])
def test_dtype_and_shape_preserved(dtype, x):
    a = (x + 1j * x[::-1]).astype(dtype) if np.dtype(dtype).kind == "c" else x.astype(dtype)
    y = lp.chop(a, "e5m2")
    assert y.dtype == a.dtype and y.shape == a.shape


def test_complex_parts_rounded_separately(x):
    z = x + 1j * x[::-1]
    y = lp.chop(z, "half")
    assert bits_equal(y.real.copy(), lp.chop(z.real.copy(), "half"))
    assert bits_equal(y.imag.copy(), lp.chop(z.imag.copy(), "half"))


def test_float16_storage_matches_numpy(x):
    a = x.astype(np.float16)
    assert bits_equal(lp.chop(a, "half"), a)
    assert bits_equal(lp.chop(a, "e5m2"), lp.chop(a.astype(np.float32), "e5m2").astype(np.float16))


def test_integers_become_float64():
    y = lp.chop(np.arange(2040, 2060, dtype=np.int32), "half")
    assert y.dtype == np.float64 and y[9] == 2048.0 and y[10] == 2050.0
    assert lp.chop(np.uint8(247), "e4m3") == 240.0 and lp.chop(np.uint8(255), "e4m3") == math.inf


@pytest.mark.parametrize("bad", [np.array([True, False]), np.array(["a"]), np.array([object()]),
                                 True, "1.5", [1, "a"]])
def test_unroundable_input_is_type_error(bad):
    with pytest.raises(TypeError):
        lp.chop(bad)


def test_longdouble_is_rejected_with_advice():
    with pytest.raises(TypeError, match="float64"):
        lp.chop(np.ones(3, np.longdouble))


def test_format_too_wide_for_storage():
    with pytest.raises(ValueError, match="float64"):
        lp.chop(np.ones(3, np.float32), "double")
    with pytest.raises(ValueError, match="float64"):
        lp.chop(np.ones(3, np.float32), "e9m10")  # emax 255 > 127
    with pytest.raises(ValueError, match="float64"):
        lp.chop(np.ones(3, np.float16), "bf16")


def test_unknown_format_and_mode():
    with pytest.raises(ValueError, match="'half'"):
        lp.chop(1.0, "halff")
    with pytest.raises(ValueError, match="1-9"):
        lp.chop(1.0, "half", 10)
    with pytest.raises(ValueError, match="'nearest_even'|'nearest'"):
        lp.chop(1.0, "half", "nearest_evn")


def test_fixed_format_goes_elsewhere():
    with pytest.raises(ValueError, match="fixed-point or integer"):
        lp.chop(1.0, "q8.8")


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_p_outside_unit_interval(p):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        lp.chop(1.0, flip=True, p=p)


def test_mode_names_and_numbers_agree(x):
    for name, mode in lp.rounding.MODE_NAMES.items():
        assert bits_equal(lp.chop(x, "bf16", name, seed=1), lp.chop(x, "bf16", int(mode), seed=1))
    assert bits_equal(lp.chop(x, "bf16", 2.0), lp.chop(x, "bf16", 2))


# ------------------------------------------------------------------ input untouched, out=, views
def test_input_never_modified(x):
    before = x.copy()
    lp.chop(x, "e4m3", "stochastic", flip=True)
    assert bits_equal(x, before)


def test_out_argument(x):
    out = np.empty_like(x)
    y = lp.chop(x, "half", out=out)
    assert y is out and bits_equal(out, lp.chop(x, "half"))


def test_out_is_input_rounds_in_place(x):
    expected = lp.chop(x, "half")
    y = lp.chop(x, "half", out=x)
    assert y is x and bits_equal(x, expected)


def test_out_mismatch_errors(x):
    with pytest.raises(ValueError, match="shape"):
        lp.chop(x, out=np.empty((2, 2)))
    with pytest.raises(TypeError, match="dtype"):
        lp.chop(x, out=np.empty(x.shape, np.float32))
    with pytest.raises(TypeError):
        lp.chop(1.0, out=np.empty(()))


@pytest.mark.parametrize("view", [lambda a: a[::2, ::-1], lambda a: a.T, lambda a: np.asfortranarray(a)])
def test_non_contiguous_input_and_out(x, view):
    v = view(x)
    assert bits_equal(lp.chop(v, "bf16", 3), lp.chop(np.ascontiguousarray(v), "bf16", 3))
    out = view(np.zeros_like(x))
    lp.chop(v, "bf16", 3, out=out)
    assert bits_equal(np.ascontiguousarray(out), lp.chop(np.ascontiguousarray(v), "bf16", 3))


def test_empty_array():
    y = lp.chop(np.empty((0, 3)), "half")
    assert y.shape == (0, 3)


# -------------------------------------------------------------------------------- randomness
def test_seed_makes_a_call_repeatable(x):
    a = lp.chop(x, "e4m3", "stochastic", seed=5)
    assert bits_equal(a, lp.chop(x, "e4m3", "stochastic", seed=5))
    assert not bits_equal(a, lp.chop(x, "e4m3", "stochastic", seed=6))


def test_global_seed_gives_fresh_bits_per_call(x):
    lp.seed(1)
    a, b = lp.chop(x, "e4m3", "sr"), lp.chop(x, "e4m3", "sr")
    assert not bits_equal(a, b)
    lp.seed(1)
    assert bits_equal(a, lp.chop(x, "e4m3", "sr")) and bits_equal(b, lp.chop(x, "e4m3", "sr"))


def test_rng_generator(x):
    a = lp.chop(x, "e4m3", "sr", rng=np.random.default_rng(3))
    assert bits_equal(a, lp.chop(x, "e4m3", "sr", rng=np.random.default_rng(3)))
    with pytest.raises(TypeError, match="Generator"):
        lp.chop(x, "e4m3", "sr", rng=np.random.RandomState(3))


def test_result_independent_of_thread_count():
    x = np.random.default_rng(1).standard_normal(100_003)
    results = []
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        try:
            results.append(lp.chop(x, "bf16", "stochastic", seed=9, flip=True, p=0.1))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert bits_equal(*results)


def test_result_independent_of_layout():
    """The stream is indexed by C-order position: a Fortran copy draws the same bits."""
    x = np.random.default_rng(2).standard_normal((64, 33))
    a = lp.chop(x, "bf16", "stochastic", seed=4)
    assert bits_equal(a, lp.chop(np.asfortranarray(x), "bf16", "stochastic", seed=4))


def test_seed_validation():
    with pytest.raises(ValueError):
        lp.seed(-1)
    with pytest.raises(ValueError):
        lp.chop(1.0, "half", "sr", seed=1.5)


# ------------------------------------------------------------------------------- soft errors
def test_flip_probability_zero_and_one():
    x = lp.chop(np.random.default_rng(3).uniform(1, 2, 5000), "half")
    assert bits_equal(lp.chop(x, "half", flip=True, p=0.0, seed=1), x)
    y = lp.chop(x, "half", flip=True, p=1.0, seed=1)
    ulps = np.abs(y - x) / 2.0**-10  # exponent 0: the flipped bit is worth a power of two ulps
    k = np.log2(ulps)
    assert np.all(k == np.round(k)) and set(np.unique(k)) == set(range(10))  # bits 1..t-1 only


def test_flip_rate_matches_p():
    x = lp.chop(np.random.default_rng(4).uniform(1, 2, 200_000), "bf16")
    y = lp.chop(x, "bf16", flip=True, p=0.25, seed=2)
    rate = np.mean(y != x)
    assert abs(rate - 0.25) < 6 * math.sqrt(0.25 * 0.75 / x.size)


def test_flip_keeps_specials_and_zero():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan])
    y = lp.chop(x, "half", flip=True, p=1.0, seed=1)
    assert bits_equal(y[:4], x[:4]) and np.isnan(y[4])


# ----------------------------------------------------------------------------------- dispatch
class Boxed:
    def __init__(self, v):
        self.v = v


def test_backends_plug_in_without_editing_chop():
    register_backend(Boxed, lambda x, spec, out: Boxed(lp.chop(x.v, spec.fmt, spec.mode)))
    y = lp.chop(Boxed(np.array([0.1])), "bf16")
    assert isinstance(y, Boxed) and y.v[0] == 0.10009765625


def test_lazy_backend_by_name():
    class Lazy(Boxed):
        pass

    register_backend(f"{Lazy.__module__}.{Lazy.__qualname__}", "test_chop:_lazy_handler")
    assert lp.chop(Lazy(2.0), "half") == "lazy"


def _lazy_handler(x, spec, out):
    return "lazy"
