"""MATLAB compatibility: a drop-in, bit-compatible replacement for Higham's ``chop``.

>>> import lowprec.matlab as lpm
>>> lpm.clear()
>>> lpm.chop([0.1, -2.0**-26], {"format": "h"})      # chop's +0 for a tiny negative
array([0.09997559, 0.        ])

* :func:`chop` — ``chop(x, options)`` with MATLAB chop's options, persistence,
  results (quirks included) and errors;
* :func:`clear`, :func:`get_options`, :func:`seed` — ``clear chop``,
  ``[~, options] = chop``, ``rng(seed)`` for the default random numbers;
* :class:`Chop` — an independent chop with its own persistent options;
* :func:`mfiles_dir` — the folder of the MATLAB files (``lpchop.m``,
  ``lpchop_setup.m``) to put on MATLAB's path; :func:`mex` is their entry point.

``lowprec.chop`` stays exactly IEEE-correct; everything chop does differently lives
here and is listed in ``docs/matlab.md`` ("Differences between lp.chop and MATLAB
chop").
"""

from __future__ import annotations

import array
import os
from typing import Any, Optional

import numpy as np

from ..errors import UnsupportedTypeError
from ._chop import Chop, _parse_shape, chop, clear, get_options, seed
from ._options import DEFAULT_RANDFUNC, ChopOptionsError, DefaultRandfunc


def mfiles_dir() -> str:
    """The folder holding ``lpchop.m`` and ``lpchop_setup.m`` (add it to MATLAB's path)."""
    return os.path.dirname(os.path.abspath(__file__))


def _matlab_value(value: Any) -> Any:
    """An option value in a form MATLAB converts easily (floats, str, array('d'))."""
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, list):
        return array.array("d", [float(v) for v in value])
    return value


def _matlab_options(fpopts: dict) -> dict:
    return {k: _matlab_value(v) for k, v in fpopts.items() if k != "randfunc"}


def mex(x: Any = None, options: Any = None, shape: Any = None, draws: Any = None,
        xclass: Optional[str] = None) -> dict:
    """The entry point of ``lpchop.m`` (MATLAB's side of the bridge; not for direct use).

    ``x`` is the data as a flat column-major buffer with its ``shape``; ``xclass`` is
    MATLAB's ``class(x)``: for a class other than ``'double'`` and ``'single'`` MATLAB
    passes no data, the options are processed as chop does (the custom precision
    check sees the class), and a non-empty input then fails as in chop. Returns a dict:

    * ``kind='result'``: ``c`` is the result as a flat ``array.array`` in column-major
      order (``'f'`` for single), ``options`` the options in force (without
      ``randfunc``, which lives on MATLAB's side);
    * ``kind='draws'``: chop needs random numbers (modes 5-6 or ``flip``). ``counts``
      is ``[n1, m1, n2, m2]``, randfunc's draws and the sizes of the normal and
      subnormal subsets: MATLAB draws in chop's order and calls again with
      ``options=None`` and ``draws`` (keys ``sr1 u1 b1 sr2 u2 b2``).
    """
    if xclass is not None:
        xclass = str(xclass)
    if xclass not in (None, "double", "single"):
        n = int(np.prod(_parse_shape(shape))) if shape is not None else 0
        _, fpopts, _ = _default._call(np.empty(0), options, None, None, None, plan=True, xclass=xclass)
        if n:
            raise UnsupportedTypeError(
                f"chop takes single or double input, got {xclass}: MATLAB's chop fails on "
                f"{xclass} input (log2 and pow2 take floating-point arguments). Convert first, "
                "e.g. lpchop(double(x))."
            )
        return {"kind": "result", "options": _matlab_options(fpopts),
                "c": array.array("d")}
    if draws is None:
        _, fpopts, plan = _default._call(x, options, shape, None, None, plan=True)
        if plan is not None:
            (n1, m1, n2, m2), d = plan
            return {"kind": "draws", "options": _matlab_options(fpopts),
                    "counts": array.array("d", [n1, m1, n2, m2]),
                    "round": float(d.mode), "flip": float(d.flip), "p": float(d.p), "t": float(d.t)}
        options = None  # committed: the rounding below reuses them
    result, fpopts, _ = _default._call(x, options, shape, None, draws, plan=False)
    flat = np.ravel(np.asarray(result), order="F")
    code = "f" if flat.dtype == np.float32 else "d"
    return {"kind": "result", "options": _matlab_options(fpopts),
            "c": array.array(code, flat.astype(code, copy=False).tobytes())}


from ._chop import _default  # noqa: E402  (the instance behind chop and mex)

__all__ = [
    "Chop", "ChopOptionsError", "DEFAULT_RANDFUNC", "DefaultRandfunc", "chop", "clear",
    "get_options", "mex", "mfiles_dir", "seed",
]
