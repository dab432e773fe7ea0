"""PyTorch backend: ``lp.chop`` on tensors and the emulated :class:`LPTensor`.

Importing this module imports torch; ``import lowprec`` alone never does (the chop
backend is registered by name in :mod:`lowprec.dispatch`).
"""

from ._chop import chop_tensor, params_for, random62, round_tensor
from ._ops import TORCH_OPS
from ._params import Parameter, quantize_parameters
from ._tensor import CORRECTLY_ROUNDED, LPTensor, as_lp, elementwise, set_grad_format

__all__ = ["CORRECTLY_ROUNDED", "LPTensor", "Parameter", "TORCH_OPS", "as_lp", "chop_tensor", "elementwise",
           "params_for", "quantize_parameters", "random62", "round_tensor", "set_grad_format"]
