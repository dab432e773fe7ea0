"""Exceptions and warnings raised by lowprec.

Every error says what was wrong and how to fix it. The classes inherit from the
built-in exception a NumPy user would expect (``ValueError`` for bad values,
``TypeError`` for bad types), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

import difflib
from typing import Iterable


class LowprecError(Exception):
    """Base class of every lowprec exception."""


class FormatError(LowprecError, ValueError):
    """An unknown or invalid number format, or one the storage dtype cannot hold."""


class RoundingModeError(LowprecError, ValueError):
    """An unknown rounding mode."""


class FormatRangeError(LowprecError, ValueError):
    """A value that the target format cannot represent under the chosen policy."""


class UnsupportedTypeError(LowprecError, TypeError):
    """An input type that cannot be rounded (object, string or boolean arrays, ...)."""


class FormatMismatchError(LowprecError, TypeError):
    """Operands whose formats or rounding modes cannot be combined implicitly."""


class UnsupportedOperationError(LowprecError, TypeError):
    """An operation that has no emulated implementation."""


class LowprecWarning(UserWarning):
    """Warnings issued by lowprec."""


def close_matches(word: str, choices: Iterable[str], n: int = 4) -> str:
    """Return a ``"did you mean ...?"`` phrase for ``word`` among ``choices``."""
    matches = difflib.get_close_matches(word.lower(), sorted(set(choices)), n=n, cutoff=0.5)
    if not matches:
        return ""
    return " Did you mean " + " or ".join(repr(m) for m in matches) + "?"
