"""Rounding: the numba kernels against the reference, properties, peers, hand-checked cases."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lowprec as lp
from lowprec.chop import round_with_bits
from lowprec.formats import FLOAT_FORMATS
from lowprec.random import next_key
from lowprec.rounding import DETERMINISTIC_MODES, RoundingMode, rounding_params
from lowprec.rounding._kernels import random_bits
from lowprec.rounding.reference import round_value

ALL_MODES = list(RoundingMode)
SMALL = [n for n, f in FLOAT_FORMATS.items() if f.bits <= 16] + ["binary8p3se", "binary8p1se", "binary8p3uf"]
NUMBA_FORMATS = SMALL + ["tf32", "binary32", "e3m4", "e6m9", "e8m4"]


def same_bits(a, b) -> bool:
    """Equal as floats, with NaN == NaN and -0 != +0."""
    with np.errstate(invalid="ignore"):  # signaling NaN payloads warn when widened
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return bool(np.all((a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))))


def sample(fmt, rng, n=300):
    """Values spread over the format's whole range, plus its edges and specials."""
    scale = np.ldexp(1.0, rng.integers(fmt.emin - fmt.t - 3, fmt.emax + 3, n))
    edges = [0.0, -0.0, np.inf, -np.inf, np.nan, fmt.xmax, -fmt.xmax, fmt.xmax * (1 + fmt.u),
             fmt.xmax * (1 + fmt.u / 2), fmt.xmins, fmt.xmins / 2, -fmt.xmins / 2, fmt.xmin * 0.75,
             fmt.xmin * (1 - fmt.u)]
    with np.errstate(over="ignore"):
        return np.concatenate([rng.uniform(-2, 2, n) * scale, edges])


def reference_array(x, fmt, mode, rbits, **opts):
    p = rounding_params(lp.format(fmt), opts.get("explim", True), x.dtype, opts.get("subnormal"))
    return np.array([round_value(float(v), p, mode, int(r)) for v, r in zip(x, rbits)], dtype=x.dtype)


