"""Quantizers on torch tensors (issue 15, item 4): tensors in, tensors of the same dtype and
device out, bit-identical to NumPy, with the straight-through estimator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lowprec as lp

QUANTIZERS = [
    (lp.quantize_int, "int8", {}), (lp.quantize_int, lp.IntFormat(4, symmetric=False), {}),
    (lp.quantize_fixed, "q4.4", {}), (lp.quantize_mx, "mxfp8_e4m3", {"axis": -1}),
    (lp.quantize_mx, "mxfp4_e2m1", {"axis": -1}),
]


@pytest.mark.parametrize("quantize,fmt,kw", QUANTIZERS, ids=[str(f) for _, f, _ in QUANTIZERS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_tensors_in_tensors_out_equal_numpy(quantize, fmt, kw, dtype):
    x = (torch.randn(4, 64) * 3).to(dtype)
    got = quantize(x, fmt, **kw)
    assert type(got) is torch.Tensor and got.device == x.device
    assert got.dtype == (dtype if dtype != torch.bfloat16 else torch.float32)
    want = quantize(x.to(torch.float64 if dtype == torch.float64 else torch.float32).numpy(), fmt, **kw)
    assert np.array_equal(got.numpy(), want, equal_nan=True)


def test_straight_through_gradient():
    x = torch.randn(8, 32, requires_grad=True)
    q = lp.quantize_int(x, "int8")
    (q * torch.arange(32.0)).sum().backward()
    assert torch.equal(x.grad, torch.arange(32.0).expand(8, 32))
    assert torch.equal(q.detach(), lp.quantize_int(x.detach(), "int8"))


def test_lptensor_input_and_the_asarray_message():
    t = lp.asarray(torch.randn(16), "bf16")
    assert type(lp.quantize_fixed(t, "q8.8")) is torch.Tensor
    with pytest.raises(lp.UnsupportedTypeError, match="quantize_int"):
        lp.asarray(torch.randn(4), "int8")
    with pytest.raises(lp.UnsupportedTypeError, match="floating-point"):
        lp.quantize_int(torch.arange(4), "int8")
