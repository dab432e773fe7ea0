"""The PyTorch backend of :func:`lowprec.chop`.

The rounding is :func:`lowprec.rounding.array_api.round_array` driven through
:data:`TORCH_OPS`: the same whole-array code as every other backend, bit-identical to
the NumPy kernels. It runs on the tensor's device with no host round-trip.

Two drivers of the one rounding core
------------------------------------
* **CPU tensors** (float32/float64) are rounded by the numba kernels of the NumPy backend
  on zero-copy NumPy views of the tensor memory (:func:`lowprec.chop._round_contiguous`):
  the same code as ``lp.chop`` on arrays, the fastest path, and the same random stream.
* **Other devices** (CUDA, ...) run :func:`lowprec.rounding.array_api.round_array`
  through :data:`TORCH_OPS` on the device, with no host round-trip.

Random stream of the stochastic modes and of ``flip=True``
-----------------------------------------------------------
Each call has one 64-bit key (:func:`lowprec.random.next_key`: ``seed=``, ``rng=`` an int
or a NumPy generator, or the global ``lp.seed`` stream, exactly as for NumPy inputs);
``rng=`` a ``torch.Generator`` instead draws the key from that generator (which advances).
Every device then uses the numba kernels' counter-based stream: element ``i`` (C order)
gets ``SplitMix64(key + (i + 1) * golden)`` (:func:`lowprec.torch._ops.splitmix64`,
computed on the device), so a CPU tensor, a CUDA tensor and a NumPy array rounded with
the same seed give the same result, bit for bit, in every mode. The stochastic modes
use ``r62 = bits >> 2``; ``flip=True`` uses the stream of ``key ^ 0xD1B54A32D192ED03``,
flipping where ``(bits >> 11) * 2**-53 < p`` the significand bit
``((bits & 0xFFFFFFFF) * (t - 1)) >> 32``, as the kernels do.

Given the same ``r62`` integers, every backend makes the same decisions
(:func:`round_tensor` takes them explicitly).
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import numba
import numpy as np
import torch

from ..chop import _FLIP_STREAM, RoundSpec, _round_contiguous
from ..errors import FormatError, UnsupportedTypeError
from ..formats import FloatFormat
from ..random import next_key
from ..rounding.array_api import flip_array, round_array
from ..rounding.params import RoundingParams, rounding_params
from ._ops import TORCH_OPS, _shr, splitmix62, splitmix64

_NP_DTYPE = {torch.float64: np.dtype(np.float64), torch.float32: np.dtype(np.float32),
             torch.float16: np.dtype(np.float16)}


def params_for(fmt: FloatFormat, explim: bool, dtype: torch.dtype,
               subnormal: Optional[bool] = None) -> RoundingParams:
    """Rounding parameters of ``fmt`` held in a tensor of ``dtype``.

    float16 and bfloat16 tensors are rounded in float32; the format must fit their range
    and precision (else :class:`FormatError` says which dtype to use).
    """
    if dtype == torch.bfloat16:
        problems = []
        if fmt.t > 8:
            problems.append(f"precision t={fmt.t} > 8")
        if fmt.emax > 127:
            problems.append(f"emax={fmt.emax} > 127")
        if fmt.emin < -126:
            problems.append(f"emin={fmt.emin} < -126")
        if problems:
            raise FormatError(
                f"format {fmt.label} does not fit in bfloat16 storage ({', '.join(problems)}); "
                "use a float32 or float64 tensor, e.g. x.to(torch.float32)."
            )
        if subnormal is None:
            subnormal = fmt.subnormal
        if not explim:  # bfloat16's own range: float32's exponents, 8 bits of precision
            big = float(np.ldexp(2.0 - 2.0 ** (1 - fmt.t), 127))
            return RoundingParams(fmt.t, -126 - 7 + fmt.t - 1, True, big, np.inf, np.inf, True, True)
        return rounding_params(fmt, True, np.dtype(np.float32), subnormal)
    np_dtype = _NP_DTYPE.get(dtype)
    if np_dtype is None:
        raise UnsupportedTypeError(f"no rounding kernel for {dtype}; use float32 or float64 tensors.")
    try:
        return rounding_params(fmt, explim, np_dtype, subnormal)
    except FormatError as err:
        wider = {torch.float16: "torch.float32", torch.float32: "torch.float64"}.get(dtype)
        if wider is None:
            raise
        raise FormatError(
            f"format {fmt.label} does not fit in {dtype} storage: {err.args[0].split('(')[1].split(')')[0]}; "
            f"use a {wider} tensor, e.g. x.to({wider})."
        ) from None


def call_key(spec: Optional[RoundSpec] = None, generator=None) -> int:
    """The 64-bit key of one random call (see the module docstring), as a Python int."""
    rng = generator if generator is not None else (spec.rng if spec is not None else None)
    if isinstance(rng, torch.Generator):
        return int(torch.randint(0, 2**62, (), generator=rng, device=rng.device).item())
    return int(next_key(spec.seed if spec is not None else None, rng))


def random62(shape, device, spec: Optional[RoundSpec] = None, generator=None) -> torch.Tensor:
    """62-bit random integers of the call's stream (see the module docstring), on ``device``."""
    n = int(np.prod(tuple(shape), dtype=np.int64))
    return splitmix62(call_key(spec, generator), n, device).reshape(tuple(shape))


def round_tensor(x: torch.Tensor, params: RoundingParams, mode, r62: Optional[torch.Tensor] = None
                 ) -> torch.Tensor:
    """Round a float32/float64/float16/bfloat16 tensor (no autograd, never in place).

    float16 and bfloat16 are rounded in float32 and cast back (exact: ``params`` come
    from :func:`params_for`, which checks that the format fits).
    """
    if x.dtype in (torch.float16, torch.bfloat16):
        return round_array(x.to(torch.float32), params, mode, r62, ops=TORCH_OPS).to(x.dtype)
    return round_array(x, params, mode, r62, ops=TORCH_OPS)


