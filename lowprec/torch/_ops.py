"""The :class:`lowprec.rounding.array_api.Ops` shim for PyTorch.

Everything stays on the tensor's device: bit casts are ``Tensor.view(dtype)`` of
same-width integer types, and ``ldexp`` is an exact multiplication by a power of two
built from its bit pattern (no ``torch.pow``, which is not exact for large negative
exponents, and no host round-trip).
"""

from __future__ import annotations

import torch

from ..rounding.array_api import Ops

#: float dtype -> (same-width integer dtype, stored significand bits, bias)
_LAYOUT = {
    torch.float64: (torch.int64, 52, 1023),
    torch.float32: (torch.int32, 23, 127),
}


def _pow2(k: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``2.0**k`` exactly, for integer ``k`` within the normal range of ``dtype``."""
    ints, sig, bias = _LAYOUT[dtype]
    k = k.to(ints).clamp(1 - bias, bias)
    return ((k + bias) << sig).view(dtype)


def ldexp(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``x * 2**k`` for integer ``k`` in the normal exponent range of ``x``'s dtype
    (``[-1022, 1023]`` for float64, ``[-126, 127]`` for float32): one multiplication by
    an exact power of two, so the result is rounded once (exact unless it underflows or
    overflows), as ``numpy.ldexp``. Callers split larger shifts (:func:`ldexp_wide`)."""
    return x * _pow2(k, x.dtype)


def ldexp_wide(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``x * 2**k`` for any integer ``k``, in three exact steps (see ``array_api``)."""
    _, _, bias = _LAYOUT[x.dtype]
    lim = 3 * (bias - 1)
    k = k.to(torch.int64).clamp(-lim, lim)
    k1 = torch.div(k, 3, rounding_mode="trunc")
    k2 = torch.div(k - k1, 2, rounding_mode="trunc")
    return ldexp(ldexp(ldexp(x, k1), k2), k - k1 - k2)


def _signed(c: int) -> int:
    return c - (1 << 64) if c >= 1 << 63 else c


_GOLDEN, _M1, _M2 = (_signed(c) for c in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB))


def _shr(z: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of int64 holding uint64 bits."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def splitmix64(key: int, n: int, device, offset: int = 0) -> torch.Tensor:
    """The numba kernels' counter-based stream (``_kernels.random_bits``): element ``i``
    gets SplitMix64 of ``key + (i + offset + 1) * golden``; uint64 bits in int64 (the
    arithmetic wraps modulo 2**64 as unsigned arithmetic does)."""
    i = torch.arange(offset + 1, offset + n + 1, dtype=torch.int64, device=device)
    z = i * _GOLDEN + _signed(int(key) & ((1 << 64) - 1))
    z = (z ^ _shr(z, 30)) * _M1
    z = (z ^ _shr(z, 27)) * _M2
    return z ^ _shr(z, 31)


def splitmix62(key: int, n: int, device, offset: int = 0) -> torch.Tensor:
    """62-bit random integers of the kernels' stream (``random_bits >> 2``)."""
    return _shr(splitmix64(key, n, device, offset), 2)


def _to_int(x: torch.Tensor) -> torch.Tensor:
    return x.view(_LAYOUT[x.dtype][0])


def _from_int(k: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The float tensor (``like``'s dtype) whose bits are the integers ``k``."""
    return k.to(_LAYOUT[like.dtype][0]).view(like.dtype)


def _fix_up(fast: torch.Tensor, values: torch.Tensor, x: torch.Tensor, r62, general) -> torch.Tensor:
    """``values`` where ``fast``, ``general`` of the other elements (gathered, so the
    general path runs on them alone). One host sync for the check; none of the data."""
    if bool(fast.all()):
        return values
    slow = torch.nonzero(~fast.reshape(-1)).squeeze(1)
    flat = values.reshape(-1)
    flat[slow] = general(x.reshape(-1)[slow], None if r62 is None else r62.reshape(-1)[slow])
    return flat.reshape(values.shape)


TORCH_OPS = Ops(
    where=torch.where,
    floor=torch.floor,
    ldexp=ldexp,
    to_int=_to_int,
    to_float_int=lambda k, like: k.to(like.dtype),
    float_to_int64=lambda x: x.to(torch.int64),
    bits=lambda x: x.element_size() * 8,
    from_int=_from_int,
    fix_up=_fix_up,
)

__all__ = ["TORCH_OPS", "ldexp", "ldexp_wide", "splitmix62", "splitmix64"]
