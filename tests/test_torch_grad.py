"""LPTensor autograd: the straight-through gradient equals the unrounded operation's, and
optional gradient formats round the backward pass."""

import pytest

torch = pytest.importorskip("torch")

import lowprec as lp  # noqa: E402
from lowprec.torch import LPTensor, as_lp, set_grad_format  # noqa: E402

F = torch.nn.functional


def _leaf(shape, seed, fmt="bf16", **kw):
    g = torch.Generator().manual_seed(seed)
    return as_lp(torch.randn(shape, dtype=torch.float64, generator=g), fmt, **kw)


FUNCS = {  # name -> f(x, w) on tensors of shapes (4, 6) and (6, 3)
    "matmul": lambda x, w: x @ w,
    "linear": lambda x, w: F.linear(x, w.T),
    "mul_add": lambda x, w: x[:, :3] * w[:4] + w[:4] / 3,
    "div": lambda x, w: x[:, :3] / w[:4],
    "sqrt": lambda x, w: torch.sqrt(x.abs()),
    "exp_tanh": lambda x, w: torch.exp(x[:, :3] / 4) - torch.tanh(w[:4]),
    "sum_mean": lambda x, w: torch.stack([x.sum(dim=1), x.mean(dim=1)]),
    "conv": lambda x, w: F.conv1d(x.reshape(1, 4, 6), w[:4].T.reshape(3, 4, 1)),
}


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("model", ["sequential", "exact"])
def test_ste_jacobian_equals_unrounded(name, model):
    """Each operation of rounded inputs: the Jacobian with LPTensors (STE through every
    rounding) equals the plain operation's Jacobian at the same (rounded) inputs. (In a
    chain, each operation's derivative is taken at its rounded operands.)"""
    f = FUNCS[name]
    x, w = _leaf((4, 6), 1), _leaf((6, 3), 2)
    px, pw = x.as_plain(), w.as_plain()
    with lp.accumulate(model):
        jac = torch.autograd.functional.jacobian(
            lambda a, b: f(as_lp(a, "bf16"), as_lp(b, "bf16")).as_plain(), (px, pw))
    want = torch.autograd.functional.jacobian(f, (px, pw))
    for got, ref in zip(jac, want):
        assert torch.equal(got, ref)


def test_grad_format_rounds_backward():
    c = torch.tensor([0.1, 0.3, -2.7, 1e-3], dtype=torch.float64)
    x = _leaf(4, 3, grad_format="e5m2", grad_rmode="nearest").requires_grad_()
    assert x.grad_format == (lp.format("e5m2"), lp.RoundingMode.NEAREST_EVEN)
    y = x * c
    assert isinstance(y, LPTensor) and y.grad_format == x.grad_format  # inherited
    y.sum().backward()
    assert type(x.grad) is torch.Tensor
    assert torch.equal(x.grad, lp.chop(lp.chop(c, "bf16"), "e5m2"))
    # toward zero: a different grid point than nearest for the same gradient
    z = _leaf(4, 3, grad_format="e5m2", grad_rmode="toward_zero").requires_grad_()
    (z * c).sum().backward()
    assert torch.equal(z.grad, lp.chop(lp.chop(c, "bf16"), "e5m2", "toward_zero"))
    # without a gradient format: straight through
    u = _leaf(4, 3).requires_grad_()
    (u * c).sum().backward()
    assert u.grad_format is None and torch.equal(u.grad, lp.chop(c, "bf16"))


def test_grad_format_on_parameters_and_accumulated_grads():
    torch.manual_seed(0)
    layer = torch.nn.Linear(5, 3).double()
    w = set_grad_format(lp.asarray(layer.weight.detach(), "bf16"), "e4m3")
    layer.weight = torch.nn.Parameter(w)
    assert isinstance(layer.weight, LPTensor) and layer.weight.grad_format[0] == lp.format("e4m3")
    x = lp.asarray(torch.randn(7, 5, dtype=torch.float64), "bf16")
    out = layer(x) + layer(x * 3)  # two uses: the accumulated grad is rounded again
    out.sum().backward()
    g = layer.weight.grad
    assert type(g) is torch.Tensor and torch.equal(lp.chop(g, "e4m3"), g)
    plain = torch.nn.Linear(5, 3).double()
    with torch.no_grad():
        plain.weight.copy_(layer.weight.as_plain())
        plain.bias.copy_(layer.bias)
    (plain(x.as_plain()) + plain(lp.chop(x.as_plain() * 3, "bf16"))).sum().backward()
    assert torch.allclose(g, plain.weight.grad, rtol=2.0**-3, atol=0)  # e4m3: 3 significand bits
    set_grad_format(layer.weight, None)
    assert layer.weight.grad_format is None
    with pytest.raises(TypeError, match="LPTensor"):
        set_grad_format(torch.ones(2), "e4m3")


def test_trains_under_the_default_model_with_grad_format():
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    for layer in (model[0], model[2]):
        layer.weight = torch.nn.Parameter(as_lp(layer.weight.detach(), "bf16", grad_format="bf16"))
        layer.bias = torch.nn.Parameter(as_lp(layer.bias.detach(), "bf16", grad_format="bf16"))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(32, 3)
    target = x[:, :1] - 0.5 * x[:, 1:2]
    losses = []
    for _ in range(25):  # "sequential" accumulation (the default) in every product and sum
        opt.zero_grad()
        loss = ((model(x) - target) ** 2).mean()
        loss.backward()
        for p in model.parameters():
            assert torch.equal(lp.chop(p.grad, "bf16"), p.grad)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    for p in model.parameters():
        assert isinstance(p, LPTensor)
        assert torch.equal(lp.chop(p.as_plain().detach(), "bf16"), p.as_plain().detach())
