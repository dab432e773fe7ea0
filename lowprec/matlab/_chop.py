"""``lowprec.matlab.chop``: MATLAB chop, bit for bit, quirks included."""

from __future__ import annotations

import array
import math
import numbers
import threading
from collections.abc import Mapping
from typing import Any, NamedTuple, Optional, Tuple

import numpy as np

from ..errors import RoundingModeError, UnsupportedTypeError
from . import _kernels
from ._options import (
    DEFAULT_RANDFUNC,
    ChopOptionsError,
    ChopState,
    DefaultRandfunc,
    check_t_emax,
    isempty,
)

_NOARG = object()

#: Storage constants per dtype: (emin, sig_bits, emax, default NaN bits, quiet bit,
#: flintmax, integer view).
_STORAGE = {
    np.dtype(np.float64): (-1022, 52, 1023, 0x7FF8000000000000, 1 << 51, 2.0**53, np.int64),
    np.dtype(np.float32): (-126, 23, 127, 0x7FC00000, 1 << 22, 2.0**24, np.int32),
}

_MATLAB_CLASS = {
    "float64": "double", "float32": "single", "bool": "logical",
    "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64",
    "uint8": "uint8", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64",
}


def _pow2(k: int) -> float:
    """MATLAB's ``2^k`` in double: inf above the range, 0 below it."""
    if k > 1023:
        return math.inf
    if k < -1074:
        return 0.0
    return math.ldexp(1.0, k)


class Derived(NamedTuple):
    """chop's derived quantities, computed in double as chop computes them."""

    t: int
    emax: int
    emin: int
    emins: int
    xmin: float
    xmins: float
    xmax: float
    xbound: float
    min_rep: float
    half_rep: float
    mode: int
    explim: bool
    sub_zero: bool
    flip: bool
    p: float


def derive(fpopts: dict, t: Any, emax: Any) -> Derived:
    """The quantities of one rounding, from the options in force."""
    t, emax = check_t_emax(t, emax)
    mode = fpopts["round"]
    if isinstance(mode, bool) or not isinstance(mode, numbers.Real) or mode not in (1, 2, 3, 4, 5, 6):
        raise RoundingModeError(
            f"Unsupported value of options.round. (got {mode!r}; MATLAB chop's modes are 1-6; "
            "lp.chop has modes 7-9 too)"
        )
    emin = 1 - emax
    xmin = _pow2(emin)
    emins = emin + 1 - t
    xmins = _pow2(emins)
    xmax = _pow2(emax) * (2 - _pow2(1 - t))
    xbound = _pow2(emax) * (2 - (1 / 2) * _pow2(1 - t))
    sub_zero = fpopts["subnormal"] == 0
    min_rep = xmin if sub_zero else xmins
    flip = _truthy(fpopts["flip"], "flip")
    p = fpopts["p"]
    if flip and (isinstance(p, (str, bytes)) or not isinstance(p, numbers.Real)):
        raise ChopOptionsError(f"options.p must be a real number, got {p!r}.")
    return Derived(t, emax, emin, emins, xmin, xmins, xmax, xbound, min_rep, min_rep / 2,
                   int(mode), _truthy(fpopts["explim"], "explim"), bool(sub_zero), flip,
                   float(p) if flip else 0.5)


def _truthy(value: Any, name: str) -> bool:
    """MATLAB's ``if value`` for a scalar option."""
    if isinstance(value, (str, bytes)):
        return len(value) > 0 and all(ch != "\0" for ch in str(value))
    try:
        if value != value:
            raise ChopOptionsError(f"options.{name} is NaN (MATLAB: NaN's cannot be converted to logicals).")
        return bool(value != 0)
    except TypeError:
        raise ChopOptionsError(f"options.{name} must be a number, got {value!r}.") from None


# --------------------------------------------------------------------------- inputs

class _Input(NamedTuple):
    arr: Optional[np.ndarray]  # None: no input (nargin 0)
    kind: str  # how to give the result back: none, float, generic, ndarray, array
    typecode: str  # array.array typecode for kind "array"
    xclass: str  # MATLAB class of the input


