"""LPFloat with NumPy functions: the tables of lowprec.ndarray._functions, the emulated
statistics, products and norms, ufunc.at and where=, and lp.policy."""

import warnings

import numpy as np
import pytest

import lowprec as lp
from lowprec.errors import FormatMismatchError, LowprecWarning, UnsupportedOperationError


def r(x, fmt="half", mode=1):
    """Reference rounding of one float64 value (lp.chop is verified against the oracle)."""
    return float(lp.chop(np.float64(x), fmt, mode))


def seq_sum(values, fmt="half"):
    """Sequential sum with a rounding per step; exact in binary64 before rounding for half."""
    s = 0.0
    for v in values:
        s = r(s + v, fmt)
    return s


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    return lp.asarray(rng.standard_normal((4, 5)), "half"), rng


# ------------------------------------------------------------------ structural functions
def test_concatenate_joins_formats_without_rounding():
    a = lp.asarray([1 / 3, 2.0], "half")
    b = lp.asarray([1 / 3], "bf16")
    c = np.concatenate([a, b])
    assert c.format == lp.format("tf32")  # the join of half and bf16
    np.testing.assert_array_equal(c.values, np.concatenate([a.values, b.values]))


def test_plain_operands_of_structural_functions_are_rounded():
    a = lp.asarray([1.0, 2.0], "half")
    assert np.concatenate([a, [0.1]]).values[-1] == r(0.1)
    w = np.where(np.array([True, False]), a, 0.1)
    assert w.values.tolist() == [1.0, r(0.1)]
    assert np.full_like(a, 0.1).values.tolist() == [r(0.1)] * 2
    c = np.clip(lp.asarray([0.0, 0.5, 1.0], "half"), 0.1, 0.9)
    assert c.values.tolist() == [r(0.1), 0.5, r(0.9)] and c.format == a.format


@pytest.mark.parametrize("func", [np.transpose, np.ravel, np.flipud, np.triu, np.sort, np.copy, np.diagonal])
def test_moving_functions_keep_the_format(func, data):
    a, _ = data
    out = func(a)
    assert isinstance(out, lp.LPFloat) and out.format == a.format
    np.testing.assert_array_equal(out.values, func(a.values))


def test_split_unique_and_stack(data):
    a, _ = data
    parts = np.split(a, 2)
    assert all(isinstance(p, lp.LPFloat) for p in parts)
    assert np.stack(parts).shape == (2, 2, 5)
    u, counts = np.unique(np.round(a), return_counts=True)
    assert isinstance(u, lp.LPFloat) and counts.dtype.kind == "i"


def test_mixed_modes_and_mixed_types_are_errors():
    a = lp.asarray([1.0], "half")
    b = lp.asarray([1.0], "half", rmode="up")
    with pytest.raises(FormatMismatchError, match="rounding modes"):
        np.concatenate([a, b])


def test_pad_only_moves_values():
    a = lp.asarray([1.0, 2.0], "half")
    assert np.pad(a, 1, mode="edge").values.tolist() == [1.0, 1.0, 2.0, 2.0]
    with pytest.raises(UnsupportedOperationError, match="pad"):
        np.pad(a, 1, mode="mean")


def test_mutators_round_into_the_destination():
    a = lp.asarray(np.zeros(3), "half")
    np.copyto(a, 0.1)
    assert a.values.tolist() == [r(0.1)] * 3
    m = lp.asarray(np.zeros((2, 2)), "bf16")
    np.fill_diagonal(m, 1 / 3)
    assert m.values[0, 0] == r(1 / 3, "bf16")
    np.putmask(a, np.array([True, False, False]), 1 / 3)
    assert a.values[0] == r(1 / 3)


def test_plain_result_functions(data):
    a, _ = data
    assert type(np.argsort(a)) is np.ndarray
    assert np.isclose(a, a).all() and np.allclose(a, a.values)
    assert np.count_nonzero(a) == a.size


