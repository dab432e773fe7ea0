"""``LPArray``: the ndarray subclass mechanics shared by LPFloat, LPFixed and LPInt.

The values live in an ordinary float array (the storage); ``.format`` and ``.rmode``
say which emulated format they belong to and how results are rounded. Everything that
could let a value escape emulation or enter it unrounded is handled here: scalar
indexing and iteration return 0-d arrays, every mutator rounds, pickling and copies
keep the format, and a plain ``arr.view(LPFloat)`` has no format until one is given.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..errors import FormatError, UnsupportedTypeError
from ..rounding import RoundingMode


class LPArray(np.ndarray):
    """Base class of the emulated ndarray types (not instantiated directly)."""

    _format: Any = None
    _rmode: RoundingMode = RoundingMode.NEAREST_EVEN
    __array_priority__ = 1000

    # -- construction --------------------------------------------------------------
    @classmethod
    def _wrap(cls, values: np.ndarray, fmt, rmode: RoundingMode) -> "LPArray":
        """View already rounded ``values`` as this class. The one place results are wrapped."""
        obj = np.asarray(values).view(cls)
        obj._format = fmt
        obj._rmode = rmode
        return obj

    def __array_finalize__(self, obj) -> None:
        if obj is None:
            return
        self._format = getattr(obj, "_format", None)
        self._rmode = getattr(obj, "_rmode", RoundingMode.NEAREST_EVEN)

    # -- metadata ------------------------------------------------------------------
    @property
    def format(self):
        """The emulated format of the values."""
        return self._format

    @property
    def rmode(self) -> RoundingMode:
        """The rounding mode of results computed from this array."""
        return self._rmode

    @property
    def values(self) -> np.ndarray:
        """The stored values as a plain ndarray view (leaves emulation explicitly)."""
        return self.view(np.ndarray)

    def _require_format(self):
        if self._format is None:
            raise FormatError(
                f"this {type(self).__name__} has no format (made by .view()); "
                "create it with lp.asarray(x, fmt)."
            )
        return self._format

    # -- rounding into this array's format -------------------------------------------
    def _round(self, values) -> np.ndarray:
        """``values`` rounded into this array's format and mode, as a plain array."""
        raise NotImplementedError

    # -- element access --------------------------------------------------------------
    def __getitem__(self, key):
        out = super().__getitem__(key)
        if not isinstance(out, np.ndarray):  # one element: stay emulated as a 0-d array
            return type(self)._wrap(np.asarray(out), self._format, self._rmode)
        return out

    def __setitem__(self, key, value) -> None:
        if isinstance(value, type(self)) and value._format == self._format:
            # already values of this format; `a[i:j] -= x` ends here with the very same view
            dest = self.values[key]
            if not (isinstance(dest, np.ndarray) and _same_view(dest, value)):
                self.values[key] = value.values
        else:
            self.values[key] = self._round(_plain(value))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def fill(self, value) -> None:
        self.values.fill(self._round(_plain(value))[()])

    def put(self, indices, values, mode="raise") -> None:
        self.values.put(indices, self._round(_plain(values)), mode=mode)

    def item(self, *args):
        """The element as a Python scalar: this leaves emulation (as ``float(a)`` does)."""
        return self.values.item(*args)

    # -- copies and pickling -----------------------------------------------------------
    def __reduce__(self):
        reconstruct, args, state = super().__reduce__()
        return reconstruct, args, (state, self._format, int(self._rmode))

    def __setstate__(self, state) -> None:
        nd_state, fmt, rmode = state
        super().__setstate__(nd_state)
        self._format = fmt
        self._rmode = RoundingMode(rmode)

    def __deepcopy__(self, memo):
        return self.copy()

    def __copy__(self):
        return self.copy()

    def astype(self, dtype, *args, **kwargs):
        """Change the storage dtype. Float storage that cannot hold the format exactly is an
        error; any other dtype leaves emulation (a plain ndarray)."""
        dtype = np.dtype(dtype)
        if dtype.kind == "f":
            from ..rounding.params import check_storage
            check_storage(self._require_format(), dtype if dtype.itemsize >= 4 else np.dtype(np.float32))
            return type(self)._wrap(self.values.astype(dtype, *args, **kwargs), self._format, self._rmode)
        return self.values.astype(dtype, *args, **kwargs)

    # -- display -------------------------------------------------------------------
    def __repr__(self) -> str:
        body = np.array2string(self.values, separator=", ", prefix=type(self).__name__ + "(")
        label = getattr(self._format, "label", None)
        return f"{type(self).__name__}({body}, format={label!r}, rmode={self._rmode.name.lower()!r})"

    def __str__(self) -> str:
        return str(self.values)

    def __format__(self, spec: str) -> str:
        return format(self.values[()] if self.ndim == 0 else self.values, spec) if spec else str(self)


def _plain(value) -> Any:
    """``value`` without its LP type (mutators round it into the destination's format)."""
    return value.values if isinstance(value, LPArray) else value


def format_of(x) -> Optional[Any]:
    return x._format if isinstance(x, LPArray) else None


def _same_view(a: np.ndarray, b: np.ndarray) -> bool:
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0] and a.strides == b.strides
            and a.shape == b.shape and a.dtype == b.dtype)


def foreign(objs) -> bool:
    """Whether another array type with its own ``__array_ufunc__`` (dask, ...) is among
    ``objs``: it then takes precedence (NEP 13)."""
    for x in objs:
        f = getattr(type(x), "__array_ufunc__", None)
        if f is not None and f is not np.ndarray.__array_ufunc__ and not isinstance(x, LPArray):
            return True
    return False


def plain_out(out):
    """A ufunc's ``out`` tuple with LP arrays replaced by their plain values."""
    return None if out is None else tuple(_plain(o) for o in out)


def check_real_data(a: np.ndarray, what: str) -> None:
    """Long double (and complex long double) data is refused by every emulated array type
    alike: converting it to binary64 first would round it twice, silently."""
    d = a.dtype
    if d.kind in "fc" and d.itemsize > (16 if d.kind == "c" else 8):
        raise UnsupportedTypeError(
            f"{what}: {d} (long double) has no exact rounding path; convert it explicitly, e.g. "
            "x.astype(np.float64) (one rounding you choose).")
    if isinstance(a, np.ma.MaskedArray):
        raise UnsupportedTypeError(
            f"{what}: a masked array would lose its mask; pass x.filled(value), or x.data and keep x.mask "
            "yourself (lp.chop rounds a masked array and keeps its mask).")