def _as_input(x: Any, shape: Any) -> _Input:
    """Turn what MATLAB's Python interface (or a Python user) passes into an array."""
    if x is _NOARG or x is None:
        return _Input(None, "none", "", "double")
    typecode = ""
    if isinstance(x, (bool, np.bool_)):
        arr, kind = np.asarray(x), "generic"
    elif isinstance(x, float):
        arr, kind = np.asarray(x, dtype=np.float64), "float"
    elif isinstance(x, (int, complex)):
        arr, kind = np.asarray(x), "float"
    elif isinstance(x, np.generic):
        arr, kind = np.asarray(x), "generic"
    elif isinstance(x, np.ndarray):
        arr, kind = x, "ndarray"
    elif isinstance(x, array.array):
        if x.typecode in "uw":
            raise UnsupportedTypeError("chop takes numbers, got an array.array of characters.")
        arr, kind, typecode = np.asarray(x), "array", x.typecode
    elif isinstance(x, (str, bytes)):
        raise UnsupportedTypeError(
            f"chop takes a single or double array, got {type(x).__name__} {x!r}."
        )
    else:  # memoryview, nested lists, tuples, anything with __array__
        try:
            arr = np.asarray(x)
        except (ValueError, TypeError) as err:
            raise UnsupportedTypeError(f"cannot turn {type(x).__name__} into an array: {err}") from err
        kind = "ndarray"
    if arr.dtype.kind == "f" and not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype.kind in "OUSV":
        raise UnsupportedTypeError(
            f"chop takes a single or double array, got {type(x).__name__} with dtype {arr.dtype}."
        )
    if shape is not None:
        shape = _parse_shape(shape)
        if arr.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"shape={shape} needs {int(np.prod(shape))} values, the buffer has {arr.size}.")
        # MATLAB's reshape: column-major (a flat buffer, or a 1xN memoryview, as is).
        arr = np.ravel(arr, order="F").reshape(shape, order="F")
        kind = "ndarray"
    xclass = _MATLAB_CLASS.get(arr.dtype.name, arr.dtype.name)
    return _Input(arr, kind, typecode, xclass)


def _parse_shape(shape: Any) -> Tuple[int, ...]:
    if isinstance(shape, numbers.Number):
        shape = [shape]
    try:
        vals = [float(s) for s in np.asarray(shape).reshape(-1)]
    except (TypeError, ValueError):
        raise ValueError(f"shape must be a sequence of sizes, got {shape!r}.") from None
    if not all(v.is_integer() and v >= 0 for v in vals):
        raise ValueError(f"shape must hold non-negative integers, got {shape!r}.")
    return tuple(int(v) for v in vals)


def _check_class(inp: _Input) -> None:
    """chop's behaviour for inputs that are not single or double."""
    dt = inp.arr.dtype
    if dt.kind == "c":
        raise UnsupportedTypeError("Chop requires a real input array.")
    if dt in _STORAGE:
        return
    if dt.kind in "biu":
        what = "logical" if dt.kind == "b" else inp.xclass
        raise UnsupportedTypeError(
            f"chop takes single or double input, got {what}: MATLAB's chop fails on {what} "
            "input (log2 and pow2 take floating-point arguments). Convert first, e.g. "
            "double(x) in MATLAB or np.asarray(x, dtype=float) in Python."
        )
    raise UnsupportedTypeError(
        f"chop takes single or double input, got {dt}; convert it to float64 or float32."
    )


def _give_back(inp: _Input, result: np.ndarray) -> Any:
    if inp.kind == "float":
        return float(result[()])
    if inp.kind == "generic":
        return result[()]
    if inp.kind == "array" and result.ndim == 1:
        return array.array(inp.typecode, result.tobytes())
    return result


# --------------------------------------------------------------------------- randomness

