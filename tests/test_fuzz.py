"""Fuzz suite: hypothesis over dtypes, shapes, strides, modes, formats, operand kinds and
``out=`` aliasing, checked against the scalar reference (``lowprec.rounding.reference``,
exact rationals) and NumPy's shape and dtype rules.

Example counts come from a hypothesis profile: ``lowprec-ci`` (the default, bounded, for
``make test``) or ``lowprec-verify`` (large, ``make verify``), chosen with the environment
variable ``HYPOTHESIS_PROFILE=verify``.
"""

from __future__ import annotations

import math
import os
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lowprec as lp
from lowprec.errors import FormatError
from lowprec.rounding import RoundingMode
from lowprec.rounding.params import rounding_params
from lowprec.rounding.reference import round_value

settings.register_profile("lowprec-ci", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("lowprec-verify", max_examples=1500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ = settings.get_profile("lowprec-verify" if os.environ.get("HYPOTHESIS_PROFILE") == "verify" else "lowprec-ci")

FORMATS = ["half", "bf16", "tf32", "e4m3", "e5m2", "e4m3fn", "e4m3fnuz", "fp6_e3m2", "fp4_e2m1", "e3m4", "e2m0",
           "single"]
DETERMINISTIC = [m for m in RoundingMode if not m.is_stochastic]
DTYPES = ["f8", "f4", "f2", ">f8", ">f4", "i8", "i4", "u1"]

formats = st.sampled_from(FORMATS)
modes = st.sampled_from(DETERMINISTIC)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


def interesting(dtype: np.dtype):
    """Elements of ``dtype``: specials, signed zeros, subnormals, huge and tiny values."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return st.one_of(st.integers(int(info.min), int(info.max)),
                         st.sampled_from([0, 1, -1, 2**53 + 1, -(2**53) - 3, 2**62 + 2**40 + 1, info.max, info.min])
                         .filter(lambda v: info.min <= v <= info.max))
    width = {8: 64, 4: 32, 2: 16}[dtype.itemsize]
    return st.floats(width=width, allow_nan=True, allow_infinity=True, allow_subnormal=True)


@st.composite
def arrays(draw, dtype=None, shape=None):
    """An array of a drawn dtype and shape, as a contiguous array, a strided view, a
    reversed (negative-stride) view or a transposed view."""
    dt = np.dtype(draw(st.sampled_from(DTYPES)) if dtype is None else dtype)
    shp = draw(shapes) if shape is None else shape
    layout = draw(st.sampled_from(["contiguous", "strided", "reversed", "transposed"]))
    if layout == "strided" and len(shp):
        big = draw(hnp.arrays(dt.newbyteorder("=") if dt.kind == "f" else dt, shp[:-1] + (2 * shp[-1],),
                              elements=interesting(dt.newbyteorder("="))))
        return big.astype(dt)[..., ::2]
    a = draw(hnp.arrays(dt.newbyteorder("="), shp, elements=interesting(dt.newbyteorder("=")))).astype(dt)
    if layout == "reversed":
        return a[::-1] if a.ndim else a
    if layout == "transposed":
        return np.ascontiguousarray(a.T).T
    return a


def same(got, want) -> bool:
    g = np.asarray(got, dtype=np.float64)
    w = np.asarray(want, dtype=np.float64)
    return g.shape == w.shape and bool(np.all((g.view(np.int64) == w.view(np.int64)) | (np.isnan(g) & np.isnan(w))))


def storage_of(dtype: np.dtype) -> np.dtype:
    """The dtype of lp.chop's result for input ``dtype`` (integers: float64)."""
    d = dtype.newbyteorder("=")
    return np.dtype(np.float64) if d.kind in "iu" else d


def reference(x: np.ndarray, fmt, mode, storage: np.dtype, subnormal=None, explim=True) -> np.ndarray:
    p = rounding_params(lp.format(fmt), explim, storage, subnormal)
    flat = [round_value(int(v) if x.dtype.kind in "iu" else float(v), p, mode) for v in x.reshape(-1)]
    return np.array(flat, dtype=np.float64).reshape(x.shape)


# ----------------------------------------------------------------------------- lp.chop

@FUZZ
@given(x=arrays(), fmt=formats, mode=modes, subnormal=st.sampled_from([None, True, False]),
       explim=st.booleans())
def test_chop_equals_the_reference(x, fmt, mode, subnormal, explim):
    storage = storage_of(x.dtype)
    try:
        rounding_params(lp.format(fmt), explim, storage, subnormal)
    except FormatError:
        with pytest.raises(FormatError):
            lp.chop(x, fmt, mode, subnormal=subnormal, explim=explim)
        return
    before = x.copy()
    got = lp.chop(x, fmt, mode, subnormal=subnormal, explim=explim)
    assert type(got) is np.ndarray and got.shape == x.shape and got.dtype == storage
    assert same(got, reference(x, fmt, mode, storage, subnormal, explim))
    assert np.array_equal(x, before, equal_nan=True)  # the input is never modified


@FUZZ
@given(x=arrays(dtype="f8"), fmt=formats, mode=st.sampled_from([RoundingMode.STOCHASTIC,
                                                                RoundingMode.STOCHASTIC_UNIFORM]),
       seed=st.integers(0, 2**32))
def test_stochastic_chop_picks_a_neighbour(x, fmt, mode, seed):
    got = lp.chop(x, fmt, mode, seed=seed)
    down = lp.chop(x, fmt, RoundingMode.DOWN)
    up = lp.chop(x, fmt, RoundingMode.UP)
    with np.errstate(invalid="ignore"):
        ok = (got == down) | (got == up) | (np.isnan(got) & np.isnan(x))
    # overflow differs from the directed modes (inf or NaN instead of xmax): allowed beyond xmax
    with np.errstate(invalid="ignore"):
        ok |= ~np.isfinite(got) & (np.abs(x) > lp.format(fmt).xmax)
    assert ok.all()
    assert same(got, lp.chop(x, fmt, mode, seed=seed))  # a seed fixes the draw


@FUZZ
@given(data=st.data(), fmt=formats, mode=modes, func=st.sampled_from(["chop", "fixed", "int"]))
def test_out_aliasing_the_input(data, fmt, mode, func):
    n = data.draw(st.integers(2, 40))
    base = data.draw(hnp.arrays(np.float64, n, elements=st.floats(-1e4, 1e4, allow_subnormal=True)))
    m = data.draw(st.integers(1, n))
    s, t = data.draw(st.sampled_from([1, -1, 2])), data.draw(st.sampled_from([1, -1, 2]))
    assume(m * abs(s) <= n and m * abs(t) <= n)
    i0 = data.draw(st.integers(0, n - m * abs(s)))
    j0 = data.draw(st.integers(0, n - m * abs(t)))

    def view(v, start, step):
        idx = np.arange(start, start + m * abs(step), abs(step))
        return v[idx[0]:idx[-1] + 1:abs(step)][::-1 if step < 0 else 1]

    f = {"chop": lambda a, **k: lp.chop(a, fmt, mode, **k),
         "fixed": lambda a, **k: lp.quantize_fixed(a, "q8.8", mode, **k),
         "int": lambda a, **k: lp.quantize_int(a, lp.IntFormat(8, scale=0.25), mode, **k)}[func]
    v = base.copy()
    want = f(view(v, i0, s).copy())
    outside = np.ones(n, bool)
    outside[np.arange(j0, j0 + m * abs(t), abs(t))] = False
    f(view(v, i0, s), out=view(v, j0, t))
    assert same(view(v, j0, t), want)
    assert same(v[outside], base[outside])


# ----------------------------------------------------------------------------- LPFloat operators

OPS = {"add": (np.add, lambda a, b: a + b), "subtract": (np.subtract, lambda a, b: a - b),
       "multiply": (np.multiply, lambda a, b: a * b), "divide": (np.true_divide, lambda a, b: a / b)}


def exact_op(name, a: float, b: float, p, mode, fmt) -> float:
    """The reference result of ``a op b`` for values of the format (specials by IEEE)."""
    ufunc, _ = OPS[name]
    if not (math.isfinite(a) and math.isfinite(b)) or (name == "divide" and b == 0):
        with np.errstate(all="ignore"):
            return round_value(float(ufunc(np.float64(a), np.float64(b))), p, mode)  # exact specials
    fa, fb = Fraction(a), Fraction(b)
    exact = {"add": fa + fb, "subtract": fa - fb, "multiply": fa * fb, "divide": fa / fb if b else None}[name]
    if exact != 0:
        return round_value(exact, p, mode)
    if name in ("add", "subtract"):
        bs = math.copysign(1.0, b) < 0 if name == "add" else math.copysign(1.0, b) > 0
        a_neg = math.copysign(1.0, a) < 0
        negative = a_neg if (a == 0 and b == 0 and a_neg == bs) else mode == RoundingMode.DOWN
    else:
        negative = (math.copysign(1.0, a) < 0) != (math.copysign(1.0, b) < 0)
    return -0.0 if negative and p.negzero and p.signed else 0.0


@st.composite
def operand(draw, shape, fmt):
    """The second operand: an LPFloat, a plain array, a Python number or a NumPy scalar."""
    kind = draw(st.sampled_from(["lpfloat", "array", "python_float", "python_int", "numpy_scalar"]))
    if kind == "python_float":
        return draw(st.floats(allow_nan=True, allow_infinity=True))
    if kind == "python_int":
        return draw(st.integers(-(2**70), 2**70))
    if kind == "numpy_scalar":
        dt = np.dtype(draw(st.sampled_from(["f8", "f4", "f2", "i8", "i2"])))
        return dt.type(draw(interesting(dt)))
    b = draw(arrays(dtype=draw(st.sampled_from(["f8", "f4", "i4"])), shape=shape))
    if kind == "array":
        return b
    storage = draw(st.sampled_from([np.float64, np.float32]))
    try:
        with np.errstate(over="ignore"):
            return lp.asarray(b.astype(storage), fmt)
    except FormatError:
        return lp.asarray(b.astype(np.float64), fmt)


@FUZZ
@given(data=st.data(), fmt=formats, mode=modes, op=st.sampled_from(sorted(OPS)),
       storage=st.sampled_from([np.float64, np.float32]), reflected=st.booleans())
def test_lpfloat_arithmetic_equals_the_reference(data, fmt, mode, op, storage, reflected):
    shape_a = data.draw(shapes)
    shape_b = data.draw(st.sampled_from([shape_a, shape_a[1:], (1,) + shape_a[1:], ()]))
    x = data.draw(arrays(dtype="f8", shape=shape_a))
    try:
        with np.errstate(over="ignore"):
            a = lp.asarray(x.astype(storage), fmt, mode)
    except FormatError:
        a = lp.asarray(x, fmt, mode)
    b = data.draw(operand(shape_b, fmt))
    if isinstance(b, lp.LPFloat):
        b = lp.asarray(b.values, fmt, mode, dtype=b.dtype)
    _, apply = OPS[op]
    with np.errstate(all="ignore"):
        got = apply(b, a) if reflected else apply(a, b)
    plain_b = b.values if isinstance(b, lp.LPFloat) else b
    # NumPy's shape and dtype rules (NEP 50: Python numbers weak), the format's storage fallback
    want_dtype = np.result_type(a.values, plain_b) if type(b) not in (int, float) else a.dtype
    try:
        rounding_params(a.format, True, want_dtype)
    except FormatError:
        want_dtype = np.dtype(np.float64)
    assert isinstance(got, lp.LPFloat) and got.format == a.format and got.rmode == a.rmode
    assert got.shape == np.broadcast_shapes(a.shape, np.shape(plain_b)) and got.dtype == want_dtype
    # the weak operand is rounded into the format once (from its exact value), then the op
    pb = plain_b if type(plain_b) in (int, float) else np.asarray(plain_b)
    if isinstance(pb, np.ndarray) and pb.dtype.kind == "f":
        pb = pb.astype(np.float64)  # exact
    wb = np.asarray(lp.chop(pb, a.format, mode), dtype=np.float64)
    p = rounding_params(a.format, True, np.dtype(np.float64))
    av, bv = np.broadcast_arrays(a.values.astype(np.float64), wb)
    pairs = zip(bv.reshape(-1), av.reshape(-1)) if reflected else zip(av.reshape(-1), bv.reshape(-1))
    want = np.array([exact_op(op, float(u), float(v), p, mode, a.format) for u, v in pairs]).reshape(got.shape)
    assert same(got, want)


# ----------------------------------------------------------------------------- reductions: NumPy's shapes

@FUZZ
@given(data=st.data(), fmt=st.sampled_from(["half", "bf16", "q8.8"]),
       func=st.sampled_from([np.sum, np.prod, np.mean, np.max, np.min, np.cumsum]), keepdims=st.booleans())
def test_reduction_shapes_as_numpy(data, fmt, func, keepdims):
    shape = data.draw(shapes)
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-8, 8)))
    a = lp.asarray(x, fmt)
    ndim = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-ndim - 1, ndim),
                               st.lists(st.integers(-ndim, max(ndim - 1, 0)), max_size=ndim, unique=True)
                               .map(tuple)))
    if func is np.cumsum:
        if isinstance(axis, tuple):
            return
        kwargs = {"axis": axis}
    else:
        kwargs = {"axis": axis, "keepdims": keepdims}
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the mean of nothing
            want = func(x, **kwargs)
    except (np.exceptions.AxisError, ValueError) as err:
        with pytest.raises(type(err)):
            func(a, **kwargs)
        return
    except TypeError:
        return
    if func is np.mean and isinstance(a, lp.LPFixed) and np.size(want) and x.size == 0:
        with pytest.raises(ZeroDivisionError):  # fixed point has no NaN for the mean of nothing
            func(a, **kwargs)
        return
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = func(a, **kwargs)
    assert np.shape(got) == np.shape(want)
    assert isinstance(got, lp.LPArray) or np.ndim(got) == 0


