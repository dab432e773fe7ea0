"""MATLAB chop's options and their persistence (the ``persistent fpopts`` of chop.m).

:class:`ChopState` holds what chop keeps between calls, ``fpopts`` (the options
struct) and the persistent ``t`` and ``emax``, and :meth:`ChopState.update`
transcribes chop.m's option handling statement by statement, including the order in
which it changes the persistent state and raises its errors: a call that fails
half-way leaves the state as chop would (chop's persistent variables keep what was
assigned before the error).
"""

from __future__ import annotations

import array
import numbers
from collections.abc import Mapping
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..errors import FormatError, LowprecError
from ..formats import FloatFormat, format as as_format

#: chop's built-in formats: name -> (t, emax).
BUILTIN_FORMATS: Dict[str, Tuple[int, int]] = {
    "q43": (4, 7), "fp8-e4m3": (4, 7),
    "q52": (3, 15), "fp8-e5m2": (3, 15),
    "h": (11, 15), "half": (11, 15), "fp16": (11, 15),
    "b": (8, 127), "bfloat16": (8, 127),
    "s": (24, 127), "single": (24, 127), "fp32": (24, 127),
    "d": (53, 1023), "double": (53, 1023), "fp64": (53, 1023),
}
CUSTOM_FORMATS = ("c", "custom")
#: Formats whose missing or empty ``subnormal`` defaults to 0.
NO_SUBNORMAL_DEFAULT = ("b", "bfloat16")

#: The fields of chop's options struct, in chop's order.
FIELDS = ("format", "subnormal", "round", "flip", "p", "explim", "randfunc", "params")

#: Largest |emax| accepted (chop has no limit; beyond this every double is in range).
EMAX_LIMIT = 1 << 20


class ChopOptionsError(LowprecError, ValueError):
    """An error that MATLAB chop raises for its options (same meaning, same moment)."""


class DefaultRandfunc:
    """chop's default ``randfunc``, ``@(n) rand(n, 1)``: uniform numbers in (0, 1).

    In lowprec it draws from the generator of the call (``rng=``) or of the
    :class:`~lowprec.matlab.Chop` instance (:func:`lowprec.matlab.seed`).
    """

    def __repr__(self) -> str:
        return "@(n) rand(n, 1)"

    def __eq__(self, other) -> bool:
        return isinstance(other, DefaultRandfunc)

    def __hash__(self) -> int:
        return hash(DefaultRandfunc)


DEFAULT_RANDFUNC = DefaultRandfunc()


# --------------------------------------------------------------------------- MATLAB values

def isempty(value: Any) -> bool:
    """MATLAB's ``isempty`` for what the Python interface hands over."""
    if value is None:
        return True
    if isinstance(value, (str, bytes)):
        return len(value) == 0
    if isinstance(value, np.ndarray):
        return value.size == 0
    if isinstance(value, memoryview):
        return value.nbytes == 0 if value.ndim else False
    if isinstance(value, (array.array, list, tuple)):
        return len(value) == 0
    return False


def scalar(value: Any, name: str) -> Any:
    """A MATLAB scalar option as a Python number (floats stay floats: ``round=1.0``)."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, numbers.Number) and not isinstance(value, complex):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (array.array, memoryview, list, tuple, np.ndarray)):
        arr = np.asarray(value)
        if arr.size == 1 and arr.dtype.kind in "biuf":
            return scalar(arr.reshape(-1)[0], name)
        raise ChopOptionsError(
            f"options.{name} must be a real scalar, got {arr.size} values (MATLAB chop fails on it too)."
        )
    if isinstance(value, (str, bytes)):
        return value  # compared like chop does: matches no numeric case
    raise ChopOptionsError(f"options.{name} must be a real scalar, got {type(value).__name__}.")


def format_name(value: Any) -> Any:
    """The ``format`` option as chop compares it (``ismember`` on a char vector)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.str_):
        return str(value)
    if isinstance(value, (str, FloatFormat)):
        return value
    raise ChopOptionsError(
        f"options.format must be a character vector such as 'h', got {type(value).__name__} "
        "(MATLAB chop's ismember fails on it too)."
    )


