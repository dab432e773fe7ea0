"""The correctly rounded operations (``lp.arith``, LPTensor) against the exact oracle of
``verification.ops``: hypothesis properties on hard operands in every mode (stochastic
modes with the call's own random bits), exhaustive pairs of small formats, and the torch
whole-array implementation against the kernels."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import lowprec as lp
from lowprec import arith
from lowprec.rounding import _kernels
from lowprec.random import next_key
from verification import ops as O
from verification import suite
from verification.oracle import DETERMINISTIC, DOWN, NEAREST_EVEN, UP, round_oracle
from verification.suite import SMALL

FORMATS = ["half", "bf16", "e4m3", "e5m2", "e4m3fn", "e4m3fnuz", "e5m2fnuz", "fp6_e2m3", "fp6_e3m2",
           "fp4_e2m1", "binary8p1se", "binary8p3se", "binary8p5ue", "e3m4", "e6m9", "e8m10", "e11m20",
           "tf32", "fp32", "double"]
BINARY = ["add", "subtract", "multiply", "divide"]
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def same(a, b) -> bool:
    """The same float, sign of zero included, or both NaN."""
    a, b = float(a), float(b)
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


# --------------------------------------------------------------------------- strategies

@st.composite
def grid_value(draw, fmt, emin=None, emax=None):
    """A finite nonzero value of ``fmt`` with exponent in ``[emin, emax]`` (clipped to the
    format; ``fmt.emin - 1`` stands for the subnormals)."""
    lowest = fmt.emin - 1 if fmt.t > 1 else fmt.emin
    lo = lowest if emin is None else min(max(emin, lowest), fmt.emax)
    hi = fmt.emax if emax is None else min(max(emax, lo), fmt.emax)
    e = draw(st.integers(lo, hi))
    if e < fmt.emin:
        x = math.ldexp(draw(st.integers(1, 2 ** (fmt.t - 1) - 1)), fmt.emin - fmt.t + 1)
    else:
        x = math.ldexp(draw(st.integers(2 ** (fmt.t - 1), 2**fmt.t - 1)), e - fmt.t + 1)
    x = min(x, fmt.xmax)
    return -x if fmt.signed and draw(st.booleans()) else x


def _ulp(fmt, x: float) -> float:
    return math.ldexp(1.0, max(math.frexp(abs(x))[1] - 1, fmt.emin) - fmt.t + 1)


def _specials(fmt):
    return st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, fmt.xmax, -fmt.xmax, fmt.xmin,
                            fmt.xmins, -fmt.xmins, 1.0])


#: How the second operand relates to the first: (x, k, sign, fmt) -> y, k in [0, 200].
RELATIONS = {
    "gap": lambda x, k, s, f: s * x * math.ldexp(1.0, -(f.t + k)),  # sticky far below
    "tie": lambda x, k, s, f: s * _ulp(f, x) / 2,
    "near-tie": lambda x, k, s, f: s * _ulp(f, x) / 2 * (1 + s * math.ldexp(1.0, -1 - k % 50)),
    "cancel": lambda x, k, s, f: -x * (1 + (k % 3) * _ulp(f, x) / 4),
    "xmax": lambda x, k, s, f: s * f.xmax - x,
}


@st.composite
def binary_operands(draw, fmt, op):
    """(x, y) biased to hard cases: independent values over the whole range (subnormals
    included), the relations above, off-grid ties for * and /, subnormal and overflowing
    products, and special values."""
    kind = draw(st.sampled_from(["independent", "special", "product"] + list(RELATIONS)))
    if kind == "special":
        return draw(_specials(fmt)), draw(st.one_of(_specials(fmt), grid_value(fmt)))
    if kind == "product":  # results around the subnormal range or the overflow threshold
        edge = draw(st.sampled_from([fmt.emin - fmt.t, fmt.emin, fmt.emax, fmt.emax + 1]))
        ex = draw(st.integers(edge // 2 - 2, edge // 2 + 2))
        x = draw(grid_value(fmt, ex, ex))
        y = draw(grid_value(fmt, edge - ex - 1, edge - ex + 1))
        return (x, 1 / y) if op == "divide" else (x, y)
    x = draw(grid_value(fmt))
    if kind == "independent":
        return x, draw(grid_value(fmt))
    k, s = draw(st.integers(0, 200)), draw(st.sampled_from([-1.0, 1.0]))
    if op in ("multiply", "divide") and kind in ("tie", "near-tie"):  # a product or quotient on a tie
        x = abs(x) + RELATIONS[kind](x, k, 1.0, fmt)
        return x, math.ldexp(1.0, k % 9 - 4)
    return x, RELATIONS[kind](x, k, s, fmt)


@st.composite
def fma_operands(draw, fmt):
    x, y = draw(binary_operands(fmt, "multiply"))
    p = x * y
    kind = draw(st.sampled_from(["independent", "cancel", "sticky", "tie", "special"]))
    if kind == "special" or not math.isfinite(p) or p == 0:
        return x, y, draw(st.one_of(_specials(fmt), grid_value(fmt)))
    z = {"independent": draw(grid_value(fmt)), "cancel": -p,
         "sticky": p * math.ldexp(1.0, -fmt.t - draw(st.integers(1, 80))) * draw(st.sampled_from([-1, 1])),
         "tie": _ulp(fmt, p) / 2 * draw(st.sampled_from([-1, 1]))}[kind]
    return x, y, z


@st.composite
def sqrt_operand(draw, fmt):
    kind = draw(st.sampled_from(["value", "square", "tie-square", "special"]))
    if kind == "special":
        return draw(_specials(fmt))
    if kind == "value":
        return draw(grid_value(fmt))
    r = abs(draw(grid_value(fmt, (fmt.emin - fmt.t) // 2, fmt.emax // 2)))
    return r * r if kind == "square" else (r + _ulp(fmt, r) / 2) ** 2


@st.composite
def case(draw, names=FORMATS, ops=tuple(O.LOWPREC), modes=DETERMINISTIC):
    """(op, fmt, mode, subnormal, operands as float64 or float32 scalars)."""
    fmt = lp.format(draw(st.sampled_from(names)))
    op = draw(st.sampled_from(ops))
    strategy = {"sqrt": lambda: sqrt_operand(fmt).map(lambda v: (v,)), "fma": lambda: fma_operands(fmt)}
    xs = draw(strategy.get(op, lambda: binary_operands(fmt, op))())
    dtype = np.float32 if O.fits_float32(fmt) and draw(st.booleans()) else np.float64
    with np.errstate(over="ignore", under="ignore"):
        xs = tuple(dtype(v) for v in xs)
    return op, fmt, draw(st.sampled_from(modes)), draw(st.booleans()), xs


def oracle(op, fmt, mode, subnormal, xs, rbits=0, storage="float64"):
    exact = O.exact_result(op, xs, mode)
    return round_oracle(exact, fmt, mode, subnormal=subnormal, storage=storage, rbits=rbits)


# --------------------------------------------------------------------------- the oracle itself

@pytest.mark.parametrize("op,xs,mode,want", [
    ("add", (math.inf, -math.inf), 1, math.nan), ("subtract", (math.inf, math.inf), 1, math.nan),
    ("add", (math.inf, 1.0), 3, math.inf), ("multiply", (0.0, -math.inf), 1, math.nan),
    ("multiply", (-0.0, 3.0), 1, -0.0), ("divide", (-1.0, 0.0), 1, -math.inf),
    ("divide", (1.0, -0.0), 1, -math.inf), ("divide", (0.0, 0.0), 1, math.nan),
    ("divide", (math.inf, -math.inf), 1, math.nan), ("divide", (-2.0, math.inf), 1, -0.0),
    ("add", (1.0, -1.0), 1, 0.0), ("add", (1.0, -1.0), DOWN, -0.0), ("add", (0.0, -0.0), UP, 0.0),
    ("add", (0.0, -0.0), DOWN, -0.0), ("add", (-0.0, -0.0), UP, -0.0), ("subtract", (-0.0, 0.0), 1, -0.0),
    ("sqrt", (-0.0,), 1, -0.0), ("sqrt", (-1.0,), 1, math.nan), ("sqrt", (-math.inf,), 1, math.nan),
    ("sqrt", (math.inf,), 1, math.inf), ("fma", (0.0, math.inf, 1.0), 1, math.nan),
    ("fma", (1.0, math.inf, -math.inf), 1, math.nan), ("fma", (2.0, 3.0, math.inf), 1, math.inf),
    ("fma", (-0.0, 1.0, -0.0), 1, -0.0), ("fma", (-0.0, 1.0, 0.0), 1, 0.0),
    ("fma", (-0.0, 1.0, 0.0), DOWN, -0.0),
    ("fma", (2.0, 3.0, -6.0), 1, 0.0), ("fma", (2.0, 3.0, -6.0), DOWN, -0.0),
])
def test_exact_result_ieee_rules(op, xs, mode, want):
    assert same(O.exact_result(op, xs, mode), want)
    if not math.isnan(want):  # and lowprec follows the same rule
        assert same(O.LOWPREC[op](*xs, "half", mode), want)


def test_exact_values():
    assert O.exact_result("divide", (1.0, 3.0)) == Fraction(1, 3)
    assert O.exact_result("fma", (3.0, 1 / 3, -1.0)) == Fraction(1 / 3) * 3 - 1
    assert O.exact_result("sqrt", (2.25,)) == Fraction(3, 2)
    root = O.exact_result("sqrt", (2.0,))  # irrational: the middle of (s, s + 1) * 2**-k
    s, k = (root.numerator - 1) // 2, root.denominator.bit_length() - 2
    assert root == Fraction(2 * s + 1, 2 ** (k + 1)) and s >= 2**O.SQRT_BITS
    assert Fraction(s, 2**k) ** 2 < 2 < Fraction(s + 1, 2**k) ** 2


@settings(max_examples=200, **SETTINGS)
@given(num=st.integers(1, 2**200), den=st.integers(1, 2**200), name=st.sampled_from(FORMATS[:-1]),
       mode=st.sampled_from(DETERMINISTIC))
def test_odd_proxy_rounds_like_the_exact_value(num, den, name, mode):
    """The reduction behind the exhaustive sweeps: the round-to-odd binary64 proxy of an
    exact rational rounds like the rational in every deterministic mode (t <= 51)."""
    fmt = lp.format(name)
    v = Fraction(num, den) * Fraction(2) ** (fmt.emin - 10 + (num % (fmt.emax - fmt.emin + 20)))
    assume(Fraction(2) ** -1022 <= v < Fraction(2) ** 1024)  # the proxy's documented domain
    proxy = O.odd_proxy(v)
    assert (Fraction(proxy) == v) or (math.frexp(proxy)[0] * 2**53) % 2 == 1
    assert same(round_oracle(proxy, fmt, mode), round_oracle(v, fmt, mode))


def test_call_bits_are_the_kernels_stream():
    key = next_key(17)
    want = [int(_kernels.random_bits(key, i)) >> 2 for i in range(50)]
    assert O.call_bits(17, 50).tolist() == want


def test_checks_catch_double_rounding():
    """A float64-then-round implementation fails the checks (so they can fail)."""
    def twice(op, xs, fmt, mode, subnormal, seed=0):  # for "add"
        return lp.chop(xs[0] + xs[1], fmt, mode, subnormal=subnormal, seed=seed)

    fmt = lp.format("bf16")
    xs = (np.array([1.0, 1.0, 3.0]), np.array([2.0**-100, -(2.0**-100), 2.0**-60]))
    bad = {}
    for c in O.sampled(fmt, "add", xs, 3, seed=1, impl=twice):
        bad[c.mode] = bad.get(c.mode, 0) + c.mismatches
    assert bad[UP] == 2 * 2 and bad[DOWN] == 2 * 1 and bad[NEAREST_EVEN] == 0 and bad[6] > 0
    assert all(c.ok for c in O.sampled(fmt, "add", xs, 3, seed=1))


# --------------------------------------------------------------------------- properties

@settings(max_examples=600, **SETTINGS)
@given(c=case())
def test_correctly_rounded_every_deterministic_mode(c):
    op, fmt, mode, subnormal, xs = c
    got = O.LOWPREC[op](*xs, fmt, mode, subnormal=subnormal)
    storage = np.dtype(type(xs[0])).name
    assert got.dtype == type(xs[0])
    assert same(got, oracle(op, fmt, mode, subnormal, xs, storage=storage)), (op, fmt.label, mode, xs)


@settings(max_examples=150, **SETTINGS)
@given(c=case(modes=(5, 6)), seed=st.integers(0, 2**32))
def test_stochastic_decision_from_exact_residual(c, seed):
    """64 copies of the operands in one call: element i rounds with the i-th random
    integer of the call's stream, exactly as the oracle does with those bits."""
    op, fmt, mode, subnormal, xs = c
    got = O.LOWPREC[op](*[np.full(64, v) for v in xs], fmt, mode, subnormal=subnormal, seed=seed)
    storage = np.dtype(type(xs[0])).name
    exact = O.exact_result(op, xs, mode)
    want = [round_oracle(exact, fmt, mode, subnormal=subnormal, storage=storage, rbits=int(r))
            for r in O.call_bits(seed, 64)]
    assert all(same(g, w) for g, w in zip(got, want)), (op, fmt.label, mode, xs)


