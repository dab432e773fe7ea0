"""``LPTensor``: PyTorch code running in an emulated floating-point format.

A ``torch.Tensor`` subclass (``__torch_function__``, MODELS.md 6.7) whose values lie on
the grid of ``.format``; ``.rmode`` is the rounding mode of every result computed from
it. Operations are classified by what they do to values, in the categories of the op
vocabulary (:mod:`lowprec.ops`), by the table of :mod:`lowprec.torch._table` (keyed by
the callable; ``lp.semantics(F.softmax)`` says which category a function has):

* **correctly rounded** (``+ - * /``, ``sqrt``, their methods, operators, reflected and
  in-place forms): the exact result rounded once, bit-identical to ``LPFloat``
  (:func:`elementwise`: the numba kernels of :func:`lowprec.arith.binary` on CPU
  tensors, error-free transformations and :func:`lowprec.rounding.array_api.round_pair`
  on other devices);
* **moves values** (shape, indexing, copies, device moves, selections such as ``max`` or
  ``sort``): the format is kept, nothing is rounded;
* **rounded elementwise** (``exp``, ``tanh``, ``sigmoid``, the activations of
  ``torch.nn.functional``, ``addcdiv``, ``clamp``, ``dropout``): computed in the storage
  dtype from operands in the format, the result rounded once;
* **accumulating** (``matmul``, ``mm``, ``bmm``, ``mv``, ``dot``, ``linear``,
  ``conv1d/2d/3d``, ``sum``, ``mean``): under the accumulation model in force
  (:func:`lowprec.accumulate`; default ``"sequential"``), bit-identical to ``LPFloat``
  (:mod:`lowprec.torch._accumulate`). ``linear`` and ``conv*`` add the bias to the
  accumulated product with one more correctly rounded addition; ``mean`` is the sum
  divided by the (exact) element count, rounded once. Also emulated under every model:
  ``prod``, ``cumsum``, ``cumprod`` (CPU tensors), ``nansum``, ``vdot``, ``inner``,
  ``tensordot`` (one matrix product, as ``LPFloat``), ``addmm``/``addmv``/``baddbmm``
  (the product, ``alpha *`` and ``beta *`` rounded, one rounded addition), ``var``/``std``
  (``LPFloat``'s ``np.var``), the 2-``norm``; ``outer`` is correctly rounded products. The
  other accumulating functions (``einsum``, ``addbmm``, ``bilinear``, ``conv_transpose*``,
  ``nanmean``, other norms) raise :class:`UnsupportedOperationError` under every model
  (never a float64 result rounded once);
* **emulated composites** (:mod:`lowprec.torch._composites`: ``softmax``,
  ``log_softmax``, ``logsumexp``, ``cross_entropy``, ``nll_loss``, ``mse_loss``,
  ``layer_norm``, ``rms_norm``, ``batch_norm`` (training and eval, running statistics),
  ``group_norm``, ``instance_norm``, ``avg_pool1d/2d/3d``, ``adaptive_avg_pool1d/2d/3d``,
  ``interpolate`` by nearest copies): the formula in emulated operations, each step rounded;
* **unsupported**: everything else with a floating result, unlisted functions included
  (``scaled_dot_product_attention``, ``local_response_norm``, ``conv_transpose*``,
  ``torch.linalg``, ...): :class:`UnsupportedOperationError`, never a
  float32 result rounded once; ``with lp.policy(unknown="round_once"):`` does that
  knowingly, with a :class:`~lowprec.LowprecWarning`. An unlisted in-place function is
  refused before it runs. Take ``.as_plain()`` to leave the emulation (e.g. a loss in
  float32).

**Plain results**: comparisons, ``argmax``, metadata, and new tensors made like an
LPTensor (``zeros_like``, ``new_zeros``: torch's optimizers make their state so, which in an
8-bit format would round ``eps`` to 0) come back as plain tensors. Plain
float tensors and Python numbers are *weak*: rounded into the result format first.
In-place operations, ``copy_`` and ``__setitem__`` round what they store into the
target's format. An in-place update from *plain* tensors (state kept outside the format, as
``torch.optim`` keeps it: ``p.addcdiv_(exp_avg, denom)``) is computed in binary64 from the
plain values and rounded once when stored (rounding ``denom`` into e4m3 first would make it
0); ``foreach=True`` optimizers likewise round every parameter they write (their
``torch._foreach_*`` intermediates are plain tensors, as their state).

Autograd: the rounding is a straight-through estimator, so every gradient equals the
gradient of the unrounded operation; ``.grad`` is a plain tensor (the autograd engine
builds it without ``__torch_function__``). With a *gradient format* (``grad_format=``
and ``grad_rmode=`` of :func:`as_lp`, inherited by every result computed from the
tensor, or set with :func:`set_grad_format`) the gradient flowing back through each
operation's rounding is itself rounded into that format and mode (QPyTorch's
``backward_number``), as is the gradient accumulated into a leaf's ``.grad``.

Pickling (``torch.save``, ``copy``, ``state_dict`` files): an LPTensor is stored as its plain
tensor and its format's constructor values; the one rebuild function is registered with
``torch.serialization.add_safe_globals`` at import (as torchao does for its subclasses), so
``torch.load`` with its default ``weights_only=True`` restores the format.

Random bits (stochastic modes) come from the global ``lp.seed`` stream, drawn as the
NumPy kernels draw them, so CPU and CUDA tensors agree with ``LPFloat`` elementwise.
"""

