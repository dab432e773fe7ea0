"""Accumulation models, chosen with ``with lp.accumulate(...)`` or per call.

Where each model rounds (every rounding is correctly rounded in the array's mode, in every
format, including ``t > 26`` and 11-bit exponents; NaN, infinities and signed zeros follow
IEEE 754):

* ``"sequential"`` (default): every product rounded, then every partial sum rounded, left
  to right: ``acc = round(x[0])`` (products: ``round(a[0]*b[0])``), ``acc = round(acc +
  round(a[k]*b[k]))``. The standard model of rounding error analysis.
* ``"pairwise"``: the (correctly rounded) products or the terms summed by a balanced tree
  pairing neighbours ``(0,1), (2,3), ...`` level by level, every node rounded.
* ``"fma"``: ``acc = round(a[0]*b[0])``, then each step ``acc = round(acc + a[k]*b[k])``
  rounded once with the exact product (sums: as ``"sequential"``).
* ``"exact"``: the exact real sum, dot product, matrix-product entry, ``cumsum`` partial or
  ``prod`` rounded once. Partial sums never overflow or underflow (only the final
  rounding sees the format's range); an exact zero sum is +0, except in round-down (-0
  unless every term is +0), and -0 when every term is -0; an empty sum is +0; NaN, or
  +inf with -inf, give NaN. Stochastic modes use the exact residual (one random word per
  result). A binary64 result (BLAS, ``np.sum``) is used only where its error bound
  provably fixes the rounding (:mod:`lowprec.rounding.certify`); otherwise an integer
  superaccumulator. ``prod`` is the exact product of the significands (an error beyond
  ``lowprec.ndarray._accumulate.EXACT_PROD_BITS`` significand bits in all); ``mean`` is
  the exact sum rounded, then divided by the count with a second correct rounding.
* a format (``"fp32"``, ``lp.format("single")``, ...): the ``"fma"`` steps (sums: the
  ``"sequential"`` steps) rounded in that wider format, the result rounded once into the
  operands' format, as tensor cores do.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator, Optional, Union

from .errors import LowprecError
from .formats import FloatFormat, format as as_format

MODELS = ("sequential", "pairwise", "fma", "exact")

_current: contextvars.ContextVar = contextvars.ContextVar("lowprec_accumulate", default="sequential")


def accumulation_model(model: Optional[Union[str, FloatFormat]] = None) -> Union[str, FloatFormat]:
    """Validate ``model`` (``None`` means the one in force)."""
    if model is None:
        return _current.get()
    if isinstance(model, str) and model.lower() in MODELS:
        return model.lower()
    try:
        fmt = as_format(model)
    except ValueError:
        raise LowprecError(
            f"unknown accumulation model {model!r}; use one of {MODELS} or a format such as 'fp32'."
        ) from None
    if not isinstance(fmt, FloatFormat):
        raise LowprecError(f"an accumulator format must be a float format, got {fmt}.")
    return fmt


@contextlib.contextmanager
def accumulate(model: Union[str, FloatFormat]) -> Iterator[None]:
    """Use ``model`` for every reduction and product in the block.

    Examples
    --------
    >>> import numpy as np, lowprec as lp
    >>> x = lp.asarray(np.ones(5000), "half")
    >>> float(np.sum(x).values), float(x.sum().values)
    (2048.0, 2048.0)
    >>> with lp.accumulate("exact"):
    ...     float(np.sum(x).values)
    5000.0
    """
    token = _current.set(accumulation_model(model))
    try:
        yield
    finally:
        _current.reset(token)


#: What happens to NumPy functions without an emulated implementation.
UNKNOWN = ("error", "round_once")

_unknown: contextvars.ContextVar = contextvars.ContextVar("lowprec_unknown", default="error")


def unknown_policy() -> str:
    """The rule for functions without an emulated implementation in force."""
    return _unknown.get()


@contextlib.contextmanager
def policy(*, unknown: Optional[str] = None,
           accumulate: Optional[Union[str, FloatFormat]] = None) -> Iterator[None]:
    """Set emulation rules for a block.

    Parameters
    ----------
    unknown : {"error", "round_once"}, optional
        For NumPy functions that have no emulated implementation: ``"error"`` (default)
        raises :class:`~lowprec.errors.UnsupportedOperationError`; ``"round_once"``
        computes them on the plain values in binary64, rounds the float results once
        into the operands' format and warns (:class:`~lowprec.errors.LowprecWarning`).
    accumulate : str or format, optional
        The accumulation model, as :func:`accumulate`.

    Examples
    --------
    >>> import numpy as np, lowprec as lp, warnings
    >>> x = lp.asarray([1.0, 2.0, 4.0], "half")
    >>> with lp.policy(unknown="round_once"), warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     float(np.interp(1.5, [1, 2], x[:2]).values)
    1.5
    """
    tokens = []
    if unknown is not None:
        if unknown not in UNKNOWN:
            raise LowprecError(f"unknown={unknown!r}: use one of {UNKNOWN}.")
        tokens.append((_unknown, _unknown.set(unknown)))
    if accumulate is not None:
        tokens.append((_current, _current.set(accumulation_model(accumulate))))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
