"""LPTensor: correctly rounded arithmetic equal to LPFloat, format bookkeeping, autograd, training."""

import copy
import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lowprec as lp  # noqa: E402
from lowprec import arith  # noqa: E402
from lowprec.random import next_key  # noqa: E402
from lowprec.rounding import RoundingMode, array_api, rounding_params  # noqa: E402
from lowprec.torch import LPTensor  # noqa: E402

DETERMINISTIC = [m for m in RoundingMode if not m.is_stochastic]
OPS = [(array_api.ADD, arith.add, torch.add), (array_api.SUBTRACT, arith.subtract, torch.sub),
       (array_api.MULTIPLY, arith.multiply, torch.mul), (array_api.DIVIDE, arith.divide, torch.div)]


def splitmix62(key, n):
    """The numba kernels' per-element random integers (SplitMix64 >> 2)."""
    g, m1, m2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
    with np.errstate(over="ignore"):
        z = np.uint64(key) + (np.arange(n, dtype=np.uint64) + np.uint64(1)) * g
        z = (z ^ (z >> np.uint64(30))) * m1
        z = (z ^ (z >> np.uint64(27))) * m2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(2)).astype(np.int64)


def operands(fmt, rng, n=300):
    def draw():
        with np.errstate(over="ignore"):
                return rng.standard_normal(n) * np.ldexp(1.0, rng.integers(fmt.emin - fmt.t - 3, fmt.emax + 3, n))
    sp = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 5e-324, 1e308, -1e308, 2.0**-1022, 3e-310]
    a = np.concatenate([draw(), np.repeat(sp, len(sp)), [1.0, 1.0, 1e308]])
    b = np.concatenate([draw(), np.tile(sp, len(sp)), [2.0**-100, -2.0**-100, 1e308]])
    with np.errstate(all="ignore"):
        return np.concatenate([a, lp.chop(draw(), fmt)]), np.concatenate([b, lp.chop(draw(), fmt)])


def same(a, b):
    return (a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))


@pytest.mark.parametrize("name", ["half", "bf16", "e4m3", "e5m2fnuz", "fp4_e2m1", "double", "binary8p3uf"])
def test_round_op_equals_numba_arith(name):
    """array_api.round_op (NumPy and torch shims) equals lp.arith, every mode, stochastic too."""
    from lowprec.torch import TORCH_OPS
    fmt = lp.format(name)
    a, b = operands(fmt, np.random.default_rng(len(name)))
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    r62 = splitmix62(next_key(7), a.size)
    for subnormal in (True, False):
        p = rounding_params(fmt, True, np.dtype(np.float64), subnormal)
        for mode in RoundingMode:
            for op, f, _ in OPS + [(array_api.SQRT, None, None)]:
                with np.errstate(all="ignore"):
                    if f is None:
                        want = arith.sqrt(a, fmt, mode, subnormal=subnormal, seed=7)
                    else:
                        want = f(a, b, fmt, mode, subnormal=subnormal, seed=7)
                    got_np = array_api.round_op(op, a, b, p, mode, r62)
                got = array_api.round_op(op, ta, tb, p, mode, torch.from_numpy(r62), ops=TORCH_OPS).numpy()
                assert same(got_np, want).all(), (op, mode, subnormal)
                ok = same(got, want)
                assert ok.all(), (op, mode, subnormal, a[~ok][:3], b[~ok][:3], got[~ok][:3], want[~ok][:3])


@pytest.mark.parametrize("name", ["half", "bf16", "e4m3"])
@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_lptensor_equals_lpfloat(name, mode):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(500) * 10.0**rng.integers(-6, 5, 500)
    y = rng.standard_normal(500) * 10.0**rng.integers(-6, 5, 500)
    na, nb = lp.asarray(x, name, mode), lp.asarray(y, name, mode)
    ta, tb = lp.asarray(torch.from_numpy(x), name, mode), lp.asarray(torch.from_numpy(y), name, mode)
    assert isinstance(ta, LPTensor) and ta.format == na.format and ta.rmode == mode
    with np.errstate(all="ignore"):
        pairs = [(ta + tb, na + nb), (ta - tb, na - nb), (ta * tb, na * nb), (ta / tb, na / nb),
                 (torch.sqrt(ta.abs()), np.sqrt(abs(na))), (ta + 0.1, na + 0.1), (2.5 - tb, 2.5 - nb),
                 (ta.mul(tb), np.multiply(na, nb)), (1 / ta, 1 / na), (torch.exp(ta / 100), np.exp(na / 100))]
    for got, want in pairs:
        assert isinstance(got, LPTensor) and got.format == na.format
        assert same(got.as_plain().numpy(), np.asarray(want.values)).all()


