"""lowprec.matlab: MATLAB chop, bit for bit.

* the reference vectors (real MATLAB chop outputs) bit for bit, signs of zeros and
  NaN payloads included, on both of lowprec.matlab's paths;
* an independent, vectorized NumPy transcription of chop.m/roundit.m (``chop_m``
  below, written statement by statement as MATLAB executes them, in the input's own
  precision) against lowprec.matlab on random data: every mode, explim, subnormal,
  custom formats, single input, randfunc and bit flips with the same random numbers;
* persistence of the options, every quirk listed in issue 7, the input types MATLAB's
  Python interface passes, errors, and the lpchop.m bridge (``mex``).
"""

from __future__ import annotations

import array
import glob
import json
import math
import os

import numpy as np
import pytest

import lowprec as lp
import lowprec.matlab as lpm
from lowprec.rounding import reference
from lowprec.rounding.params import rounding_params

def ieee(x, fmt, mode=1, subnormal=None, rbits=0):
    """lp.chop's result (its specification, lowprec.rounding.reference: no numba compile)."""
    p = rounding_params(lp.format(fmt), True, np.dtype(np.float64), subnormal)
    return np.array([reference.round_value(float(v), p, mode, rbits) for v in np.ravel(x)])


LPFMT = {"h": "half", "b": "bfloat16", "q43": "e4m3"}
DATA = os.path.join(os.path.dirname(__file__), "data", "chop-vectors")
VECTORS = sorted(glob.glob(os.path.join(DATA, "*.npz")))
FORMATS = {"h": (11, 15), "b": (8, 127), "q43": (4, 7), "q52": (3, 15), "s": (24, 127)}


@pytest.fixture(autouse=True)
def _fresh():
    """Each test starts as after ``clear chop``."""
    lpm.clear()
    lpm.seed(1234)
    yield
    lpm.clear()


def bits(a):
    a = np.asarray(a)
    return a.view(np.uint64 if a.dtype == np.float64 else np.uint32)


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(bits(a), bits(b))


def same_values(a, b):
    """Equal values, signs of zeros included, NaN where NaN (payloads not compared)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    nan = np.isnan(a)
    return (np.array_equal(nan, np.isnan(b)) and np.array_equal(a[~nan], b[~nan])
            and np.array_equal(np.signbit(a[~nan]), np.signbit(b[~nan])))


# =========================================================================== chop.m in NumPy

def _pow2(k):
    return math.inf if k > 1023 else (0.0 if k < -1074 else math.ldexp(1.0, k))


def _sign(v):
    """MATLAB sign: +0 for both zeros, NaN for NaN."""
    return np.where(v > 0, 1.0, np.where(v < 0, -1.0, np.where(v == 0, 0.0, np.nan))).astype(v.dtype)


def _mysign(v):
    return (_sign(v) + (v == 0)).astype(v.dtype)


def roundit_m(y, mode, flip, p, t, randfunc, rand, randi):
    """roundit.m (commit 906c31e6 era) on a vector, in the vector's precision."""
    with np.errstate(invalid="ignore"):
        if mode == 1:
            a = np.abs(y)
            r = a - (np.fmod(a, 2) == 0.5)
            f = np.floor(np.abs(r))
            u = (np.sign(r) * (f + (np.abs(r) - f >= 0.5))).astype(y.dtype)  # MATLAB round
            u[u == -1] = 0
            y = _sign(y) * u
        elif mode == 2:
            y = np.ceil(y)
        elif mode == 3:
            y = np.floor(y)
        elif mode == 4:
            y = (((y >= 0) | (y == -np.inf)) * np.floor(y)
                 + ((y < 0) | (y == np.inf)) * np.ceil(y)).astype(y.dtype)
        elif mode in (5, 6):
            a = np.abs(y)
            frac = a - np.floor(a)
            k = np.flatnonzero(frac != 0)
            if k.size:
                rnd = np.asarray(randfunc(k.size), dtype=np.float64).reshape(-1)
                vals = frac[k].astype(np.float64)
                j = rnd <= vals if mode == 5 else rnd <= 0.5
                j = np.broadcast_to(j, k.shape)
                a[k[j]] = np.ceil(a[k[j]])
                a[k[~j]] = np.floor(a[k[~j]])
                y = _mysign(y) * a
        else:
            raise ValueError("Unsupported value of options.round.")
        if flip:
            temp = rand(y.size)
            k = np.flatnonzero(temp <= p)
            if k.size:
                u = np.abs(y[k])
                b = randi(t - 1, k.size)
                u = (u.astype(np.int64) ^ (np.int64(1) << (b - 1).astype(np.int64))).astype(y.dtype)
                y = y.copy()
                y[k] = _mysign(y[k]) * u
    return y


def chop_m(x, fmt, t, emax, mode=1, subnormal=1, explim=1, flip=0, p=0.5,
           randfunc=None, rand=None, randi=None, subset_hook=lambda: None):
    """chop.m's computation (after the option handling) on a column-major flat vector."""
    emin = 1 - emax
    xmin = _pow2(emin)
    emins = emin + 1 - t
    xmins = _pow2(emins)
    xmax = _pow2(emax) * (2 - _pow2(1 - t))
    c = x.copy()
    with np.errstate(invalid="ignore"):  # NumPy may flag NaN inputs to frexp as invalid (CPU-dependent)
        e = np.frexp(np.abs(x))[1].astype(np.int64) - 1
    ktemp = (e < emin) & (e >= emins)
    if explim:
        k_sub, k_norm = np.flatnonzero(ktemp), np.flatnonzero(~ktemp)
    else:
        k_sub, k_norm = np.zeros(0, np.int64), np.arange(x.size)
    rt = dict(mode=mode, flip=flip, p=p, t=t, randfunc=randfunc, rand=rand, randi=randi)
    with np.errstate(over="ignore", invalid="ignore"):
        subset_hook()
        c[k_norm] = np.ldexp(roundit_m(np.ldexp(x[k_norm], t - 1 - e[k_norm]), **rt), e[k_norm] - (t - 1))
        if k_sub.size:
            subset_hook()
            t1 = t - np.maximum(emin - e[k_sub], 0)
            c[k_sub] = np.ldexp(roundit_m(np.ldexp(x[k_sub], t1 - 1 - e[k_sub]), **rt), e[k_sub] - (t1 - 1))
        if explim:
            xd = x.astype(np.float64)  # MATLAB compares single with double exactly
            if mode in (1, 6):
                xboundary = _pow2(emax) * (2 - (1 / 2) * _pow2(1 - t))
                c[xd >= xboundary] = np.inf
                c[xd <= -xboundary] = -np.inf
            elif mode == 2:
                c[xd > xmax] = np.inf
                c[(xd < -xmax) & (xd != -np.inf)] = -xmax
            elif mode == 3:
                c[(xd > xmax) & (xd != np.inf)] = xmax
                c[xd < -xmax] = -np.inf
            else:
                c[(xd > xmax) & (xd != np.inf)] = xmax
                c[(xd < -xmax) & (xd != -np.inf)] = -xmax
            min_rep = xmin if subnormal == 0 else xmins
            ac = np.abs(c).astype(np.float64)
            k_small = ac < min_rep
            if mode == 1:
                k_round = k_small & ((ac >= min_rep / 2) if subnormal == 0 else (ac > min_rep / 2))
                c[k_round] = _sign(c[k_round]) * min_rep
                c[k_small & ~k_round] = 0
            elif mode == 2:
                k_round = k_small & (c > 0) & (c < min_rep)
                c[k_round] = min_rep
                c[k_small & ~k_round] = 0
            elif mode == 3:
                k_round = k_small & (c < 0) & (c > -min_rep)
                c[k_round] = -min_rep
                c[k_small & ~k_round] = 0
            else:
                c[k_small] = 0
    return c


