"""Saving emulated arrays with their format: ``lp.save``, ``lp.savez``, ``lp.load``.

``np.save`` writes only an array's values, so an LPFloat, LPFixed or LPInt passed to
``np.save``/``np.savez``/``np.savez_compressed`` is an error that points here (the format
would be lost silently otherwise). These helpers write an ordinary ``.npz`` archive,
readable without pickle (``allow_pickle=False``): for each array its stored values,
a JSON description of its format and rounding mode, and for an LPInt its scale and zero
point. Plain arrays in the archive stay plain.

>>> import io, numpy as np, lowprec as lp
>>> f = io.BytesIO()
>>> lp.save(f, lp.asarray([0.1, 2.0], "bf16", "up"))
>>> _ = f.seek(0)
>>> lp.load(f)
LPFloat([0.10009766, 2.        ], format='bfloat16', rmode='up')
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, Union

import numpy as np

from .formats import FixedFormat, FloatFormat, IntFormat
from .rounding import RoundingMode

__all__ = ["load", "save", "savez"]

_KINDS = {"FloatFormat": FloatFormat, "FixedFormat": FixedFormat, "IntFormat": IntFormat}
_SINGLE = "arr_0"  # the name lp.save gives its one array (as np.savez does)


def _entries(name: str, a: Any) -> Dict[str, np.ndarray]:
    from .ndarray import LPArray, LPInt

    if not isinstance(a, LPArray):
        return {name: np.asarray(a)}
    fmt = a._require_format()
    meta = {"kind": type(fmt).__name__, "format": dataclasses.asdict(fmt), "rmode": int(a.rmode),
            "type": type(a).__name__}
    out = {f"{name}.values": a.values, f"{name}.lowprec": np.array(json.dumps(meta))}
    if isinstance(a, LPInt):
        scale, zero = a._params()
        out[f"{name}.scale"], out[f"{name}.zero_point"] = scale, zero
    return out


def savez(file: Union[str, os.PathLike, Any], *args: Any, compress: bool = False, **kwds: Any) -> None:
    """Save several arrays (emulated or plain) into one ``.npz`` archive, formats kept.

    Parameters
    ----------
    file : str, path or file object
        As for ``np.savez`` (``.npz`` is appended to a name without it).
    *args, **kwds
        Arrays; positional ones are named ``arr_0``, ``arr_1``, ... (as ``np.savez``).
    compress : bool, default False
        ``np.savez_compressed`` instead of ``np.savez``.
    """
    named = {f"arr_{i}": a for i, a in enumerate(args)}
    for k, v in kwds.items():
        if k in named:
            raise ValueError(f"lp.savez: cannot use the name {k!r} twice.")
        named[k] = v
    entries: Dict[str, np.ndarray] = {}
    for k, v in named.items():
        if "." in k:
            raise ValueError(f"lp.savez: array names may not contain '.', got {k!r}.")
        entries.update(_entries(k, v))
    (np.savez_compressed if compress else np.savez)(file, **entries)


def save(file: Union[str, os.PathLike, Any], arr: Any) -> None:
    """Save one array (emulated or plain) with its format and mode; read it back with
    :func:`load`. The file is an ``.npz`` archive (``.npz`` is appended to a name without it)."""
    savez(file, arr)


def _rebuild(z, name: str):
    from .ndarray import LPFixed, LPFloat, LPInt

    meta = json.loads(str(z[f"{name}.lowprec"][()]))
    try:
        fmt = _KINDS[meta["kind"]](**meta["format"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"lp.load: {name!r} has an unknown format description {meta!r}.") from err
    values, mode = z[f"{name}.values"], RoundingMode(meta["rmode"])
    if isinstance(fmt, IntFormat):
        return LPInt._wrap_q(values, fmt, mode, z[f"{name}.scale"], z[f"{name}.zero_point"])
    return (LPFixed if isinstance(fmt, FixedFormat) else LPFloat)._wrap(values, fmt, mode)


def load(file: Union[str, os.PathLike, Any]):
    """Read what :func:`save` or :func:`savez` wrote.

    Returns
    -------
    LPArray or ndarray, or dict
        The one array of :func:`save` (an archive with only ``arr_0``), else a dict of name
        to array. The stored values are taken as they are (they were values of the format).
    """
    with np.load(file, allow_pickle=False) as z:
        names = []
        for key in z.files:
            base = key.split(".")[0]
            if base not in names:
                names.append(base)
        result = {n: (_rebuild(z, n) if f"{n}.lowprec" in z.files else z[n]) for n in names}
    return result[_SINGLE] if list(result) == [_SINGLE] else result
