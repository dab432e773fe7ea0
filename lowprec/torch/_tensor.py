"""``LPTensor``: PyTorch code running in an emulated floating-point format.

A ``torch.Tensor`` subclass (``__torch_function__``, MODELS.md 6.7) whose values lie on
the grid of ``.format``; ``.rmode`` is the rounding mode of every result computed from
it. Operations are classified by what they do to values:

* **correctly rounded** (``+ - * /``, ``sqrt``, their methods, operators, reflected and
  in-place forms): the exact result rounded once (error-free transformations and
  :func:`lowprec.rounding.array_api.round_pair`), bit-identical to ``LPFloat``;
* **passthrough** (shape, indexing, copies, device moves, selections such as ``max`` or
  ``sort``): the format is kept, nothing is rounded;
* **accumulating** (``matmul``, ``mm``, ``bmm``, ``linear``, ``conv*``, ``sum``,
  ``mean``, ...): only the ``"exact"`` accumulation model exists for tensors so far:
  computed in float64 through the native kernel, rounded once. Under any other model
  (the default is ``"sequential"``) they raise :class:`UnsupportedOperationError`:
  use ``with lp.accumulate("exact"):``;
* everything else with a floating result: computed in the storage dtype, rounded once.

Non-floating results (comparisons, ``argmax``, ...) come back as plain tensors. Plain
float tensors and Python numbers are *weak*: rounded into the result format first.
In-place operations, ``copy_`` and ``__setitem__`` round what they store into the
target's format.

Autograd: the rounding is a straight-through estimator, so every gradient equals the
gradient of the unrounded operation; ``.grad`` is a plain tensor (the autograd engine
builds it without ``__torch_function__``).
"""

from __future__ import annotations

import copy
from typing import Any, Optional

import torch
from torch.overrides import get_default_nowrap_functions
from torch.utils._pytree import tree_flatten, tree_map

from ..errors import UnsupportedOperationError, UnsupportedTypeError
from ..formats import FloatFormat
from ..policy import accumulation_model
from ..promotion import result_format, result_mode
from ..rounding import RoundingMode
from ..rounding.array_api import ADD, DIVIDE, MULTIPLY, SQRT, SUBTRACT, round_op
from ._chop import params_for, random62, round_tensor
from ._ops import TORCH_OPS

_T = torch.Tensor
_F = torch.nn.functional
_DISABLED = torch._C.DisableTorchFunctionSubclass

# ------------------------------------------------------------------ operation tables

#: func -> (operation, reflected)
CORRECTLY_ROUNDED = {}
for _f in (torch.add, _T.add, _T.__add__):
    CORRECTLY_ROUNDED[_f] = (ADD, False)
CORRECTLY_ROUNDED[_T.__radd__] = (ADD, True)
for _f in (torch.sub, torch.subtract, _T.sub, _T.subtract, _T.__sub__):
    CORRECTLY_ROUNDED[_f] = (SUBTRACT, False)
CORRECTLY_ROUNDED[_T.__rsub__] = (SUBTRACT, True)
CORRECTLY_ROUNDED[torch.rsub] = (SUBTRACT, True)
for _f in (torch.mul, torch.multiply, _T.mul, _T.multiply, _T.__mul__):
    CORRECTLY_ROUNDED[_f] = (MULTIPLY, False)
CORRECTLY_ROUNDED[_T.__rmul__] = (MULTIPLY, True)
for _f in (torch.div, torch.divide, torch.true_divide, _T.div, _T.divide, _T.true_divide, _T.__truediv__):
    CORRECTLY_ROUNDED[_f] = (DIVIDE, False)
CORRECTLY_ROUNDED[_T.__rtruediv__] = (DIVIDE, True)
for _f in (torch.sqrt, _T.sqrt):
    CORRECTLY_ROUNDED[_f] = (SQRT, False)

