"""lp.chop on torch tensors: bit-identical to the NumPy backend (array_api through TORCH_OPS)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lowprec as lp  # noqa: E402
from lowprec.chop import round_with_bits  # noqa: E402
from lowprec.rounding import RoundingMode, array_api, rounding_params  # noqa: E402
from lowprec.torch import TORCH_OPS, params_for, round_tensor  # noqa: E402
from lowprec.chop import make_spec  # noqa: E402
from lowprec.torch._chop import SERIAL_BELOW, round_like_spec  # noqa: E402
from lowprec.torch._ops import ldexp  # noqa: E402

FORMATS = ["half", "bf16", "tf32", "e4m3", "e4m3fn", "e5m2fnuz", "fp4_e2m1", "binary8p1", "binary8p3uf",
           "single", "double", "e3m4"]
DETERMINISTIC = [m for m in RoundingMode if not m.is_stochastic]
INTS = {np.float64: np.int64, np.float32: np.int32}


def values(fmt, rng, n=300):
    grid = np.ldexp(1.0, rng.integers(fmt.emin - fmt.t - 3, fmt.emax + 3, n))
    with np.errstate(over="ignore"):
        return np.concatenate([rng.uniform(-2, 2, n) * grid, [
            0.0, -0.0, np.inf, -np.inf, np.nan, fmt.xmax, -fmt.xmax, fmt.xmax * (1 + fmt.u / 2),
            fmt.xmins / 2, -fmt.xmins / 2, fmt.xmin * 0.75, 3e-320, -1e-310, 5e-324, 1.7e308]])


def same_bits(a, b, dtype):
    return (a.view(INTS[dtype]) == b.view(INTS[dtype])) | (np.isnan(a) & np.isnan(b))


def fits(fmt, dtype):
    try:
        rounding_params(fmt, True, np.dtype(dtype))
        return True
    except lp.FormatError:
        return False


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_chop_equals_numpy_every_mode(name, dtype):
    fmt = lp.format(name)
    if not fits(fmt, dtype):
        pytest.skip(f"{name} does not fit {np.dtype(dtype)}")
    rng = np.random.default_rng(len(name))
    with np.errstate(all="ignore"):
        x = values(fmt, rng).astype(dtype)
    t = torch.from_numpy(x.copy())
    for subnormal in (True, False):
        for explim in (True, False):
            for mode in DETERMINISTIC:
                got = lp.chop(t, fmt, mode, subnormal=subnormal, explim=explim)
                want = lp.chop(x, fmt, mode, subnormal=subnormal, explim=explim)
                assert isinstance(got, torch.Tensor) and got.dtype == t.dtype and got.shape == t.shape
                ok = same_bits(got.numpy(), want, dtype)
                assert ok.all(), (mode, subnormal, explim, x[~ok][:3], got.numpy()[~ok][:3], want[~ok][:3])
                spec = make_spec(fmt, mode, subnormal=subnormal, explim=explim)
                dev = round_like_spec(t, spec, device_ops=True).numpy()  # the CUDA path
                ok = same_bits(dev, want, dtype)
                assert ok.all(), (mode, subnormal, explim, x[~ok][:3], dev[~ok][:3], want[~ok][:3])
            p = params_for(fmt, explim, t.dtype, subnormal)
            for mode in (RoundingMode.STOCHASTIC, RoundingMode.STOCHASTIC_UNIFORM):
                r62 = rng.integers(0, 2**62, x.size, dtype=np.int64)
                got = round_tensor(t, p, mode, torch.from_numpy(r62)).numpy()
                want = round_with_bits(x, fmt, mode, r62, subnormal=subnormal, explim=explim)
                assert same_bits(got, want, dtype).all(), (mode, subnormal, explim)
    assert np.array_equal(t.numpy().view(INTS[dtype]), x.view(INTS[dtype]))  # input untouched


def test_ldexp_exact_and_single_rounding():
    x = torch.tensor([1.5, 3.0, 2.0**-1022, 1.0, -0.75], dtype=torch.float64)
    k = torch.tensor([1000, -1000, 60, -1022, 5])
    want = np.ldexp(x.numpy(), k.numpy().astype(np.int32))
    assert np.array_equal(ldexp(x, k).numpy(), want)


def test_shape_device_noncontiguous_and_out():
    x = torch.randn(6, 8, dtype=torch.float64).t()  # non-contiguous
    y = lp.chop(x, "bf16", "up")
    assert y.shape == x.shape and y.device == x.device
    assert np.array_equal(y.numpy(), lp.chop(x.numpy(), "bf16", "up"))
    out = torch.empty_like(x)
    r = lp.chop(x, "bf16", out=out)
    assert r is out and np.array_equal(out.numpy(), lp.chop(x.numpy(), "bf16"))
    z = x.clone()
    lp.chop(z, "e4m3", out=z)
    assert np.array_equal(z.numpy(), lp.chop(x.numpy(), "e4m3"))
    with pytest.raises(TypeError, match="dtype"):
        lp.chop(x, "bf16", out=torch.empty(8, 6, dtype=torch.float32))
    with pytest.raises(ValueError, match="shape"):
        lp.chop(x, "bf16", out=torch.empty(3, dtype=torch.float64))


def test_low_precision_tensor_dtypes():
    x = torch.randn(100, dtype=torch.float32)
    for dtype, fmt in ((torch.float16, "e4m3"), (torch.bfloat16, "e4m3"), (torch.bfloat16, "bf16"),
                       (torch.float16, "half")):
        t = x.to(dtype)
        got = lp.chop(t, fmt, "down")
        assert got.dtype == dtype
        want = lp.chop(t.to(torch.float64).numpy(), fmt, "down")
        assert np.array_equal(got.to(torch.float64).numpy(), want)
    with pytest.raises(lp.FormatError, match="bfloat16"):
        lp.chop(x.to(torch.bfloat16), "half")
    with pytest.raises(lp.FormatError, match="float32"):
        lp.chop(x.to(torch.float16), "bf16")


def test_bad_input():
    with pytest.raises(lp.FormatError, match="float64"):
        lp.chop(torch.ones(3), "double")
    with pytest.raises(lp.UnsupportedTypeError, match="boolean"):
        lp.chop(torch.ones(3, dtype=torch.bool), "half")
    r = lp.chop(torch.arange(5), "half")  # integers: documented conversion to float64
    assert r.dtype == torch.float64
    c = torch.tensor([0.1 + 0.2j], dtype=torch.complex128)
    rc = lp.chop(c, "bf16")
    assert rc.dtype == torch.complex128 and rc.real.item() == lp.chop(0.1, "bf16")


def test_stochastic_seeded_and_generator():
    x = torch.full((1000,), 1 + 2.0**-10, dtype=torch.float64)
    a = lp.chop(x, "bf16", "stochastic", seed=3)
    b = lp.chop(x, "bf16", "stochastic", seed=3)
    assert torch.equal(a, b)
    assert set(a.unique().tolist()) == {1.0, 1.0078125}
    assert abs((a == 1.0078125).double().mean().item() - 1 / 8) < 0.05
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(lp.chop(x, "bf16", 5, rng=g1), lp.chop(x, "bf16", 5, rng=g2))
    lp.seed(1)
    c = lp.chop(x, "bf16", "sr_uniform")
    lp.seed(1)
    assert torch.equal(c, lp.chop(x, "bf16", "sr_uniform"))


def test_chop_is_differentiable_ste():
    x = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64, requires_grad=True)
    y = lp.chop(x, "bf16")
    (y * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    assert torch.equal(x.grad, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))


def test_array_api_torch_ops_directly():
    x = torch.linspace(-3, 3, 101, dtype=torch.float32)
    p = rounding_params(lp.format("e5m2"), True, np.dtype(np.float32))
    got = array_api.round_array(x, p, "nearest_away", ops=TORCH_OPS)
    assert np.array_equal(got.numpy(), lp.chop(x.numpy(), "e5m2", "nearest_away"))


@pytest.mark.parametrize("device_ops", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_random_streams_equal_numpy(device_ops, dtype):
    """Stochastic modes and soft errors draw the kernels' stream on every path: the same
    seed gives NumPy's result bit for bit (CPU kernels and the whole-tensor CUDA path)."""
    rng = np.random.default_rng(9)
    for n in (100, SERIAL_BELOW + 7):  # one-thread and parallel kernels
        x = (rng.standard_normal(n) * np.ldexp(1.0, rng.integers(-30, 30, n))).astype(dtype)
        t = torch.from_numpy(x)
        for fmt, mode, flip in (("bf16", "stochastic", False), ("e4m3", "stochastic_uniform", False),
                                ("half", "nearest", True), ("fp4_e2m1", "stochastic", True),
                                ("binary8p1", 1, True)):
            spec = make_spec(fmt, mode, seed=11, flip=flip, p=0.25)
            with np.errstate(all="ignore"):
                want = lp.chop(x, fmt, mode, seed=11, flip=flip, p=0.25)
            got = round_like_spec(t, spec, device_ops=device_ops).numpy()
            assert same_bits(got, want, dtype).all(), (fmt, mode, flip)
    t = torch.from_numpy(rng.standard_normal(4000).astype(dtype))  # finite nonzero in half
    flipped = lp.chop(t, "half", flip=True, p=0.25, seed=2)
    frac = (flipped != lp.chop(t, "half")).double().mean().item()
    assert 0.2 < frac < 0.3
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a = round_like_spec(t, make_spec("bf16", "stochastic", rng=g1), device_ops=device_ops)
    b = round_like_spec(t, make_spec("bf16", "stochastic", rng=g2), device_ops=not device_ops)
    assert torch.equal(a, b)  # one generator, the same key and stream on both paths


