"""JAX rounding (lowprec.jax): bit-identical to the NumPy backend, jittable, explicit keys."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import lowprec as lp  # noqa: E402
from lowprec.chop import round_with_bits  # noqa: E402
from lowprec.rounding import RoundingMode, rounding_params  # noqa: E402

FORMATS = ["half", "bf16", "tf32", "e4m3", "e4m3fn", "e5m2fnuz", "fp4_e2m1", "binary8p1", "binary8p3uf",
           "single", "double", "e3m4"]
DETERMINISTIC = [m for m in RoundingMode if not m.is_stochastic]
STOCHASTIC = [m for m in RoundingMode if m.is_stochastic]




@pytest.fixture
def eager():
    with jax.disable_jit():
        yield


def values(fmt, dtype, seed=0, n=300):
    rng = np.random.default_rng(seed)
    grid = np.ldexp(1.0, rng.integers(fmt.emin - fmt.t - 3, fmt.emax + 3, n))
    with np.errstate(all="ignore"):
        x = np.concatenate([rng.uniform(-2, 2, n) * grid, [
            0.0, -0.0, np.inf, -np.inf, np.nan, fmt.xmax, -fmt.xmax, fmt.xmax * (1 + fmt.u / 2),
            fmt.xmins / 2, -fmt.xmins / 2, fmt.xmin * 0.75, 3e-320, -1e-310, 1e-40, -2e-45]])
        return x.astype(dtype)


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    ints = np.int64 if a.dtype == np.float64 else np.int32
    ok = (a.view(ints) == b.view(ints)) | (np.isnan(a) & np.isnan(b))
    return ok.all(), a[~ok][:4], b[~ok][:4]


def _fits(fmt, dtype):
    try:
        rounding_params(fmt, True, np.dtype(dtype))
        return True
    except lp.FormatError:
        return False


VARIANT_MODES = [RoundingMode.NEAREST_EVEN, RoundingMode.UP, RoundingMode.DOWN, RoundingMode.ODD]


def _check_deterministic(name, dtype, modes=None, variants=True):
    fmt = lp.format(name)
    if not _fits(fmt, dtype):
        pytest.skip(f"{name} does not fit {np.dtype(dtype)}")
    x = values(fmt, dtype, seed=len(name))
    xj = jnp.asarray(x)
    cases = [(None, True, m) for m in (modes or DETERMINISTIC)]
    if variants:
        cases += [(sub, exp, m) for sub, exp in [(False, True), (None, False)] for m in VARIANT_MODES]
    for subnormal, explim, mode in cases:
        got = lp.chop(xj, fmt, mode, subnormal=subnormal, explim=explim)
        assert isinstance(got, jax.Array)
        want = lp.chop(x, fmt, mode, subnormal=subnormal, explim=explim)
        ok, g, w = same_bits(got, want)
        assert ok, (name, mode, subnormal, explim, g, w)


# Compiling costs ~0.5 s per (format, mode): the full matrix runs the same code eagerly
# (op by op, each primitive compiled once), and a subset runs through jit.

@pytest.mark.parametrize("name", FORMATS)
def test_deterministic_float32_bit_identical(name):
    with jax.disable_jit():
        _check_deterministic(name, np.float32)


@pytest.mark.parametrize("name", FORMATS)
def test_deterministic_float64_bit_identical(name, x64):
    with jax.disable_jit():
        _check_deterministic(name, np.float64, variants=name in ("half", "bf16", "single", "double"))


def test_deterministic_jitted_bit_identical(x64):
    _check_deterministic("bf16", np.float32, variants=False)
    _check_deterministic("e4m3", np.float64, modes=[RoundingMode.UP, RoundingMode.NEAREST_EVEN],
                         variants=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["half", "bf16", "e4m3", "fp4_e2m1", "binary8p3uf"])
def test_stochastic_same_bits_as_numpy(name, dtype, request):
    if dtype == np.float64:
        request.getfixturevalue("x64")
    if name != "bf16":  # one jitted format, the others eagerly (compilation time)
        request.getfixturevalue("eager")
    fmt = lp.format(name)
    x = values(fmt, dtype, seed=3)
    rng = np.random.default_rng(7)
    for mode in STOCHASTIC:
        for subnormal in (None, False):
            r62 = rng.integers(0, 2**62, x.size, dtype=np.int64)
            r62[:4] = [0, 2**62 - 1, 2**61, 2**61 - 1]
            got = lp.jax.round_with_bits(jnp.asarray(x), fmt, mode, r62, subnormal=subnormal)
            want = round_with_bits(x, fmt, mode, r62, subnormal=subnormal)
            ok, g, w = same_bits(got, want)
            assert ok, (name, mode, g, w)


def test_stochastic_split62_equals_int64(x64):
    # The same integers through the uint32-pair path (no x64) and the int64 path.
    x = values(lp.format("bf16"), np.float32, seed=5)
    r62 = np.random.default_rng(1).integers(0, 2**62, x.size, dtype=np.int64)
    with_x64 = lp.jax.round_with_bits(jnp.asarray(x), "bf16", "stochastic", r62)
    jax.config.update("jax_enable_x64", False)
    without = lp.jax.round_with_bits(jnp.asarray(x), "bf16", "stochastic", r62)
    assert same_bits(with_x64, without)[0]


def test_stochastic_key_semantics():
    x = jnp.linspace(-3, 3, 4001, dtype=jnp.float32)
    k0, k1 = jax.random.key(0), jax.random.key(1)
    a = lp.chop(x, "bf16", "stochastic", rng=k0)
    b = lp.chop(x, "bf16", "stochastic", rng=k0)
    c = lp.chop(x, "bf16", "stochastic", rng=k1)
    assert (a == b).all() and not (a == c).all()
    f = jax.jit(lambda x, k: lp.jax.round_to(x, "bf16", "stochastic", k))
    assert (f(x, k0) == a).all() and (f(x, k1) == c).all()
    # seed= is shorthand for jax.random.key(seed)
    assert (lp.chop(x, "bf16", "stochastic", seed=0) == a).all()
    # results lie on one of the two neighbours
    down = lp.chop(x, "bf16", "down")
    up = lp.chop(x, "bf16", "up")
    assert ((a == down) | (a == up)).all()
    # the two random words do not depend on x64
    old = jax.config.jax_enable_x64
    try:
        jax.config.update("jax_enable_x64", True)
        assert (lp.chop(x, "bf16", "stochastic", rng=k0) == a).all()
    finally:
        jax.config.update("jax_enable_x64", old)


def test_stochastic_is_unbiased():
    x = jnp.full((200_000,), 1 + 2**-9, jnp.float32)  # 1/4 of the way to the next bf16 value
    r = lp.chop(x, "bf16", "stochastic", rng=jax.random.key(3))
    frac_up = float(((r > 1).astype(jnp.float32)).mean())
    assert abs(frac_up - 0.25) < 0.01


def test_stochastic_without_key_is_an_error():
    x = jnp.ones(3, jnp.float32)
    with pytest.raises(ValueError, match="PRNG key"):
        lp.chop(x, "bf16", "stochastic")
    with pytest.raises(ValueError, match="PRNG key"):
        lp.jax.round_to(x, "bf16", 5)
    with pytest.raises(TypeError, match="PRNG key"):
        lp.chop(x, "bf16", "stochastic", rng=np.random.default_rng(0))


def test_wide_format_without_x64_mentions_the_flag():
    with pytest.raises(lp.FormatError, match="jax_enable_x64"):
        lp.chop(jnp.ones(3, jnp.float32), "double")


def test_same_kind_out_and_under_jit_vmap():
    x = jnp.arange(12, dtype=jnp.float32).reshape(3, 4) / 7
    r = lp.chop(x, "e4m3")
    assert isinstance(r, jax.Array) and r.shape == x.shape and r.dtype == x.dtype
    assert (jax.jit(lambda v: lp.chop(v, "e4m3"))(x) == r).all()
    assert (jax.vmap(lambda v: lp.chop(v, "e4m3"))(x) == r).all()
    assert lp.chop(x.astype(jnp.float16), "e4m3").dtype == jnp.float16
    assert lp.chop(jnp.arange(3), "half").dtype == jnp.float32
    z = lp.chop(x + 1j * x, "bf16")
    assert (z.real == lp.chop(x, "bf16")).all() and (z.imag == lp.chop(x, "bf16")).all()
    with pytest.raises(lp.UnsupportedTypeError):
        lp.chop(jnp.array([True]), "half")
    with pytest.raises(TypeError, match="out="):
        lp.chop(x, "half", out=x)


def test_jit_compiles_once_per_format():
    from lowprec.jax import _chop
    x = jnp.linspace(-5, 5, 97, dtype=jnp.float32)
    start = _chop.TRACE_COUNT[0]
    lp.chop(x, "e3m4", "up")
    assert _chop.TRACE_COUNT[0] == start + 1
    for _ in range(3):
        lp.chop(x * 2, "e3m4", "up")
        lp.chop(x, lp.format("e3m4"), RoundingMode.UP)
    assert _chop.TRACE_COUNT[0] == start + 1
    lp.chop(x, "e3m4", "down")  # another mode: one more compilation
    assert _chop.TRACE_COUNT[0] == start + 2


def test_importing_lowprec_does_not_import_jax():
    import subprocess
    import sys
    code = "import sys, lowprec, numpy as np; lowprec.chop(np.ones(2), 'half'); print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- the integer fast path
# (lowprec.jax._fastround): exhaustive sweeps against the NumPy kernels, stochastic modes
# with the reference given the same random words (reference_r62).

import functools  # noqa: E402

from lowprec.jax import _fastround, _random  # noqa: E402

SWEEP_FORMATS = ["bf16", "half", "e4m3", "e5m2", "tf32", "binary8p1", "binary8p3uf",
                 lp.formats.FloatFormat(5, 6, subnormal=False, overflow="saturate", negzero=False,
                                        name="e5m6sat")]
VARIANTS = [(None, True), (False, True), (None, False)]  # (subnormal, explim)
CHUNK = 2 ** 19  # every sweep call has this shape: one compilation per (format, mode, variant)


def _grid_points(fmt, x, dtype):
    """Both format neighbours of each ``x``, their midpoints, and one storage ulp either side."""
    pts = []
    for subnormal, explim in VARIANTS:
        lo = lp.chop(x, fmt, "toward_zero", subnormal=subnormal, explim=explim).astype(np.float64)
        hi = lp.chop(x, fmt, "up", subnormal=subnormal, explim=explim).astype(np.float64)
        with np.errstate(all="ignore"):
            mid = (np.abs(lo) + np.abs(hi)) / 2 * np.sign(x)
        pts += [lo, hi, mid]
    p = np.concatenate(pts).astype(dtype)
    p = p[np.isfinite(p)]
    inf = dtype(np.inf)
    return np.concatenate([p, np.nextafter(p, inf), np.nextafter(p, -inf)])


@functools.lru_cache(maxsize=None)
def sweep_points(fmt, dtype):
    """Structured test points: every float32 upper half with six lower halves (all bf16
    values, midpoints and their float32 neighbours), every float16 value (so every fp8
    and fp16 value) with the format's midpoints and one storage ulp either side, storage
    subnormals, specials; float64 adds the same around float64's own upper 16 bits."""
    upper = (np.arange(2 ** 16, dtype=np.uint32) << 16)[:, None]
    a = (upper | np.array([0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF], np.uint32)).ravel().view(np.float32)
    halves = np.arange(2 ** 16, dtype=np.uint16).view(np.float16).astype(np.float32)
    tiny = np.concatenate([np.arange(2 ** 12, dtype=np.uint32),
                           np.uint32(1) << np.arange(23, dtype=np.uint32)])
    tiny = np.concatenate([tiny, tiny | 0x80000000]).view(np.float32)
    seeds = np.concatenate([a[::7], halves])
    parts = [a, halves, tiny, _grid_points(fmt, seeds[np.isfinite(seeds)].astype(dtype), dtype)]
    if dtype == np.float64:
        upper = (np.arange(2 ** 16, dtype=np.uint64) << np.uint64(48))[:, None]
        lows = np.array([0, 1, 2 ** 47, 2 ** 47 + 1, 2 ** 47 - 1, 2 ** 48 - 1], np.uint64)
        parts.append((upper | lows).ravel().view(np.float64))
        parts.append(np.arange(2 ** 12, dtype=np.uint64).view(np.float64))
    with np.errstate(invalid="ignore"):  # signalling float32 NaNs widen quietly (NaNs are kept as they are)
        x = np.concatenate([p.astype(dtype) for p in parts])
    x = np.unique(x.view(np.int64 if dtype == np.float64 else np.int32))
    return x.view(dtype)