_PASSTHROUGH_NAMES = """
view view_as reshape reshape_as transpose t permute squeeze unsqueeze flatten unflatten expand
expand_as contiguous clone detach to cpu cuda __getitem__ narrow select split chunk unbind flip
fliplr flipud roll rot90 index_select gather take take_along_dim masked_select cat concat
concatenate stack hstack vstack dstack where movedim moveaxis swapaxes swapdims repeat
repeat_interleave tile broadcast_to squeeze_ unsqueeze_ abs absolute max min amax amin maximum
minimum sort topk msort median kthvalue cummax cummin relu neg negative positive float double
type_as pin_memory requires_grad_ detach_ share_memory_ retain_grad
""".split()
_INPLACE_PLAIN = {"requires_grad_", "detach_", "share_memory_", "retain_grad", "squeeze_",
                  "unsqueeze_", "transpose_", "t_", "swapdims_", "swapaxes_", "resize_",
                  "resize_as_", "set_", "as_strided_", "record_stream"}
_SIGNED_ONLY = {"neg", "negative"}  # exact only when the format has negative values

_ACCUMULATING_NAMES = """
matmul __matmul__ __rmatmul__ mm bmm mv dot vdot inner outer linear bilinear conv1d conv2d conv3d
conv_transpose1d conv_transpose2d conv_transpose3d sum mean nansum nanmean einsum addmm addmv
baddbmm addbmm tensordot cumsum prod cumprod norm var std
""".split()

_INPLACE_DUNDER = {"__iadd__": "__add__", "__isub__": "__sub__", "__imul__": "__mul__",
                   "__itruediv__": "__truediv__"}


# ------------------------------------------------------------------ autograd helpers

class _RoundFn(torch.autograd.Function):
    """Round into a format; the backward is the identity (straight-through estimator)."""

    @staticmethod
    def forward(ctx, x, fmt, mode):
        return _round_plain(x.detach(), fmt, mode)

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None


class _Replace(torch.autograd.Function):
    """Forward: ``value`` (computed without autograd); backward: the gradient of ``raw``."""

    @staticmethod
    def forward(ctx, raw, value):
        return value.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def _round_plain(x: torch.Tensor, fmt: FloatFormat, mode: RoundingMode) -> torch.Tensor:
    params = params_for(fmt, True, x.dtype)
    r62 = random62(x.shape, x.device) if mode.is_stochastic else None
    return round_tensor(x, params, mode, r62)


def _round(x: torch.Tensor, fmt, mode) -> torch.Tensor:
    """Round a plain float tensor, differentiably (STE) when autograd records."""
    if torch.is_grad_enabled() and x.requires_grad:
        return _RoundFn.apply(x, fmt, mode)
    return _round_plain(x, fmt, mode)


# ------------------------------------------------------------------ the class

class LPTensor(torch.Tensor):
    """A tensor of values in an emulated float format; every result is re-rounded.

    Create one with :func:`lowprec.asarray` (or :func:`as_lp`). See the module
    docstring for what each kind of operation does.
    """

    _lp_format: Optional[FloatFormat] = None
    _lp_rmode: RoundingMode = RoundingMode.NEAREST_EVEN

    @property
    def format(self) -> Optional[FloatFormat]:
        return self._lp_format

    @property
    def rmode(self) -> RoundingMode:
        return self._lp_rmode

    def as_plain(self) -> torch.Tensor:
        """The storage as a plain tensor (sharing memory, keeping the autograd graph)."""
        with _DISABLED():
            return self.as_subclass(torch.Tensor)

    def __repr__(self, *, tensor_contents=None) -> str:
        with _DISABLED():
            inner = repr(self.as_subclass(torch.Tensor))
        label = self._lp_format.label if self._lp_format is not None else None
        mode = self._lp_rmode.name.lower()
        return f"LPTensor({inner}, format={label!r}, rmode={mode!r})"

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        with _DISABLED():
            plain = self.as_subclass(torch.Tensor)
            new = plain.detach().clone().requires_grad_(plain.requires_grad)
        new = _wrap(type(self), new, self._lp_format, self._lp_rmode)
        for k, v in self.__dict__.items():
            if k not in ("_lp_format", "_lp_rmode"):
                setattr(new, k, copy.deepcopy(v, memo))
        memo[id(self)] = new
        return new

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if not all(issubclass(cls, t) for t in types):
            return NotImplemented
        if func in _NOWRAP:
            with _DISABLED():
                return func(*args, **kwargs)
        with _DISABLED():
            return _handle(cls, func, args, kwargs)


