"""torch.compile of code using LPTensor (issue 15, item 5): graph breaks around each emulated
operation, run eagerly, so the compiled function gives the same bits as eager."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import lowprec as lp
from lowprec.torch import LPTensor, quantize_parameters

# torch's own compile stack uses its deprecated torch.jit.script_method
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")


def test_a_compiled_function_equals_eager():
    def f(x, y):
        return F.softmax(torch.exp(x * y + 1.0), dim=0).sum() + (x @ y)

    torch.manual_seed(0)
    x, y = lp.asarray(torch.randn(16), "bf16"), lp.asarray(torch.randn(16), "bf16")
    eager = f(x, y)
    compiled = torch.compile(f)(x, y)
    assert isinstance(compiled, LPTensor) and compiled.format == eager.format
    assert torch.equal(compiled.as_plain(), eager.as_plain())


def test_a_compiled_module_equals_eager():
    torch.manual_seed(0)
    model = quantize_parameters(torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)),
                                "e4m3fn")
    x = torch.randn(3, 5)
    assert torch.equal(torch.compile(model)(x).as_plain(), model(x).as_plain())