class _Source:
    """Where the random numbers of one call come from, in chop's order: per subset
    (0: ``k_norm``, 1: ``k_sub``), ``randfunc(n)`` for stochastic rounding, then
    ``rand(m)`` and ``randi(t-1, k)`` for the bit flips."""

    def __init__(self, rng: np.random.Generator, randfunc: Any, draws: Optional[Mapping]):
        self.rng = rng
        self.randfunc = randfunc
        self.draws = draws
        self.offset = 0

    def _given(self, name: str, n: int, integer: bool = False) -> np.ndarray:
        value = self.draws.get(name) if self.draws is not None else None
        arr = np.zeros(0) if isempty(value) else np.asarray(value, dtype=np.float64).reshape(-1)
        if arr.size != n:
            raise ValueError(f"draws[{name!r}] must hold {n} numbers, got {arr.size}.")
        if integer and not np.all(arr == np.round(arr)):
            raise ValueError(f"draws[{name!r}] must hold integers.")
        return arr

    def sr(self, n: int, subset: int) -> np.ndarray:
        if self.draws is not None:
            value = self.draws.get(f"sr{subset + 1}")
            if not isempty(value) and np.size(value) == 1:  # a constant, as rnd <= vals allows
                return np.full(n, float(np.asarray(value, dtype=np.float64).reshape(-1)[0]))
            return self._given(f"sr{subset + 1}", n)
        f = self.randfunc
        if isinstance(f, DefaultRandfunc):
            return self.rng.random(n)
        if callable(f):
            out = np.asarray(f(n), dtype=np.float64).reshape(-1)
        elif isinstance(f, numbers.Real) and not isinstance(f, bool):
            out = np.full(1, float(f))
        else:  # a sequence of numbers: consumed in order, from its start at each call
            seq = np.asarray(f, dtype=np.float64).reshape(-1)
            if seq.size == 1:
                out = seq
            else:
                if self.offset + n > seq.size:
                    raise ValueError(
                        f"options.randfunc holds {seq.size} numbers; this call needs "
                        f"{self.offset + n} (chop draws one per inexact element)."
                    )
                out = seq[self.offset:self.offset + n]
                self.offset += n
        if out.size == 1 and n != 1:
            return np.broadcast_to(out, (n,))
        if out.size != n:
            raise ValueError(
                f"options.randfunc({n}) returned {out.size} numbers; chop needs {n} (or 1)."
            )
        return out

    def uniform(self, m: int, subset: int) -> np.ndarray:
        if self.draws is not None:
            return self._given(f"u{subset + 1}", m)
        return self.rng.random(m)

    def randi(self, imax: int, k: int, subset: int) -> np.ndarray:
        if self.draws is not None:
            b = self._given(f"b{subset + 1}", k, integer=True)
            if b.size and (b.min() < 1 or b.max() > imax):
                raise ValueError(f"draws['b{subset + 1}'] must lie in 1..{imax}.")
            return b.astype(np.int64)
        if imax < 1:
            raise ValueError("randi(t-1) with t = 1: MATLAB chop cannot flip a bit of a 1-bit significand.")
        return self.rng.integers(1, imax + 1, size=k, dtype=np.int64)


def _generator(rng: Any, default: np.random.Generator) -> np.random.Generator:
    if rng is None:
        return default
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator or a non-negative int seed, got {rng!r}.")


# --------------------------------------------------------------------------- rounding

def _regular_bounds(d: Derived, dtype: np.dtype) -> Tuple[int, int]:
    """Storage magnitude bits ``[lo, hi]`` of the "regular" inputs: normal storage
    numbers for which chop's result is the plain t-bit rounding (explim on: between
    the format's ``xmin`` and ``xmax``; off: below the largest t-bit storage value)."""
    semin, ssig, semax, *_, ints = _STORAGE[dtype]
    lo = math.ldexp(1.0, semin)
    hi = math.ldexp(2.0 - math.ldexp(1.0, 1 - d.t), semax)
    if d.explim:
        lo, hi = max(lo, d.xmin), min(hi, d.xmax)
    if not lo <= hi:
        return 1, 0  # no regular inputs
    bits = np.array([lo, hi], dtype=dtype).view(ints)
    return int(bits[0]), int(bits[1])


def _kernel_args(d: Derived):
    return (d.t, d.emin, d.emins, d.xmax, d.xbound, d.min_rep, d.half_rep, d.explim, d.sub_zero, d.mode)


