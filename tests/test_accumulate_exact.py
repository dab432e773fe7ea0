"""The accumulation models mean what they say (issue 12): "exact" is the exact result
rounded once, "pairwise" rounds correctly rounded products, "fma" rounds once per step
with the exact product -- in every format (t > 26, wide exponents) and mode."""

import numpy as np
import pytest

import lowprec as lp


def _sum(vals, fmt, mode=1, model="exact", **kw):
    return float(np.asarray(lp.sum(lp.asarray(np.array(vals, dtype=float), fmt, mode), accumulate=model, **kw)))


def _mm(a, b, fmt, mode=1, model="exact"):
    x = lp.asarray(np.array(a, dtype=float), fmt, mode)
    y = lp.asarray(np.array(b, dtype=float), fmt, mode)
    with lp.accumulate(model):
        return np.asarray(x @ y, dtype=float)


def _bits(v):
    return np.float64(v).view(np.int64)


@pytest.mark.parametrize("model", ["exact", "sequential", "pairwise", "fma"])
def test_sum_of_one_negative_zero_is_negative_zero(model):
    assert _bits(_sum([-0.0], "half", model=model)) == _bits(-0.0)


def test_exact_zero_sum_signs():
    assert _bits(_sum([1.0, -1.0], "half", "down")) == _bits(-0.0)
    assert _bits(_sum([1.0, -1.0], "half", "nearest")) == _bits(0.0)
    assert _bits(_sum([-0.0, -0.0], "half", "up")) == _bits(-0.0)
    assert _bits(_sum([0.0, 0.0], "half", "down")) == _bits(0.0)
    assert _bits(_sum([0.0, -0.0], "half", "down")) == _bits(-0.0)
    assert _bits(_sum([], "half", "down")) == _bits(0.0)


def test_exact_dot_with_k_1_keeps_negative_zero():
    assert _bits(_mm([[-0.0]], [[1.0]], "fp4_e2m1")[0, 0]) == _bits(-0.0)
    assert _bits(_mm([[0.0, -0.0]], [[-1.0], [1.0]], "half")[0, 0]) == _bits(-0.0)


def test_exact_beyond_binary64_precision():
    # bf16 round-up of 1 + 2**-60: the tiny term must not vanish in binary64
    assert _sum([1.0, 2.0 ** -60], "bf16", "up") == 1.0078125
    assert _mm([[1.0, 2.0 ** -60]], [[1.0], [1.0]], "bf16", "up")[0, 0] == 1.0078125
    # fp64: 1 + 2**-80 - 1 is 2**-80 exactly
    assert _sum([1.0, 2.0 ** -80, -1.0], "fp64") == 2.0 ** -80


def test_exact_beyond_binary64_range():
    f = lp.format("e11m10")
    got = _mm([[2.0 ** 600, 2.0 ** 600]], [[2.0 ** 600], [2.0 ** 600]], f, "toward_zero")[0, 0]
    assert got == f.xmax
    # partial sums overflowing binary64 do not matter: only the result is rounded
    big = float(np.ldexp(1.0, 1023))
    assert _sum([big, big, -big, -big, 1.0], "fp64") == 1.0
    assert _sum([big, big, -big], "fp64") == big
    # products below binary64's subnormals: round-up gives the smallest subnormal
    assert _mm([[2.0 ** -540]], [[2.0 ** -540]], f, "up")[0, 0] == f.xmins


def test_exact_infinities_and_nan():
    assert np.isnan(_sum([np.inf, -np.inf, 1.0], "half"))
    assert _sum([np.inf, 1.0], "half") == np.inf
    assert np.isnan(_mm([[np.inf]], [[0.0]], "half")[0, 0])


def test_exact_stochastic_uses_the_exact_residual():
    # 1 + 2**-70 in bf16: rounds up with probability 2**-63 (threshold 0 of 62 bits: never);
    # 1 + 2**-9 + 2**-70: exactly 1/4 + 2**-63 of the gap -> the threshold is 2**60
    x = lp.asarray(np.array([1.0, 2.0 ** -9, 2.0 ** -70]), "bf16", "stochastic")
    ups = 0
    for s in range(400):
        ups += float(np.asarray(_seeded_sum(x, s))) > 1.0
    assert 60 < ups < 140  # p = 1/4


def _seeded_sum(x, s):
    lp.seed(s)
    with lp.accumulate("exact"):
        return np.sum(x)


def test_exact_cumsum_partials():
    x = lp.asarray(np.array([1.0, 2.0 ** -60, -(2.0 ** -60), -0.0]), "bf16", "up")
    with lp.accumulate("exact"):
        c = np.asarray(np.cumsum(x))
    assert list(c) == [1.0, 1.0078125, 1.0, 1.0]


def test_exact_prod():
    f = lp.format("e8m30")
    x = lp.asarray(np.array([1 + 2.0 ** -30] * 3), f, "up")
    with lp.accumulate("exact"):
        got = float(np.asarray(np.prod(x)))
    assert got == 1 + 2.0 ** -28  # (1 + u)**3 = 1 + 3u + 3u**2 + u**3, u = 2**-30, rounded up once
    y = lp.asarray(np.array([-0.0, 3.0]), "half")
    with lp.accumulate("exact"):
        assert _bits(float(np.asarray(np.prod(y)))) == _bits(-0.0)


def test_pairwise_products_correctly_rounded_t_above_26():
    v = 1 + 2.0 ** -30
    got = _mm([[v]], [[v]], "e8m30", "up", "pairwise")[0, 0]
    assert got == 1.0000000027939677


