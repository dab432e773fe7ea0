"""Parameters in a format: ``nn.Parameter`` objects that are LPTensors and stay on their grid.

``p.data = lp.asarray(p.data, "bf16")`` cannot work for a plain parameter: ``p`` keeps its
class, so the values land on the grid but the format is lost (torch handles the assignment
to a plain tensor or parameter without asking LPTensor, so it cannot raise there). On an
LPTensor parameter the assigned values are rounded into its format. :func:`Parameter` makes a parameter that *is* an LPTensor (``isinstance(p,
nn.Parameter)`` holds, as for torch's own tensor subclasses), and
:func:`quantize_parameters` replaces a model's parameters by such ones. Every in-place
update of ``torch.optim`` (``add_``, ``addcdiv_``, ``lerp_``, ...) then rounds what it
stores into the format (:mod:`lowprec.torch._table`); state tensors that optimizers make
with ``zeros_like(p)`` are plain tensors of the storage precision.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch

from ._tensor import LPTensor, as_lp


def Parameter(data: torch.Tensor, fmt="half", rmode=1, *, requires_grad: bool = True,
              **options) -> LPTensor:
    """An ``nn.Parameter`` whose values are rounded into ``fmt`` and stay there.

    Parameters
    ----------
    data : torch.Tensor
        The values (rounded into ``fmt``; an LPTensor keeps its format unless ``fmt`` is given
        another).
    fmt, rmode
        The format and rounding mode (as for :func:`lowprec.asarray`).
    requires_grad : bool, default True
    **options
        Passed to :func:`lowprec.torch.as_lp` (``grad_format=``, ``seed=``, ...).

    Returns
    -------
    LPTensor
        A leaf that ``isinstance(p, torch.nn.Parameter)`` recognises: modules register it,
        ``model.parameters()`` yields it, ``state_dict()`` saves it with its format.
    """
    values = as_lp(data.detach(), fmt, rmode, **options)
    return torch.nn.Parameter(values, requires_grad=requires_grad)


def quantize_parameters(model: torch.nn.Module, fmt="half", rmode=1, *,
                        filter_fn: Optional[Callable[[str, torch.Tensor], bool]] = None,
                        **options) -> torch.nn.Module:
    """Replace (in place) the floating-point parameters of ``model`` by :func:`Parameter`
    objects in ``fmt``.

    Parameters
    ----------
    model : torch.nn.Module
    fmt, rmode
        The format and rounding mode of every parameter.
    filter_fn : callable, optional
        ``filter_fn(qualified_name, parameter)``: only parameters for which it is true.
    **options
        Passed to :func:`lowprec.torch.as_lp`.

    Returns
    -------
    torch.nn.Module
        ``model`` itself. Create the optimizer afterwards: it holds the parameter objects.
    """
    for module_name, module in model.named_modules():
        for name, p in list(module.named_parameters(recurse=False)):
            qualified = f"{module_name}.{name}" if module_name else name
            if p is None or not p.dtype.is_floating_point or (filter_fn is not None and not filter_fn(qualified, p)):
                continue
            setattr(module, name, Parameter(p, fmt, rmode, requires_grad=p.requires_grad, **options))
    return model
