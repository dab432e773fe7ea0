"""JAX (issue 12): subnormal-safe arithmetic under x64 and accumulation models that mean
what they say, against the exact oracle and bit for bit against LPFloat."""

import math
from fractions import Fraction

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import lowprec as lp  # noqa: E402
from lowprec.jax import numpy as lnp  # noqa: E402
from verification import jax_backend as VJ  # noqa: E402
from verification.accumulate import oracle_dot, oracle_prod  # noqa: E402
from verification.oracle import round_oracle  # noqa: E402

MODES = [1, 2, 3, 4, 9]




def bits(v):
    v = np.asarray(v.values if isinstance(v, (lp.jax.LPArray, lp.LPArray)) else v, np.float64)
    return np.where(np.isnan(v), np.nan, v).view(np.int64).tolist()


def same(a, b):
    a = np.asarray(a.values if isinstance(a, (lp.jax.LPArray, lp.LPArray)) else a, np.float64)
    b = np.asarray(b.values if isinstance(b, (lp.jax.LPArray, lp.LPArray)) else b, np.float64)
    ok = (a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))
    assert ok.all(), (a[~ok][:4], b[~ok][:4])


def lpa(x, fmt, mode=1, dtype=jnp.float64):
    return lp.jax.asarray(jnp.asarray(np.asarray(x), dtype), fmt, mode)


# ------------------------------------------------------------------ arithmetic under x64

def test_double_subnormals_are_not_flushed(x64):
    tiny = lpa([5e-324, 2.0 ** -1070, 1e-310], "double")
    one = lpa([1.0, 3.0, 1e-10], "double")
    x = np.array([5e-324, 2.0 ** -1070, 1e-310])
    y = np.array([1.0, 3.0, 1e-10])
    same(tiny * one, x * y)  # 5e-324 * 1.0 was 0
    same(tiny + tiny, x + x)
    same(tiny - one * 0.0, x)
    same(tiny / one, x / y)
    same(lnp.sqrt(tiny), np.sqrt(x))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["double", "e11m10"])
def test_x64_arithmetic_against_the_oracle(name, x64):
    # hard operand tuples (subnormal results, storage subnormals, ties, overflow), a few
    # per kind; every deterministic mode of the verification family
    checks = VJ.arithmetic(lp.format(name), 48, np.random.default_rng(3), x64_modes=(True,))
    bad = [c for c in checks if c.mismatches]
    assert checks and not bad, [(c.family, c.mode, c.examples[:1]) for c in bad]


def test_bf16_float32_subnormals_without_x64():
    a = lpa([2.0 ** -130, 3 * 2.0 ** -133], "bf16", dtype=jnp.float32)
    b = lpa([2.0 ** -130, 0.5], "bf16", dtype=jnp.float32)
    assert np.asarray((a + b).values).tolist() == [2.0 ** -129, np.float32(3 * 2.0 ** -133 + 0.5)]
    assert np.asarray((a * b).values).tolist()[1] == 2 * 2.0 ** -133  # 1.5 gaps: to even


# ------------------------------------------------------------------ the exact model

ISSUE_CASES = [  # (format, mode, rows, want) from issue 12
    ("bf16", "up", [[1.0, 2.0 ** -60]], [1.0078125]),
    ("half", "nearest_even", [[-0.0]], [-0.0]),
    ("half", "down", [[1.0, -1.0]], [-0.0]),
    ("half", "nearest_even", [[1.0, -1.0]], [0.0]),
    ("half", "down", [[0.0, 0.0]], [0.0]),
    ("half", "down", [[-0.0, -0.0]], [-0.0]),
    ("bf16", "nearest_even", [[2.0 ** -130, 2.0 ** -130]], [2.0 ** -129]),
]


@pytest.mark.parametrize("on", [True, False])
def test_exact_sum_issue_cases(on):
    with VJ.x64(on):
        dt = jnp.float64 if on else jnp.float32
        for name, mode, rows, want in ISSUE_CASES:
            a = lpa(rows, name, mode, dt)
            with lp.accumulate("exact"):
                got = lnp.sum(a, axis=1)
            assert bits(got) == bits(np.array(want)), (name, mode, rows, got.values)
            same(got, _np_sum(rows, name, mode))


def _np_sum(rows, name, mode):
    with lp.accumulate("exact"):
        return np.sum(lp.asarray(np.array(rows, np.float64), name, mode), axis=1)


def test_exact_matmul_wide_exponents(x64):
    a = lpa([[2.0 ** 600, 2.0 ** 600]], "e11m10", "toward_zero")
    b = lpa([[2.0 ** 600], [2.0 ** 600]], "e11m10", "toward_zero")
    with lp.accumulate("exact"):
        assert (a @ b).values[0, 0] == lp.format("e11m10").xmax  # was inf