@pytest.mark.parametrize("name", ["bf16", "half", "e5m2", "tf32"])
def test_lptensor_float32_views_equal_lpfloat(name):
    """float32 storage read and written in place by the kernels: strided, transposed and
    broadcast operands give LPFloat's results bit for bit in every mode, stochastic ones
    with the same global stream, specials and subnormals included."""
    fmt = lp.format(name)
    rng = np.random.default_rng(3)
    with np.errstate(all="ignore"):
        x = (rng.standard_normal((40, 70)) * np.ldexp(1.0, rng.integers(fmt.emin - 4, fmt.emax + 2, (40, 70))))
        x = x.astype(np.float32)
    x.flat[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, fmt.xmins]
    row = x[3].copy()
    for mode in RoundingMode:
        lp.seed(5)  # the same keys for the stochastic roundings into the format
        na, nrow = lp.asarray(x, name, mode), lp.asarray(row, name, mode)
        lp.seed(5)
        ta, trow = lp.asarray(torch.from_numpy(x), name, mode), lp.asarray(torch.from_numpy(row), name, mode)
        assert ta.dtype == torch.float32 and na.dtype == np.float32
        cases = [(lambda a, r: a + r, lambda a, r: a + r),
                 (lambda a, r: a.T * a.T, lambda a, r: a.T * a.T),
                 (lambda a, r: a[:, :69:3] - a[:, 1::3], lambda a, r: a[:, :69:3] - a[:, 1::3]),
                 (lambda a, r: r / a, lambda a, r: r / a),
                 (lambda a, r: torch.sqrt(a.abs()), lambda a, r: np.sqrt(abs(a)))]
        for k, (torch_f, numpy_f) in enumerate(cases):
            lp.seed(11)
            got = torch_f(ta, trow)
            lp.seed(11)
            with np.errstate(all="ignore"):
                want = numpy_f(na, nrow)
            assert got.dtype == torch.float32 and want.dtype == np.float32
            g, w = got.as_plain().numpy(), np.asarray(want.values)
            ok = (g.view(np.int32) == w.view(np.int32)) | (np.isnan(g) & np.isnan(w))
            assert ok.all(), (mode, k, g[~ok][:3], w[~ok][:3])


def test_float32_storage_and_promotion():
    a = lp.asarray(torch.tensor([1.0, 2.0, 3.0]), "half")
    b = lp.asarray(torch.tensor([0.1, 0.2, 0.3]), "bf16")
    c = a + b
    assert c.dtype == torch.float32 and c.format == lp.format("tf32")
    with pytest.raises(lp.FormatMismatchError):
        a + lp.asarray(torch.tensor([1.0, 2.0, 3.0]), "half", "up")
    with pytest.raises(lp.FormatError, match="float64"):
        lp.asarray(torch.ones(2), "double")


def test_predicates_shapes_inplace_and_repr():
    a = lp.asarray(torch.linspace(-1, 1, 12, dtype=torch.float64), "bf16")
    assert type(a > 0) is torch.Tensor and (a > 0).dtype == torch.bool
    assert type(a.argmax()) is torch.Tensor
    for shaped in (a.reshape(3, 4), a.reshape(3, 4).T, a[2:5], a.view(2, 6)[1], torch.cat([a, a]),
                   a.detach(), a.clone(), a.to(torch.float64), torch.stack([a, a]), a.max()):
        assert isinstance(shaped, LPTensor) and shaped.format == a.format
    r = repr(a)
    assert "LPTensor(" in r and "bfloat16" in r
    b = a.clone()
    b += 0.1
    assert isinstance(b, LPTensor)
    want = lp.asarray(a.as_plain().numpy(), "bf16") + 0.1
    assert np.array_equal(b.as_plain().numpy(), want.values)
    b[0] = 0.1
    assert b[0].item() == lp.chop(0.1, "bf16")
    b.copy_(torch.full((12,), 1 / 3, dtype=torch.float64))
    assert b[3].item() == lp.chop(1 / 3, "bf16")
    b.mul_(3)
    assert b[3].item() == lp.chop(lp.chop(1 / 3, "bf16") * 3, "bf16")
    b.fill_(0.3)
    assert b[5].item() == lp.chop(0.3, "bf16")


