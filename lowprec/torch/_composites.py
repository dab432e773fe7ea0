"""Emulated composites of LPTensor: network functions written with emulated operations.

Each is the textbook formula in LPTensor operations, so every step rounds as its category
says (:mod:`lowprec.ops`): ``x - m`` and ``/`` correctly rounded, ``exp``/``log``/``sqrt``
rounded elementwise, sums and means under the accumulation model (``lp.accumulate``).
Autograd goes through the same operations (the straight-through estimator at each
rounding). Arguments that change what is computed and are not emulated raise.
"""

from __future__ import annotations

from typing import Callable, Dict, Sequence

import torch

from ..errors import UnsupportedOperationError

_F = torch.nn.functional


def _no(name: str, what: str):
    raise UnsupportedOperationError(f"{name} on LPTensor: {what} is not emulated.")


def _dim(name: str, dim):
    if dim is None:
        _no(name, "dim=None (torch's implicit choice)")
    return dim


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``exp(x - max) / sum(exp(x - max))`` along ``dim``: the difference correctly
    rounded, ``exp`` rounded, the sum under the accumulation model, the quotient correctly
    rounded."""
    if dtype is not None:
        _no("softmax", "dtype=")
    dim = _dim("softmax", dim)
    e = torch.exp(input - _safe_max(input, dim))
    return e / e.sum(dim, keepdim=True)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``(x - max) - log(sum(exp(x - max)))`` along ``dim``: each step rounded (see
    :func:`softmax`)."""
    if dtype is not None:
        _no("log_softmax", "dtype=")
    dim = _dim("log_softmax", dim)
    z = input - _safe_max(input, dim)
    return z - torch.log(torch.exp(z).sum(dim, keepdim=True))


def logsumexp(input, dim, keepdim=False):
    """``max + log(sum(exp(x - max)))`` along ``dim``: each step rounded (see
    :func:`softmax`)."""
    m = _safe_max(input, dim)
    out = m + torch.log(torch.exp(input - m).sum(dim, keepdim=True))
    return out if keepdim else out.squeeze(dim) if isinstance(dim, int) else out.squeeze(tuple(dim))


def _safe_max(x, dim):
    """The maximum along ``dim`` (kept), 0 where it is not finite (as torch does, so that
    an all ``-inf`` row gives ``-inf``, not NaN)."""
    m = x.detach().amax(dim, keepdim=True)
    return torch.where(torch.isfinite(m), m, torch.zeros_like(m))


