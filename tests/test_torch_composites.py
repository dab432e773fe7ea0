"""Emulated composites of LPTensor (issue 15, item 2) against hand-written loops of rounded
scalar operations (binary16, float64 storage, the sequential model)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lowprec as lp
from lowprec.torch import LPTensor

FMT = "half"


def r(v: float) -> float:
    return float(lp.chop(np.float64(v), FMT))


def rsum(values) -> float:
    """The sequential model: left to right, every partial sum rounded."""
    values = list(values)
    s = values[0]
    for v in values[1:]:
        s = r(s + v)
    return s


def rmean(values) -> float:
    values = list(values)
    return r(rsum(values) / len(values))


def oracle_softmax(row):
    m = max(row)
    e = [r(math.exp(r(v - m))) for v in row]
    s = rsum(e)
    return [r(v / s) for v in e]


def oracle_log_softmax(row):
    m = max(row)
    z = [r(v - m) for v in row]
    lse = r(math.log(rsum(r(math.exp(v)) for v in z)))
    return [r(v - lse) for v in z]


def oracle_logsumexp(row):
    m = max(row)
    return r(m + r(math.log(rsum(r(math.exp(r(v - m))) for v in row))))


def oracle_layer_norm(row, eps):
    mu = rmean(row)
    d = [r(v - mu) for v in row]
    den = r(math.sqrt(r(rmean(r(v * v) for v in d) + r(eps))))
    return [r(v / den) for v in d]


def oracle_rms_norm(row, eps):
    den = r(math.sqrt(r(rmean(r(v * v) for v in row) + r(eps))))
    return [r(v / den) for v in row]


@pytest.fixture
def x():
    rng = np.random.default_rng()  # random examples: any disagreement is a bug
    values = np.asarray(lp.chop(rng.standard_normal((4, 7)) * 3, FMT))
    return values, lp.asarray(torch.from_numpy(values.copy()), FMT)


def _rows(t):
    return t.as_plain().numpy().tolist()


def test_softmax_and_log_softmax(x):
    values, t = x
    with lp.accumulate("sequential"):
        for got in (F.softmax(t, dim=1), t.softmax(1), torch.softmax(t, 1)):
            assert isinstance(got, LPTensor) and got.format == t.format
            assert _rows(got) == [oracle_softmax(row) for row in values.tolist()]
        assert _rows(F.log_softmax(t, dim=1)) == [oracle_log_softmax(row) for row in values.tolist()]


def test_logsumexp(x):
    values, t = x
    with lp.accumulate("sequential"):
        got = torch.logsumexp(t, 1)
    assert got.as_plain().numpy().tolist() == [oracle_logsumexp(row) for row in values.tolist()]
    assert torch.logsumexp(lp.asarray(torch.full((2,), -math.inf, dtype=torch.float64), FMT), 0).item() == -math.inf


def test_cross_entropy_and_nll_loss(x):
    values, t = x
    target = torch.tensor([0, 3, 6, 2])
    with lp.accumulate("sequential"):
        ce = F.cross_entropy(t, target)
        ce_sum = F.cross_entropy(t, target, reduction="sum")
        ce_ignored = F.cross_entropy(t, torch.tensor([0, -100, 6, 2]))
    picked = [-oracle_log_softmax(row)[k] for row, k in zip(values.tolist(), target.tolist())]
    assert ce_sum.item() == rsum(picked)
    assert ce.item() == r(rsum(picked) / 4)
    kept = [picked[0], 0.0, picked[2], picked[3]]
    assert ce_ignored.item() == r(rsum(kept) / 3)


def test_mse_loss(x):
    values, t = x
    other = np.asarray(lp.chop(values[::-1].copy() * 0.5, FMT))
    with lp.accumulate("sequential"):
        got = F.mse_loss(t, lp.asarray(torch.from_numpy(other.copy()), FMT))
    sq = [r(r(a - b) * r(a - b)) for a, b in zip(values.ravel(), other.ravel())]
    assert got.item() == r(rsum(sq) / len(sq))


def test_layer_norm_and_rms_norm(x):
    values, t = x
    with lp.accumulate("sequential"):
        ln = F.layer_norm(t, (7,), eps=1e-5)
        rms = F.rms_norm(t, (7,), eps=1e-3)
    assert _rows(ln) == [oracle_layer_norm(row, 1e-5) for row in values.tolist()]
    assert _rows(rms) == [oracle_rms_norm(row, 1e-3) for row in values.tolist()]


def test_composites_train_through_autograd():
    torch.manual_seed(0)
    w = lp.asarray(torch.randn(5, 3), "bf16").requires_grad_()
    x, y = torch.randn(8, 3), torch.randint(0, 5, (8,))
    loss = F.cross_entropy(F.layer_norm(F.linear(x, w), (5,)), y)
    loss.backward()
    assert isinstance(loss, LPTensor) and w.grad is not None and torch.isfinite(w.grad).all()


def test_arguments_that_are_not_emulated_raise():
    t = lp.asarray(torch.randn(2, 3), FMT)
    with pytest.raises(lp.UnsupportedOperationError, match="label_smoothing"):
        F.cross_entropy(t, torch.tensor([0, 1]), label_smoothing=0.1)
    with pytest.raises(lp.UnsupportedOperationError, match="dim=None"):
        F.softmax(t)


def _grid(shape, rng=None):
    rng = rng or np.random.default_rng()
    return np.asarray(lp.chop(rng.standard_normal(shape) * 2, FMT))


def test_batch_norm_training_and_eval():
    values = _grid((3, 2, 2, 2))
    t = lp.asarray(torch.from_numpy(values.copy()), FMT)
    rm, rv = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    with lp.accumulate("sequential"):
        got = F.batch_norm(t, rm, rv, training=True, momentum=0.1, eps=1e-5).as_plain().numpy()
        ev = F.batch_norm(t, rm, rv, training=False, eps=1e-5).as_plain().numpy()
    for c in range(2):
        xs = values[:, c].ravel().tolist()  # (N, H, W) in row-major order: the accumulation order
        mu = rmean(xs)
        d = [r(v - mu) for v in xs]
        var = rmean(r(v * v) for v in d)
        den = r(math.sqrt(r(var + r(1e-5))))
        assert got[:, c].ravel().tolist() == [r(v / den) for v in d]
        assert rm[c].item() == pytest.approx(0.1 * mu, rel=1e-12)
        assert rv[c].item() == pytest.approx(0.9 + 0.1 * var * 12 / 11, rel=1e-12)
        den_eval = r(math.sqrt(r(r(rv[c].item()) + r(1e-5))))
        assert ev[:, c].ravel().tolist() == [r(r(v - r(rm[c].item())) / den_eval) for v in xs]


def test_group_norm_and_avg_pool():
    values = _grid((2, 4, 4, 4))
    t = lp.asarray(torch.from_numpy(values.copy()), FMT)
    with lp.accumulate("sequential"):
        gn = F.group_norm(t, 2, eps=1e-5).as_plain().numpy()
        pool = F.avg_pool2d(t, 2).as_plain().numpy()
        gap = F.adaptive_avg_pool2d(t, 1).as_plain().numpy()
    for n in range(2):
        for g in range(2):
            xs = values[n, 2 * g:2 * g + 2].ravel().tolist()
            assert gn[n, 2 * g:2 * g + 2].ravel().tolist() == oracle_layer_norm(xs, 1e-5)
    for n, c, i, j in np.ndindex(2, 4, 2, 2):
        window = values[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2].ravel().tolist()
        assert pool[n, c, i, j] == r(rsum(window) / 4)
    for n, c in np.ndindex(2, 4):
        assert gap[n, c, 0, 0] == r(rsum(values[n, c].ravel().tolist()) / 16)


def test_a_small_cnn_trains_on_digits_with_its_parameters_on_the_grid():
    from sklearn.datasets import load_digits
    from lowprec.torch import quantize_parameters
    digits = load_digits()
    x = torch.tensor(digits.data[:256] / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(digits.target[:256])
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                                torch.nn.AvgPool2d(2), torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 10))
    quantize_parameters(model, "bf16")
    for opt in (torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9, foreach=True),
                torch.optim.Adam(model.parameters(), lr=0.02, foreach=True)):
        first = None
        for _ in range(8):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            first = loss.item() if first is None else first
            for p in model.parameters():
                v = p.detach().as_plain().double().numpy()
                assert isinstance(p, LPTensor) and np.array_equal(v, np.asarray(lp.chop(v, "bf16")))
        assert loss.item() < first


def test_interpolate_nearest_moves_values_and_other_modes_raise():
    t = lp.asarray(torch.randn(1, 2, 3, 3), "e4m3")
    for mode in ("nearest", "nearest-exact"):
        got = F.interpolate(t, scale_factor=2, mode=mode)
        assert isinstance(got, LPTensor) and got.format == t.format
        assert torch.equal(got.as_plain(), F.interpolate(t.as_plain(), scale_factor=2, mode=mode))
    with pytest.raises(lp.UnsupportedOperationError, match="bilinear"):
        F.interpolate(t, scale_factor=2, mode="bilinear")