def test_stochastic_frequency_matches_residual():
    """Mode 5, bf16 1/3 (gap 2**-9 there): P(up) is the exact residual, within 6 sigma."""
    n, gap = 1 << 16, Fraction(1, 2**9)
    got = arith.divide(np.ones(n), np.full(n, 3.0), "bf16", "stochastic", seed=9)
    lo = math.floor(Fraction(1, 3) / gap) * gap
    p = float((Fraction(1, 3) - lo) / gap)
    ups = int(np.sum(got > float(lo)))
    assert set(np.unique(got)) == {float(lo), float(lo + gap)}
    assert abs(ups - n * p) <= 6 * math.sqrt(n * p * (1 - p))


# --------------------------------------------------------------------------- exhaustive

def _all_ok(checks):
    bad = [(c.family, c.fmt, c.options, c.mode, c.mismatches, c.checked, c.expected, c.examples)
           for c in checks if not c.ok]
    assert not bad, bad[:5]
    return sum(c.checked for c in checks)


@pytest.mark.parametrize("name", ["fp4_e2m1", "fp6_e3m2"])
def test_every_pair_small(name):
    fmt = lp.format(name)
    n = O.code_count(fmt)
    assert _all_ok(O.small_format(fmt, 0, 200, 2000, np.random.default_rng(1), 5)) >= 14 * 4 * n * n