class Recorder:
    """MATLAB's random functions from a seeded generator, recording every draw in the
    order made, as lpchop.m's ``draws`` keys (sr1 u1 b1 sr2 u2 b2)."""

    def __init__(self, seed, sr_values=None):
        self.rng = np.random.default_rng(seed)
        self.sr_values = sr_values
        self.subset = 0
        self.draws = {}
        self.calls = []

    def next_subset(self):
        self.subset += 1

    def randfunc(self, n):
        self.calls.append(n)
        r = self.rng.random(n) if self.sr_values is None else self.sr_values(n)
        self.draws[f"sr{self.subset}"] = np.asarray(r, dtype=np.float64)
        return r

    def rand(self, m):
        u = self.rng.random(m)
        self.draws[f"u{self.subset}"] = u
        return u

    def randi(self, imax, k):
        b = self.rng.integers(1, imax + 1, size=k)
        self.draws[f"b{self.subset}"] = b.astype(np.float64)
        return b


def chop_m_recorded(x, t, emax, rec, **kw):
    """chop_m with the random draws of each roundit call filed under its subset."""
    return chop_m(x, None, t, emax, randfunc=rec.randfunc, rand=rec.rand, randi=rec.randi,
                  subset_hook=rec.next_subset, **kw)


def random_inputs(rng, n, t, emax, dtype=np.float64):
    """Values around everything that matters: the subnormal range, xmin, xmax, ties."""
    emin = 1 - emax
    top = max(emax, emin) - t + 1  # emax may lie below emin for odd custom formats
    parts = [
        rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n),
        np.ldexp(rng.uniform(0.5, 1, n), rng.integers(emin - t - 3, emin + 2, n)),  # tiny
        np.ldexp(rng.uniform(0.5, 1, n), rng.integers(max(emax, emin) - 1, max(emax, emin) + 3, n)),  # huge
        np.ldexp(rng.integers(2 ** (t - 1), 2**t, n) + 0.5, rng.integers(emin - t, top + 1, n)),  # ties
        np.ldexp(rng.integers(1, 2**t, n).astype(float), rng.integers(emin - t, top + 1, n)),  # exact
        np.array([0.0, -0.0, np.inf, -np.inf, np.nan]),
    ]
    x = np.concatenate(parts)
    x[rng.random(x.size) < 0.5] *= -1
    with np.errstate(over="ignore"):
        return x.astype(dtype)


# =========================================================================== reference vectors

def _vector(path):
    d = np.load(path)
    return d["x"], d["y"], json.loads(str(d["options"]))


def test_vectors_present():
    assert len(VECTORS) == 36  # h, b, q43 x modes 1-4 x (sub0/explim1, sub1/explim0, sub1/explim1)


@pytest.mark.parametrize("path", VECTORS, ids=[os.path.basename(p)[:-4] for p in VECTORS])
def test_reference_vectors(path):
    """MATLAB chop's outputs bit for bit (signs of zeros and NaN payloads included),
    on the fast path, the general path, and column-major 2-D input."""
    x, y, opts = _vector(path)
    assert y.dtype == np.float64 and x.size == y.size
    c = lpm.chop(x, opts)
    assert same_bits(c, y)
    assert same_bits(lpm.chop(x, draws={}), y)  # draws= takes the general path
    # The same data as a MATLAB matrix: column-major buffer plus shape, and as arrays.
    m = x.size // 2
    buf = array.array("d", x[: 2 * m].tobytes())
    cm = lpm.chop(buf, shape=(2, m))
    assert cm.shape == (2, m) and same_bits(np.ravel(cm, order="F"), y[: 2 * m])
    a_f = np.asfortranarray(x[: 2 * m].reshape((2, m), order="F"))
    assert same_bits(lpm.chop(a_f), cm) and same_bits(lpm.chop(np.ascontiguousarray(a_f)), cm)
    # and the numpy transcription of chop.m agrees on the values
    t, emax = {"h": (11, 15), "b": (8, 127), "q43": (4, 7)}[opts["format"]]
    ref = chop_m(x, None, t, emax, opts["round"], opts["subnormal"], opts["explim"])
    assert same_values(ref, y)


@pytest.mark.parametrize("path", VECTORS[::5], ids=[os.path.basename(p)[:-4] for p in VECTORS[::5]])
def test_reference_vectors_single(path):
    """Single input gives single output: chop's single computation equals the double one
    rounded to single for these formats (every value involved is a single)."""
    x, y, opts = _vector(path)
    with np.errstate(over="ignore", invalid="ignore"):
        x32 = x.astype(np.float32)
        expected = lpm.chop(x32.astype(np.float64), opts).astype(np.float32)
    c = lpm.chop(x32, opts)
    assert c.dtype == np.float32
    assert same_bits(c, expected)
    assert same_bits(lpm.chop(x32, draws={}), expected)