_NOWRAP = get_default_nowrap_functions()


def _operator(dunder: str):
    """Binary operators call ``__torch_function__`` directly: torch's own operator wrappers
    turn every ``TypeError`` (our format-mismatch errors among them) into
    ``NotImplemented``, which would hide the message."""
    func = getattr(torch.Tensor, dunder)

    def method(self, other):
        types = tuple({type(x) for x in (self, other) if isinstance(x, torch.Tensor)})
        return type(self).__torch_function__(func, types, (self, other))

    method.__name__ = dunder
    return method


for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
              "__rtruediv__", "__matmul__", "__rmatmul__", "__iadd__", "__isub__", "__imul__", "__itruediv__"):
    setattr(LPTensor, _name, _operator(_name))


def _wrap(cls, t, fmt, mode):
    if isinstance(t, torch.Tensor) and t.dtype.is_floating_point:
        out = t.as_subclass(cls) if type(t) is not cls else t
        out._lp_format = fmt
        out._lp_rmode = mode
        return out
    return t


def _wrap_all(cls, result, fmt, mode):
    if isinstance(result, torch.Tensor):
        return _wrap(cls, result, fmt, mode)
    if isinstance(result, (tuple, list)):
        items = [_wrap_all(cls, r, fmt, mode) for r in result]
        if isinstance(result, list):
            return items
        try:
            return type(result)(items)
        except TypeError:
            return type(result)(*items)
    return result


def _lp_operands(args, kwargs):
    leaves, _ = tree_flatten((args, kwargs))
    return [x for x in leaves if isinstance(x, LPTensor)]


def _common(lps, name):
    for x in lps:
        if x._lp_format is None:
            raise UnsupportedTypeError("an LPTensor without a format; create it with lp.asarray(t, fmt).")
    fmt = result_format([x._lp_format for x in lps])
    mode = result_mode([x._lp_rmode for x in lps], name)
    dtype = lps[0].dtype
    for x in lps[1:]:
        dtype = torch.promote_types(dtype, x.dtype)
    try:
        params_for(fmt, True, dtype)
    except ValueError:
        dtype = torch.float64
    return fmt, mode, dtype


def _weak(x, fmt, mode, dtype):
    """Plain float tensors are rounded into the format (LP tensors already are)."""
    if isinstance(x, LPTensor) or not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
        return x
    return _round(x if x.dtype in (torch.float32, torch.float64) else x.to(dtype), fmt, mode)


def _needs_grad(leaves) -> bool:
    return torch.is_grad_enabled() and any(isinstance(x, torch.Tensor) and x.requires_grad for x in leaves)


def _handle(cls, func, args, kwargs):
    name = getattr(func, "__name__", "")
    lps = _lp_operands(args, kwargs)
    if name == "__get__":  # properties: .data, .T, .mT, .real, ... keep the format
        result = func(*args, **kwargs)
        if lps and isinstance(result, torch.Tensor) and result.dtype.is_floating_point:
            return _wrap(cls, result, lps[0]._lp_format, lps[0]._lp_rmode)
        return result
    if name == "__setitem__":
        target, index, value = args
        if isinstance(target, LPTensor):
            value = _into(value, target)
        return func(target, index, value)
    if name == "copy_":
        target, src = args[0], args[1]
        if isinstance(target, LPTensor):
            src = _into(src, target)
        return func(target, src, *args[2:], **kwargs)
    if name in _INPLACE_DUNDER or (name.endswith("_") and not name.startswith("_")):
        return _inplace(cls, func, name, args, kwargs, lps)
    out = kwargs.pop("out", None)
    fmt, mode, dtype = _common(lps, name)
    result = _compute(cls, func, name, args, kwargs, fmt, mode, dtype)
    if out is None:
        return result
    return _store_out(out, result)