def test_pair_sample_e4m3():
    _all_ok(O.small_format(lp.format("e4m3"), 3000, 50, 1000, np.random.default_rng(2), 6))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", [f for f in SMALL if f.bits <= 8], ids=lambda f: f.label)
def test_every_pair_8bit(fmt):
    n = O.code_count(fmt)
    assert _all_ok(O.small_format(fmt, 0, 2000, 50000, np.random.default_rng(3), 7)) >= 14 * 4 * n * n


@pytest.mark.slow
@pytest.mark.parametrize("name", ["half", "bf16", "tf32", "fp32", "double", "e8m10", "e11m20"])
def test_hard_operands_wide(name):
    _all_ok(O.wide_format(lp.format(name), 2000, np.random.default_rng(4), 8))


def test_hard_operands_quick():
    for name in ("bf16", "double"):
        _all_ok(O.wide_format(lp.format(name), 24, np.random.default_rng(5), 9))


def test_suite_runs_the_operation_families():
    """``python -m verification`` runs them: a tiny plan with only operation checks."""
    plan = suite.Plan((), (), 0, 0, 0, 0, 0, ("fp4_e2m1",), 0, 20, ("bfloat16",), 16)
    tasks = [(title, thunk) for title, thunk in suite.tasks(plan, 1) if title.startswith("ops")]
    assert [title for title, _ in tasks] == ["ops fp4_e2m1", "ops-hard bfloat16"]
    results = [c for _, thunk in tasks for c in thunk()]
    families = {c.family for c in results}
    want = {"op-add", "op-div", "op-sqrt", "op-fma", "op-mul-sr", "op-fma-hard", "op-sqrt-hard-sr"}
    assert want <= families, families
    assert _all_ok(results) == sum(c.expected for c in results)