# =========================================================================== chop.m transcription

DET_CASES = [(f, m, sub, ex) for f in ("h", "b", "q43", "q52", "s") for m in (1, 2, 3, 4)
             for sub, ex in ((1, 1), (0, 1), (1, 0))]


@pytest.mark.parametrize("fmt,mode,sub,explim", DET_CASES)
def test_deterministic_against_transcription(fmt, mode, sub, explim):
    rng = np.random.default_rng(hash((fmt, mode, sub, explim)) % 2**32)
    t, emax = FORMATS[fmt]
    x = random_inputs(rng, 300, t, emax)
    opts = {"format": fmt, "round": mode, "subnormal": sub, "explim": explim}
    assert same_values(lpm.chop(x, opts), chop_m(x, fmt, t, emax, mode, sub, explim))


@pytest.mark.parametrize("params", [(5, 10), (2, 3), (1, 4), (9, 60), (20, 500), (12, 1100),
                                    (25, 1023), (52, 1023), (7, 0), (3, -2)])
@pytest.mark.parametrize("mode", [1, 2, 3, 4])
def test_custom_formats_against_transcription(params, mode):
    """Custom [t, emax], emin = 1 - emax, including ranges beyond double's."""
    t, emax = params
    if mode == 1 and t > 25:  # chop refuses that for double input
        with pytest.raises(lpm.ChopOptionsError, match="at most 25 if working in double"):
            lpm.chop(1.0, {"format": "c", "params": list(params)})
        return
    rng = np.random.default_rng(t * 1000 + emax % 997 + mode)
    x = random_inputs(rng, 200, t, max(min(emax, 1000), -1000))
    for sub, explim in ((1, 1), (0, 1), (1, 0)):
        opts = {"format": "c", "params": list(params), "round": mode, "subnormal": sub, "explim": explim}
        assert same_values(lpm.chop(x, opts), chop_m(x, "c", t, emax, mode, sub, explim)), (sub, explim)


@pytest.mark.parametrize("fmt,params", [("h", None), ("b", None), ("q43", None), ("s", None),
                                        ("d", None), ("c", [5, 10]), ("c", [11, 130])])
@pytest.mark.parametrize("mode", [1, 2, 3, 4])
def test_single_input_against_transcription(fmt, params, mode):
    """Single input: the transcription computes in float32 as MATLAB does; lowprec
    computes in float64 and rounds once (exact, see lowprec.matlab._kernels)."""
    t, emax = (53, 1023) if fmt == "d" else (FORMATS.get(fmt) or tuple(params))
    rng = np.random.default_rng(mode)
    x = random_inputs(rng, 200, min(t, 24), min(emax, 127), np.float32)
    for sub, explim in ((1, 1), (0, 1), (1, 0)):
        opts = {"format": fmt, "round": mode, "subnormal": sub, "explim": explim}
        if params:
            opts["params"] = params
        c = lpm.chop(x, opts)
        assert c.dtype == np.float32
        assert same_values(c, chop_m(x, fmt, t, emax, mode, sub, explim)), (sub, explim)


STOCH_CASES = [(f, m, sub, ex, dt) for f in ("h", "b", "q43") for m in (5, 6)
               for sub, ex in ((1, 1), (0, 1), (1, 0)) for dt in (np.float64, np.float32)]


@pytest.mark.parametrize("fmt,mode,sub,explim,dtype", STOCH_CASES)
def test_stochastic_randfunc_against_transcription(fmt, mode, sub, explim, dtype):
    """A user randfunc: lowprec calls it as chop does (same counts, same order) and
    gives chop's result for the same random numbers."""
    t, emax = FORMATS[fmt]
    rng = np.random.default_rng(mode * 7 + sub + 3 * explim)
    x = random_inputs(rng, 150, t, emax, dtype).reshape(-1, 1)
    rec = Recorder(99)
    ref = chop_m_recorded(x.reshape(-1), t, emax, rec, mode=mode, subnormal=sub, explim=explim)
    calls = []
    gen = np.random.default_rng(99)

    def randfunc(n):
        calls.append(n)
        return gen.random(n)

    c = lpm.chop(x, {"format": fmt, "round": mode, "subnormal": sub, "explim": explim,
                     "randfunc": randfunc})
    assert calls == rec.calls and len(calls) == (2 if explim else 1)
    assert same_values(c.reshape(-1), ref)
    # the same numbers passed as MATLAB-side draws
    assert same_values(lpm.chop(x, draws=rec.draws).reshape(-1), ref)


@pytest.mark.parametrize("const", [0.0, 0.2, 0.5, 0.75, 1.0])
@pytest.mark.parametrize("mode", [5, 6])
def test_constant_randfunc(const, mode):
    """A constant randfunc gives chop's exact output: a callable returning n copies, one
    returning a scalar, a plain number (lowprec's shorthand), and 1x1 draws."""
    rng = np.random.default_rng(5)
    x = random_inputs(rng, 200, 11, 15)
    ref = chop_m(x, "h", 11, 15, mode, randfunc=lambda n: np.full(n, const))
    for rf in (lambda n: np.full(n, const), lambda n: const, const):
        assert same_values(lpm.chop(x, {"format": "h", "round": mode, "randfunc": rf}), ref)
    assert same_values(lpm.chop(x, draws={"sr1": const, "sr2": const}), ref)
    if mode == 6 and const <= 0.5:  # always up in magnitude
        fin = np.isfinite(x) & (np.abs(x) >= 2.0**-14) & (np.abs(x) < 6e4)
        assert np.all(np.abs(ref[fin]) >= np.abs(x[fin]))


def test_randfunc_sequence_and_errors():
    x = np.array([0.1, 0.2, 1.0, 0.3])  # three inexact values
    opts = {"format": "h", "round": 5, "randfunc": [0.99, 0.0, 0.5]}
    c = lpm.chop(x, opts)
    assert same_values(c, chop_m(x, "h", 11, 15, 5, randfunc=lambda n: np.array([0.99, 0.0, 0.5])))
    with pytest.raises(ValueError, match="holds 2 numbers"):
        lpm.chop(x, {"format": "h", "round": 5, "randfunc": [0.1, 0.2]})
    with pytest.raises(ValueError, match="returned 2 numbers"):
        lpm.chop(x, {"format": "h", "round": 5, "randfunc": lambda n: [0.1, 0.2]})