# --------------------------------------------------------------------- statistics, norms
def test_mean_var_std_follow_the_sequential_model(data):
    a, _ = data
    x = a.values.ravel()
    n = x.size
    mean = r(seq_sum(x) / n)
    assert float(np.mean(a)) == mean == float(a.mean())
    d = [r(v - mean) for v in x]
    var = r(seq_sum([r(v * v) for v in d]) / n)
    assert float(np.var(a)) == var == float(a.var())
    assert float(np.std(a)) == r(np.sqrt(var))
    var1 = r(seq_sum([r(v * v) for v in d]) / (n - 1))
    assert float(np.var(a, ddof=1)) == var1


def test_mean_divides_by_the_exact_count():
    # 2049 is not a half value: the sum rounds to 2048, then 2048/2049 is rounded once
    # (rounding the count first would give 1).
    x = lp.asarray(np.ones(2049), "half")
    with lp.accumulate("exact"):
        assert float(np.mean(x)) == r(2048 / 2049) != 1.0


def test_mean_along_axes(data):
    a, _ = data
    m = np.mean(a, axis=0)
    for j in range(a.shape[1]):
        assert float(m[j]) == r(seq_sum(a.values[:, j]) / a.shape[0])
    assert np.mean(a, axis=(0, 1), keepdims=True).shape == (1, 1)


def test_sum_over_several_axes_is_row_major(data):
    a, _ = data
    assert float(a.sum(axis=(0, 1))) == seq_sum(a.values.ravel()) == float(np.sum(a))


def test_median_trace_diff(data):
    a, _ = data
    x = np.sort(a.values.ravel())
    assert float(np.median(a)) == r(r(x[9] + x[10]) / 2)
    assert float(np.trace(a)) == seq_sum(np.diagonal(a.values))
    d = np.diff(a, axis=1)
    np.testing.assert_array_equal(d.values, lp.chop(np.diff(a.values, axis=1), "half"))


def test_norms(data):
    a, _ = data
    v = a[0]
    assert float(np.linalg.norm(v)) == r(np.sqrt(seq_sum([r(t * t) for t in v.values])))
    assert float(np.linalg.norm(v, 1)) == seq_sum(np.abs(v.values))
    assert float(np.linalg.norm(v, np.inf)) == np.abs(v.values).max()
    assert float(np.linalg.norm(a)) == r(np.sqrt(seq_sum([r(t * t) for t in a.values.ravel()])))
    col_sums = [seq_sum(np.abs(a.values[:, j])) for j in range(a.shape[1])]
    assert float(np.linalg.norm(a, 1)) == max(col_sums)
    with pytest.raises(UnsupportedOperationError, match="SVD"):
        np.linalg.norm(a, 2)


def test_round_decimals(data):
    a, _ = data
    np.testing.assert_array_equal(np.round(a, 1).values, lp.chop(np.round(a.values, 1), "half"))
    assert np.round(a).format == a.format and a.round(2).format == a.format


# ----------------------------------------------------------------------------- products
def test_contractions_agree_with_matmul(data):
    a, rng = data
    b = lp.asarray(rng.standard_normal((5, 3)), "half")
    ab = a @ b
    for other in (np.dot(a, b), np.tensordot(a, b, axes=1), np.einsum("ij,jk->ik", a, b),
                  np.einsum("ij,jk", a, b), np.inner(a, b.T)):
        np.testing.assert_array_equal(other.values, ab.values)
    np.testing.assert_array_equal(np.einsum("ij,jk->ki", a, b).values, ab.values.T)
    v = a[0]
    assert float(np.vdot(v, v)) == seq_sum([r(t * t) for t in v.values]) == float(np.inner(v, v))


def test_einsum_one_operand_and_batched(data):
    a, rng = data
    assert float(np.einsum("ij->", a)) == seq_sum(a.values.ravel())
    sq = lp.asarray(rng.standard_normal((3, 3)), "half")
    assert float(np.einsum("ii", sq)) == seq_sum(np.diagonal(sq.values))
    x = lp.asarray(rng.standard_normal((2, 3, 4)), "half")
    y = lp.asarray(rng.standard_normal((2, 4, 5)), "half")
    np.testing.assert_array_equal(np.einsum("bij,bjk->bik", x, y).values, (x @ y).values)
    with pytest.raises(UnsupportedOperationError):
        np.einsum("...ij,jk", sq, sq)