@pytest.mark.parametrize("z", [math.inf, -math.inf, math.nan])
def test_fma_wide_product_plus_special(z):
    """Regression: a product outside binary64 (exact rational path) plus inf or NaN raised
    OverflowError/ValueError instead of giving z."""
    for x, fmt in ((1e300, "double"), (1e-200, "double"), (1e300, "half"), (1e300, "e4m3fn")):
        for mode in range(1, 10):
            got = arith.fma(x, x, z, fmt, mode, seed=1)
            assert same(got, oracle("fma", lp.format(fmt), mode, None, (x, x, z))), (x, fmt, mode)


@pytest.mark.parametrize("x", [np.nextafter(4.0, 0), 1.7976931348623157e308, np.nextafter(16.0, 0)])
def test_double_sqrt_below_a_power_of_four(x):
    """Regression: the computed residual of sqrt(nextbelow(4)) rounded onto half an ulp,
    a false tie that rounded to nearest up (to 2.0)."""
    for mode in (1, 7, 8):
        assert same(arith.sqrt(x, "double", mode), math.sqrt(x))


@pytest.mark.parametrize("name", ["bf16", "half", "e4m3", "tf32"])
def test_explim_false(name):
    """``explim=False`` (precision only, binary64's range) against the oracle."""
    fmt = lp.format(name)
    rng = np.random.default_rng(12)
    for op in O.LOWPREC:
        with np.errstate(all="ignore"):
            xs = O.hard_operands(lp.format("e11m20"), op, 40, rng)  # operands across a wide range
        exact = [O.exact_result(op, r, 1) for r in zip(*[x.tolist() for x in xs])]
        for mode in (1, 2, 3, 4, 9):
            got = O.LOWPREC[op](*xs, fmt, mode, explim=False)
            want = [round_oracle(v, fmt, mode, explim=False) if not (isinstance(v, float) and v == 0)
                    else O.exact_result(op, r, mode) for v, r in zip(exact, zip(*xs))]
            bad = [(r, g, w) for r, g, w in zip(zip(*xs), got, want) if not same(g, w)]
            assert not bad, (op, mode, bad[:3])