def test_flip_array_equals_kernel_draws():
    """array_api.flip_array given the kernels' draws equals the numba soft errors (NumPy shim)."""
    from lowprec.chop import _FLIP_STREAM
    from lowprec.random import next_key
    from lowprec.torch._ops import _shr, splitmix64

    rng = np.random.default_rng(4)
    for fmt in ("e4m3", "bf16", "e5m2fnuz", "half"):
        p = rounding_params(lp.format(fmt))
        v = lp.chop(rng.standard_normal(2000) * 100.0, fmt)
        v[:4] = [0.0, np.inf, np.nan, -0.0] if lp.format(fmt).infs else [0.0, 1.0, np.nan, -0.0]
        bits = splitmix64(int(next_key(8)) ^ int(_FLIP_STREAM), v.size, "cpu")
        hit = (_shr(bits, 11).double() * 2.0**-53 < 0.5).numpy()
        bit = (((bits & 0xFFFFFFFF) * (p.t - 1)) >> 32).numpy()
        with np.errstate(all="ignore"):
            got = array_api.flip_array(v, p, lp.format(fmt).has_nan, hit, bit)
            want = lp.chop(v, fmt, flip=True, p=0.5, seed=8)
        assert np.array_equal(got, want, equal_nan=True), fmt


def test_small_and_low_precision_inputs_round_on_one_thread():
    x = torch.linspace(-3, 3, 77, dtype=torch.float32)
    for dtype in (torch.float32, torch.bfloat16):
        got = lp.chop(x.to(dtype), "e4m3", "odd")
        assert torch.equal(got.to(torch.float64), lp.chop(x.to(dtype).to(torch.float64), "e4m3", "odd"))
    assert lp.chop(torch.empty(0, 3), "half").shape == (0, 3)
    assert lp.chop(torch.tensor(0.1), "half").item() == lp.chop(0.1, "half")
