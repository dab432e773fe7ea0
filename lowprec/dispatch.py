"""Open dispatch of :func:`lowprec.chop` on the input's type.

Backends register by the fully qualified name of a type (``"torch.Tensor"``), either
with a callable or lazily with a ``"module:function"`` string, so that registering
costs no import of the framework. The first match along the input type's MRO wins;
anything unregistered goes to the NumPy backend.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, Union

from .errors import UnsupportedTypeError

Handler = Callable[..., Any]

_BACKENDS: Dict[str, Union[Handler, str]] = {}

#: Array libraries whose objects must never fall through to NumPy (that would
#: silently return an ndarray for a tensor).
_FOREIGN_ROOTS = ("torch", "jax", "jaxlib", "dask", "tensorflow", "cupy")


def register_backend(type_name: Union[str, type], handler: Union[Handler, str]) -> None:
    """Make ``handler(x, spec, out)`` round inputs whose type is (or derives from) ``type_name``.

    Parameters
    ----------
    type_name : str or type
        A type, or its qualified name such as ``"torch.Tensor"`` (no import needed).
    handler : callable or str
        The function, or ``"package.module:function"`` to import on first use.
    """
    if isinstance(type_name, type):
        type_name = f"{type_name.__module__}.{type_name.__qualname__}"
    _BACKENDS[type_name] = handler


def find_backend(x: Any, default: Handler) -> Handler:
    """The handler registered for ``type(x)``, or ``default``."""
    for cls in type(x).__mro__:
        name = f"{cls.__module__}.{cls.__qualname__}"
        handler = _BACKENDS.get(name)
        if handler is None:
            continue
        if isinstance(handler, str):
            module, _, attr = handler.partition(":")
            handler = getattr(importlib.import_module(module), attr)
            _BACKENDS[name] = handler
        return handler
    root = type(x).__module__.split(".")[0]
    if root in _FOREIGN_ROOTS:
        raise UnsupportedTypeError(
            f"lowprec has no backend for {type(x).__module__}.{type(x).__qualname__} yet; "
            "convert to a NumPy array first (np.asarray(x))."
        )
    return default


# JAX arrays (the concrete type's name moved between jaxlib versions) and tracers
# inside jit/vmap/grad; registered by name, so importing lowprec never imports jax.
for _name in ("jaxlib._jax.ArrayImpl", "jaxlib.xla_extension.ArrayImpl", "jax._src.core.Tracer"):
    register_backend(_name, "lowprec.jax._chop:chop_jax")
del _name

# PyTorch tensors (and their subclasses: nn.Parameter, LPTensor), registered by name.
register_backend("torch.Tensor", "lowprec.torch._chop:chop_tensor")

# Dask arrays: rounded chunk by chunk, lazily.
register_backend("dask.array.core.Array", "lowprec._dask:chop_dask")