def _into(value, target: "LPTensor"):
    """``value`` rounded into ``target``'s format and dtype (for stores)."""
    fmt, mode = target._lp_format, target._lp_rmode
    if not isinstance(value, torch.Tensor):
        value = torch.as_tensor(value, dtype=target.dtype, device=target.device)
    if not value.dtype.is_floating_point:
        value = value.to(target.dtype)
    value = value.as_subclass(torch.Tensor) if isinstance(value, LPTensor) else value
    return _round(value.to(target.dtype), fmt, mode)


def _store_out(out, result):
    if isinstance(out, (tuple, list)):
        for o, r in zip(out, result):
            _store_out(o, r)
        return out
    value = _into(result, out) if isinstance(out, LPTensor) else result
    with torch.no_grad():
        out.copy_(value)
    return out


def _inplace(cls, func, name, args, kwargs, lps):
    target = args[0]
    base = _INPLACE_DUNDER.get(name, name[:-1])
    twin = getattr(torch.Tensor, base, None)
    if name in _INPLACE_PLAIN or not isinstance(target, torch.Tensor) or not target.dtype.is_floating_point:
        return func(*args, **kwargs)
    if isinstance(target, LPTensor):
        fmt, mode = target._lp_format, target._lp_rmode
        _, _, dtype = _common(lps, name)
        dtype = target.dtype
    else:
        fmt, mode, dtype = _common(lps, name)
    if callable(twin):
        value = _compute(cls, twin, base, args, kwargs, fmt, mode, dtype, result_fmt=fmt)
        plain = value.as_subclass(torch.Tensor) if isinstance(value, LPTensor) else value
        target.copy_(plain.to(target.dtype))
        return target
    func(*args, **kwargs)  # e.g. fill_, zero_, uniform_: no out-of-place twin
    with torch.no_grad():
        target.copy_(_round_plain(target.as_subclass(torch.Tensor), fmt, mode))
    return target


def _compute(cls, func, name, args, kwargs, fmt, mode, dtype, result_fmt=None):
    fmt = result_fmt or fmt
    if func in CORRECTLY_ROUNDED and not (func in (torch.div, _T.div, _T.divide, torch.divide)
                                          and kwargs.get("rounding_mode") is not None):
        return _correctly_rounded(cls, func, args, kwargs, fmt, mode, dtype)
    accumulating = name in _ACCUMULATING_NAMES
    if accumulating:
        model = accumulation_model()
        if model != "exact":
            raise UnsupportedOperationError(
                f"{name} on LPTensor: only the 'exact' accumulation model is implemented for tensors "
                f"so far (in force: {model!r}); use `with lp.accumulate('exact'):`."
            )
    args, kwargs = tree_map(lambda x: _weak(x, fmt, mode, dtype), (args, kwargs))
    if accumulating:  # "exact": compute wide, round once into the storage dtype
        wide = tree_map(lambda x: x.to(torch.float64) if isinstance(x, torch.Tensor)
                        and x.dtype.is_floating_point else x, (args, kwargs))
        raw = func(*wide[0], **wide[1])
    else:
        raw = func(*args, **kwargs)
    passthrough = name in _PASSTHROUGH_NAMES and not (name in _SIGNED_ONLY and not fmt.signed)
    if passthrough and not accumulating:
        return _wrap_all(cls, raw, fmt, mode)
    return _wrap_all(cls, _round_outputs(raw, fmt, mode, dtype, accumulating), fmt, mode)


def _round_outputs(raw, fmt, mode, dtype, accumulating):
    if isinstance(raw, torch.Tensor):
        if not raw.dtype.is_floating_point:
            return raw
        if accumulating or raw.dtype != dtype and raw.dtype in (torch.float32, torch.float64):
            # result in the storage dtype: round from the wide value, then cast (exact)
            rounded = _round(raw.to(torch.float64), fmt, mode)
            return rounded.to(dtype)
        return _round(raw, fmt, mode)
    if isinstance(raw, (tuple, list)):
        items = [_round_outputs(r, fmt, mode, dtype, accumulating) for r in raw]
        if isinstance(raw, list):
            return items
        try:
            return type(raw)(items)
        except TypeError:
            return type(raw)(*items)
    return raw


