"""Parameters in a format (issue 15, item 3): LPTensor parameters stay on their grid through
torch.optim, state_dict, deepcopy, model.to and torch.save/torch.load (weights_only)."""

from __future__ import annotations

import copy
import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lowprec as lp
from lowprec.torch import LPTensor, Parameter, quantize_parameters


def _on_grid(t, fmt) -> bool:
    v = t.detach().as_plain().double().numpy()
    return bool(np.isfinite(v).all() and np.array_equal(v, np.asarray(lp.chop(v, fmt))))


def _model(fmt, seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh(), torch.nn.Linear(12, 3))
    return quantize_parameters(model, fmt)


def _params_on_grid(model, fmt):
    return all(isinstance(p, LPTensor) and isinstance(p, torch.nn.Parameter) and _on_grid(p, fmt)
               for p in model.parameters())


OPTIMIZERS = [
    (torch.optim.SGD, dict(lr=0.05, momentum=0.9)), (torch.optim.Adam, dict(lr=0.01)),
    (torch.optim.AdamW, dict(lr=0.01)), (torch.optim.RMSprop, dict(lr=0.01)), (torch.optim.Adagrad, dict(lr=0.05)),
    (torch.optim.Adadelta, dict(lr=1.0)), (torch.optim.NAdam, dict(lr=0.01)), (torch.optim.RAdam, dict(lr=0.01)),
    (torch.optim.Adamax, dict(lr=0.01)), (torch.optim.ASGD, dict(lr=0.01)),
]


@pytest.mark.parametrize("fmt", ["bf16", "half", "e4m3fn", "e5m2"])
@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("opt_cls,kw", OPTIMIZERS, ids=[c.__name__ for c, _ in OPTIMIZERS])
def test_every_optimizer_keeps_parameters_on_the_grid(opt_cls, kw, foreach, fmt):
    model = _model(fmt)
    opt = opt_cls(model.parameters(), foreach=foreach, **kw)
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = F.cross_entropy(model(x).as_plain(), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        assert _params_on_grid(model, fmt), (opt_cls.__name__, fmt)
    assert np.isfinite(losses).all()


def test_fused_optimizers_raise_a_clear_error():
    model = _model("bf16")
    opt = torch.optim.Adam(model.parameters(), lr=0.01, fused=True)
    F.cross_entropy(model(torch.randn(4, 6)).as_plain(), torch.tensor([0, 1, 2, 0])).backward()
    with pytest.raises(lp.UnsupportedOperationError, match="fused_adam"):
        opt.step()


def test_training_decreases_the_loss_and_stays_on_the_grid():
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = torch.tensor(digits.data[:512] / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target[:512])
    torch.manual_seed(0)
    model = quantize_parameters(torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(),
                                                    torch.nn.Linear(32, 10)), "bf16")
    opt = torch.optim.Adam(model.parameters(), lr=0.01, foreach=True)
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)  # the emulated composite
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.5 * first
    assert _params_on_grid(model, "bf16")


def test_state_dict_round_trip_with_weights_only():
    model = _model("e4m3fn")
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    loaded = torch.load(buf)  # torch's default: weights_only=True
    for k, v in model.state_dict().items():
        assert isinstance(loaded[k], LPTensor) and loaded[k].format == v.format and loaded[k].rmode == v.rmode
        assert torch.equal(loaded[k].as_plain(), v.as_plain())
    other = _model("e4m3fn", seed=1)
    other.load_state_dict(loaded)
    assert all(torch.equal(a.as_plain(), b.as_plain()) for a, b in zip(model.parameters(), other.parameters()))
    assert _params_on_grid(other, "e4m3fn")


def test_a_plain_model_loading_a_state_dict_is_rounded_into_its_formats():
    q = _model("e4m3fn")
    plain_sd = {k: torch.randn_like(v.as_plain()) for k, v in q.state_dict().items()}
    q.load_state_dict(plain_sd)
    assert _params_on_grid(q, "e4m3fn")


def test_deepcopy_to_and_data_assignment():
    model = _model("bf16")
    twin = copy.deepcopy(model)
    assert _params_on_grid(twin, "bf16")
    assert all(a is not b for a, b in zip(model.parameters(), twin.parameters()))
    model.to(torch.float64)
    assert _params_on_grid(model, "bf16") and next(model.parameters()).dtype == torch.float64
    w = model[0].weight
    w.data = torch.randn(12, 6, dtype=torch.float64)  # rounded into w's format
    assert isinstance(w, LPTensor) and _on_grid(w, "bf16")


def test_parameter_constructor():
    p = Parameter(torch.randn(4), "half", "up")
    assert isinstance(p, torch.nn.Parameter) and isinstance(p, LPTensor) and p.requires_grad and p.is_leaf
    assert p.format == lp.format("half") and p.rmode.name == "UP" and _on_grid(p, "half")
    only_weights = quantize_parameters(torch.nn.Linear(3, 2), "e5m2", filter_fn=lambda name, _: name == "weight")
    assert isinstance(only_weights.weight, LPTensor) and type(only_weights.bias) is torch.nn.Parameter