@pytest.mark.parametrize("name", NUMBA_FORMATS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_equals_reference(name, dtype):
    fmt = lp.format(name)
    try:
        rounding_params(fmt, True, np.dtype(dtype))
    except lp.FormatError:
        pytest.skip(f"{name} does not fit {dtype.__name__}")
    rng = np.random.default_rng(abs(hash((name, dtype.__name__))) % 2**32)
    with np.errstate(over="ignore"):
        x = sample(fmt, rng, 150).astype(dtype)
    checked = 0
    for mode in ALL_MODES:
        for opts in ({}, {"subnormal": False}, {"explim": False}):
            rbits = rng.integers(0, 2**62, x.size, dtype=np.int64)
            got = round_with_bits(x, fmt, mode, rbits, **opts)
            assert same_bits(got, reference_array(x, fmt, mode, rbits, **opts)), (mode, opts)
            # the production entry point (fast path + counter stream) gives the same
            key_rbits = np.array([int(random_bits(next_key(11), i)) >> 2 for i in range(x.size)])
            got = lp.chop(x, fmt, mode, seed=11, **opts)
            assert got.dtype == x.dtype
            assert same_bits(got, reference_array(x, fmt, mode, key_rbits, **opts)), (mode, opts)
            checked += 2 * x.size
    assert checked == 2 * 9 * 3 * x.size


# ------------------------------------------------------------------------- hand-checked cases
CASES = [
    # (x, format, mode, expected)
    (1 / 3, "half", 1, 0.333251953125),
    (65519.99, "half", 1, 65504.0),
    (65520.0, "half", 1, math.inf),  # the tie at xmax + ulp/2 overflows (xmax is odd)
    (65520.0, "half", 4, 65504.0),
    (1e9, "half", 4, 65504.0),
    (1e9, "half", 9, 65504.0),
    (-1e9, "half", 2, -65504.0),
    (-1e9, "half", 3, -math.inf),
    (464.0, "e4m3fn", 1, 448.0),  # tie between 448 and the missing 480: even wins
    (465.0, "e4m3fn", 1, math.nan),
    (1e6, "e4m3fn", 4, 448.0),
    (math.inf, "e4m3fn", 1, math.nan),
    (7.0, "fp4_e2m1", 1, 8.0 if False else 6.0),
    (100.0, "fp4_e2m1", 2, 6.0),
    (-0.0, "half", 1, -0.0),
    (-1e-30, "half", 1, -0.0),
    (-1e-30, "half", 2, -0.0),
    (-1e-30, "half", 3, -(2.0**-24)),
    (-1e-30, "e4m3fnuz", 1, 0.0),  # no negative zero
    (2.0**-25, "half", 1, 0.0),  # tie with 0: even
    (2.0**-25, "half", 8, 2.0**-24),
    (2.0**-25, "half", 7, 0.0),
    (3 * 2.0**-26, "half", 1, 2.0**-24),
    (2.0**-15, "half", 1, 2.0**-15),  # subnormal, exact
    (1 + 2.0**-11, "half", 1, 1.0),
    (1 + 3 * 2.0**-11, "half", 1, 1 + 2.0**-9),
    (1 + 2.0**-11, "half", 8, 1 + 2.0**-10),
    (1 + 2.0**-11, "half", 7, 1.0),
    (1 + 2.0**-20, "half", 9, 1 + 2.0**-10),  # odd neighbour
    (1 + 2.0**-10 + 2.0**-20, "half", 9, 1 + 2.0**-10),
    (1 + 2.0**-40, "bf16", 2, 1 + 2.0**-7),
    (1 - 2.0**-40, "bf16", 2, 1.0),
    (1 - 2.0**-40, "bf16", 4, 1 - 2.0**-8),
    (0.1, "bf16", 1, 0.10009765625),
]


@pytest.mark.parametrize("x,name,mode,expected", CASES)
def test_hand_checked(x, name, mode, expected):
    got = lp.chop(x, name, mode)
    assert same_bits(got, expected), got


def test_subnormal_off_rounds_onto_zero_or_xmin():
    f = lp.format("half")
    xmin = f.xmin
    assert lp.chop(xmin / 2, f, 1, subnormal=False) == 0.0  # tie: 0 is even
    assert lp.chop(xmin / 2, f, 8, subnormal=False) == xmin
    assert lp.chop(xmin * 0.51, f, 1, subnormal=False) == xmin
    assert lp.chop(xmin * 0.01, f, 2, subnormal=False) == xmin
    assert lp.chop(xmin * 0.99, f, 4, subnormal=False) == 0.0
    assert lp.chop(-xmin * 0.99, f, 3, subnormal=False) == -xmin
    assert same_bits(lp.chop(-xmin * 0.2, f, 1, subnormal=False), -0.0)


def test_explim_false_keeps_precision_only():
    assert lp.chop(1e10 + 1, "half", explim=False) == 9999220736.0
    assert lp.chop(1e-10, "bf16", explim=False) == float(np.float32(lp.chop(1e-10, "bf16")))
    assert lp.chop(3.0e-320, "half", explim=False) > 0  # binary64 subnormals stay
    assert lp.chop(1.7976e308, "half", 1, explim=False) == math.inf
    assert lp.chop(1.7e308, "half", 1, explim=False) == 1.70025957140054e308


# ------------------------------------------------------------------------------- properties
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=300, deadline=None)
@given(x=finite, name=st.sampled_from(["half", "bf16", "e4m3", "e5m2fnuz", "tf32", "e3m4"]))
def test_properties(x, name):
    f = lp.format(name)
    rd, ru = lp.chop(x, f, "down"), lp.chop(x, f, "up")
    rz, rn = lp.chop(x, f, "toward_zero"), lp.chop(x, f, "nearest_even")
    if -f.xmax <= x <= f.xmax:
        assert rd <= x <= ru
        assert ru == rd or lp.chop(np.nextafter(rd, np.inf), f, "up") == ru  # neighbours
        assert abs(rn - x) <= min(x - rd, ru - x) or rn in (rd, ru)
        assert rn in (rd, ru) and rz in (rd, ru)
    for mode in DETERMINISTIC_MODES:
        y = lp.chop(x, f, mode)
        assert same_bits(lp.chop(y, f, mode), y)  # idempotent
    if f.negzero or rn != 0:  # sign symmetry (a format without -0 gives +0 for both)
        assert same_bits(lp.chop(-x, f, "nearest_even"), -rn)
    if f.negzero or rd != 0:
        assert same_bits(lp.chop(-x, f, "up"), -rd)


