"""LPTensor reductions and products under every accumulation model equal LPFloat bit for bit,
on both drivers (NumPy kernels on CPU tensors, whole-tensor torch ops for other devices)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lowprec as lp  # noqa: E402
from lowprec.rounding import RoundingMode  # noqa: E402
from lowprec.torch import LPTensor, _accumulate  # noqa: E402

F = torch.nn.functional
MODELS = ["sequential", "pairwise", "fma", "exact", "fp32"]
DETERMINISTIC = [m for m in RoundingMode if not m.is_stochastic]


def same(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    equal = (a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))
    return a.shape == b.shape and bool(equal.all())


def grid(shape, fmt, rng, spread=3):
    x = rng.standard_normal(shape) * np.ldexp(1.0, rng.integers(-spread, spread + 1, shape))
    return lp.chop(x, fmt)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("fmt", ["bf16", "half", "e4m3"])
@pytest.mark.parametrize("device_ops", [False, True])
def test_matmul_and_sum_drivers_equal_numpy(model, fmt, device_ops):
    rng = np.random.default_rng(len(fmt) + len(model))
    f = lp.format(fmt)
    directed = (RoundingMode.UP, RoundingMode.TOWARD_ZERO, RoundingMode.ODD)[len(model + fmt) % 3]
    for mode in (RoundingMode.NEAREST_EVEN, directed):
        for sa, sb in (((5, 7), (7, 3)), ((2, 3, 6), (6, 2)), ((7,), (7, 2)), ((6,), (6,))):
            a, b = grid(sa, fmt, rng), grid(sb, fmt, rng)
            want = lp.ndarray._accumulate.matmul(a, b, f, mode, model)
            got = _accumulate.matmul(torch.from_numpy(a), torch.from_numpy(b), f, mode, model, device_ops)
            assert same(got.numpy(), want), (mode, sa, sb)
        rows = grid((3, 21), fmt, rng, spread=8)
        want, _ = lp.ndarray._accumulate.fold(True, rows, f, mode, False, model)
        got = _accumulate.fold_sum(torch.from_numpy(rows), f, mode, model, device_ops)
        assert same(got.numpy(), want), mode


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_lptensor_products_and_sums_equal_lpfloat(model, mode):
    rng = np.random.default_rng(int(mode))
    a, b = grid((3, 4, 9), "bf16", rng), grid((9, 5), "bf16", rng)
    ta, tb = lp.asarray(torch.from_numpy(a), "bf16", mode), lp.asarray(torch.from_numpy(b), "bf16", mode)
    na, nb = lp.asarray(a, "bf16", mode), lp.asarray(b, "bf16", mode)
    with lp.accumulate(model):
        pairs = [(ta @ tb, na @ nb), (torch.matmul(ta, tb), np.matmul(na, nb)),
                 (ta[0].mm(tb), na[0] @ nb), (torch.bmm(ta, tb.expand(3, 9, 5)), na @ nb),
                 (ta.sum(), np.sum(na)), (ta.sum(dim=2), np.sum(na, axis=2)),
                 (torch.sum(ta, 1), np.sum(na, axis=1)),
                 (ta.sum(-1, keepdim=True), np.sum(na, axis=-1, keepdims=True))]
        if model != "exact":  # exact sums in float64 by another order: equal when exact, as here
            mean = lp.arith.divide(np.sum(na, axis=1).values, 4.0, "bf16", mode)
            pairs.append((ta.mean(dim=1), lp.asarray(mean, "bf16", mode)))
    for got, want in pairs:
        assert isinstance(got, LPTensor) and got.format == lp.format("bf16")
        assert same(got.as_plain().numpy(), want.values)


@pytest.mark.parametrize("model", ["sequential", "pairwise", "fma", "fp32"])
@pytest.mark.parametrize("device_ops", [False, True])
def test_linear_and_conv_are_the_matmul_model(model, device_ops):
    rng = np.random.default_rng(3)
    fmt, mode = lp.format("half"), RoundingMode.NEAREST_EVEN
    x, w, bias = grid((2, 3, 6, 5), fmt, rng), grid((4, 3, 3, 2), fmt, rng), grid(4, fmt, rng)
    wl = grid((4, 5), fmt, rng)
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    for stride, padding, dilation in ((1, 0, 1), (2, 1, 1), ((1, 2), (2, 0), (2, 1))):
        got = _accumulate.conv(tx, tw, stride, padding, dilation, 1, fmt, mode, model, device_ops)
        cols = F.unfold(tx, (3, 2), dilation=dilation, padding=padding, stride=stride).numpy()
        ref = F.conv2d(tx, tw, stride=stride, padding=padding, dilation=dilation)
        want = np.stack([lp.ndarray._accumulate.matmul(w.reshape(4, -1), c, fmt, mode, model) for c in cols])
        assert same(got.numpy(), want.reshape(ref.shape))
    # groups and conv1d / conv3d shapes against the native result under "exact"-like checks
    g = _accumulate.conv(tx, tw[:, :1].repeat(1, 1, 1, 1)[:3], 1, 0, 1, 3, fmt, mode, model, device_ops)
    assert g.shape == F.conv2d(tx, tw[:3, :1], groups=3).shape
    with lp.accumulate(model):
        tl = lp.asarray(tx, fmt, mode)
        lbias = lp.asarray(torch.from_numpy(bias), fmt, mode)
        out = F.conv2d(tl, lp.asarray(tw, fmt, mode), lbias, padding=1)
        lin = F.linear(tl, lp.asarray(torch.from_numpy(wl), fmt, mode), lbias)
    conv_nb = _accumulate.conv(tx, tw, 1, 1, 1, 1, fmt, mode, model)
    want = lp.arith.add(conv_nb.numpy(), bias.reshape(-1, 1, 1), fmt, mode)
    assert isinstance(out, LPTensor) and same(out.as_plain().numpy(), want)
    na = lp.asarray(x, fmt, mode)
    with lp.accumulate(model):
        want = na @ lp.asarray(wl, fmt, mode).T + lp.asarray(bias, fmt, mode)
    assert same(lin.as_plain().numpy(), want.values)


def test_conv1d_conv3d_and_unsupported():
    rng = np.random.default_rng(5)
    fmt = "bf16"
    def lpt(*shape):
        return lp.asarray(torch.from_numpy(grid(shape, fmt, rng)), fmt)

    x1, w1, x3, w3 = lpt(2, 3, 9), lpt(2, 3, 3), lpt(1, 2, 4, 4, 3), lpt(2, 2, 3, 1, 3)
    for x, w, conv in ((x1, w1, F.conv1d), (x3, w3, F.conv3d)):
        with lp.accumulate("fp32"):  # a wide accumulator, exact here: the native result rounded once
            got = conv(x, w, padding="same")
        want = lp.chop(conv(x.as_plain(), w.as_plain(), padding="same"), fmt)
        assert torch.equal(got.as_plain(), want)
    with pytest.raises(lp.UnsupportedOperationError, match="einsum"):
        torch.einsum("ij,jk->ik", x1[0], w1[0].T)


def test_gradients_under_models_are_native():
    rng = np.random.default_rng(1)
    a = lp.asarray(torch.from_numpy(grid((4, 6), "bf16", rng)), "bf16").requires_grad_()
    b = lp.asarray(torch.from_numpy(grid((6, 3), "bf16", rng)), "bf16").requires_grad_()
    with lp.accumulate("sequential"):
        (a @ b).sum().backward()
    pa = a.as_plain().detach().requires_grad_()
    pb = b.as_plain().detach().requires_grad_()
    (pa @ pb).sum().backward()
    assert type(a.grad) is torch.Tensor and torch.equal(a.grad, pa.grad) and torch.equal(b.grad, pb.grad)


def test_float32_storage_stochastic_and_cpu_stream_equals_numpy():
    rng = np.random.default_rng(2)
    a, b = grid((8, 16), "bf16", rng).astype(np.float32), grid((16, 4), "bf16", rng).astype(np.float32)
    ta, tb = lp.asarray(torch.from_numpy(a), "bf16"), lp.asarray(torch.from_numpy(b), "bf16")
    c = ta @ tb
    want = lp.asarray(a, "bf16") @ lp.asarray(b, "bf16")
    assert c.dtype == torch.float32 and same(c.as_plain().numpy(), want.values)
    sa = lp.asarray(torch.from_numpy(a), "bf16", "stochastic")
    sb = lp.asarray(torch.from_numpy(b), "bf16", "stochastic")
    lp.seed(4)
    c1 = sa @ sb
    lp.seed(4)
    na, nb = lp.asarray(a, "bf16", "stochastic"), lp.asarray(b, "bf16", "stochastic")
    lp.seed(4)
    c2 = na @ nb
    assert same(c1.as_plain().numpy(), c2.values)  # same seed, same stream on the CPU
    d = _accumulate.matmul(torch.from_numpy(a), torch.from_numpy(b), lp.format("bf16"),
                           RoundingMode.STOCHASTIC, "sequential", device_ops=True)
    assert torch.equal(lp.chop(d, "bf16"), d)


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=30, deadline=None)
@given(fmt=st.sampled_from(["bf16", "half", "e4m3", "e5m2", "fp4_e2m1", "tf32"]),
       mode=st.sampled_from(list(RoundingMode)), model=st.sampled_from(MODELS),
       m=st.integers(1, 4), k=st.integers(1, 9), n=st.integers(1, 4), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_property_lptensor_equals_lpfloat(fmt, mode, model, m, k, n, seed, dtype):
    """Random shapes, formats, modes and models: the same seed gives LPTensor and LPFloat
    the same bits, stochastic modes included (one random stream on both sides)."""
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((m, k)) * np.ldexp(1.0, rng.integers(-6, 7, (m, k)))).astype(dtype)
    b = (rng.standard_normal((k, n)) * np.ldexp(1.0, rng.integers(-6, 7, (k, n)))).astype(dtype)
    if dtype == np.float32 and fmt == "tf32":
        fmt = "bf16"

    def run(make):
        lp.seed(seed)
        x, y = make(a), make(b)
        with lp.accumulate(model), np.errstate(all="ignore"):
            out = [x @ y, x.T[:, :1] * 3 + y, x[:, :1] / y[:1, :] - x[:, -1:], x.sum(axis=1)]
        return [r.as_plain().numpy() if isinstance(r, LPTensor) else np.asarray(r.values) for r in out]

    want = run(lambda v: lp.asarray(v, fmt, mode))
    got = run(lambda v: lp.asarray(torch.from_numpy(v), fmt, mode))
    for g, w in zip(got, want):  # (LPFloat gives float64 for float32 matmul/sum; LPTensor keeps float32)
        assert g.dtype == dtype and same(g, w)


@pytest.mark.parametrize("device_ops", [False, True])
def test_exact_matmul_k1_signed_zero_equals_lpfloat(device_ops):
    """The case the random search found (issue 12): a zero times a negative, k = 1, under
    "exact": -0 on both sides, the device path included."""
    a = np.array([[0.0, 1.5]]).T  # (2, 1)
    b = np.array([[-2.0, 3.0]])  # (1, 2)
    want = np.asarray(_np_exact(a, b, "fp4_e2m1"))
    got = _accumulate.matmul(torch.from_numpy(a), torch.from_numpy(b), lp.format("fp4_e2m1"),
                             RoundingMode.NEAREST_EVEN, "exact", device_ops=device_ops).numpy()
    assert same(got, want) and np.signbit(want[0, 0]) and want[0, 0] == 0


def _np_exact(a, b, fmt):
    with lp.accumulate("exact"):
        return (lp.asarray(a, fmt) @ lp.asarray(b, fmt)).values


@pytest.mark.parametrize("fmt", ["bf16", "e8m30", "e11m10", "fp64"])
@pytest.mark.parametrize("model", ["exact", "fma", "pairwise"])
@pytest.mark.parametrize("mode", [RoundingMode.NEAREST_EVEN, RoundingMode.UP, RoundingMode.DOWN, RoundingMode.ODD])
def test_device_path_equals_lpfloat_wide_formats(fmt, model, mode):
    """The whole-tensor path (exact digits, exact fused steps, correctly rounded products)
    equals LPFloat in formats beyond binary64's products: t > 26 and 11-bit exponents."""
    f = lp.format(fmt)
    rng = np.random.default_rng(3)
    spread = 300 if f.emax > 500 else 20

    def values(shape):
        return np.asarray(lp.chop(rng.standard_normal(shape) * np.ldexp(1.0, rng.integers(-spread, spread, shape)), f))

    a, b = values((3, 5)), values((5, 2))
    with lp.accumulate(model):
        want = np.asarray((lp.asarray(a, f, mode) @ lp.asarray(b, f, mode)).values)
    got = _accumulate.matmul(torch.from_numpy(a), torch.from_numpy(b), f, mode, model, device_ops=True).numpy()
    assert same(got, want)
    rows = np.concatenate([a, -a[:, ::-1], a * 0.5], axis=1)
    with lp.accumulate(model):
        want = np.asarray(np.sum(lp.asarray(rows, f, mode), axis=1).values)
    got = _accumulate.fold_sum(torch.from_numpy(rows), f, mode, model, device_ops=True).numpy()
    assert same(got, want)