from __future__ import annotations

import contextvars
import copy
import dataclasses
import warnings
from typing import Any, Optional, Tuple

import numpy as np
import torch
from torch.overrides import get_default_nowrap_functions
from torch.utils._pytree import tree_flatten, tree_map

from ..errors import LowprecWarning, UnsupportedOperationError, UnsupportedTypeError
from .. import ops
from ..policy import unknown_policy
from ..formats import FloatFormat
from ..policy import accumulation_model
from ..promotion import result_format, result_mode
from ..rounding import RoundingMode
from ..rounding.array_api import ADD, DIVIDE, MULTIPLY, SQRT, SUBTRACT, round_op
from . import _accumulate, _table
from ._composites import COMPOSITES
from ..random import derived_seed
from ._chop import call_key, params_for, random62, round_like_spec, serial_if_small
from ._ops import TORCH_OPS, splitmix62

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

_SIGNED_ONLY = {"neg", "negative"}  # exact only when the format has negative values



# ------------------------------------------------------------------ autograd helpers

class _RoundFn(torch.autograd.Function):
    """Round into a format; the backward is the identity (straight-through estimator),
    or rounds the gradient into the gradient format ``grad`` (a ``(format, mode)`` pair)."""

    @staticmethod
    def forward(ctx, x, fmt, mode, grad=None, seed=None):
        ctx.grad_spec = grad
        return _round_plain(x.detach(), fmt, mode, seed)

    @staticmethod
    def backward(ctx, g):
        return _round_grad(g, ctx.grad_spec), None, None, None, None


class _Replace(torch.autograd.Function):
    """Forward: ``value`` (computed without autograd); backward: the gradient of ``raw``
    (rounded into the gradient format ``grad`` when one is given)."""

    @staticmethod
    def forward(ctx, raw, value, grad=None):
        ctx.grad_spec = grad
        return value.clone()

    @staticmethod
    def backward(ctx, g):
        return _round_grad(g, ctx.grad_spec), None, None


def _round_grad(g, grad_spec):
    if grad_spec is None or g is None:
        return g
    fmt, mode = grad_spec
    return _round_plain(g, fmt, mode)


def _round_plain(x: torch.Tensor, fmt: FloatFormat, mode: RoundingMode, seed=None) -> torch.Tensor:
    from ..chop import make_spec

    return round_like_spec(x, make_spec(fmt, mode, seed=seed))


def _round(x: torch.Tensor, fmt, mode, grad=None, seed=None) -> torch.Tensor:
    """Round a plain float tensor, differentiably (STE) when autograd records (``seed``:
    the stochastic stream, by default the next global key)."""
    if torch.is_grad_enabled() and x.requires_grad:
        return _RoundFn.apply(x, fmt, mode, grad if grad is not None else _GRAD.get(), seed)
    return _round_plain(x, fmt, mode, seed)


def elementwise(op: int, a: torch.Tensor, b: torch.Tensor, fmt: FloatFormat, mode: RoundingMode,
                on_grid: bool = False, key=None) -> torch.Tensor:
    """``round(a op b)`` correctly rounded (``b`` ignored by ``SQRT``) for float32 or
    float64 tensors of one shape and dtype, in that dtype: the numba kernels of
    :func:`lowprec.arith.binary` on CPU tensors (read and written in place, no
    conversion pass, broadcast views of at most two dimensions without copies),
    :func:`lowprec.rounding.array_api.round_op` in float64 elsewhere."""
    params = params_for(fmt, True, a.dtype)
    if a.device.type == "cpu":
        return _elementwise_cpu(op, a.detach(), b.detach(), params, mode, on_grid, key)
    r62 = (random62(a.shape, a.device) if key is None else splitmix62(int(key), a.numel(), a.device).reshape(a.shape)) \
        if mode.is_stochastic else None
    wide = round_op(op, a.to(torch.float64), b.to(torch.float64), params_for(fmt, True, torch.float64), mode, r62,
                    ops=TORCH_OPS)
    return wide.to(a.dtype)