@pytest.mark.parametrize("mode", [1, 2, 4, 5, 6])
@pytest.mark.parametrize("explim", [1, 0])
def test_flip_against_transcription(mode, explim):
    """Bit flips with the same draws (rand and randi from MATLAB's side) as chop."""
    rng = np.random.default_rng(mode + 10 * explim)
    x = random_inputs(rng, 120, 11, 15)
    x = x[np.isfinite(x)]  # chop's bitxor fails on inf and NaN
    rec = Recorder(7)
    ref = chop_m_recorded(x, 11, 15, rec, mode=mode, explim=explim, flip=1, p=0.4)
    c = lpm.chop(x, {"format": "h", "round": mode, "explim": explim, "flip": 1, "p": 0.4},
                 draws=rec.draws)
    assert "b1" in rec.draws and same_values(c, ref)


# =========================================================================== options persistence

DEFAULTS = {"format": "h", "subnormal": 1, "round": 1, "flip": 0, "p": 0.5, "explim": 1,
            "randfunc": lpm.DEFAULT_RANDFUNC, "params": [11, 15]}


def test_defaults_on_first_call():
    assert lpm.get_options() == DEFAULTS
    lpm.clear()
    c, opts = lpm.chop(math.pi, return_options=True)
    assert c == 3.140625 and opts == DEFAULTS
    assert list(opts) == ["format", "subnormal", "round", "flip", "p", "explim", "randfunc", "params"]
    lpm.clear()
    assert lpm.chop(math.pi, None) == 3.140625 and lpm.chop(math.pi, []) == 3.140625


def test_no_or_empty_options_reuse_previous():
    lpm.chop([], {"format": "b", "round": 2, "subnormal": 1})
    for empty in (None, [], (), np.zeros(0), array.array("d"), ""):
        c, opts = lpm.chop(1 / 3, empty, return_options=True)
        assert opts["format"] == "b" and opts["round"] == 2 and opts["subnormal"] == 1
        assert c == 0.333984375  # bfloat16, rounded up
    assert lpm.chop(1 / 3) == 0.333984375


def test_partial_options_reset_missing_fields():
    lpm.chop(1.0, {"format": "s", "round": 3, "subnormal": 0, "explim": 0, "flip": 0, "p": 0.1})
    opts = lpm.chop(1.0, {"round": 2}, return_options=True)[1]
    assert opts == {**DEFAULTS, "round": 2}  # no merge: format back to 'h', p to 0.5, ...
    opts = lpm.chop(1.0, {}, return_options=True)[1]  # struct() has no fields: all defaults
    assert opts == DEFAULTS
    opts = lpm.chop(1.0, {"format": "", "subnormal": [], "round": None}, return_options=True)[1]
    assert opts == DEFAULTS  # empty fields count as missing


def test_bfloat16_subnormal_default():
    assert lpm.chop(1.0, {"format": "bfloat16"}, return_options=True)[1]["subnormal"] == 0
    assert lpm.chop(1.0, {"format": "b", "subnormal": []}, return_options=True)[1]["subnormal"] == 0
    assert lpm.chop(1.0, {"format": "b", "subnormal": 1}, return_options=True)[1]["subnormal"] == 1
    assert lpm.chop(1.0, {"format": "c", "params": [8, 127]}, return_options=True)[1]["subnormal"] == 1
    # test_chop.m: [~,fp] = chop; fp.format = 'b' keeps fp.subnormal = 1
    lpm.clear()
    fp = lpm.get_options()
    fp["format"] = "b"
    assert lpm.chop(math.pi, fp, return_options=True)[1]["subnormal"] == 1
    # bfloat16 without subnormals flushes 2**-130 (a bfloat16 subnormal) to zero
    assert lpm.chop(2.0**-130, {"format": "b"}) == 0.0
    assert lpm.chop(2.0**-130, {"format": "b", "subnormal": 1}) == 2.0**-130


def test_custom_params_persistence():
    with pytest.raises(lpm.ChopOptionsError, match="Must specify options.params"):
        lpm.chop(1.0, {"format": "c"})  # first call: nothing to reuse
    lpm.clear()
    assert lpm.chop(1 / 3, {"format": "c", "params": [5, 10]}) == 0.328125
    assert lpm.chop(1 / 3, {"format": "c"}) == 0.328125  # reuses params [5, 10]
    assert lpm.chop(1 / 3, {"format": "custom", "round": 2}, return_options=True)[1]["params"] == [5, 10]
    # after a built-in format, 'c' without params reuses the built-in's [t, emax]
    lpm.chop(1.0, {"format": "b"})
    assert lpm.chop(1 / 3, {"format": "c"}) == lpm.chop(1 / 3, {"format": "b", "subnormal": 1})
    # params are returned for built-ins, and a returned struct can be passed back
    lpm.clear()
    fp = lpm.chop(1.0, {"format": "q43"}, return_options=True)[1]
    assert fp["params"] == [4, 7]
    assert lpm.chop(1 / 3, fp) == 0.34375


@pytest.mark.parametrize("dtype,limit_rn,limit", [(np.float64, 25, 52), (np.float32, 11, 23)])
def test_custom_precision_limits(dtype, limit_rn, limit):
    x = np.ones(2, dtype)
    cls = "double" if dtype == np.float64 else "single"
    lpm.chop(x, {"format": "c", "params": [limit_rn, 15]})
    with pytest.raises(lpm.ChopOptionsError, match=f"at most {limit_rn} if working in {cls}"):
        lpm.chop(x, {"format": "c", "params": [limit_rn + 1, 15]})
    for mode in (2, 3, 4, 5, 6):
        lpm.chop(x, {"format": "c", "params": [limit, 15], "round": mode})
        with pytest.raises(lpm.ChopOptionsError, match=f"at most {limit} if working"):
            lpm.chop(x, {"format": "c", "params": [limit + 1, 15], "round": mode})
    # the check is made only when params are given: format 'd' (t = 53) is fine
    assert lpm.chop(x, {"format": "d"}).dtype == dtype
    # empty x counts as double, as chop([], options) does in MATLAB
    lpm.chop([], {"format": "c", "params": [25, 15]})
    with pytest.raises(lpm.ChopOptionsError, match="at most 25 if working in double"):
        lpm.chop([], {"format": "c", "params": [26, 15]})