def _hard_matrix(fmt, shape, rng, dtype):
    """Format values with cancellation, subnormals, overflowing partial sums and zeros."""
    e = rng.integers(fmt.emin - fmt.t, fmt.emax + 1, shape)
    with np.errstate(all="ignore"):
        x = np.clip(rng.standard_normal(shape) * np.ldexp(1.0, e), -fmt.xmax, fmt.xmax)
    x = np.asarray(lp.chop(x, fmt), np.float64)
    flat = x.reshape(-1)
    flat[: flat.size // 6] = rng.choice([0.0, -0.0, fmt.xmins, -fmt.xmins, fmt.xmax, -fmt.xmax, 1.0],
                                        flat.size // 6)
    return x.astype(dtype)


@pytest.mark.parametrize("on", [True, False])
@pytest.mark.parametrize("name", ["bf16", pytest.param("half", marks=pytest.mark.slow),
                                  pytest.param("e4m3fn", marks=pytest.mark.slow),
                                  pytest.param("e11m10", marks=pytest.mark.slow),
                                  pytest.param("e8m30", marks=pytest.mark.slow),
                                  pytest.param("double", marks=pytest.mark.slow)])
def test_exact_matmul_and_sum_equal_the_oracle_and_lpfloat(name, on):
    f = lp.format(name)
    if not on and not VJ.fits_float32(f):
        pytest.skip("needs x64")
    rng = np.random.default_rng(11)
    dt = np.float64 if on else np.float32
    A = _hard_matrix(f, (4, 9), rng, dt)
    B = _hard_matrix(f, (9, 3), rng, dt)
    A[0] = -0.0
    B[:, 0] = 0.0
    with VJ.x64(on):
        for mode in (2, 3) if name == "bf16" else MODES:  # bf16 runs by default: two modes
            ja, jb = lpa(A, f, mode, dt), lpa(B, f, mode, dt)
            with lp.accumulate("exact"):
                got, sums = ja @ jb, lnp.sum(ja, axis=1)
                cums, prods = lnp.cumsum(ja, axis=1), lnp.prod(ja[:, :5], axis=1)
            want = [[oracle_dot(A[i], B[:, j], f, mode, "exact") for j in range(3)] for i in range(4)]
            assert bits(got) == bits(np.array(want)), (mode, got.values, want)
            assert bits(sums) == bits(np.array([oracle_dot(A[i], None, f, mode, "exact") for i in range(4)]))
            assert bits(cums) == bits(np.array([[oracle_dot(A[i, :j + 1], None, f, mode, "exact")
                                                 for j in range(9)] for i in range(4)]))
            assert bits(prods) == bits(np.array([oracle_prod(A[i, :5], f, mode) for i in range(4)]))
            na, nb = lp.asarray(A.astype(np.float64), f, mode), lp.asarray(B.astype(np.float64), f, mode)
            with lp.accumulate("exact"):  # LPFloat: the same bits
                assert bits(got) == bits(na @ nb)
                assert bits(sums) == bits(np.sum(na, axis=1))


def test_exact_sum_long_rows_fast_and_slow_paths():
    # without x64 the float32 fast path needs the row on a 24-bit window; long random rows
    # take the superaccumulator (digits renormalized every few thousand terms)
    rng = np.random.default_rng(2)
    x = np.asarray(lp.chop(rng.standard_normal((2, 9000)) * 2.0 ** rng.integers(-20, 20, (2, 9000)), "bf16"))
    x[1] = np.asarray(lp.chop(rng.uniform(1, 2, 9000), "bf16"))  # narrow: the fast path
    got = lnp.sum(lpa(x, "bf16", "up", jnp.float32), axis=1, model="exact")
    want = [round_oracle(sum(Fraction(float(v)) for v in r), lp.format("bf16"), 2) for r in x]
    assert bits(got) == bits(np.array(want))


def test_exact_stochastic_without_x64_on_the_cpu():
    # the CPU backend runs NumPy's exact model (lowprec.jax._host): no float64 needed
    a = lp.jax.asarray(jnp.ones((2, 3), jnp.float32), "bf16", "stochastic", seed=1)
    got = lnp.sum(a, axis=1, model="exact", key=jax.random.key(0))
    assert got.values.dtype == jnp.float32 and np.all(np.asarray(got.values) == 3.0)


def test_exact_stochastic_is_unbiased(x64):
    # 1 + 2**-10 * k / 8 in bf16 rounds up with probability k / 8 (exact residual)
    x = lp.jax.asarray(jnp.asarray(np.tile([[1.0, 2.0 ** -10]], (4000, 1))), "bf16", "stochastic", seed=0)
    got = lnp.sum(x, axis=1, model="exact", key=jax.random.key(3))
    up = np.mean(np.asarray(got.values) > 1.0)
    assert abs(up - 2.0 ** -10 / 2.0 ** -7) < 0.03


# ------------------------------------------------------------------ pairwise and fma

@pytest.mark.slow
@pytest.mark.parametrize("model", ["pairwise", "fma", "sequential"])
@pytest.mark.parametrize("name", ["e8m30", "e11m10", "half"])
def test_models_equal_the_oracle_and_lpfloat(name, model, x64):
    f = lp.format(name)
    rng = np.random.default_rng(12)
    A = _hard_matrix(f, (3, 7), rng, np.float64)
    B = _hard_matrix(f, (7, 2), rng, np.float64)
    for mode in (1, 2, 4):
        ja, jb = lpa(A, f, mode), lpa(B, f, mode)
        with lp.accumulate(model):
            got = ja @ jb
            with np.errstate(all="ignore"):
                ref = lp.asarray(A, f, mode) @ lp.asarray(B, f, mode)
        want = [[oracle_dot(A[i], B[:, j], f, mode, model) for j in range(2)] for i in range(3)]
        assert bits(got) == bits(np.array(want)), (mode, got.values, want)
        assert bits(got) == bits(ref)


def test_fma_rounds_once_for_t_above_26(x64):
    # issue 12: e8m30 x*y - c with cancellation; the exact product, one rounding
    f = lp.format("e8m30")
    x = float(lp.chop(1 + 2.0 ** -30 * 3, f))
    c = float(lp.chop(x * x, f, "down"))
    a, b = lpa([[-c, x]], f), lpa([[1.0], [x]], f)  # acc = -c exactly, then acc + x*x once
    with lp.accumulate("fma"):
        got = float((a @ b).values[0, 0])
    want = round_oracle(Fraction(x) * Fraction(x) - Fraction(c), f, 1)
    assert got == want and got != 0


def test_e11_products_beyond_binary64(x64):
    # products of 2**-600 underflow binary64 (and 2**600 overflow it) where e11m10 holds them
    f = lp.format("e11m10")
    for v, mode in ((2.0 ** -600, "up"), (2.0 ** 600, "toward_zero"), (2.0 ** 600, "up")):
        a, b = lpa([[v, v]], f, mode), lpa([[v], [v]], f, mode)
        for model in ("pairwise", "fma", "exact"):
            with lp.accumulate(model):
                got = (a @ b).values[0, 0]
            want = oracle_dot([v, v], [v, v], f, {"up": 2, "toward_zero": 4}[mode], model)
            assert bits(np.array(got)) == bits(np.array(want)), (v, mode, model, got, want)


@pytest.mark.parametrize("name", ["half", "bf16"])
def test_in_jax_certificate_path_off_the_cpu_equals_lpfloat(name, monkeypatch):
    """The path other backends take (lowprec.jax._superacc: the interval certificate, then
    the superaccumulator only if some entry needs it), forced on the CPU: eager (checked
    in Python) and under jit (lax.cond), certified and tie entries alike, as LPFloat."""
    from lowprec.jax import _host
    monkeypatch.setattr(_host, "on_host", lambda: False)
    rng = np.random.default_rng(2)
    a = np.asarray(lp.chop(rng.standard_normal((6, 16)), name), np.float64)
    b = np.asarray(lp.chop(rng.standard_normal((16, 5)), name), np.float64)
    ties = np.tile([[1.0, 2.0 ** -8 if name == "bf16" else 2.0 ** -11]], (3, 1))  # exact midpoints
    for mode in ("nearest_even", "up"):
        x, y = lpa(a, name, mode, jnp.float32), lpa(b, name, mode, jnp.float32)
        with lp.accumulate("exact"):
            want_mm = np.asarray(lp.asarray(a, name, mode) @ lp.asarray(b, name, mode), np.float64)
            want_sum = np.asarray(np.sum(lp.asarray(ties, name, mode), axis=1), np.float64)
        got = np.asarray(lnp.matmul(x, y, model="exact").values, np.float64)
        np.testing.assert_array_equal(got, want_mm)
        jitted = jax.jit(lambda u, v: lnp.matmul(u, v, model="exact").values)
        np.testing.assert_array_equal(np.asarray(jitted(x, y), np.float64), want_mm)
        t = lpa(ties, name, mode, jnp.float32)
        got_sum = np.asarray(lnp.sum(t, axis=1, model="exact").values, np.float64)
        np.testing.assert_array_equal(got_sum, want_sum)