def round_like_spec(x: torch.Tensor, spec: RoundSpec, generator=None, device_ops: bool = False
                    ) -> torch.Tensor:
    """Round ``x`` as ``spec`` says (real floating tensors; no autograd, never in place).

    ``generator`` (a ``torch.Generator``) overrides the random source of ``spec``;
    ``device_ops=True`` takes the whole-tensor path (of non-CPU devices) on the CPU too.
    """
    params = params_for(spec.fmt, spec.explim, x.dtype, spec.subnormal)
    if spec.needs_key() and (generator is not None or isinstance(spec.rng, torch.Generator)):
        spec = spec._replace(seed=None, rng=call_key(spec, generator))
    if x.device.type == "cpu" and not device_ops:
        return _round_cpu(x, spec, params)
    key = int(spec.key())
    n = x.numel()
    r62 = splitmix62(key, n, x.device).reshape(x.shape) if spec.mode.is_stochastic else None
    result = round_tensor(x, params, spec.mode, r62)
    if spec.flip:
        result = _flip(result, spec, params, key)
    return result


def _round_cpu(x: torch.Tensor, spec: RoundSpec, params: RoundingParams) -> torch.Tensor:
    """The numba kernels on NumPy views of CPU tensor memory (no copy of the input)."""
    low = x.dtype in (torch.float16, torch.bfloat16)
    src = (x.to(torch.float32) if low else x).detach().contiguous()
    out = torch.empty_like(src, memory_format=torch.contiguous_format)
    if src.numel():
        with serial_if_small(src.numel()):
            _round_contiguous(src.numpy(), out.numpy(), spec, params, _NP_DTYPE[src.dtype])
    return out.to(x.dtype) if low else out


#: Below this many elements the numba kernels run on the calling thread: starting the
#: parallel region costs more than the work (milliseconds on a loaded machine).
SERIAL_BELOW = 1 << 15


@contextlib.contextmanager
def serial_if_small(n: int) -> Iterator[None]:
    """Run the numba kernels in the block on one thread when ``n`` is small (numba's
    thread count is per calling thread, so other threads are unaffected)."""
    if n >= SERIAL_BELOW:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _flip(v: torch.Tensor, spec: RoundSpec, params: RoundingParams, key: int) -> torch.Tensor:
    """Soft errors off the CPU (:func:`lowprec.rounding.array_api.flip_array`), drawing
    from the kernels' flip stream (see the module docstring)."""
    low = v.dtype in (torch.float16, torch.bfloat16)
    work = v.to(torch.float32) if low else v
    bits = splitmix64(key ^ int(_FLIP_STREAM), work.numel(), v.device).reshape(work.shape)
    hit = _shr(bits, 11).to(torch.float64) * 2.0**-53 < spec.p
    bit = ((bits & 0xFFFFFFFF) * max(params.t - 1, 0)) >> 32
    out = flip_array(work, params, spec.fmt.has_nan, hit, bit, ops=TORCH_OPS)
    return out.to(v.dtype) if low else out


class _RoundSTE(torch.autograd.Function):
    """Rounding in the forward pass, the identity (straight-through) in the backward."""

    @staticmethod
    def forward(ctx, x, spec):
        return round_like_spec(x.detach(), spec)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def _result_dtype(x: torch.Tensor) -> torch.dtype:
    if x.dtype == torch.bool:
        raise UnsupportedTypeError("cannot round a boolean tensor; convert it to float first (x.float()).")
    if x.dtype.is_complex:
        return x.dtype
    if x.dtype.is_floating_point:
        return x.dtype
    return torch.float64  # integers become float64, as for NumPy input


def chop_tensor(x: torch.Tensor, spec: RoundSpec, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``lp.chop`` for torch tensors: same dtype, shape and device out, input untouched.

    Integer tensors are converted to float64 (as NumPy integer arrays are); complex
    tensors have their real and imaginary parts rounded separately; boolean tensors are
    an error. With ``requires_grad`` inputs the rounding is differentiable with the
    straight-through estimator. ``flip=True`` injects soft errors as for NumPy inputs.
    """
    if isinstance(spec.rng, torch.Generator) and spec.rng.device.type != x.device.type:
        raise ValueError(f"rng is a generator on {spec.rng.device}, the tensor is on {x.device}.")
    dtype = _result_dtype(x)
    if x.__class__ is not torch.Tensor:  # subclasses (LPTensor) round their plain storage
        x = x.as_subclass(torch.Tensor)
    src = x if x.dtype == dtype else x.to(dtype)
    if dtype.is_complex:
        real = torch.view_as_real(src.resolve_conj())
        result = torch.view_as_complex(_round_real(real, spec).contiguous())
    else:
        result = _round_real(src, spec)
    if out is None:
        return result
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"out must be a torch.Tensor, got {type(out).__name__}.")
    if out.shape != result.shape:
        raise ValueError(f"out has shape {tuple(out.shape)}, the result has shape {tuple(result.shape)}.")
    if out.dtype != result.dtype:
        raise TypeError(f"out has dtype {out.dtype}, the result has dtype {result.dtype}; they must match.")
    with torch.no_grad():
        out.copy_(result)
    return out


def _round_real(x: torch.Tensor, spec: RoundSpec) -> torch.Tensor:
    if x.requires_grad and torch.is_grad_enabled():
        return _RoundSTE.apply(x, spec)
    return round_like_spec(x, spec)


__all__ = ["call_key", "chop_tensor", "params_for", "random62", "round_tensor", "round_like_spec"]