def test_failed_call_keeps_state_as_chop():
    """chop assigns its persistent fpopts before it fails; so does lowprec."""
    lpm.chop(1.0, {"format": "b"})
    with pytest.raises(lp.FormatError, match="Unrecognized format"):
        lpm.chop(1.0, {"format": "zz", "round": 2})
    opts = lpm.get_options()
    assert opts["format"] == "zz" and opts["round"] == 2
    # t and emax still those of bfloat16 (persistent), round 2 from the failed call
    assert lpm.chop(1 / 3) == 0.333984375
    with pytest.raises(lpm.ChopOptionsError, match="at most 25"):
        lpm.chop(1.0, {"format": "c", "params": [30, 15]})
    assert lpm.get_options()["params"] == [30, 15]


def test_options_are_copies_and_instances_independent():
    _, opts = lpm.chop(1.0, {"format": "c", "params": [5, 10]}, return_options=True)
    opts["params"][0] = 20
    opts["round"] = 4
    assert lpm.get_options()["params"] == [5, 10] and lpm.get_options()["round"] == 1
    other = lpm.Chop()
    assert other(1 / 3, {"format": "b"}) == 0.333984375
    assert lpm.chop(1 / 3) == 0.328125 and other(1 / 3) == 0.333984375
    other.clear()
    assert other.get_options() == DEFAULTS


def test_option_value_types_from_matlab():
    """MATLAB's Python interface: floats for integer options, vectors as array('d'),
    1-element arrays, logical scalars, strings."""
    opts = {"format": "c", "params": array.array("d", [5.0, 10.0]), "round": 2.0,
            "subnormal": np.array([0.0]), "explim": True, "flip": 0.0, "p": 0.5}
    c, used = lpm.chop(array.array("d", [1 / 3, -1 / 3]), opts, return_options=True)
    assert isinstance(c, array.array) and list(c) == [0.34375, -0.328125]
    assert used["params"] == [5.0, 10.0] and used["round"] == 2.0 and used["subnormal"] == 0.0
    assert lpm.chop(1 / 3, {"format": np.str_("h"), "round": np.int64(1)}) == 0.333251953125
    assert lpm.chop(1 / 3, {"format": b"b"}) == 0.333984375
    assert lpm.chop(1 / 3, {"format": "c", "params": memoryview(array.array("d", [5, 10]))}) == 0.328125


def test_option_errors():
    with pytest.raises(lp.RoundingModeError, match="Unsupported value of options.round"):
        lpm.chop(1.0, {"round": 7})
    # ... raised only when something is rounded, as roundit raises it
    assert lpm.chop([], {"round": 9}).size == 0
    with pytest.raises(lp.RoundingModeError):
        lpm.chop(1.0)
    lpm.clear()
    with pytest.raises(lpm.ChopOptionsError, match="params must be"):
        lpm.chop(1.0, {"format": "c", "params": [5]})
    with pytest.raises(lpm.ChopOptionsError, match="integers"):
        lpm.chop(1.0, {"format": "c", "params": [5.5, 10]})
    with pytest.raises(lpm.ChopOptionsError, match="scalar"):
        lpm.chop(1.0, {"round": [1, 2]})
    with pytest.raises(lpm.ChopOptionsError, match="struct"):
        lpm.chop(1.0, 5)
    with pytest.raises(lpm.ChopOptionsError, match="character vector"):
        lpm.chop(1.0, {"format": 3})
    with pytest.raises(lp.FormatError, match="Unrecognized format"):
        lpm.chop(1.0, {"format": "e4m3fn"})  # not IEEE-style: chop's arithmetic does not fit it


def test_extra_lowprec_formats():
    assert lpm.chop(1 + 2**-11, {"format": "tf32", "round": 2}) == 1 + 2**-10
    assert lpm.chop(1.0, {"format": "e5m2"}, return_options=True)[1]["params"] == [3, 15]
    x = random_inputs(np.random.default_rng(3), 50, 3, 15)
    assert same_values(lpm.chop(x, {"format": "e5m2"}), lpm.chop(x, {"format": "q52"}))


# =========================================================================== the quirks