def _elementwise_cpu(op, a, b, params, mode, on_grid, key=None):
    from ..arith import binary, binary_2d

    if key is None:
        key = call_key() if mode.is_stochastic else 0
    key = np.uint64(key)
    out = torch.empty(a.shape, dtype=a.dtype)
    with serial_if_small(out.numel()):
        if on_grid and a.dim() <= 2 and params.t < 52 and out.numel():  # strided views, no copies
            binary_2d(op, _numpy_2d(a), _numpy_2d(b), params, mode, key, _numpy_2d(out))
            return out
        flat_a = a.contiguous().reshape(-1).numpy()
        flat_b = b.contiguous().reshape(-1).numpy()
        binary(op, flat_a, flat_b, params, mode, key, on_grid=on_grid, out=out.numpy().reshape(-1))
    return out


def _numpy_2d(t: torch.Tensor) -> np.ndarray:
    """A 2-D NumPy view of a CPU tensor of at most two dimensions (strides kept, the
    zero strides of broadcast views included; leading unit axes never copy)."""
    view = t.numpy()
    return view.reshape((1,) * (2 - view.ndim) + view.shape)


# ------------------------------------------------------------------ the class

class LPTensor(torch.Tensor):
    """A tensor of values in an emulated float format; every result is re-rounded.

    Create one with :func:`lowprec.asarray` (or :func:`as_lp`). See the module
    docstring for what each kind of operation does.
    """

    _lp_format: Optional[FloatFormat] = None
    _lp_rmode: RoundingMode = RoundingMode.NEAREST_EVEN
    _lp_grad: Optional[Tuple[FloatFormat, RoundingMode]] = None

    @property
    def format(self) -> Optional[FloatFormat]:
        return self._lp_format

    @property
    def grad_format(self) -> Optional[Tuple[FloatFormat, RoundingMode]]:
        """``(format, mode)`` gradients are rounded into, or ``None`` (straight through)."""
        return self._lp_grad

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

    def __reduce_ex__(self, protocol):
        """Pickled as a plain tensor and primitives (:func:`_rebuild`), so that
        ``torch.load`` with its default ``weights_only=True`` takes it back."""
        with _DISABLED():
            plain = self.as_subclass(torch.Tensor).detach()
        grad = self._lp_grad
        return _rebuild, (plain, _fields(self._lp_format), int(self._lp_rmode),
                          None if grad is None else (_fields(grad[0]), int(grad[1])), self.requires_grad)

    @classmethod
    @torch.compiler.disable  # torch.compile: a graph break around each emulated operation, run eagerly
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if not all(issubclass(cls, t) for t in types):
            return NotImplemented
        if func in _NOWRAP:
            with _DISABLED():
                return func(*args, **kwargs)
        composite = COMPOSITES.get(func)
        if composite is not None:  # written with LPTensor operations: they dispatch themselves
            return composite(*args, **kwargs)
        grad = next((x._lp_grad for x in _lp_operands(args, kwargs) if x._lp_grad is not None), None)
        token = _GRAD.set(grad)
        try:
            with _DISABLED():
                return _handle(cls, func, args, kwargs)
        finally:
            _GRAD.reset(token)


def _fields(fmt: Optional[FloatFormat]):
    """A format as a tuple of its constructor's values (ints, bools, strings, None)."""
    return None if fmt is None else tuple(getattr(fmt, f.name) for f in dataclasses.fields(fmt))


def _rebuild(plain: torch.Tensor, fields, rmode: int, grad, requires_grad: bool) -> "LPTensor":
    """The inverse of :meth:`LPTensor.__reduce_ex__` (an allowed global of ``torch.load``)."""
    fmt = None if fields is None else FloatFormat(*fields)
    out = _wrap(LPTensor, plain, fmt, RoundingMode(rmode))
    if grad is not None:
        out._lp_grad = (FloatFormat(*grad[0]), RoundingMode(grad[1]))
    return out.requires_grad_() if requires_grad else out


torch.serialization.add_safe_globals([_rebuild])  # as torchao does for its tensor subclasses


#: The gradient format of the operation being handled (inherited by its results).
_GRAD: contextvars.ContextVar = contextvars.ContextVar("lowprec_torch_grad", default=None)
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
        grad = _GRAD.get()
        if grad is not None:
            out._lp_grad = grad
        return out
    return t