def _zero_subset(d: Derived) -> int:
    """The subset of a zero input (chop's ``e`` of 0 is -1)."""
    return int(d.explim and -1 < d.emin and -1 >= d.emins)


def _round_fast(x: np.ndarray, d: Derived, rng: np.random.Generator) -> np.ndarray:
    """chop in one pass of :func:`_kernels.fused` (t at most the storage precision)."""
    if x.ndim > 1 and not x.flags.c_contiguous and x.flags.f_contiguous:
        return _round_fast(x.T, d, rng).T
    shape = x.shape
    x = np.ascontiguousarray(x)  # (1-D for a 0-d x)
    _, ssig, _, canon, qbit, flint, ints = _STORAGE[x.dtype]
    stochastic = d.mode in (5, 6)
    key = np.uint64(rng.integers(0, 2**64, dtype=np.uint64)) if stochastic else np.uint64(0)
    lo, hi = _regular_bounds(d, x.dtype)
    # The sign bit in the int64 the kernel reads (float64: -2**63, wrapping as the core's).
    sign_bit = np.int64(-(2**63)) if x.dtype == np.float64 else np.int64(2**31)
    c = np.empty_like(x)
    xf, cf = x.reshape(-1), c.reshape(-1)
    zero_flags = stochastic and not (d.explim and d.min_rep > 0)
    nzero = _kernels.fused(xf, xf.view(ints), cf, cf.view(ints), ssig - (d.t - 1), lo, hi, sign_bit,
                           *_kernel_args(d), key, canon, qbit, flint, zero_flags)
    if nzero:
        codes = np.empty(xf.size, np.int8)
        _kernels.classify(xf, codes, d.t, d.emin, d.emins, d.explim, True)
        in_sub = (codes & _kernels.SUB) != 0
        if _zero_subset(d) == 0:
            in_sub = ~in_sub
        if not np.any((codes[in_sub] & _kernels.NEEDS_RAND) != 0):
            _kernels.keep_negative_zeros(xf, xf.view(ints), cf)
    return c.reshape(shape)


def _round_general(x: np.ndarray, d: Derived, source: _Source, counts_only: bool = False):
    """chop's algorithm with explicit random numbers, in MATLAB's (column-major) order."""
    shape, dtype = x.shape, x.dtype
    flint = _STORAGE[dtype][5]
    # float32 is rounded in float64 (exact: see _kernels) and cast back at the end.
    with np.errstate(invalid="ignore"):  # signalling NaNs are quieted, as in MATLAB
        xf = np.ascontiguousarray(np.ravel(x, order="F"), dtype=np.float64)
    n = xf.size
    stochastic = d.mode in (5, 6)
    codes = np.empty(n, np.int8)
    _kernels.classify(xf, codes, d.t, d.emin, d.emins, d.explim, stochastic)
    in_sub = (codes & _kernels.SUB) != 0
    m_sub = int(np.count_nonzero(in_sub))
    need = (codes & _kernels.NEEDS_RAND) != 0
    n_sub = int(np.count_nonzero(need & in_sub))
    n_norm = int(np.count_nonzero(need)) - n_sub
    if counts_only:
        return n_norm, n - m_sub, n_sub, m_sub
    rnd = np.zeros(n)
    flipb = np.zeros(n, np.int64)
    for subset, members, m, nrand in ((0, ~in_sub, n - m_sub, n_norm), (1, in_sub, m_sub, n_sub)):
        if subset == 1 and m == 0:
            break  # chop calls roundit on k_sub only when it is non-empty
        if stochastic and nrand:
            rnd[need & members] = source.sr(nrand, subset)
        if d.flip:
            u = source.uniform(m, subset)
            picked = np.flatnonzero(members)[u <= d.p]
            if picked.size:
                flipb[picked] = source.randi(d.t - 1, picked.size, subset)
    _, _, _, canon, qbit, _, ints = _STORAGE[xf.dtype]
    cf = np.empty_like(xf)
    n_inf, n_big = _kernels.general(xf, xf.view(ints), cf, cf.view(ints), rnd, flipb,
                                    *_kernel_args(d), canon, qbit, flint, n_sub > 0, n_norm > 0)
    if n_inf:
        raise ValueError(
            "flip: a bit flip was drawn for an infinite or NaN element; MATLAB chop fails there "
            "too (bitxor: inputs must have integer values)."
        )
    if n_big:
        raise ValueError(
            f"flip: t = {d.t} bits exceed flintmax of {'single' if dtype == np.float32 else 'double'}"
            " input; MATLAB chop's bitxor fails there too."
        )
    if dtype != np.float64:
        with np.errstate(over="ignore"):  # a flipped 2**128 is inf in single, as in MATLAB
            cf = cf.astype(dtype)
    return cf.reshape(shape, order="F")