@pytest.mark.parametrize("mode", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("sub", [0, 1])
def test_zeros_are_positive_with_explim(mode, sub):
    x = np.array([-0.0, 0.0, -2.0**-40, 2.0**-40, -1e-300, -5e-324])
    c = lpm.chop(x, {"format": "h", "round": mode, "subnormal": sub})
    if mode == 3:  # rounds negative underflow down to -xmins (or -xmin)
        assert np.all(c[[2, 4, 5]] < 0) and c[3] == 0
        c = c[[0, 1, 3]]
    elif mode == 2:  # rounds positive underflow up
        assert c[3] > 0
        c = c[[0, 1, 2, 4, 5]]
    assert np.all(c == 0) and not np.any(np.signbit(c))
    # lp.chop keeps IEEE signed zeros
    assert np.signbit(ieee(-0.0, "half", mode)[0]) and np.signbit(ieee(-2.0**-40, "half", 4)[0])


@pytest.mark.parametrize("fmt", ["h", "b", "q43"])
def test_double_rounding_just_above_half_xmins(fmt):
    """Round to nearest with subnormals: xmins/2 < |x| <= (xmins/2)(1 + 2**-t) gives 0."""
    t, emax = FORMATS[fmt]
    xmins = 2.0 ** (2 - emax - t)
    half = xmins / 2
    inside = np.array([half * (1 + 2.0**-t), half * (1 + 2.0**-(t + 3)), np.nextafter(half, 1)])
    outside = np.array([np.nextafter(half * (1 + 2.0**-t), 1), half * 1.5])
    opts = {"format": fmt, "subnormal": 1}
    assert np.all(lpm.chop(np.concatenate([inside, -inside]), opts) == 0)
    assert np.all(lpm.chop(np.concatenate([outside, -outside]), opts) == np.r_[[xmins] * 2, [-xmins] * 2])
    assert np.all(ieee(inside, LPFMT[fmt]) == xmins)  # lp.chop rounds once


@pytest.mark.parametrize("fmt", ["h", "b", "q43"])
def test_no_subnormals_threshold(fmt):
    """Round to nearest without subnormals: |x| >= xmin/2 - xmins/2 goes to xmin."""
    t, emax = FORMATS[fmt]
    xmin = 2.0 ** (1 - emax)
    xmins = xmin * 2.0 ** (1 - t)
    thr = xmin / 2 - xmins / 2
    x = np.array([thr, np.nextafter(thr, 0), xmin / 2, np.nextafter(xmin, 0)])
    c = lpm.chop(np.concatenate([x, -x]), {"format": fmt, "subnormal": 0})
    assert list(c) == [xmin, 0, xmin, xmin, -xmin, 0, -xmin, -xmin]
    # lp.chop: RNE onto {0, xmin}, the tie xmin/2 goes to 0
    assert list(ieee(x, LPFMT[fmt], subnormal=False)) == [0, 0, 0, xmin]


@pytest.mark.parametrize("fmt,lpfmt", [("h", "half"), ("b", "bfloat16"), ("q43", "e4m3")])
@pytest.mark.parametrize("mode", [1, 2, 3, 4])
def test_overflow_is_ieee_in_modes_1_to_4(fmt, lpfmt, mode):
    f = lp.format(lpfmt)
    xmax = f.xmax
    x = np.array([xmax, np.nextafter(xmax, np.inf), xmax * (1 + 2.0**-f.t), xmax * 1.01, 1e300, np.inf])
    x = np.concatenate([x, -x])
    assert same_values(lpm.chop(x, {"format": fmt, "round": mode}), ieee(x, lpfmt, mode))


def test_stochastic_overflow():
    xmax, xbound = 65504.0, 65520.0
    x = np.array([65510.0, 7e4, 1e10, 1e300, np.inf, -65510.0, -1e10, -np.inf])
    for r in (0.0, 0.5, 1.0):
        c5 = lpm.chop(x, {"round": 5, "randfunc": r})
        assert list(c5[[1, 2, 3, 6]]) == [xmax, xmax, xmax, -xmax]  # mode 5 saturates
        assert c5[4] == np.inf and c5[7] == -np.inf  # but infinities stay
    # mode 6: x >= xboundary is inf; below it, rounding up gives 2**(emax+1)
    c6 = lpm.chop(np.array([65510.0, 65519.0, xbound, -65519.0]), {"round": 6, "randfunc": 0.0})
    assert list(c6) == [65536.0, 65536.0, np.inf, -65536.0]
    c6 = lpm.chop(np.array([65510.0, 65519.0]), {"round": 6, "randfunc": 0.9})
    assert list(c6) == [xmax, xmax]
    # with the default random numbers too (fast path): never inf in mode 5
    big = np.linspace(65505.0, 1e6, 1000)
    assert np.all(lpm.chop(big, {"round": 5}) == xmax)
    assert set(np.unique(lpm.chop(np.full(2000, 65519.0), {"round": 6}))) == {xmax, 65536.0}


def test_stochastic_flush_below_min():
    xmins, xmin = 2.0**-24, 2.0**-14
    tiny = np.array([0.9 * xmins, 0.5 * xmins, 0.1 * xmins])
    for mode in (5, 6):
        for r in (0.0, 0.3):  # 0: always round up (in magnitude)
            c = lpm.chop(np.r_[tiny, -tiny], {"round": mode, "randfunc": r})
            assert np.all(c == 0) and not np.any(np.signbit(c))
        # without subnormals, only what rounds up to xmin on the subnormal grid survives
        x = np.array([xmin - 0.5 * xmins, 0.7 * xmin])
        c = lpm.chop(x, {"round": mode, "subnormal": 0, "randfunc": 0.0})
        assert list(c) == [xmin, 0.0]
    # default random numbers: a tiny value never becomes xmins in mode 5 (IEEE SR would)
    assert np.all(lpm.chop(np.full(1000, 0.9 * xmins), {"round": 5}) == 0)
    assert ieee(0.9 * xmins, "half", 5, rbits=2**61)[0] == xmins  # IEEE SR: up with probability 0.9


def test_explim_off_has_no_range():
    opts = {"format": "h", "explim": 0}
    x = np.array([1e10, -1e10, 1e-10, 2.0**-30 * (1 + 2.0**-12), 1e-310, 5e-324, 1.7976e308])
    c = lpm.chop(x, opts)
    ref = chop_m(x, "h", 11, 15, explim=0)
    assert same_bits(c, ref)
    assert c[0] == 9999220736.0 and c[3] == 2.0**-30 and abs(c[2] - 1e-10) < 2.0**-45
    # double subnormals keep 11 significant bits (chop's exact pow2), and the top overflows
    assert c[4] == lpm.chop(1e-310 * 2.0**100, opts) * 2.0**-100 != 1e-310 and c[5] == 5e-324
    assert c[6] == np.inf
    assert same_bits(lpm.chop(x, {**opts, "subnormal": 0}), c)  # the subnormal flag is ignored
    assert np.all(np.isfinite(lpm.chop(np.array([1e10, 1e300]), {**opts, "round": 5})))


def test_custom_emin_is_one_minus_emax():
    assert lpm.chop(2.0**-9, {"format": "c", "params": [5, 10], "subnormal": 0}) == 2.0**-9
    assert lpm.chop(2.0**-10, {"format": "c", "params": [5, 10], "subnormal": 0}) == 2.0**-9  # tie -> xmin
    assert lpm.chop(2.0**-13, {"format": "c", "params": [5, 10]}) == 2.0**-13  # xmins = 2**(emin+1-t)
    assert lpm.chop(2.0**-14, {"format": "c", "params": [5, 10]}) == 0.0
    assert lpm.chop(2.0**11, {"format": "c", "params": [5, 10]}) == np.inf


def test_flip_bits():
    """flip: one of significand bits 1..t-1 of the rounded value, never the hidden bit."""
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 2, 5000) * 2.0 ** rng.integers(-10, 10, 5000)
    x[::2] *= -1
    base = lpm.chop(x, {"format": "h"})
    c = lpm.chop(x, {"format": "h", "flip": 1, "p": 1.0})
    ulp = np.ldexp(1.0, np.frexp(np.abs(base))[1] - 11)
    k = np.abs(c - base) / ulp
    assert np.all(k == 2.0 ** np.round(np.log2(k)))  # one bit
    assert set(np.log2(k).astype(int)) == set(range(10))  # bits 1..t-1 (zero-based 0..9)
    same_binade = np.frexp(np.abs(c))[1] == np.frexp(np.abs(base))[1]
    assert np.all(same_binade) and np.array_equal(np.sign(c), np.sign(base))
    frac = np.mean(lpm.chop(x, {"format": "h", "flip": 1, "p": 0.25}) != base)
    assert 0.2 < frac < 0.3
    # chop's quirk: a zero gets a bit too, and explim does not flush it
    z = lpm.chop(np.zeros(200), {"format": "h", "flip": 1, "p": 1})
    assert np.all(z > 0) and set(np.log2(z).astype(int)) <= set(range(-11, -1))
    # bitxor on inf or NaN fails in chop, and here
    with pytest.raises(ValueError, match="bitxor"):
        lpm.chop(np.array([1.0, np.inf]), {"format": "h", "flip": 1, "p": 1})
    with pytest.raises(ValueError, match="flintmax"):
        lpm.chop(np.ones(3, np.float32), {"format": "d", "flip": 1, "p": 1})