def test_lpfloat_operators_equal_arith():
    """LPFloat's ``+ - * /`` and ``np.sqrt`` are the correctly rounded operations."""
    rng = np.random.default_rng(13)
    operators = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide}
    for name in ("bf16", "e5m2", "half"):
        fmt = lp.format(name)
        for op, ufunc in operators.items():
            with np.errstate(all="ignore"):
                x, y = (lp.chop(v, fmt) for v in O.hard_operands(fmt, op, 300, rng))
            for mode in (1, 2, 3, 9):
                a, b = lp.asarray(x, fmt, mode), lp.asarray(y, fmt, mode)
                got = np.asarray(ufunc(a, b))
                want = O.LOWPREC[op](x, y, fmt, mode)
                ok = [same(g, w) for g, w in zip(got, want)]
                assert all(ok), (name, op, mode)
                got2 = np.asarray(ufunc(a[:40, None], b[None, 40:80]))  # broadcast 2-D (strided)
                want2 = O.LOWPREC[op](x[:40, None], y[None, 40:80], fmt, mode)
                assert all(same(g, w) for g, w in zip(got2.ravel(), want2.ravel())), (name, op, mode, "2-D")
        got = np.asarray(np.sqrt(lp.asarray(np.abs(x), fmt, 2)))
        assert all(same(g, w) for g, w in zip(got, arith.sqrt(np.abs(x), fmt, 2)))


# --------------------------------------------------------------------------- torch

torch = pytest.importorskip("torch")
from lowprec.rounding import array_api, rounding_params  # noqa: E402
from lowprec.torch import TORCH_OPS, as_lp  # noqa: E402

OP_CODES = {"add": _kernels.ADD, "subtract": _kernels.SUBTRACT, "multiply": _kernels.MULTIPLY,
            "divide": _kernels.DIVIDE, "sqrt": _kernels.SQRT}