def test_copies_keep_format():
    a = lp.asarray(torch.tensor([0.1, 0.2], dtype=torch.float64), "e4m3", "up")
    for c in (copy.deepcopy(a), a.detach(), a.clone(), copy.copy(a)):
        assert isinstance(c, LPTensor) and c.format == a.format and c.rmode == a.rmode
    buf = io.BytesIO()
    torch.save(a, buf)
    buf.seek(0)
    c = torch.load(buf, weights_only=False)
    assert isinstance(c, LPTensor) and c.format == a.format and c.rmode == a.rmode
    assert torch.equal(c.as_plain(), a.as_plain())


def test_accumulation_model():
    a = lp.asarray(torch.randn(4, 5, dtype=torch.float64), "bf16")
    b = lp.asarray(torch.randn(5, 3, dtype=torch.float64), "bf16")
    c = a @ b  # the default model, "sequential", as LPFloat
    na, nb = lp.asarray(a.as_plain().numpy(), "bf16"), lp.asarray(b.as_plain().numpy(), "bf16")
    assert isinstance(c, LPTensor) and np.array_equal(c.as_plain().numpy(), (na @ nb).values)
    with pytest.raises(lp.UnsupportedOperationError, match="no emulation"):
        torch.einsum("ij,jk->ik", a, b)
    with lp.accumulate("exact"):
        c = a @ b
        s = a.sum()
    assert isinstance(c, LPTensor)
    assert np.array_equal(c.as_plain().numpy(), lp.chop(a.as_plain().numpy() @ b.as_plain().numpy(), "bf16"))
    assert s.item() == lp.chop(a.as_plain().sum().item(), "bf16")


def test_ste_gradients_equal_unrounded():
    x0 = torch.tensor([0.3, -1.7, 2.2], dtype=torch.float64)
    y0 = torch.tensor([1.1, 0.45, -0.8], dtype=torch.float64)
    # derivatives that depend on the (rounded) leaves only: exactly the unrounded gradients;
    # a chain such as sqrt(x*x + y*y) differentiates at rounded intermediates (within the format)
    for f, rtol in ((lambda x, y: x * y + x / y, 0), (lambda x, y: torch.tanh(x) - y * y, 0),
                    (lambda x, y: torch.sqrt(x * x + y * y) - y, 2.0**-6)):
        x = lp.asarray(x0, "bf16").requires_grad_()
        y = lp.asarray(y0, "bf16").requires_grad_()
        with lp.accumulate("exact"):
            f(x, y).sum().backward()
        xp = x.as_plain().detach().clone().requires_grad_()
        yp = y.as_plain().detach().clone().requires_grad_()
        f(xp, yp).sum().backward()
        assert type(x.grad) is torch.Tensor
        assert torch.allclose(x.grad, xp.grad, rtol=rtol, atol=0)
        assert torch.allclose(y.grad, yp.grad, rtol=rtol, atol=0)


def test_module_trains_on_grid():
    torch.manual_seed(0)
    fmt = "bf16"
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    for layer in (model[0], model[2]):
        layer.weight = torch.nn.Parameter(lp.asarray(layer.weight.detach(), fmt))
        layer.bias = torch.nn.Parameter(lp.asarray(layer.bias.detach(), fmt))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x = torch.randn(64, 4)
    target = x.sum(dim=1, keepdim=True) * 0.5
    losses = []
    with lp.accumulate("exact"):
        for _ in range(30):
            opt.zero_grad()
            loss = ((model(x) - target) ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    for p in model.parameters():
        assert isinstance(p, LPTensor) and p.format == lp.format(fmt)
        plain = p.as_plain().detach()
        assert torch.equal(lp.chop(plain, fmt), plain)