def test_nan_bits():
    """NaN: the default NaN in modes 1, 5, 6 (roundit's sign(x)), the quieted input in
    modes 2-4 (ceil, floor), as MATLAB gives (the vectors cover modes 1-4)."""
    nans = np.array([0x7FF8000000000000, 0xFFF0000000000001, 0x7FF0000000000001, 0xFFF8000000000123],
                    dtype=np.uint64).view(np.float64)
    for mode in (1, 5, 6):
        assert np.all(bits(lpm.chop(nans, {"round": mode})) == 0x7FF8000000000000)
    for mode in (2, 3, 4):
        assert np.array_equal(bits(lpm.chop(nans, {"round": mode})), bits(nans) | (1 << 51))
    n32 = np.array([0x7FC00000, 0xFF800001], dtype=np.uint32).view(np.float32)
    assert np.all(bits(lpm.chop(n32, {"round": 1})) == 0x7FC00000)
    assert np.array_equal(bits(lpm.chop(n32, {"round": 3})), bits(n32) | (1 << 22))


def test_stochastic_default_random_numbers():
    """The default randfunc: unbiased, exact values stay, reproducible with seed()."""
    x = np.full(20000, 1 + 2.0**-12)  # a quarter of the way from 1 to 1 + 2**-10
    lpm.seed(5)
    c = lpm.chop(x, {"round": 5})
    assert set(np.unique(c)) == {1.0, 1 + 2.0**-10}
    assert abs(np.mean(c == 1 + 2.0**-10) - 0.25) < 0.02
    c6 = lpm.chop(x, {"round": 6})
    assert abs(np.mean(c6 == 1 + 2.0**-10) - 0.5) < 0.02
    exact = np.linspace(1, 2, 1025)
    assert np.array_equal(lpm.chop(exact, {"round": 5}), exact)
    lpm.seed(5)
    assert np.array_equal(lpm.chop(x, {"round": 5}), c)
    assert np.array_equal(lpm.chop(x, {"round": 5}, rng=3), lpm.chop(x, {"round": 5}, rng=3))
    # subnormal region on the fast path: the same distribution as chop
    lpm.seed(6)
    v = lpm.chop(np.full(20000, 2.5 * 2.0**-24), {"round": 5})
    assert set(np.unique(v)) == {2.0**-23, 3 * 2.0**-24} and abs(np.mean(v == 2.0**-23) - 0.5) < 0.02


def test_stochastic_negative_zero_sign_explim_off():
    """roundit returns its input unchanged when nothing in the subset is inexact
    (-0 stays), else mysign(x).*y gives +0."""
    opts = {"round": 5, "explim": 0}
    assert np.signbit(lpm.chop(np.array([-0.0, 1.0]), opts)[0])
    assert not np.signbit(lpm.chop(np.array([-0.0, 0.1]), opts)[0])
    assert np.signbit(lpm.chop(np.array([-0.0, 1.0]), opts, draws={})[0])
    assert not np.signbit(lpm.chop(np.array([-0.0, 0.1]), opts, draws={"sr1": 0.5})[0])


# =========================================================================== inputs and outputs

def test_input_kinds():
    lpm.chop([], {"format": "b"})
    v = [1 / 3, 2 / 3, -0.1]
    ref = lpm.chop(np.array(v))
    assert isinstance(lpm.chop(1 / 3), float) and lpm.chop(1 / 3) == ref[0]
    s32 = lpm.chop(np.float32(1 / 3))
    assert isinstance(s32, np.float32) and s32 == np.float32(ref[0])
    a = lpm.chop(array.array("d", v))
    assert isinstance(a, array.array) and a.typecode == "d" and list(a) == list(ref)
    f = lpm.chop(array.array("f", v))
    assert f.typecode == "f" and list(f) == list(ref.astype(np.float32))
    assert same_bits(lpm.chop(memoryview(np.array(v))), ref)
    assert same_bits(lpm.chop(v), ref) and same_bits(lpm.chop(tuple(v)), ref)
    nested = [[1 / 3, 2 / 3], [-0.1, 5.0]]
    assert same_bits(lpm.chop(nested), lpm.chop(np.array(nested)))
    m = np.arange(12.0).reshape(3, 4) / 7
    mv = memoryview(np.asfortranarray(m))
    assert same_bits(lpm.chop(mv), lpm.chop(m)) and lpm.chop(mv).shape == (3, 4)
    assert same_bits(lpm.chop(m[:, ::2]), lpm.chop(np.ascontiguousarray(m[:, ::2])))
    x = np.array([0.1, 0.2])
    lpm.chop(x)
    assert np.array_equal(x, [0.1, 0.2])  # input untouched