def _hook_leaf(t: "LPTensor") -> None:
    """A leaf with a gradient format gets its accumulated ``.grad`` rounded too."""
    if t._lp_grad is not None and t.requires_grad and t.is_leaf and not getattr(t, "_lp_hooked", False):
        spec = t._lp_grad
        t.register_hook(lambda g: _round_grad(g, spec))
        t._lp_hooked = True


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
    if name == "__set__" and getattr(getattr(func, "__self__", None), "__name__", "") == "data" \
            and isinstance(args[0], LPTensor):  # p.data = v: v rounded into p's format, p stays an LPTensor
        target, value = args
        if isinstance(value, torch.Tensor) and value.dtype in (torch.float32, torch.float64):
            plain = value.as_subclass(torch.Tensor) if isinstance(value, LPTensor) else value
            return func(target, _round(plain, target._lp_format, target._lp_rmode))  # (model.to(dtype))
        return func(target, _into(value, target))
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
    if name == "requires_grad_":
        result = func(*args, **kwargs)
        if isinstance(result, LPTensor):
            _hook_leaf(result)
        return result
    twin = _table.INPLACE.get(func)
    if twin is not None or (func in _table.TENSOR_INPLACE and func in _table.TABLE):
        return _inplace(cls, func, twin, args, kwargs, lps)
    if name.startswith("_foreach_") and name.endswith("_") and not name.endswith("__"):
        return _foreach_inplace(func, args, kwargs)
    if name.startswith("_foreach_"):  # torch.optim's intermediates: plain tensors, as its state
        return func(*args, **kwargs)
    if not _table.listed(func) and _mutates(func) and unknown_policy() != "round_once":
        raise _unknown_error(func)  # before it runs: it would change its operand
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


def _inplace(cls, func, twin, args, kwargs, lps):
    """An in-place function: its out-of-place ``twin`` computed and rounded into the
    target's format, then stored; without a twin (``fill_``, ``uniform_``), run and the
    target rounded; metadata-only ones (``squeeze_``, ``requires_grad_``) just run."""
    target = args[0]
    name = getattr(func, "__name__", "")
    if twin is None and _table.category(func) == ops.MOVES or not isinstance(target, torch.Tensor) \
            or not target.dtype.is_floating_point:
        return func(*args, **kwargs)
    if isinstance(target, LPTensor):
        fmt, mode = target._lp_format, target._lp_rmode
        _common(lps, name)
        dtype = target.dtype
    else:
        fmt, mode, dtype = _common(lps, name)
    if twin is not None and _table.category(twin) == ops.UNSUPPORTED and unknown_policy() != "round_once":
        raise _unknown_error(func)  # before it runs
    if twin is not None and isinstance(target, LPTensor) and _plain_operands(args[1:], kwargs) \
            and _table.category(twin) in (ops.CORRECTLY_ROUNDED, ops.ROUNDED, ops.MOVES):
        return _plain_update(target, twin, args, kwargs)
    if twin is not None:
        value = _compute(cls, twin, getattr(twin, "__name__", ""), args, kwargs, fmt, mode, dtype, result_fmt=fmt)
        plain = value.as_subclass(torch.Tensor) if isinstance(value, LPTensor) else value
        target.copy_(plain.to(target.dtype))
        return target
    func(*args, **kwargs)  # e.g. fill_, zero_, uniform_: no out-of-place twin
    with torch.no_grad():
        target.copy_(_round_plain(target.as_subclass(torch.Tensor), fmt, mode))
    return target


def _plain_operands(args, kwargs) -> bool:
    leaves, _ = tree_flatten((args, kwargs))
    return any(type(x) is torch.Tensor and x.dtype.is_floating_point for x in leaves)


def _plain_update(target: "LPTensor", twin, args, kwargs):
    """An in-place update of an LPTensor from plain tensors (state kept outside the format,
    as torch.optim keeps it: ``p.addcdiv_(exp_avg, denom)``, ``p.add_(grad, alpha=-lr)``):
    computed in binary64 from the plain values, the stored result rounded once into the
    target's format and mode. (Rounding ``denom`` into an 8-bit format first would make it
    0.)"""
    def wide(x):
        if isinstance(x, torch.Tensor) and x.dtype.is_floating_point:
            return x.as_subclass(torch.Tensor).detach().to(torch.float64)
        return x
    wargs, wkwargs = tree_map(wide, (args, kwargs))
    with torch.no_grad():
        value = twin(*wargs, **wkwargs)
        plain = target.as_subclass(torch.Tensor)
        plain.copy_(_round_plain(value, target._lp_format, target._lp_rmode).to(target.dtype))
    return target


def _foreach_inplace(func, args, kwargs):
    """``torch._foreach_*_`` (the ``foreach=True`` optimizers): computed in the storage
    precision, then every LPTensor it wrote (its first argument) rounded into its format:
    rounded elementwise, as the single-tensor forms."""
    func(*args, **kwargs)
    with torch.no_grad():
        for t in args[0]:
            if isinstance(t, LPTensor) and t.dtype.is_floating_point:
                plain = t.as_subclass(torch.Tensor)
                plain.copy_(_round_plain(plain, t._lp_format, t._lp_rmode))


def _mutates(func) -> bool:
    """Whether an unlisted function may write into its operands (torch's naming: a trailing
    underscore), so that it must be refused before it runs."""
    name = getattr(func, "__name__", "")
    return func in _table.TENSOR_INPLACE or (name.endswith("_") and not name.endswith("__"))


