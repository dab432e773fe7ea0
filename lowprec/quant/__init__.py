"""Quantizers for fixed-point, integer and block formats, with ``lp.chop``'s guarantees.

* :func:`quantize_fixed` — onto the grid ``2**-frac_bits`` (any of the nine modes,
  overflow saturate/wrap/error); :func:`fixed_codes` gives the integer codes.
* :func:`quantize_int` — integer quantization (symmetric/asymmetric, per tensor or per
  channel, calibrated or given scale); :func:`int_codes` gives codes, scale and zero point.
* :func:`quantize_mx` / :func:`quantize_block` — OCP MX and block floating point along an
  axis; :func:`mx_encode` gives elements and shared exponents.

Each returns the same kind of object as its input (array, number, list), with the same
dtype and shape, and never modifies the input unless it is passed as ``out``.
"""

from .block import BlockQuant, mx_encode, quantize_block, quantize_mx
from .fixed import fixed_codes, quantize_fixed
from .integer import IntQuant, calibrate, int_codes, quantize_int

__all__ = [
    "BlockQuant", "IntQuant", "calibrate", "fixed_codes", "int_codes", "mx_encode", "quantize_block",
    "quantize_fixed", "quantize_int", "quantize_mx",
]