def _correctly_rounded(cls, func, args, kwargs, fmt, mode, dtype):
    op, reflected = CORRECTLY_ROUNDED[func]
    kwargs = dict(kwargs)
    alpha = kwargs.pop("alpha", None)
    kwargs.pop("rounding_mode", None)
    if kwargs:
        raise UnsupportedOperationError(f"{getattr(func, '__name__', func)} on LPTensor: arguments "
                                        f"{sorted(kwargs)} are not supported.")
    if op == SQRT:
        a = args[0]
        b = None
    else:
        a, b = args[0], args[1]
        if reflected:
            a, b = b, a
    device = next(x.device for x in (a, b) if isinstance(x, torch.Tensor))
    raw_inputs = [x for x in (a, b) if isinstance(x, torch.Tensor)]

    def operand(x):
        if isinstance(x, LPTensor):
            return x.as_subclass(torch.Tensor)
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(x, dtype=torch.float64, device=device)
        if not x.dtype.is_floating_point:
            x = x.to(torch.float64)
        return _round(x.to(dtype) if x.dtype not in (torch.float32, torch.float64) else x, fmt, mode)

    pa = operand(a)
    pb = operand(b) if b is not None else None
    if alpha is not None and alpha != 1:  # a + alpha*b: the scaled operand is rounded first
        scaled = pb * (alpha.to(pb.dtype) if isinstance(alpha, torch.Tensor) else alpha)
        pb = _round(scaled, fmt, mode)
    x64 = pa.detach().to(torch.float64)
    y64 = pb.detach().to(torch.float64) if pb is not None else x64
    x64, y64 = torch.broadcast_tensors(x64, y64)
    params = params_for(fmt, True, dtype)
    r62 = random62(x64.shape, x64.device) if mode.is_stochastic else None
    value = round_op(op, x64, y64, params, mode, r62, ops=TORCH_OPS).to(dtype)
    if _needs_grad(raw_inputs):
        exact = {ADD: torch.add, SUBTRACT: torch.sub, MULTIPLY: torch.mul, DIVIDE: torch.div}
        raw = torch.sqrt(pa) if op == SQRT else exact[op](pa, pb)
        value = _Replace.apply(raw.to(dtype), value)
    return _wrap(cls, value, fmt, mode)


# ------------------------------------------------------------------ construction

def as_lp(x: Any, fmt="half", rmode=1, *, dtype: Optional[torch.dtype] = None,
          subnormal: Optional[bool] = None, seed: Optional[int] = None, rng=None) -> LPTensor:
    """Round a tensor (or anything ``torch.as_tensor`` takes) into ``fmt``: an LPTensor.

    float32 and float64 tensors keep their dtype (the storage); other dtypes become
    float64 unless ``dtype`` is given. Autograd flows through with the STE.
    """
    from ._chop import round_like_spec
    from ..chop import make_spec

    from ..ndarray._float import array_format

    f, mode = array_format(fmt, rmode, subnormal)
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(x)
    with _DISABLED():
        if isinstance(t, LPTensor):
            t = t.as_subclass(torch.Tensor)
        if t.dtype == torch.bool or t.dtype.is_complex:
            raise UnsupportedTypeError(f"lp.asarray takes real numbers, got {t.dtype}.")
        if dtype is None:
            dtype = t.dtype if t.dtype in (torch.float32, torch.float64) else torch.float64
        t = t.to(dtype)
        params_for(f, True, dtype)  # a clear error when the format does not fit
        spec = make_spec(f, mode, seed=seed, rng=rng)
        if torch.is_grad_enabled() and t.requires_grad:
            from ._chop import _RoundSTE
            values = _RoundSTE.apply(t, spec)
        else:
            values = round_like_spec(t, spec)
        return _wrap(LPTensor, values, f, mode)


__all__ = ["LPTensor", "as_lp", "CORRECTLY_ROUNDED"]