def _chunks(x):
    for i in range(0, x.size, CHUNK):
        c = x[i:i + CHUNK]
        yield np.concatenate([c, np.zeros(CHUNK - c.size, c.dtype)])


def _sweep(fmt, dtype):
    width = np.dtype(dtype).itemsize * 8
    x = sweep_points(fmt, dtype)
    key = jax.random.key(11)
    words = np.asarray(_random.WORDS[width](key, (CHUNK,)))
    r62 = _fastround.reference_r62(words)
    for subnormal, explim in VARIANTS:
        for mode in RoundingMode:
            for c in _chunks(x):
                got = lp.jax.round_to(jnp.asarray(c), fmt, mode, key, subnormal=subnormal, explim=explim)
                if mode.is_stochastic:
                    want = round_with_bits(c, fmt, mode, r62, subnormal=subnormal, explim=explim)
                else:
                    want = lp.chop(c, fmt, mode, subnormal=subnormal, explim=explim)
                ok, g, w = same_bits(got, want)
                assert ok, (str(fmt), mode, subnormal, explim, g, w)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", SWEEP_FORMATS, ids=str)
def test_fast_path_sweep_float32(fmt):
    _sweep(lp.format(fmt), np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", SWEEP_FORMATS + ["single"], ids=str)
def test_fast_path_sweep_float64(fmt, x64):
    _sweep(lp.format(fmt), np.float64)


def test_fast_path_is_branch_free_and_draws_no_threefry_per_element():
    x = jnp.ones((64, 64), jnp.float32)
    for mode in ("nearest_even", "stochastic"):
        jaxpr = str(jax.make_jaxpr(lambda x, k: lp.jax.round_to(x, "e4m3", mode, k))(x, jax.random.key(0)))
        assert "cond" not in jaxpr
        assert "threefry" not in jaxpr or "(64, 64)" not in jaxpr.split("threefry")[1][:200]


def test_fast_path_quick_sweep():
    # A strided part of the sweeps, eagerly (one compilation per primitive): the stochastic
    # modes of every sweep format and the custom format in every mode. The deterministic
    # modes of the registered formats are the tests above.
    cases = [(fmt, mode) for fmt in SWEEP_FORMATS for mode in STOCHASTIC]
    cases += [(SWEEP_FORMATS[-1], mode) for mode in DETERMINISTIC]
    key = jax.random.key(5)
    r62 = _fastround.reference_r62(np.asarray(_random.words32(key, (CHUNK // 64,))))
    with jax.disable_jit():
        for fmt, mode in cases:
            fmt = lp.format(fmt)
            x = sweep_points(fmt, np.float32)[::50][:CHUNK // 64]  # >= 449k points each
            for subnormal, explim in VARIANTS:
                got = lp.jax.round_to(jnp.asarray(x), fmt, mode, key, subnormal=subnormal, explim=explim)
                want = (round_with_bits(x, fmt, mode, r62, subnormal=subnormal, explim=explim)
                        if mode.is_stochastic else lp.chop(x, fmt, mode, subnormal=subnormal, explim=explim))
                ok, g, w = same_bits(got, want)
                assert ok, (str(fmt), mode, subnormal, explim, g, w)


def test_stochastic_mean_error_is_zero_and_uniform_is_half():
    n = 2 ** 20
    x = jax.random.uniform(jax.random.key(0), (n,), jnp.float32, 1.0, 2.0)
    gap = 2.0 ** -7  # bf16 in [1, 2)
    r = lp.jax.round_to(x, "bf16", "stochastic", jax.random.key(1))
    err = np.asarray(r, np.float64) - np.asarray(x, np.float64)
    assert abs(err.mean()) < 4 * 0.5 * gap / np.sqrt(n)
    # deep in the variable-shift range: half subnormals, and below them
    xs = x * 2.0 ** -30
    r = lp.jax.round_to(xs, "half", "stochastic", jax.random.key(2))
    err = np.asarray(r, np.float64) - np.asarray(xs, np.float64)
    assert abs(err.mean()) < 4 * 0.5 * 2.0 ** -24 / np.sqrt(n)
    inexact = np.asarray(lp.chop(x, "bf16", "toward_zero") != x)
    up = np.asarray(lp.jax.round_to(x, "bf16", "stochastic_uniform", jax.random.key(3)) > x)
    assert abs(up[inexact].mean() - 0.5) < 4 * 0.5 / np.sqrt(inexact.sum())
    # another key: an independent draw (agreement 1/2, not 0 or 1)
    up2 = np.asarray(lp.jax.round_to(x, "bf16", "stochastic_uniform", jax.random.key(4)) > x)
    assert abs((up == up2)[inexact].mean() - 0.5) < 4 * 0.5 / np.sqrt(inexact.sum())


def test_words64_are_the_numba_splitmix_stream(x64):
    from lowprec.rounding._kernels import random_bits
    key = jax.random.key(9)
    k64 = int(_random.key64(key))
    got = np.asarray(_random.words64(key, (3, 5))).ravel()
    want = [int(random_bits(np.uint64(k64), i)) for i in range(15)]
    assert [int(v) for v in got] == want
