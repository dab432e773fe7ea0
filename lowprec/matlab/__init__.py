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

from ._chop import Chop, chop, clear, get_options, seed
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


def mex(x: Any = None, options: Any = None, shape: Any = None, draws: Any = None) -> dict:
    """The entry point of ``lpchop.m`` (MATLAB's side of the bridge).

    Processes ``options`` as ``chop(x, options)`` does and returns a dict:

    * ``kind='result'``: ``c`` is the result as a flat ``array.array`` in
      column-major order (``'f'`` for single input), ``options`` the options in
      force (without ``randfunc``, which lives on MATLAB's side);
    * ``kind='draws'``: chop needs random numbers (modes 5-6 or ``flip``); ``counts``
      is ``[n1, m1, n2, m2]``: randfunc's draws and the sizes of the normal and
      subnormal subsets, so that MATLAB draws them in chop's order and calls again
      with ``options=None`` and ``draws``.
    """
    nargin_x = x if x is not None else None
    if draws is None:
        _, fpopts, plan = _default._call(nargin_x, options, shape, None, None, plan=True)
        if plan is not None:
            (n1, m1, n2, m2), d = plan
            return {"kind": "draws", "options": _matlab_options(fpopts),
                    "counts": array.array("d", [n1, m1, n2, m2]),
                    "round": float(d.mode), "flip": float(d.flip), "p": float(d.p), "t": float(d.t)}
        options = None  # committed: the rounding below reuses them
    result, fpopts, _ = _default._call(nargin_x, options, shape, None, draws, plan=False)
    arr = np.asarray(result)
    flat = np.ravel(arr, order="F")
    code = "f" if flat.dtype == np.float32 else "d"
    return {"kind": "result", "options": _matlab_options(fpopts),
            "c": array.array(code, flat.astype(code, copy=False).tobytes())}


from ._chop import _default  # noqa: E402  (the instance behind chop and mex)

__all__ = [
    "Chop", "ChopOptionsError", "DEFAULT_RANDFUNC", "DefaultRandfunc", "chop", "clear",
    "get_options", "mex", "mfiles_dir", "seed",
]
