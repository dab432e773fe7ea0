"""LPTensor's op table (issue 15, item 1): every torch function filed under one category of
the op vocabulary, unlisted ones refused, none silently computed in float32."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.overrides import get_overridable_functions

import lowprec as lp
from lowprec import ops
from lowprec.errors import LowprecWarning, UnsupportedOperationError
from lowprec.torch import LPTensor, _table


def _all_overridable():
    for fs in get_overridable_functions().values():
        yield from fs


def test_every_overridable_function_has_exactly_one_category():
    seen = 0
    for f in _all_overridable():
        assert _table.category(f) in ops.CATEGORIES
        assert lp.semantics(f).split(": ", 1)[1].startswith(_table.category(f))
        seen += 1
    assert seen > 1000
    assert len(_table.TABLE.members(ops.CORRECTLY_ROUNDED)) >= 20
    for category in ops.CATEGORIES:
        assert _table.TABLE.members(category), category


def test_the_table_refuses_a_second_category():
    table = ops.OpTable("test")
    table.register(ops.MOVES, [torch.flip])
    table.register(ops.MOVES, [torch.flip])  # the same one again: fine
    with pytest.raises(ValueError, match="flip"):
        table.register(ops.ROUNDED, [torch.flip])
    with pytest.raises(ValueError, match="unknown category"):
        table.register("fast", [torch.exp])


def test_in_place_forms_take_their_twins_category():
    assert _table.category(torch.Tensor.add_) == ops.CORRECTLY_ROUNDED
    assert _table.category(torch.Tensor.exp_) == ops.ROUNDED
    assert _table.category(torch.relu_) == ops.MOVES
    assert _table.category(F.relu_) == ops.MOVES
    assert _table.category(torch.Tensor.fill_) == ops.STORES
    # every in-place method of Tensor is listed, twinned, or refused before it runs
    for f in _table.TENSOR_INPLACE:
        assert _table.category(f) in ops.CATEGORIES


def _lp(values, fmt="bf16"):
    return lp.asarray(torch.as_tensor(values, dtype=torch.float32), fmt)


SILENT_BEFORE = [
    ("local_response_norm", lambda x: F.local_response_norm(x[None], 2)),
    ("softmin", lambda x: F.softmin(x, dim=-1)),
    ("attention", lambda x: F.scaled_dot_product_attention(x[None], x[None], x[None])),
    ("l1_loss", lambda x: F.l1_loss(x, x.flip(0))),
    ("cdist", lambda x: torch.cdist(x, x)),
    ("solve", lambda x: torch.linalg.solve(x, x[:, :1])),
    ("einsum", lambda x: torch.einsum("ij,jk->ik", x, x)),
    ("conv_transpose1d", lambda x: F.conv_transpose1d(x[None], x[:, None, :2])),
]


@pytest.mark.parametrize("name,call", SILENT_BEFORE, ids=[n for n, _ in SILENT_BEFORE])
def test_functions_without_emulation_raise_and_say_how_to_opt_in(name, call):
    x = _lp(np.random.default_rng(0).standard_normal((4, 4)) + 4 * np.eye(4))
    with pytest.raises(UnsupportedOperationError, match="round_once"):
        call(x)
    with lp.policy(unknown="round_once"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = call(x)
    assert any(issubclass(w.category, LowprecWarning) for w in caught)
    y = y[0] if isinstance(y, tuple) else y
    assert isinstance(y, LPTensor) and y.format == x.format
    plain = y.as_plain().double().numpy()
    assert np.array_equal(plain, np.asarray(lp.chop(plain, "bf16")), equal_nan=True)


def test_an_unlisted_in_place_function_is_refused_before_it_runs():
    x = _lp([1.0, 2.0, 3.0])
    before = x.as_plain().clone()
    with pytest.raises(UnsupportedOperationError, match="index_add"):
        x.index_add_(0, torch.tensor([0]), torch.tensor([0.1]))
    assert torch.equal(x.as_plain(), before)


@pytest.mark.parametrize("call", [torch.exp, torch.tanh, torch.sigmoid, F.gelu, F.silu, F.softplus,
                                  lambda x: torch.addcdiv(x, x, x + 3, value=0.1), lambda x: x.clamp(0.1, 0.7),
                                  lambda x: F.dropout(x, 0.5, training=True)])
def test_rounded_elementwise_results_are_on_the_grid(call):
    x = _lp(np.linspace(-3, 3, 101))
    y = call(x)
    assert isinstance(y, LPTensor) and y.format == x.format
    v = y.as_plain().double().numpy()
    assert np.array_equal(v, np.asarray(lp.chop(v, "bf16")))


def test_moves_and_plain_results():
    x = _lp([[1.0, -2.0], [3.0, 0.5]], "e4m3")
    assert isinstance(x.T.flip(0), LPTensor) and isinstance(torch.max(x, dim=1).values, LPTensor)
    for plain in (torch.zeros_like(x), x.new_zeros(3), torch.argmax(x), x > 0, torch.isnan(x)):
        assert type(plain) is torch.Tensor


def test_adam_trains_e4m3_parameters_without_nan():
    """torch.optim.Adam made its state with zeros_like(p), which inherited the 8-bit format:
    eps and exp_avg_sq rounded to 0 and every weight became NaN after one step."""
    torch.manual_seed(0)
    for fmt in ("e4m3", "e4m3fn", "e5m2", "bf16", "half"):
        w = lp.asarray(torch.randn(8, 4), fmt).requires_grad_()
        opt = torch.optim.Adam([w], lr=0.05)
        x, target = torch.randn(16, 4), torch.randn(16, 8)
        for _ in range(3):
            opt.zero_grad()
            loss = ((F.linear(x, w) - target) ** 2).mean()
            loss.backward()
            opt.step()
        assert isinstance(w, LPTensor)
        v = w.detach().as_plain().double().numpy()
        assert np.isfinite(v).all(), fmt
        assert np.array_equal(v, np.asarray(lp.chop(v, fmt))), fmt
        assert all(type(s) is torch.Tensor for st in opt.state.values() for s in st.values()
                   if isinstance(s, torch.Tensor) and s.dim())


def test_semantics_answers_for_torch_functions():
    assert lp.semantics(F.softmax).startswith("torch.nn.functional.softmax: emulated composite")
    assert lp.semantics(torch.cdist).startswith("torch.cdist: unsupported")
    assert lp.semantics(torch.add).startswith("torch.add: correctly rounded")
    assert "in place" in lp.semantics(torch.Tensor.mul_)
    assert lp.semantics(torch.matmul).startswith("torch.matmul: accumulating")