@pytest.mark.parametrize("model", ["exact", "sequential", "pairwise"])
def test_more_accumulating_functions_equal_lpfloat(model):
    """cumsum, prod, cumprod, tensordot, inner, vdot, nansum, var, std, norm, addmm: emulated
    under every model, bit for bit as LPFloat (never float64 rounded once)."""
    rng = np.random.default_rng(8)
    fmt = "bf16"
    a64, b64 = grid((4, 6), fmt, rng), grid((6, 3), fmt, rng)
    a, b = lp.asarray(torch.from_numpy(a64), fmt), lp.asarray(torch.from_numpy(b64), fmt)
    A, B = lp.asarray(a64, fmt), lp.asarray(b64, fmt)

    def same(t, want):
        assert isinstance(t, LPTensor)
        np.testing.assert_array_equal(t.as_plain().numpy(), np.asarray(want, dtype=np.float64))

    with lp.accumulate(model):
        same(torch.cumsum(a, 1), np.cumsum(A, 1))
        same(torch.cumprod(a, 0), np.cumprod(A, 0))
        same(torch.prod(a, 1), np.prod(A, 1))
        same(a.prod(), np.prod(A))
        same(torch.tensordot(a, b, 1), np.tensordot(A, B, 1))
        same(torch.inner(a, b.T), np.inner(A, B.T))
        same(torch.vdot(a[0], a[1]), np.vdot(A[0], A[1]))
        same(torch.nansum(a, 0), np.sum(A, 0))
        same(torch.var(a, dim=1, correction=0), np.var(A, axis=1))
        same(torch.std(a, dim=0), np.std(A, axis=0, ddof=1))
        same(torch.norm(a), np.sqrt(np.sum(A * A)))
        same(torch.addmm(a[:, :3], a, b), a[:, :3].as_plain().numpy() * 0 + np.asarray(A[:, :3] + A @ B))
        with pytest.raises(lp.UnsupportedOperationError, match="no emulation"):
            torch.einsum("ij,jk->ik", a, b)
        with pytest.raises(lp.UnsupportedOperationError, match="p=1"):
            torch.norm(a, p=1)