def test_einsum_chains_contract_pairwise(data):
    """Three or more operands: two at a time, each result rounded; left to right by
    default, in np.einsum_path's order with optimize."""
    _, rng = data
    a, b, c = (lp.asarray(rng.standard_normal(s), "half") for s in [(5, 6), (6, 7), (7, 3)])
    np.testing.assert_array_equal(np.einsum("ij,jk,kl->il", a, b, c).values, ((a @ b) @ c).values)
    assert np.einsum_path("ij,jk,kl->il", a.values, b.values, c.values, optimize=True)[0][1] == (1, 2)
    np.testing.assert_array_equal(np.einsum("ij,jk,kl->il", a, b, c, optimize=True).values, (a @ (b @ c)).values)
    v, w = lp.asarray(rng.standard_normal(5), "half"), lp.asarray(rng.standard_normal(3), "half")
    got = np.einsum("i,ij,jk,kl,l->", v, a, b, c, w)
    assert float(got) == float(np.dot(((v @ a) @ b) @ c, w)) and got.format == a.format


def test_outer_kron_cross_round_each_product(data):
    a, _ = data
    u, v = a[0], a[1]
    np.testing.assert_array_equal(np.outer(u, v).values, lp.chop(np.outer(u.values, v.values), "half"))
    np.testing.assert_array_equal(np.kron(u, v).values, lp.chop(np.kron(u.values, v.values), "half"))
    p, q = u[:3], v[:3]
    c = np.cross(p, q).values
    x, y = p.values, q.values
    assert c[0] == r(r(x[1] * y[2]) - r(x[2] * y[1]))


# ----------------------------------------------------------------------------- ufuncs
def test_ufunc_at_applies_repeats_in_order():
    a = lp.asarray(np.zeros(3), "half")
    np.add.at(a, [0, 0, 0, 2], 1 / 3)
    s = 0.0
    for _ in range(3):
        s = r(s + r(1 / 3))
    assert a.values.tolist() == [s, 0.0, r(1 / 3)]


def test_where_keeps_the_rest_of_out():
    a = lp.asarray([1.0, 2.0, 3.0], "half")
    out = lp.asarray([9.0, 9.0, 9.0], "half")
    np.add(a, 1 / 3, out=out, where=np.array([True, False, True]))
    assert out.values.tolist() == [r(1 + r(1 / 3)), 9.0, r(3 + r(1 / 3))]


# ------------------------------------------------------------------------------- policy
def test_unknown_functions_raise_and_name_the_opt_in():
    a = lp.asarray([1.0, 2.0], "half")
    with pytest.raises(UnsupportedOperationError, match="round_once"):
        np.interp(1.5, [1, 2], a)


def test_round_once_policy_warns_and_rounds():
    a = lp.asarray([1.0, 2.0], "half")
    with lp.policy(unknown="round_once"), pytest.warns(LowprecWarning, match="interp"):
        y = np.interp(1.1, [1, 2], a)
    assert isinstance(y, lp.LPFloat) and float(y) == r(1.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UnsupportedOperationError):
            np.interp(1.5, [1, 2], a)  # the policy ended with the block


def test_policy_sets_the_accumulation_model():
    x = lp.asarray(np.ones(5000), "half")
    with lp.policy(accumulate="exact"):
        assert float(np.sum(x)) == 5000.0
    assert float(np.sum(x)) == 2048.0
    with pytest.raises(lp.LowprecError):
        with lp.policy(unknown="maybe"):
            pass


@pytest.mark.parametrize("func,word", [(np.sum, "ufunc"), (np.concatenate, "moves values"),
                                       (np.mean, "emulated"), (np.copyto, "destination"),
                                       (np.argsort, "plain"), (np.interp, "unsupported"),
                                       (np.linalg.solve, "emulated"), (np.add, "correctly_rounded")])
def test_semantics_reports_each_table(func, word):
    assert word in lp.semantics(func)


# ------------------------------------------------------------------------------ complex
def test_complex_lpfloat_rounds_both_parts():
    z = lp.asarray(np.array([1 / 3 + 2j / 3, -0.1 + 0.7j]), "half")
    assert z.dtype == np.complex128 and "binary16" in repr(z)
    np.testing.assert_array_equal(z.values.real, lp.chop(np.array([1 / 3, -0.1]), "half"))
    np.testing.assert_array_equal(z.values.imag, lp.chop(np.array([2 / 3, 0.7]), "half"))
    assert isinstance(z.real, lp.LPFloat) and z.real.format == z.format