def _reduce(loss, reduction: str, name: str, count=None):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / (loss.numel() if count is None else count)
    _no(name, f"reduction={reduction!r}")


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """``-input[i, target[i]]``, reduced: ``sum`` under the accumulation model, ``mean``
    that sum divided by the number of targets not ignored (correctly rounded). Class
    indices along dimension 1; no class weights."""
    if weight is not None or size_average is not None or reduce is not None:
        _no("nll_loss", "weight=, size_average= or reduce=")
    if input.dim() < 2 or target.dtype.is_floating_point:
        _no("nll_loss", "a target of class probabilities, or an input without a class dimension")
    keep = target != ignore_index
    picked = -input.gather(1, torch.where(keep, target, 0).unsqueeze(1)).squeeze(1)
    loss = torch.where(keep, picked, torch.zeros_like(picked))
    return _reduce(loss, reduction, "nll_loss", int(keep.sum()))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """:func:`nll_loss` of :func:`log_softmax` along dimension 1, each step emulated."""
    if label_smoothing:
        _no("cross_entropy", "label_smoothing=")
    return nll_loss(log_softmax(input, 1), target, weight, size_average, ignore_index, reduce, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """``(input - target)**2``, each difference and square correctly rounded, reduced as
    :func:`nll_loss`."""
    if size_average is not None or reduce is not None or weight is not None:
        _no("mse_loss", "size_average=, reduce= or weight=")
    d = input - target
    return _reduce(d * d, reduction, "mse_loss")


def _last_dims(normalized_shape: Sequence[int]):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    return tuple(range(-len(shape), 0))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last dimensions: the means
    (of ``x``, then of ``(x - mean)**2``: the biased variance) under the accumulation model,
    every other step correctly rounded (``sqrt`` included; ``eps`` is a weak operand)."""
    dims = _last_dims(normalized_shape)
    d = input - input.mean(dims, keepdim=True)
    y = d / torch.sqrt((d * d).mean(dims, keepdim=True) + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """``x / sqrt(mean(x**2) + eps) * weight`` over the last dimensions (``eps`` by default
    the storage dtype's machine epsilon, as torch): the mean under the accumulation model,
    every other step correctly rounded."""
    dims = _last_dims(normalized_shape)
    eps = torch.finfo(input.dtype).eps if eps is None else eps
    y = input / torch.sqrt((input * input).mean(dims, keepdim=True) + eps)
    return y if weight is None else y * weight


def _channel_shape(x, v):
    """``v`` (one value per channel, dimension 1) shaped to broadcast against ``x``."""
    return v.reshape((1, -1) + (1,) * (x.dim() - 2))


def _affine(y, weight, bias):
    if weight is not None:
        y = y * _channel_shape(y, weight)
    if bias is not None:
        y = y + _channel_shape(y, bias)
    return y


def _update_running(stat, value, momentum, scale=1.0):
    """``stat = (1 - momentum) * stat + momentum * scale * value`` in place: emulated
    (rounded into ``stat``'s format) when ``stat`` is an LPTensor, else in ``stat``'s own
    precision."""
    with torch.no_grad():
        if type(stat) is torch.Tensor:
            stat.mul_(1 - momentum).add_(value.detach().as_subclass(torch.Tensor).to(stat.dtype) * (scale * momentum))
        else:
            stat.copy_(stat * (1 - momentum) + value.detach() * scale * momentum)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` per channel (dimension 1). Training
    (or without running statistics): the batch mean and biased variance, means under the
    accumulation model, and the running statistics updated as ``(1 - momentum) * r +
    momentum * batch`` (the variance unbiased, ``* n / (n - 1)``), rounded into their
    format when they are LPTensors; evaluation: the running statistics. Every other step
    correctly rounded."""
    if momentum is None:
        _no("batch_norm", "momentum=None (cumulative averages)")
    dims = (0,) + tuple(range(2, input.dim()))
    if training or running_mean is None or running_var is None:
        mean = input.mean(dims, keepdim=True)
        d = input - mean
        var = (d * d).mean(dims, keepdim=True)
        if training and running_mean is not None and running_var is not None:
            n = input.numel() // input.shape[1]
            _update_running(running_mean, mean.reshape(-1), momentum)
            _update_running(running_var, var.reshape(-1), momentum, n / max(n - 1, 1))
    else:
        d = input - _channel_shape(input, running_mean)
        var = _channel_shape(input, running_var)
    return _affine(d / torch.sqrt(var + eps), weight, bias)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """:func:`layer_norm` over each group of channels (and the spatial dimensions), then the
    per-channel ``weight`` and ``bias``: means under the accumulation model, every other step
    correctly rounded."""
    n, c = input.shape[:2]
    if c % num_groups:
        raise ValueError(f"group_norm: {c} channels do not split into {num_groups} groups.")
    g = input.reshape(n, num_groups, -1)
    d = g - g.mean(-1, keepdim=True)
    y = (d / torch.sqrt((d * d).mean(-1, keepdim=True) + eps)).reshape(input.shape)
    return _affine(y, weight, bias)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """:func:`group_norm` with one group per channel (the statistics of each instance);
    running statistics are not emulated."""
    if running_mean is not None or running_var is not None or not use_input_stats:
        _no("instance_norm", "running statistics")
    return group_norm(input, input.shape[1], weight, bias, eps)


def _avg_pool(k: int):
    name = f"avg_pool{k}d"

    def pool(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
             divisor_override=None):
        kernel = _tuple(kernel_size, k)
        stride = kernel if stride is None or stride == [] else _tuple(stride, k)
        padding = _tuple(padding, k)
        if ceil_mode:
            _no(name, "ceil_mode=True")
        if any(padding) and not count_include_pad and divisor_override is None:
            _no(name, "count_include_pad=False with padding")
        x = input
        if any(padding):
            x = _F.pad(x, [p for q in reversed(padding) for p in (q, q)])
        first = x.dim() - k
        for i in range(k):
            x = x.unfold(first + i, kernel[i], stride[i])
        windows = tuple(range(-k, 0))
        count = divisor_override or _prod(kernel)
        return x.sum(windows) / count
    pool.__name__ = name
    pool.__doc__ = (f"The mean of each window: its sum under the accumulation model (in row-major "
                    f"order), divided by the window size (correctly rounded); zero padding counts.")
    return pool


def _adaptive_avg_pool(k: int):
    name = f"adaptive_avg_pool{k}d"
    avg = _avg_pool(k)

    def pool(input, output_size):
        out = _tuple(output_size, k)
        size = input.shape[-k:]
        out = tuple(s if o is None else o for s, o in zip(size, out))
        if any(s % o for s, o in zip(size, out)):
            _no(name, f"an output size {out} that does not divide the input size {tuple(size)}")
        kernel = tuple(s // o for s, o in zip(size, out))
        return avg(input, kernel, kernel)
    pool.__name__ = name
    pool.__doc__ = "avg_pool with windows of input / output size (which must divide it)."
    return pool


def _tuple(v, k):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * k


def _prod(values):
    out = 1
    for v in values:
        out *= v
    return out


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """``mode="nearest"`` or ``"nearest-exact"``: every output a copy of an input value (the
    format kept, nothing rounded); the other modes average and are not emulated."""
    if mode not in ("nearest", "nearest-exact") or antialias:
        _no("interpolate", f"mode={mode!r}" + (" with antialias" if antialias else ""))
    from ._tensor import LPTensor, _wrap  # (it imports this module)
    if not isinstance(input, LPTensor):
        return _F.interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor)
    out = _F.interpolate(input.as_subclass(torch.Tensor), size, scale_factor, mode, align_corners,
                         recompute_scale_factor)
    return _wrap(type(input), out, input._lp_format, input._lp_rmode)


#: torch callable -> emulated implementation.
COMPOSITES: Dict[Callable, Callable] = {}
for _impl, _funcs in [
    (softmax, (_F.softmax, torch.softmax, torch.Tensor.softmax, torch.special.softmax)),
    (log_softmax, (_F.log_softmax, torch.log_softmax, torch.Tensor.log_softmax, torch.special.log_softmax)),
    (logsumexp, (torch.logsumexp, torch.Tensor.logsumexp, torch.special.logsumexp)),
    (nll_loss, (_F.nll_loss,)),
    (cross_entropy, (_F.cross_entropy,)),
    (mse_loss, (_F.mse_loss,)),
    (layer_norm, (_F.layer_norm,)),
    (rms_norm, (_F.rms_norm,) if hasattr(_F, "rms_norm") else ()),
    (batch_norm, (_F.batch_norm,)),
    (group_norm, (_F.group_norm,)),
    (instance_norm, (_F.instance_norm,)),
    (interpolate, (_F.interpolate,)),
] + [(_avg_pool(k), (getattr(_F, f"avg_pool{k}d"),)) for k in (1, 2, 3)] \
        + [(_adaptive_avg_pool(k), (getattr(_F, f"adaptive_avg_pool{k}d"),)) for k in (1, 2, 3)]:
    for _f in _funcs:
        COMPOSITES[_f] = _impl