def torch_round_op(op, xs, fmt, mode, subnormal, seed=0):
    """The whole-array implementation (what LPTensor runs) on torch float64 tensors, with
    the random integers of a lowprec call with ``seed``."""
    a = torch.from_numpy(np.asarray(xs[0], dtype=np.float64))
    b = torch.from_numpy(np.asarray(xs[-1], dtype=np.float64))
    r62 = torch.from_numpy(O.call_bits(seed, a.numel())) if mode in (5, 6) else None
    p = rounding_params(fmt, True, np.dtype(np.float64), subnormal)
    return array_api.round_op(OP_CODES[op], a, b, p, mode, r62, ops=TORCH_OPS).numpy()


@pytest.mark.parametrize("name,pairs", [
    ("fp6_e2m3", 0), ("e4m3", 2000),
    pytest.param("e4m3", 0, marks=pytest.mark.slow), pytest.param("e5m2fnuz", 0, marks=pytest.mark.slow)])
def test_torch_whole_array_pairs(name, pairs):
    """Every pair (``pairs == 0``) or a random sample, against the oracle."""
    fmt = lp.format(name)
    v = O.code_values(fmt)
    xs = O.all_pairs(v)
    if pairs:
        pick = np.random.default_rng(0).choice(xs[0].size, pairs, replace=False)
        xs = (xs[0][pick], xs[1][pick])
    for op in BINARY:
        _all_ok(O.exhaustive(fmt, op, xs, xs[0].size, impl=torch_round_op))
        _all_ok(O.stochastic(fmt, op, (xs[0][:300], xs[1][:300]), 300, seed=3, impl=torch_round_op))
    _all_ok(O.exhaustive(fmt, "sqrt", (v,), v.size, impl=torch_round_op))


@pytest.mark.parametrize("name", ["half", "bf16", "tf32", "double"])
def test_torch_whole_array_equals_kernels_on_hard_operands(name):
    """Bit for bit the same as ``lp.arith`` (stochastic modes too, given the same bits)."""
    fmt = lp.format(name)
    rng = np.random.default_rng(len(name))
    for op in OP_CODES:
        with np.errstate(all="ignore"):
            xs = O.hard_operands(fmt, op, 1000, rng)
        for mode in range(1, 10):
            for sub in (True, False):
                got = torch_round_op(op, xs, fmt, mode, sub, seed=4)
                want = O.lowprec_result(op, xs, fmt, mode, sub, seed=4)
                ok = (got.view(np.int64) == want.view(np.int64)) | (np.isnan(got) & np.isnan(want))
                assert ok.all(), (op, mode, sub, [x[~ok][:3] for x in xs], got[~ok][:3], want[~ok][:3])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_lptensor_operators_equal_arith(dtype):
    fmt = lp.format("bf16")
    rng = np.random.default_rng(11)
    operators = {"add": lambda a, b: a + b, "subtract": lambda a, b: a - b, "multiply": lambda a, b: a * b,
                 "divide": lambda a, b: a / b, "sqrt": lambda a, b: torch.sqrt(a)}
    for op, apply in operators.items():
        with np.errstate(all="ignore"):
            xs = O.hard_operands(fmt, op, 400, rng)
        x, y = xs[0], xs[-1]
        x, y = lp.chop(x, fmt), lp.chop(y, fmt)  # LPTensor operands are format values
        for mode in DETERMINISTIC:
            a = as_lp(torch.tensor(x, dtype=dtype), fmt, mode)
            b = as_lp(torch.tensor(y, dtype=dtype), fmt, mode)
            got = apply(a, b).as_plain().numpy()
            nd = np.float64 if dtype == torch.float64 else np.float32
            operands = (x.astype(nd),) if op == "sqrt" else (x.astype(nd), y.astype(nd))
            want = O.LOWPREC[op](*operands, fmt, mode)
            ok = (got == want) & (np.signbit(got) == np.signbit(want)) | (np.isnan(got) & np.isnan(want))
            assert ok.all(), (op, mode, x[~ok][:3], y[~ok][:3], got[~ok][:3], want[~ok][:3])