def test_column_major_buffer_with_shape():
    """A MATLAB matrix arrives as a flat column-major buffer plus its shape."""
    m = np.random.default_rng(0).standard_normal((3, 5))
    buf = array.array("d", np.ravel(m, order="F").tobytes())
    for shape in ((3, 5), [3, 5], array.array("d", [3.0, 5.0]), np.array([3, 5])):
        c = lpm.chop(buf, {"format": "h"}, shape=shape)
        assert isinstance(c, np.ndarray) and c.shape == (3, 5) and same_bits(c, lpm.chop(m))
    assert lpm.chop(memoryview(buf), shape=(3, 5)).shape == (3, 5)
    assert lpm.chop(5.0, shape=(1, 1)).shape == (1, 1)
    with pytest.raises(ValueError, match="needs 16 values"):
        lpm.chop(buf, shape=(4, 4))
    # shape= reshapes as MATLAB's reshape (column-major), e.g. a 1xN memoryview of a row
    assert same_bits(lpm.chop(m, shape=(5, 3)), lpm.chop(np.reshape(m, (5, 3), order="F")))
    row = memoryview(np.ravel(m, order="F").reshape(1, 15))
    assert same_bits(lpm.chop(row, shape=(3, 5)), lpm.chop(m))
    # random numbers are used in column-major (MATLAB linear index) order
    rf = np.linspace(0.01, 0.99, 15)
    c = lpm.chop(buf, {"round": 5, "randfunc": rf}, shape=(3, 5))
    col = lpm.chop(np.ravel(m, order="F"), {"round": 5, "randfunc": rf})
    assert same_bits(np.ravel(c, order="F"), col)


def test_empty_inputs():
    c = lpm.chop(np.zeros((0, 3)), {"format": "h"})
    assert c.shape == (0, 3) and c.dtype == np.float64
    assert lpm.chop(np.zeros(0, np.float32)).dtype == np.float32
    assert lpm.chop().shape == (0, 0) and lpm.chop(None).shape == (0, 0)
    assert lpm.chop(np.zeros(0, np.int8)).size == 0  # chop returns [] before looking at the class
    assert lpm.chop([]).size == 0


def test_logical_integer_complex_inputs():
    for x in (np.array([True, False]), True, np.array([1, 2], np.int32), 3, [1, 2],
              array.array("b", [1, 2]), np.uint8(4)):
        with pytest.raises(lp.UnsupportedTypeError, match="single or double"):
            lpm.chop(x)
    # the custom precision check sees the class, as in chop
    with pytest.raises(lpm.ChopOptionsError, match="at most 0 if working in logical"):
        lpm.chop(np.array([True]), {"format": "c", "params": [5, 10]})
    # complex input fails first, before the options are touched
    lpm.chop(1.0, {"format": "b"})
    for z in (np.array([1 + 2j]), 1j, [1.0, 2j]):
        with pytest.raises(lp.UnsupportedTypeError, match="Chop requires a real input array."):
            lpm.chop(z, {"format": "h"})
    assert lpm.get_options()["format"] == "b"
    for bad in ("abc", np.array(["a"]), [[1.0], [1.0, 2.0]], object(), np.ones(2, np.float16)):
        with pytest.raises(lp.UnsupportedTypeError):
            lpm.chop(bad)


def test_single_in_single_out():
    x = np.random.default_rng(1).standard_normal((20, 30)).astype(np.float32)
    for opts in ({"format": "h"}, {"format": "b", "round": 2}, {"format": "s"},
                 {"format": "d"}, {"format": "c", "params": [11, 15], "round": 4}):
        c = lpm.chop(x, opts)
        assert c.dtype == np.float32 and c.shape == x.shape
    assert same_bits(lpm.chop(x, {"format": "s"}), x)
    assert same_bits(lpm.chop(x, {"format": "d"}), x)
    via_double = lpm.chop(x.astype(np.float64), {"format": "h"}).astype(np.float32)
    assert same_bits(lpm.chop(x, {"format": "h"}), via_double)


# =========================================================================== the lpchop.m bridge

def test_mex_deterministic():
    m = np.random.default_rng(2).standard_normal((4, 3))
    buf = array.array("d", np.ravel(m, order="F").tobytes())
    r = lpm.mex(buf, {"format": "b", "round": 2.0}, array.array("d", [4, 3]), None, "double")
    assert r["kind"] == "result" and isinstance(r["c"], array.array)
    assert same_bits(np.frombuffer(r["c"]), np.ravel(lpm.chop(m, {"format": "b", "round": 2}), order="F"))
    assert r["options"] == {"format": "b", "subnormal": 0.0, "round": 2.0, "flip": 0.0, "p": 0.5,
                            "explim": 1.0, "params": array.array("d", [8, 127])}
    single = lpm.mex(array.array("f", [0.1, 0.2]), None, [1, 2], None, "single")
    assert single["c"].typecode == "f"
    assert lpm.mex(None, None, None)["c"] == array.array("d")


def test_mex_draws_round_trip():
    """Modes 5-6 and flip: MATLAB draws in chop's order what the counts say."""
    rng = np.random.default_rng(4)
    x = random_inputs(rng, 60, 11, 15)
    x = x[np.isfinite(x)]
    opts = {"format": "h", "round": 5.0, "flip": 1.0, "p": 0.3}
    r = lpm.mex(array.array("d", x.tobytes()), opts, [x.size], None, "double")
    assert r["kind"] == "draws"
    rec = Recorder(11)
    ref = chop_m_recorded(x, 11, 15, rec, mode=5, flip=1, p=0.3)
    n1, m1, n2, m2 = r["counts"]
    assert [n1, n2][: len(rec.calls)] == rec.calls and m1 + m2 == x.size
    assert m1 == rec.draws["u1"].size and m2 == rec.draws["u2"].size
    draws = {k: array.array("d", v.tolist()) for k, v in rec.draws.items()}
    out = lpm.mex(array.array("d", x.tobytes()), None, [x.size], draws, "double")
    assert out["kind"] == "result" and same_values(np.frombuffer(out["c"]), ref)


def test_mex_other_classes():
    with pytest.raises(lp.UnsupportedTypeError, match="int16"):
        lpm.mex(None, {"format": "h"}, [2, 2], None, "int16")
    assert lpm.get_options()["format"] == "h"
    with pytest.raises(lpm.ChopOptionsError, match="at most 0 if working in logical"):
        lpm.mex(None, {"format": "c", "params": [5, 10]}, [1, 1], None, "logical")
    assert lpm.mex(None, {"format": "b"}, [0, 0], None, "int8")["kind"] == "result"


def test_matlab_files_ship_with_the_package():
    folder = lpm.mfiles_dir()
    for name in ("lpchop.m", "lpchop_setup.m"):
        assert os.path.isfile(os.path.join(folder, name))
    with open(os.path.join(folder, "lpchop.m")) as fh:
        text = fh.read()
    assert text.startswith("function [c,options] = lpchop(x,options)")
    assert "lp.mex(" in text and "persistent randfunc" in text