def test_complex_arithmetic_follows_the_textbook_formulas():
    z = lp.asarray(np.array([1 / 3 + 2j / 3, -0.1 + 0.7j, 3 - 1e-3j]), "half")
    w = lp.asarray(np.array([0.7 - 0.2j, 1 / 7 + 1j, -2 + 5j]), "half")
    for k in range(3):
        a, b = z.values[k].real, z.values[k].imag
        c, d = w.values[k].real, w.values[k].imag
        s = (z + w).values[k]
        assert (s.real, s.imag) == (r(a + c), r(b + d))
        p = (z * w).values[k]
        assert (p.real, p.imag) == (r(r(a * c) - r(b * d)), r(r(a * d) + r(b * c)))
        q = (z / w).values[k]
        den = r(r(c * c) + r(d * d))
        assert (q.real, q.imag) == (r(r(r(a * c) + r(b * d)) / den), r(r(r(b * c) - r(a * d)) / den))
    np.testing.assert_array_equal(np.abs(z).values, lp.chop(np.abs(z.values), "half"))
    total = np.sum(z)
    assert total.values.real == seq_sum(z.values.real) and total.values.imag == seq_sum(z.values.imag)
    with pytest.raises(UnsupportedOperationError, match="complex"):
        z @ w


def test_reductions_with_where_skip_the_masked_elements(data):
    a, _ = data
    mask = a.values > 0
    assert float(np.sum(a, where=mask)) == seq_sum(a.values[mask])
    rows = np.sum(a, axis=1, where=mask)
    for i in range(a.shape[0]):
        assert float(rows[i]) == seq_sum(a.values[i][mask[i]])


def test_per_call_accumulation_models():
    x = lp.asarray(np.ones(5000), "half")
    assert float(lp.sum(x)) == 2048.0
    assert float(lp.sum(x, accumulate="exact")) == 5000.0
    assert float(lp.sum(x, accumulate="fp32")) == 5000.0
    assert float(lp.mean(x, accumulate="pairwise")) == 1.0
    a = lp.asarray(np.full((2, 3000), 1.0), "half")
    assert float(lp.matmul(a, a.T, accumulate="exact")[0, 0]) == 3000.0
    assert float(lp.matmul(a, a.T)[0, 0]) == 2048.0  # the model ended with the call


def test_paper_special_functions_and_angle():
    special = pytest.importorskip("scipy.special")
    x = lp.asarray([0.1, 0.5, 2.0], "half")
    for f in (special.erf, special.erfc, special.gamma):
        y = f(x)
        assert isinstance(y, lp.LPFloat) and y.format == x.format
        np.testing.assert_array_equal(y.values, lp.chop(f(x.values), "half"))
        assert "rounded" in lp.semantics(f)
    z = lp.asarray(np.array([1 + 1j, -1 + 0.5j]), "half")
    np.testing.assert_array_equal(np.angle(z).values, lp.chop(np.angle(z.values), "half"))


def test_fma_on_lpfloat_uses_their_format_and_mode():
    one = lp.asarray(1.0, "bf16", "up")
    r_ = lp.fma(one, 2.0 ** -100, one)
    assert isinstance(r_, lp.LPFloat) and r_.format == one.format and r_.rmode == one.rmode
    assert float(r_) == 1 + 2 ** -7  # rounded up once, in bf16
    assert float(lp.fma(one, 2.0 ** -100, one, rmode="nearest")) == 1.0


def test_float32_storage_is_kept_by_reductions_and_products():
    y = lp.asarray(np.linspace(0, 1, 6, dtype=np.float32), "half")
    for result in (np.sum(y), y @ y, np.cumsum(y), np.mean(y), np.sqrt(y), np.var(y)):
        assert result.dtype == np.float32


def test_reductions_over_empty_axes_give_the_identity():
    x = lp.asarray(np.ones((3, 0)), "half")
    np.testing.assert_array_equal(np.sum(x, axis=1).values, np.zeros(3))
    np.testing.assert_array_equal(np.prod(x, axis=1).values, np.ones(3))