def _unknown_error(func) -> UnsupportedOperationError:
    return UnsupportedOperationError(
        f"{_table.semantics(func).split(':')[0]} has no emulation for LPTensor: computing it in the storage "
        "precision and rounding once would be silent mis-emulation. Use `with lp.policy(unknown='round_once'):` "
        "to do that knowingly (with a warning), write it with emulated operations, or take "
        ".as_subclass(torch.Tensor) to leave the emulation."
    )


def _has_float(raw) -> bool:
    leaves, _ = tree_flatten(raw)
    return any(isinstance(x, torch.Tensor) and x.dtype.is_floating_point for x in leaves)


def _compute(cls, func, name, args, kwargs, fmt, mode, dtype, result_fmt=None):
    fmt = result_fmt or fmt
    category = _table.TABLE.category(func)
    if category == ops.CORRECTLY_ROUNDED and not (func in CORRECTLY_ROUNDED and kwargs.get("rounding_mode") is None):
        category = ops.ROUNDED  # div with rounding_mode: an integer quotient, rounded
    if category == ops.CORRECTLY_ROUNDED:
        return _correctly_rounded(cls, func, args, kwargs, fmt, mode, dtype)
    if category == ops.UNSUPPORTED and unknown_policy() != "round_once":
        raise _unknown_error(func)
    args, kwargs = tree_map(lambda x: _weak(x, fmt, mode, dtype), (args, kwargs))
    if category == ops.ACCUMULATING:
        return _emulated(cls, func, name, args, kwargs, fmt, mode, dtype)
    raw = func(*args, **kwargs)
    if category == ops.PLAIN_RESULT:
        return raw
    if category == ops.MOVES and not (name in _SIGNED_ONLY and not fmt.signed):
        return _wrap_all(cls, raw, fmt, mode)
    if category in (ops.UNSUPPORTED, None):
        if not _has_float(raw):
            return raw  # metadata, predicates: nothing was computed in a format
        if unknown_policy() != "round_once":
            raise _unknown_error(func)
        warnings.warn(f"{_table.semantics(func).split(':')[0]}: computed in the storage precision and rounded "
                      "once (lp.policy(unknown='round_once'))", LowprecWarning, stacklevel=4)
    return _wrap_all(cls, _round_outputs(raw, fmt, mode, dtype, False), fmt, mode)


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
    # one key per call, drawn first; weak operands round with keys derived from it (threads
    # under one seed cannot interleave two draws of one operation)
    key = call_key() if mode.is_stochastic else None

    def operand(x, i):
        if isinstance(x, LPTensor):
            return x.as_subclass(torch.Tensor)
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(x, dtype=torch.float64, device=device)
        if not x.dtype.is_floating_point:
            x = x.to(torch.float64)
        return _round(x.to(dtype) if x.dtype not in (torch.float32, torch.float64) else x, fmt, mode,
                      seed=None if key is None else derived_seed(key, i))

    pa = operand(a, 0)
    pb = operand(b, 1) if b is not None else None
    if alpha is not None and alpha != 1:  # a + alpha*b: the scaled operand is rounded first
        scaled = pb * (alpha.to(pb.dtype) if isinstance(alpha, torch.Tensor) else alpha)
        pb = _round(scaled, fmt, mode, seed=None if key is None else derived_seed(key, 2))
    x = pa.detach()
    y = pb.detach() if pb is not None else x
    if x.device != y.device:  # PyTorch's own error for tensors on two devices, else a 0-d CPU scalar
        torch.add(x.reshape(-1)[:1], y.reshape(-1)[:1])
        device = x.device if x.device.type != "cpu" else y.device
        x, y = x.to(device), y.to(device)
    if x.dtype != y.dtype:
        x, y = x.to(torch.float64), y.to(torch.float64)
    x, y = torch.broadcast_tensors(x, y)
    params_for(fmt, True, dtype)  # a clear error when the format does not fit the storage
    value = elementwise(op, x, y, fmt, mode, on_grid=True, key=key).to(dtype)  # operands rounded above
    if _needs_grad(raw_inputs):
        exact = {ADD: torch.add, SUBTRACT: torch.sub, MULTIPLY: torch.mul, DIVIDE: torch.div}
        raw = torch.sqrt(pa) if op == SQRT else exact[op](pa, pb)
        value = _Replace.apply(raw.to(dtype), value, _GRAD.get())
    return _wrap(cls, value, fmt, mode)


# ------------------------------------------------------------------ accumulation models

def _plain(x):
    return x.as_subclass(torch.Tensor) if isinstance(x, LPTensor) else x


def _f64(x: torch.Tensor) -> torch.Tensor:
    return _plain(x).detach().to(torch.float64)