# --------------------------------------------------------------------------- the function

class Chop:
    """A MATLAB ``chop`` with its own persistent options (the module's :func:`chop`
    is one instance). Thread-safe: option updates and reads are atomic."""

    def __init__(self, seed: Optional[int] = None) -> None:
        self._lock = threading.RLock()
        self._state = ChopState()
        self._rng = np.random.default_rng(seed)

    def clear(self) -> None:
        """MATLAB's ``clear chop``: the next call starts from the defaults."""
        with self._lock:
            self._state.clear()

    def seed(self, seed: Optional[int] = None) -> None:
        """Fix (or with None re-randomize) the generator behind the default ``randfunc``
        and the bit flips, like MATLAB's ``rng(seed)``."""
        with self._lock:
            self._rng = np.random.default_rng(seed)

    def get_options(self) -> dict:
        """The options in force, as ``[~, options] = chop`` gives them (on a first
        call this sets the defaults, as chop does)."""
        return self(return_options=True)[1]

    def __call__(self, x: Any = _NOARG, options: Any = None, *, return_options: bool = False,
                 shape: Any = None, rng: Any = None, draws: Optional[Mapping] = None) -> Any:
        result, opts, _ = self._call(x, options, shape, rng, draws, plan=False)
        return (result, opts) if return_options else result

    def _call(self, x, options, shape, rng, draws, plan, xclass=None):
        inp = _as_input(x, shape)
        nargin = 0 if x is _NOARG else (1 if options is None else 2)
        if inp.arr is not None and inp.arr.dtype.kind == "c":
            _check_class(inp)  # chop's first statement: error('Chop requires a real input array.')
        with self._lock:
            self._state.update(nargin, options, xclass or inp.xclass)
            fpopts = self._state.snapshot()
            t, emax = self._state.t, self._state.emax
            generator = _generator(rng, self._rng)
        if inp.arr is None or inp.arr.size == 0:
            dtype = inp.arr.dtype if inp.arr is not None and inp.arr.dtype == np.float32 else np.float64
            shape_out = inp.arr.shape if inp.arr is not None else (0, 0)
            return np.empty(shape_out, dtype), fpopts, None
        _check_class(inp)
        d = derive(fpopts, t, emax)
        randfunc = fpopts.get("randfunc", DEFAULT_RANDFUNC)
        stochastic = d.mode in (5, 6)
        if plan:
            if not (stochastic or d.flip):
                return None, fpopts, None
            counts = _round_general(inp.arr, d, None, counts_only=True)
            return None, fpopts, (counts, d)
        storage_t = _STORAGE[inp.arr.dtype][1] + 1
        default_random = not stochastic or isinstance(randfunc, DefaultRandfunc)
        # t = 1 takes the general path: for t = 1 the core's integer fast path
        # (_kernels._fast_mag) reads the exponent's last bit as the parity of a tie,
        # so lp.chop(3.0, FloatFormat(3, 0)) gives 2 where its reference (and chop) give 4.
        if draws is None and default_random and not d.flip and 2 <= d.t <= storage_t:
            result = _round_fast(inp.arr, d, generator)
        else:
            result = _round_general(inp.arr, d, _Source(generator, randfunc, draws))
        return _give_back(inp, result), fpopts, None


