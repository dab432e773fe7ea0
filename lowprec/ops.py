"""The op vocabulary: what an operation does to values, one meaning in every backend.

Each backend's table (NumPy's ufunc and function tables, LPTensor's
:mod:`lowprec.torch._table`) files every operation it knows under one of these categories,
and :func:`lowprec.semantics` answers with them. An operation no table lists raises
:class:`~lowprec.errors.UnsupportedOperationError` (opt-in: ``with
lp.policy(unknown="round_once"):``): computing it in working precision and rounding once
would be silent mis-emulation.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Optional

MOVES = "moves values"
CORRECTLY_ROUNDED = "correctly rounded"
ROUNDED = "rounded elementwise"
ACCUMULATING = "accumulating under the model"
COMPOSITE = "emulated composite"
STORES = "stores into the destination's format"
PLAIN_RESULT = "plain result"
UNSUPPORTED = "unsupported"

#: What each category promises, for :func:`lowprec.semantics` and the docs.
MEANING: Dict[str, str] = {
    MOVES: "keeps the format; the values are the operands' (shapes, indexing, max/min, abs, sorting)",
    CORRECTLY_ROUNDED: "the exact real result rounded once, in every mode (+ - * / sqrt)",
    ROUNDED: "operands in the format, computed in the storage precision, the result rounded once "
             "(exp, tanh, activations, ...)",
    ACCUMULATING: "every step under the accumulation model (lp.accumulate): sums, products, norms",
    COMPOSITE: "emulated step by step; its docstring says where it rounds",
    STORES: "the stored values rounded into the destination's format",
    PLAIN_RESULT: "the result is a plain value outside the emulation (comparisons, indices, counts, "
                  "metadata, new tensors made like an operand: zeros_like)",
    UNSUPPORTED: "raises UnsupportedOperationError; with lp.policy(unknown='round_once') computed in "
                 "the storage precision and rounded once, with a warning",
}

CATEGORIES = tuple(MEANING)


class OpTable:
    """Operations (callables) filed under one category each; filing one twice is an error."""

    def __init__(self, backend: str):
        self.backend = backend
        self._category: Dict[Any, str] = {}

    def register(self, category: str, funcs: Iterable[Callable]) -> None:
        if category not in MEANING:
            raise ValueError(f"unknown category {category!r}; use one of {CATEGORIES}.")
        for f in funcs:
            known = self._category.get(f)
            if known is not None and known != category:
                raise ValueError(f"{self.backend}: {_name(f)} is filed as {known!r} and as {category!r}.")
            self._category[f] = category

    def category(self, func: Callable) -> Optional[str]:
        """The category of ``func``, or None if the table does not list it."""
        try:
            return self._category.get(func)
        except TypeError:  # unhashable
            return None

    def __contains__(self, func) -> bool:
        return self.category(func) is not None

    def members(self, category: str):
        return [f for f, c in self._category.items() if c == category]


def _name(f) -> str:
    module = getattr(f, "__module__", None) or ""
    qual = getattr(f, "__qualname__", None) or getattr(f, "__name__", repr(f))
    return f"{module}.{qual}" if module else qual


def describe(func: Callable, category: Optional[str], prefix: str) -> str:
    """One line for :func:`lowprec.semantics`."""
    name = prefix + (getattr(func, "__name__", None) or repr(func))
    category = category or UNSUPPORTED
    return f"{name}: {category} ({MEANING[category]})"