@settings(max_examples=150, deadline=None)
@given(a=finite, b=finite)
def test_monotone(a, b):
    a, b = min(a, b), max(a, b)
    for mode in DETERMINISTIC_MODES:
        assert lp.chop(a, "bf16", mode) <= lp.chop(b, "bf16", mode)


# ------------------------------------------------------------------------------ exhaustive
@pytest.mark.parametrize("name", [n for n in SMALL if lp.format(n).bits <= 8])
@pytest.mark.parametrize("mode", ALL_MODES)
def test_every_code_round_trips(name, mode):
    f = lp.format(name)
    values = np.array([f.decode(c) for c in range(2**f.bits)])
    for dtype in (np.float64, np.float32):
        got = lp.chop(values.astype(dtype), f, mode, seed=1)
        assert same_bits(got, values.astype(dtype))
    assert values.size == 2**f.bits


# ------------------------------------------------------------------ agreement with the peers
ML_DTYPES = {"binary16": "float16", "bfloat16": "bfloat16", "e4m3fn": "float8_e4m3fn",
             "e4m3fnuz": "float8_e4m3fnuz", "e5m2": "float8_e5m2", "e5m2fnuz": "float8_e5m2fnuz",
             "e4m3": "float8_e4m3", "fp6_e2m3": "float6_e2m3fn", "fp6_e3m2": "float6_e3m2fn",
             "fp4_e2m1": "float4_e2m1fn"}


@pytest.mark.parametrize("name", list(ML_DTYPES))
def test_rne_equals_ml_dtypes_on_float32(name):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    target = np.float16 if name == "binary16" else getattr(ml_dtypes, ML_DTYPES[name], None)
    if target is None:
        pytest.skip(f"ml_dtypes lacks {ML_DTYPES[name]}")
    f = lp.format(name)
    rng = np.random.default_rng(5)
    # every float16 pattern (as float32) plus random float32 over the whole range
    with np.errstate(all="ignore"):
        x = np.concatenate([np.arange(2**16, dtype=np.uint16).view(np.float16).astype(np.float32),
                            rng.standard_normal(50_000).astype(np.float32) * np.float32(f.xmax / 4)])
        if not f.has_nan:
            # lowprec keeps NaN visible where the format has no NaN code (ml_dtypes gives -0)
            x = x[~np.isnan(x)]
        ours = lp.chop(x, f)
        theirs = x.astype(target).astype(np.float32)
    assert same_bits(ours, theirs)


# ---------------------------------------------------------------------------- stochastic
def test_stochastic_exact_counts_by_enumeration():
    """With the top 4 random bits enumerated, x = 1 + k/16 ulp rounds up exactly k times."""
    f = lp.format("half")
    ulp = 2.0**-10
    for k in range(16):
        x = np.full(16, 1 + k * ulp / 16)
        rbits = (np.arange(16, dtype=np.int64) << 58)
        y = round_with_bits(x, f, "stochastic", rbits)
        assert set(np.unique(y)) <= {1.0, 1 + ulp}
        assert int(np.sum(y == 1 + ulp)) == k
        y = round_with_bits(x, f, "stochastic_uniform", rbits)
        assert int(np.sum(y == 1 + ulp)) == (8 if k else 0)


@pytest.mark.parametrize("frac", [0.1, 0.5, 0.9, 2.0**-20])
def test_stochastic_frequencies(frac):
    f = lp.format("bf16")
    ulp = 2.0**-7
    n = 400_000
    x = np.full(n, 1 + frac * ulp)
    y = lp.chop(x, f, "stochastic", seed=3)
    assert set(np.unique(y)) <= {1.0, 1 + ulp}
    ups = int(np.sum(y > 1))
    sigma = math.sqrt(n * frac * (1 - frac))
    assert abs(ups - n * frac) <= 6 * sigma + 1


def test_stochastic_uses_exact_residual():
    """bf16 of 1 + 2**-100 (held exactly as a Fraction) rounds up with probability 2**-93."""
    p = rounding_params(lp.format("bf16"))
    x = 1 + Fraction(1, 2**100)
    threshold = 2**62 >> 93  # floor(2**-93 * 2**62) == 0: never up with 62 bits
    assert threshold == 0 and round_value(x, p, 5, 0) == 1.0
    x = 1 + Fraction(1, 2**30)  # probability 2**-23: up iff rbits < 2**39
    assert round_value(x, p, 5, 2**39 - 1) == 1 + 2**-7
    assert round_value(x, p, 5, 2**39) == 1.0