def _matmul(a, b, fmt, mode):
    return _accumulate.matmul(_f64(a), _f64(b), fmt, mode)


def _add_bias(y, bias, fmt, mode, shape):
    if bias is None:
        return y
    b64 = _f64(bias).reshape(shape)
    y, b64 = torch.broadcast_tensors(y, b64)
    return elementwise(ADD, y.contiguous(), b64.contiguous(), fmt, mode)


def _linear(fmt, mode, input, weight, bias=None):
    return _add_bias(_matmul(input, _plain(weight).t(), fmt, mode), bias, fmt, mode, (-1,))


def _conv(fmt, mode, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    y = _accumulate.conv(_f64(input), _f64(weight), stride, padding, dilation, groups, fmt, mode)
    nd = weight.dim() - 2
    return _add_bias(y, bias, fmt, mode, (-1,) + (1,) * nd)


def _sum(fmt, mode, input, dim=None, keepdim=False, *, dtype=None, axis=None):
    dim = axis if axis is not None else dim  # torch's NumPy-style alias
    x = _f64(input)
    dims = list(range(x.dim())) if dim is None or (isinstance(dim, (tuple, list)) and not dim) else dim
    dims = sorted(_check_dim(d, x.dim()) for d in (dims if isinstance(dims, (tuple, list)) else [dims]))
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {dims} has a dimension that appears multiple times in the list of dims")
    if x.dim() == 0:
        return _accumulate.fold_sum(x.reshape(1, 1), fmt, mode).reshape(()), 1
    rest = [d for d in range(x.dim()) if d not in dims]
    moved = x.permute(*rest, *dims)
    count = int(np.prod([x.shape[d] for d in dims]))
    rows = int(np.prod([x.shape[d] for d in rest]))  # (-1 is ambiguous for empty tensors)
    total = _accumulate.fold_sum(moved.reshape(rows, count), fmt, mode).reshape([x.shape[d] for d in rest])
    if keepdim:
        total = total.reshape([1 if d in dims else x.shape[d] for d in range(x.dim())])
    return total, count


def _check_dim(d: int, ndim: int) -> int:
    """``d`` as a non-negative dimension, torch's IndexError when out of range (never a
    silent wrap-around); a 0-d tensor has the dimensions 0 and -1."""
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return d % n


def _mean(fmt, mode, input, dim=None, keepdim=False, *, dtype=None, axis=None):
    total, count = _sum(fmt, mode, input, dim, keepdim, dtype=dtype, axis=axis)
    n = torch.full_like(total, float(count))
    return elementwise(DIVIDE, total.contiguous(), n, fmt, mode)


def _op2(op, a, b, fmt, mode):
    a, b = torch.broadcast_tensors(_f64(a), _f64(b))
    return elementwise(op, a.contiguous(), b.contiguous(), fmt, mode)


def _scaled(y, factor, fmt, mode):
    """``factor * y`` rounded (the weak scalar rounded into the format first); ``y`` if 1."""
    if isinstance(factor, (int, float)) and factor == 1:
        return y
    f = _round(torch.full_like(y, float(factor)), fmt, mode)
    return _op2(MULTIPLY, f, y, fmt, mode)


def _rows_along(x, dim):
    """``x`` with ``dim`` moved last, as 2-D rows (``dim=None``: one row of everything)."""
    if dim is None:
        return x.reshape(1, -1), x.shape, None
    d = _check_dim(dim, x.dim())
    moved = x.movedim(d, -1) if x.dim() else x.reshape(1)
    return moved.reshape(-1, moved.shape[-1]), moved.shape, d


def _fold_along(op_add, keep, fmt, mode, input, dim=None, keepdim=False):
    """Sums or products along ``dim`` (running ones with ``keep``) under the accumulation
    model, by the NumPy side's :func:`lowprec.ndarray._accumulate.fold` (CPU tensors)."""
    from ..ndarray import _accumulate as np_accumulate
    x = _f64(input)
    if x.device.type != "cpu":
        raise UnsupportedOperationError("cumsum/prod/cumprod of an LPTensor are emulated on CPU tensors only: "
                                        "move it with .cpu() first.")
    rows, shape, d = _rows_along(x, dim)
    final, partials = np_accumulate.fold(op_add, rows.contiguous().numpy(), fmt, mode, keep, accumulation_model())
    if keep:
        out = torch.from_numpy(partials).reshape(shape)
        return out.movedim(-1, d) if d is not None and x.dim() else out.reshape(x.shape)
    out = torch.from_numpy(final)
    if d is None:
        return out.reshape([1] * x.dim() if keepdim else [])
    out = out.reshape(shape[:-1])
    return out.unsqueeze(d) if keepdim else out


def _prod(fmt, mode, input, dim=None, keepdim=False, *, dtype=None):
    return _fold_along(False, False, fmt, mode, input, dim, keepdim)


def _cumulative(op_add):
    def impl(fmt, mode, input, dim, *, dtype=None):
        return _fold_along(op_add, True, fmt, mode, input, dim)
    return impl


def _nansum(fmt, mode, input, dim=None, keepdim=False, *, dtype=None):
    x = _f64(input)
    return _sum(fmt, mode, torch.where(torch.isnan(x), torch.zeros_like(x), x), dim, keepdim)[0]


def _inner(fmt, mode, a, b):
    a, b = _f64(a), _f64(b)
    if a.dim() == 0 or b.dim() == 0:
        return _op2(MULTIPLY, a, b, fmt, mode)
    k = a.shape[-1]
    out = _matmul(a.reshape(-1, k), b.reshape(-1, k).t(), fmt, mode)
    return out.reshape(a.shape[:-1] + b.shape[:-1])


def _outer(fmt, mode, a, b):
    return _op2(MULTIPLY, _f64(a).reshape(-1, 1), _f64(b).reshape(1, -1), fmt, mode)


def _tensordot(fmt, mode, a, b, dims=2, out=None):
    """The contraction as one matrix product (``np.tensordot``'s order, as ``LPFloat``)."""
    a, b = _f64(a), _f64(b)
    if isinstance(dims, int):
        da, db = list(range(a.dim() - dims, a.dim())), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    da = [_check_dim(d, a.dim()) for d in da]
    db = [_check_dim(d, b.dim()) for d in db]
    fa = [d for d in range(a.dim()) if d not in da]
    fb = [d for d in range(b.dim()) if d not in db]
    k = int(np.prod([a.shape[d] for d in da]))
    left = a.permute(*fa, *da).reshape(-1, k)
    right = b.permute(*db, *fb).reshape(k, -1)
    return _matmul(left, right, fmt, mode).reshape([a.shape[d] for d in fa] + [b.shape[d] for d in fb])


def _addmm_like(product):
    def impl(fmt, mode, input, m1, m2, *, beta=1, alpha=1):
        y = _scaled(product(_f64(m1), _f64(m2), fmt, mode), alpha, fmt, mode)
        if isinstance(beta, (int, float)) and beta == 0:  # torch: input ignored (NaN too)
            return y
        return _op2(ADD, _scaled(_f64(input).expand_as(y) if _f64(input).dim() else _f64(input), beta, fmt, mode),
                    y, fmt, mode)
    return impl


def _var(fmt, mode, input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``LPFloat``'s ``np.var``: the mean, each deviation and its square rounded, their
    sum under the model, one division by ``n - correction`` (torch's default 1)."""
    if isinstance(unbiased, bool) or unbiased is None:
        corr = correction if correction is not None else (0 if unbiased is False else 1)
    else:  # var(input, dim, ...) with dim passed where unbiased is
        raise UnsupportedOperationError("var/std on LPTensor: pass dim= and correction= as keywords.")
    x = _f64(input)
    m, count = _sum(fmt, mode, x, dim, True)
    m = _op2(DIVIDE, m, torch.full_like(m, float(count)), fmt, mode)
    dev = _op2(SUBTRACT, x, m, fmt, mode)
    total, count = _sum(fmt, mode, _op2(MULTIPLY, dev, dev, fmt, mode), dim, keepdim)
    n = _round(torch.full_like(total, float(max(count - corr, 0))), fmt, mode)
    return _op2(DIVIDE, total, n, fmt, mode)


def _std(fmt, mode, *args, **kwargs):
    v = _var(fmt, mode, *args, **kwargs)
    return elementwise(SQRT, v.contiguous(), v.contiguous(), fmt, mode)


def _norm(fmt, mode, input, p="fro", dim=None, keepdim=False, dtype=None):
    """The 2-norm (``p`` 2, ``"fro"`` or None): each square rounded, their sum under the
    model, one sqrt. Other orders raise."""
    if p not in ("fro", 2, 2.0, None):
        raise UnsupportedOperationError(f"norm of an LPTensor with p={p!r} has no emulation; the 2-norm has "
                                        "(p=2 or 'fro'), or compute it from emulated ops.")
    x = _f64(input)
    s = _sum(fmt, mode, _op2(MULTIPLY, x, x, fmt, mode), dim, keepdim)[0]
    return elementwise(SQRT, s.contiguous(), s.contiguous(), fmt, mode)


#: name -> f(fmt, mode, *args, **kwargs): float64 value under the accumulation model.
_EMULATED = {
    "prod": _prod,
    "cumsum": _cumulative(True),
    "cumprod": _cumulative(False),
    "nansum": _nansum,
    "vdot": lambda fmt, mode, a, b: _matmul(_f64(a).reshape(-1), _f64(b).reshape(-1), fmt, mode),
    "inner": _inner,
    "outer": _outer,
    "tensordot": _tensordot,
    "addmm": _addmm_like(lambda a, b, fmt, mode: _matmul(a, b, fmt, mode)),
    "addmv": _addmm_like(lambda a, b, fmt, mode: _matmul(a, b, fmt, mode)),
    "baddbmm": _addmm_like(lambda a, b, fmt, mode: _matmul(a, b, fmt, mode)),
    "var": _var,
    "std": _std,
    "norm": _norm,
    "matmul": lambda fmt, mode, a, b: _matmul(a, b, fmt, mode),
    "__matmul__": lambda fmt, mode, a, b: _matmul(a, b, fmt, mode),
    "__rmatmul__": lambda fmt, mode, a, b: _matmul(b, a, fmt, mode),
    "mm": lambda fmt, mode, a, b: _matmul(a, b, fmt, mode),
    "bmm": lambda fmt, mode, a, b: _matmul(a, b, fmt, mode),
    "mv": lambda fmt, mode, a, b: _matmul(a, b, fmt, mode),
    "dot": lambda fmt, mode, a, b: _matmul(a, b, fmt, mode),
    "linear": _linear,
    "conv1d": _conv,
    "conv2d": _conv,
    "conv3d": _conv,
    "sum": lambda fmt, mode, *a, **k: _sum(fmt, mode, *a, **k)[0],
    "mean": _mean,
}


def _emulated(cls, func, name, args, kwargs, fmt, mode, dtype):
    """An accumulating function under a model other than ``"exact"``; the gradient is
    the native (unrounded) function's, as everywhere (STE)."""
    impl = _EMULATED.get(name)
    if impl is None:
        raise UnsupportedOperationError(
            f"{name} on LPTensor has no emulation (under any accumulation model): computing it in "
            "float64 and rounding once would not be what any model says. Write it with emulated "
            "operations (matmul, sum, elementwise ops), or take .as_subclass(torch.Tensor) to leave "
            "the emulation knowingly."
        )
    if kwargs.get("dtype") is not None:
        raise UnsupportedOperationError(f"{name} on LPTensor: dtype= is not supported.")
    with torch.no_grad():
        value = impl(fmt, mode, *args, **kwargs).to(dtype)
    leaves, _ = tree_flatten((args, kwargs))
    if _needs_grad(leaves):
        plain_args, plain_kwargs = tree_map(_plain, (args, kwargs))
        raw = func(*plain_args, **plain_kwargs)
        value = _Replace.apply(raw.to(dtype), value.to(raw.device), _GRAD.get())
    return _wrap(cls, value, fmt, mode)


# ------------------------------------------------------------------ construction

def as_lp(x: Any, fmt="half", rmode=1, *, dtype: Optional[torch.dtype] = None,
          subnormal: Optional[bool] = None, seed: Optional[int] = None, rng=None,
          grad_format=None, grad_rmode=1) -> LPTensor:
    """Round a tensor (or anything ``torch.as_tensor`` takes) into ``fmt``: an LPTensor.

    Parameters
    ----------
    x : tensor or array_like
    fmt : str or FloatFormat
    rmode : int or str
        The rounding mode of this rounding and of every result computed from the tensor.
    dtype : torch.dtype, optional
        Storage; float32 and float64 tensors keep theirs, other dtypes become float64.
    subnormal : bool, optional
        Override the format's subnormal flag.
    seed, rng
        For stochastic modes, as in :func:`lowprec.chop` (``rng`` may be a ``torch.Generator``).
    grad_format : str or FloatFormat, optional
        Round the gradients flowing back through every operation on this tensor (and on
        its results) into this format, in mode ``grad_rmode``; by default they pass
        straight through (STE). Stochastic gradient modes draw from the global stream.

    Returns
    -------
    LPTensor
        Autograd flows through the rounding with the STE.
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
        out = _wrap(LPTensor, values, f, mode)
    if grad_format is not None:
        set_grad_format(out, grad_format, grad_rmode)
    return out


def set_grad_format(t: LPTensor, fmt, rmode=1) -> LPTensor:
    """Give ``t`` (in place) a gradient format: see :func:`as_lp`; ``fmt=None`` removes it.

    Returns ``t``. A leaf that requires grad also gets its accumulated ``.grad`` rounded.
    """
    if not isinstance(t, LPTensor):
        raise TypeError(f"set_grad_format takes an LPTensor, got {type(t).__name__}.")
    if fmt is None:
        t._lp_grad = None
        return t
    from ..ndarray._float import array_format

    gfmt, gmode = array_format(fmt, rmode, None)
    t._lp_grad = (gfmt, gmode)
    _hook_leaf(t)
    return t


__all__ = ["LPTensor", "as_lp", "elementwise", "set_grad_format", "CORRECTLY_ROUNDED"]