# ----------------------------------------------------------------------------- exact ufuncs, other backends

@FUZZ
@given(data=st.data(), fmt=formats, mode=modes,
       func=st.sampled_from([np.maximum, np.minimum, np.copysign, np.fmax, np.fmin]))
def test_exact_ufuncs_with_constants(data, fmt, mode, func):
    """Exact ufuncs with a Python constant (signed zeros included): the constant rounded into
    the format, then NumPy's result (a value of the format already)."""
    x = data.draw(arrays(dtype="f8", shape=data.draw(shapes)))
    c = data.draw(st.one_of(st.sampled_from([0.0, -0.0, 1.0, -1.0, math.inf, -math.inf]), st.floats()))
    a = lp.asarray(x, fmt, mode)
    got = func(a, c)
    with np.errstate(all="ignore"):
        want = lp.chop(func(a.values, lp.chop(c, fmt, mode)), fmt, mode)
    assert isinstance(got, lp.LPFloat) and same(got, want)


@FUZZ
@given(data=st.data(), fmt=st.sampled_from(["half", "bf16", "e4m3", "e5m2", "fp6_e3m2"]), mode=modes,
       op=st.sampled_from(sorted(OPS)), kind=st.sampled_from(["lp", "tensor", "python"]))
def test_lptensor_arithmetic_equals_lpfloat(data, fmt, mode, op, kind):
    torch = pytest.importorskip("torch")
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4))
    x = data.draw(arrays(dtype="f4", shape=shape))
    y = data.draw(arrays(dtype="f4", shape=shape))
    c = data.draw(st.floats(allow_nan=False, width=64))
    a, ta = lp.asarray(x, fmt, mode), lp.asarray(torch.from_numpy(x.copy()), fmt, mode)
    if kind == "lp":
        b, tb = lp.asarray(y, fmt, mode), lp.asarray(torch.from_numpy(y.copy()), fmt, mode)
    elif kind == "tensor":
        b, tb = y, torch.from_numpy(y.copy())
    else:
        b = tb = c
    _, apply = OPS[op]
    with np.errstate(all="ignore"):
        want = apply(a, b)
    got = apply(ta, tb)
    assert same(got.as_plain().numpy(), np.asarray(want.values, dtype=np.float32))