def params_list(value: Any) -> list:
    """``options.params`` as a list of Python numbers (chop reads its first two)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ChopOptionsError(f"options.params must be numeric [t, emax], got {value!r}.")
    vals = [v.item() for v in arr.reshape(-1)]
    if len(vals) < 2:
        raise ChopOptionsError(
            f"options.params must be [t, emax], got {len(vals)} value(s) (chop reads params(2))."
        )
    return vals


def _field(options: Mapping, name: str) -> Any:
    """``options.name`` if the field exists and is not empty, else None."""
    value = options.get(name) if isinstance(options, Mapping) else None
    return None if isempty(value) else value


def extra_format(fmt: Any) -> Optional[Tuple[int, int]]:
    """``(t, emax)`` of a lowprec format name that chop lacks (an IEEE-style binary
    format: infinities, IEEE NaNs and bias), or None."""
    try:
        f = fmt if isinstance(fmt, FloatFormat) else as_format(fmt)
    except (FormatError, TypeError, ValueError):
        return None
    if not isinstance(f, FloatFormat):
        return None
    ieee = FloatFormat(f.exp_bits, f.sig_bits)
    if (f.infs, f.high_nans, f.bias, f.negzero, f.signed) != (
        ieee.infs, ieee.high_nans, ieee.bias, ieee.negzero, ieee.signed
    ):
        return None
    return f.t, f.emax


# --------------------------------------------------------------------------- the state

class ChopState:
    """What MATLAB chop keeps between calls: ``fpopts``, ``t`` and ``emax``."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """``clear chop``: forget everything."""
        self.fpopts: Optional[Dict[str, Any]] = None
        self.t: Any = None
        self.emax: Any = None

    def snapshot(self) -> Dict[str, Any]:
        """A copy of ``fpopts`` (chop's second output)."""
        out = dict(self.fpopts or {})
        if isinstance(out.get("params"), list):
            out["params"] = list(out["params"])
        return out

    def update(self, nargin: int, options: Any, xclass: str) -> None:
        """chop.m's option handling for a call ``chop(x)`` (``nargin`` 1; 0 without
        ``x``) or ``chop(x, options)`` (``nargin`` 2). ``xclass`` is MATLAB's class of
        ``x`` (``'double'``, ``'single'``, ``'int8'``, ...), used by the custom
        precision check."""
        given = nargin == 2 and not isempty(options)
        if given and not isinstance(options, Mapping):
            raise ChopOptionsError(
                f"options must be a struct (a dict), got {type(options).__name__}."
            )
        reset = False
        if self.fpopts is None and not given:
            self.fpopts = {"format": "h", "subnormal": 1, "round": 1, "flip": 0, "p": 0.5,
                           "explim": 1, "randfunc": DEFAULT_RANDFUNC}
            reset = True
        elif given:
            fp = self.fpopts if self.fpopts is not None else {}
            self.fpopts = fp
            fmt = _field(options, "format")
            fp["format"] = "h" if fmt is None else fmt
            value = _field(options, "subnormal")
            if value is not None:
                fp["subnormal"] = scalar(value, "subnormal")
            else:
                fp["subnormal"] = 0 if format_name(fp["format"]) in NO_SUBNORMAL_DEFAULT else 1
            for name, default in (("round", 1), ("flip", 0), ("p", 0.5), ("explim", 1)):
                value = _field(options, name)
                fp[name] = default if value is None else scalar(value, name)
            value = _field(options, "randfunc")
            fp["randfunc"] = DEFAULT_RANDFUNC if value is None else value
            reset = True

        if reset:
            fp = self.fpopts
            fmt = format_name(fp["format"])
            if isinstance(fmt, str) and fmt in BUILTIN_FORMATS:
                t, emax = BUILTIN_FORMATS[fmt]
                fp["params"] = [t, emax]
            elif isinstance(fmt, str) and fmt in CUSTOM_FORMATS:
                if given:
                    value = _field(options, "params")
                    if value is not None:
                        new = params_list(value)
                        old = list(fp.get("params") or [])
                        old[:2] = new[:2]
                        fp["params"] = old
                        # chop: "Need p_2 >= 2p_1 + 2 to avoid double rounding problems
                        # in round-to-nearest."
                        if fp["round"] == 1:
                            maxfraction = {"single": 11, "double": 25}.get(xclass, 0)
                        else:
                            maxfraction = {"single": 23, "double": 52}.get(xclass, 0)
                        if fp["params"][0] > maxfraction:
                            raise ChopOptionsError(
                                f"Precision of the custom format must be at most {maxfraction} "
                                f"if working in {xclass}."
                            )
                elif not fp.get("params"):
                    raise ChopOptionsError("Must specify options.params with options.format = 'c'.")
                if not fp.get("params"):
                    # chop fails here with "Reference to non-existent field 'params'".
                    raise ChopOptionsError(
                        "Must specify options.params with options.format = 'c' "
                        "(there are no previous params to reuse)."
                    )
                t, emax = fp["params"][0], fp["params"][1]
            else:
                extra = extra_format(fmt)
                if extra is None:
                    raise FormatError(
                        f"Unrecognized format. ({fmt!r}; chop's formats are 'q43', 'fp8-e4m3', "
                        "'q52', 'fp8-e5m2', 'b', 'bfloat16', 'h', 'half', 'fp16', 's', 'single', "
                        "'fp32', 'd', 'double', 'fp64', 'c', 'custom'.)"
                    )
                t, emax = extra
                fp["params"] = [t, emax]
            self.t, self.emax = t, emax


def check_t_emax(t: Any, emax: Any) -> Tuple[int, int]:
    """The persistent ``t`` and ``emax`` as integers (lowprec refuses what would make
    chop compute garbage: non-integers, ``t < 1``, ``t > 53``, huge ``emax``)."""
    if t is None or emax is None:
        raise ChopOptionsError("Must specify options.params with options.format = 'c'.")
    try:
        tf, ef = float(t), float(emax)
    except (TypeError, ValueError):
        raise ChopOptionsError(f"params must be numbers [t, emax], got [{t!r}, {emax!r}].") from None
    if not (tf.is_integer() and ef.is_integer()):
        raise ChopOptionsError(f"params [t, emax] must be integers, got [{t!r}, {emax!r}].")
    if not 1 <= tf <= 53:
        raise ChopOptionsError(f"the precision t must lie in [1, 53], got {t!r}.")
    if abs(ef) > EMAX_LIMIT:
        raise ChopOptionsError(f"|emax| must be at most {EMAX_LIMIT}, got {emax!r}.")
    return int(tf), int(ef)