#: The module's chop (the one MATLAB's ``py.lowprec.matlab.chop`` calls).
_default = Chop()


def chop(x: Any = _NOARG, options: Any = None, *, return_options: bool = False, shape: Any = None,
         rng: Any = None, draws: Optional[Mapping] = None) -> Any:
    """MATLAB chop: round ``x`` into a low-precision format, bit for bit as Higham's
    ``chop.m`` (github.com/higham/chop, commit 906c31e6) does, quirks included.

    Parameters
    ----------
    x : array_like, optional
        float64 or float32 data: a NumPy array or scalar, a Python float, an
        ``array.array('d' or 'f')``, a memoryview, a (nested) list. Without ``x``
        (or with an empty one) only the options are processed, as ``chop([], options)``.
    options : dict, optional
        chop's options struct: ``format``, ``params`` (``[t, emax]`` for ``'c'``),
        ``round`` (1-6), ``subnormal``, ``explim``, ``flip``, ``p``, ``randfunc``.
        Floats are fine for integer options (``round=1.0``), vectors may be
        ``array('d')``. Persistence is chop's: ``None`` (or an empty value) reuses the
        options of the previous call; a dict resets every missing or empty field to
        its default (``{}`` resets them all); ``format='c'`` without ``params`` reuses
        the previous ``params``.
    return_options : bool, default False
        Also return the options in force (chop's second output), as a dict.
    shape : sequence of int, optional
        ``x`` is a flat buffer of a column-major (MATLAB) array of this shape; the
        result is an ndarray of that shape. (An array with more dimensions is
        reshaped as MATLAB's ``reshape`` does, in column-major order.)
    rng : numpy.random.Generator or int, optional
        Generator (or seed) of this call for the default ``randfunc`` (modes 5 and 6)
        and for the bit flips; otherwise the module's, see :func:`seed`.
    draws : dict, optional
        Random numbers drawn elsewhere in chop's order (MATLAB's side of ``lpchop.m``):
        ``sr1``/``sr2`` (randfunc's output for the normal and subnormal subsets),
        ``u1``/``u2`` (``rand`` of the flips), ``b1``/``b2`` (``randi(t-1)`` of the flips).

    Returns
    -------
    result
        Same shape, float32 for float32 input and float64 otherwise; a float for a
        float, an ``array.array`` for an ``array.array``, an ndarray otherwise. An empty
        input gives an empty array (chop's ``[]``).
    options : dict
        Only with ``return_options=True``.

    Raises
    ------
    UnsupportedTypeError
        Complex input ('Chop requires a real input array.'), logical or integer input
        (chop fails on them in ``log2``), strings and objects.
    FormatError, ChopOptionsError, RoundingModeError
        chop's errors: 'Unrecognized format.', 'Must specify options.params with
        options.format = ''c''.', 'Precision of the custom format must be at most ...',
        'Unsupported value of options.round.'.

    Notes
    -----
    **Rounding.** Exactly chop's: ``x`` is scaled to ``t`` bits (``pow2``), rounded to
    an integer by roundit, scaled back, then overflow and underflow are applied with
    chop's rules. Modes 1-4 reproduce MATLAB's output bit for bit; modes 5-6 do too
    for a given ``randfunc`` (random numbers are used in MATLAB's column-major element
    order). See ``docs/matlab.md`` for every difference from ``lowprec.chop``.

    Examples
    --------
    >>> import lowprec.matlab as lpm
    >>> lpm.clear()
    >>> lpm.chop(1/3, {"format": "h"})
    0.333251953125
    >>> lpm.chop(-2.0**-30)            # options reused; chop gives +0
    0.0
    """
    return _default(x, options, return_options=return_options, shape=shape, rng=rng, draws=draws)


def clear() -> None:
    """``clear chop``: forget the persistent options of :func:`chop`."""
    _default.clear()


def seed(n: Optional[int] = None) -> None:
    """Seed the generator of :func:`chop`'s default ``randfunc`` and bit flips."""
    _default.seed(n)


def get_options() -> dict:
    """``[~, options] = chop``: the options in force (the defaults on a first call)."""
    return _default.get_options()