def test_pairwise_products_beyond_binary64_range():
    f = lp.format("e11m10")
    assert _mm([[2.0 ** 600]], [[2.0 ** 600]], f, "toward_zero", "pairwise")[0, 0] == f.xmax
    assert _mm([[2.0 ** -540]], [[2.0 ** -540]], f, "up", "pairwise")[0, 0] == f.xmins


def test_fma_one_rounding_with_the_exact_product():
    f = lp.format("e8m30")
    x = 1 + 2.0 ** -29
    y = 1 + 2.0 ** -30
    c = 1 + 2.0 ** -29 + 2.0 ** -30  # x*y - c = 2**-59 exactly
    got = _mm([[-c, x]], [[1.0], [y]], f, "nearest", "fma")[0, 0]
    assert got == 2.0 ** -59


def test_fma_wide_exponent_overflow_is_inf_not_nan():
    f = lp.format("e11m10")
    got = _mm([[2.0 ** 1000, 2.0 ** 600]], [[1.0], [2.0 ** 600]], f, "up", "fma")[0, 0]
    assert got == np.inf


# ---------------------------------------------------------------- the interval certificate

def test_certificate_covers_the_common_case():
    """randn half/bf16/fp8 products and sums come from BLAS and one rounding: the exact
    accumulator is needed only where the binary64 result is an exact tie (round to
    nearest) or an exact format value (directed modes), which no error bound can settle
    (the speed of "exact" depends on it), and those only where the binary64 result is not
    provably exact."""
    from lowprec.ndarray import _accumulate as A
    from lowprec.rounding.modes import RoundingMode
    rng = np.random.default_rng(5)

    def settled_only_by_exactness(c, fmt, mode):
        down = np.asarray(lp.chop(c, fmt, "down"), dtype=np.float64)
        up = np.asarray(lp.chop(c, fmt, "up"), dtype=np.float64)
        return (c == (down + up) / 2) if mode == 1 else (down == c)

    for label in ("half", "bf16", "e4m3"):
        fmt = lp.format(label)
        a = np.asarray(lp.chop(rng.standard_normal((64, 256)), fmt), dtype=np.float64)
        b = np.asarray(lp.chop(rng.standard_normal((256, 64)), fmt), dtype=np.float64)
        for mode in (1, 2, 4):
            _, ok, _, _ = A._interval_matmul(a, b, fmt, RoundingMode(mode), np.uint64(3))
            assert settled_only_by_exactness((a @ b)[~ok], fmt, mode).all(), (label, mode)
            assert ok.mean() > 0.9
            if label == "e4m3":  # the binary64 product is exact (the span test): ties too
                assert ok[(a @ b) != 0].all()
            _, ok = A._certified_sums(a, fmt, RoundingMode(mode), np.uint64(3))
            assert settled_only_by_exactness(a.sum(axis=1)[~ok], fmt, mode).all(), (label, mode)


def test_certificate_never_accepts_an_interval_across_a_boundary():
    from lowprec.rounding import certify
    fmt = lp.format("half")
    one = 1.0
    mid = 1.0 + 2.0 ** -11  # the midpoint between 1 and its successor
    for mode in ("nearest", "up", "down", "toward_zero", "odd", "nearest_away"):
        def rnd(v):
            return np.asarray(lp.chop(v, fmt, mode), dtype=np.float64)
        c = np.array([mid, mid + 2.0 ** -30, one, -one, one + 2.0 ** -40, 2.0 ** -14])
        err = np.array([2.0 ** -29, 2.0 ** -31, 2.0 ** -40, 2.0 ** -40, 2.0 ** -41, 2.0 ** -14])
        r, ok = certify.certified(c, err, rnd, fmt.emin, 64, np, True)
        for i in range(c.size):  # every certified entry: both ends round alike
            if ok[i]:
                assert rnd(c[i] - err[i]) == rnd(c[i] + err[i]) == r[i]
        assert not ok[5]  # touching zero
        if mode.startswith("nearest"):
            assert not ok[0] and ok[1]  # across the midpoint; beside it
        else:
            assert not ok[2] and not ok[3] and ok[0]  # across the value 1 (or -1); inside its cell


def test_boundary_family_against_the_oracle():
    from verification.accumulate import boundary_family
    for label in ("half", "e8m30"):
        checks = boundary_family(lp.format(label), np.random.default_rng(9), 4, rows=8, k=24,
                                 backends=("numpy",))
        assert all(c.ok for c in checks), [c for c in checks if not c.ok][:2]


@pytest.mark.parametrize("mode", [1, 2, 3, 4, 5, 9])
def test_many_uncertified_entries_take_the_full_path(mode):
    """Most entries exact ties (no error bound can settle them), the others certified: the
    fallback keeps the certified entries and reuses the BLAS product, and every entry is
    the oracle's."""
    from verification.accumulate import _keyed_bits, lp_matmul, oracle_dot
    fmt = lp.format("half")
    a = np.tile([[1.0, 2.0 ** -11, 2.0 ** -20]], (40, 1))
    b = np.ones((3, 40))
    b[1, ::3] = 0.0  # every third column: 1 + 2**-20, certified in the nearest modes
    b[2, 1::3] = 0.0
    got = lp_matmul(a, b, fmt, mode, "exact", seed=11)  # (the words of the first call after the seed)
    bits = _keyed_bits(11, a.shape[0] * b.shape[1])
    want = np.array([[oracle_dot(a[i], b[:, j], fmt, mode, "exact", bits[i * 40 + j]) for j in range(40)]
                     for i in range(40)])
    np.testing.assert_array_equal(got, want)
