#!/usr/bin/env python
"""Time ``lowprec.chop`` against its peers and against a plain memory copy.

    python benchmarks/bench_chop.py                              # full run, prints the tables
    python benchmarks/bench_chop.py --write benchmarks/RESULTS.md  # ... and writes the report
    python benchmarks/bench_chop.py --quick                      # small arrays, smoke test

What is measured, for each array (2000x2000 and 4000x4000, float64 and float32) and each
target format (fp16 = "half", bf16 = "bfloat16"; RNE to fp8 as an extra). The data are
standard normal values times 2**k, k uniform over the format's exponent range, so a few
percent are subnormal or overflow; "normal-only" data sets (largest arrays) hold only values
in the normal range, which isolates lowprec's fast path.

* ``lp.chop(x, fmt, mode)`` in all nine rounding modes, with ``out=`` a preallocated array,
  and in place (``out=x``);
* the copy floor ``np.copyto(dst, x)`` (and ``x.copy()``, which also pays for a new array);
* peers, each only where it installs and imports (otherwise "n/a (reason)"):
  pychop's NumPy backend (``pychop.Chop``, the LightChop path, and ``pychop.FaultChop``),
  ``x.astype(ml_dtypes.bfloat16 / float8_*)`` and ``x.astype(np.float16)`` (one way, and the
  round trip back to the input dtype, which gives the same result as ``lp.chop``),
  ``gfloat.round_ndarray`` and apytypes ``APyFloatArray``.

Timing: a small warm-up call first (imports, numba compilation), then one full-size warm-up
call that is not counted, then up to ``--repeats`` timed calls within ``--budget`` seconds
(at least 3, or 2 for the slow pure-NumPy peers); the table gives the median. For a
pure-NumPy peer whose single call takes longer than 1 s the full-size first call is counted
(there is nothing to compile). Throughput is input bytes / median time.

Memory: the peak growth of the resident set during a call, ``VmHWM`` after the call minus
``VmRSS`` before it, with the high-water mark reset through ``/proc/self/clear_refs``
before each timed call. glibc's mmap threshold is pinned at 64 KiB (``mallopt``) so that
every array-sized block is mapped and unmapped, i.e. really returned when freed: the number
is the peak of everything the call allocates and touches (output and temporaries, NumPy,
numba, dask or C++ alike), not counting the input. The largest value over the timed calls
is reported.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as _dt
import gc
import importlib.metadata as _md
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

REPO = Path(__file__).resolve().parent.parent

MODE_NAMES = {1: "rne", 2: "up", 3: "down", 4: "zero", 5: "sr", 6: "sr_uniform", 7: "rnz",
              8: "rna", 9: "odd"}
ALL_MODES = tuple(MODE_NAMES)
MB = 1024.0 * 1024.0
BUSY = 0.25   # cores used by other processes above which a measurement is flagged


# ----------------------------------------------------------------------------- formats

@dataclass(frozen=True)
class Fmt:
    key: str          # our label
    lp: str           # lowprec spelling
    exp_bits: int
    sig_bits: int
    emin: int         # smallest normal exponent
    emax: int         # largest exponent
    normal_only: bool = False   # data: only values in the normal range (no subnormal, no overflow)
    base: str = ""    # the format's key for the peers ("fp16" for "fp16 normal-only")

    @property
    def fam(self) -> str:
        return self.base or self.key


FP16 = Fmt("fp16", "half", 5, 10, -14, 15)
BF16 = Fmt("bf16", "bfloat16", 8, 7, -126, 127)
E4M3FN = Fmt("e4m3fn", "e4m3fn", 4, 3, -6, 8)
E5M2 = Fmt("e5m2", "e5m2", 5, 2, -14, 15)
FP16N = Fmt("fp16 normal-only", "half", 5, 10, -14, 15, True, "fp16")
BF16N = Fmt("bf16 normal-only", "bfloat16", 8, 7, -126, 127, True, "bf16")
MAIN_FORMATS = (FP16, BF16)
FP8_FORMATS = (E4M3FN, E5M2)
NORMAL_FORMATS = (FP16N, BF16N)


def make_data(n: int, fmt: Fmt, dtype, seed: int) -> np.ndarray:
    """Standard normal values, each scaled by 2**k with k uniform in [emin, emax].

    Most values lie in the format's normal range; the tails of the normal distribution
    give subnormal (and underflowing) results below 2**emin and overflows above the
    largest finite value. With ``fmt.normal_only`` the values are ±(1 + u) * 2**k, u uniform
    in [0, 1), k uniform in [emin, emax - 1]: all in the normal range.
    """
    rng = np.random.default_rng(seed)
    if fmt.normal_only:
        z = (1.0 + rng.random((n, n))) * np.where(rng.random((n, n)) < 0.5, -1.0, 1.0)
        k = rng.integers(fmt.emin, fmt.emax, size=(n, n), dtype=np.int32)
    else:
        z = rng.standard_normal((n, n))
        k = rng.integers(fmt.emin, fmt.emax + 1, size=(n, n), dtype=np.int32)
    x = np.ldexp(z, k)
    del z, k
    return x if dtype == np.float64 else x.astype(dtype)


def data_mix(x: np.ndarray, fmt: Fmt) -> tuple[float, float]:
    """Fractions of |x| below the smallest normal and above the largest finite value."""
    import lowprec as lp
    f = lp.format(fmt.lp)
    a = np.abs(x)
    return float(np.mean(a < f.xmin)), float(np.mean(~(a <= f.xmax)))


# ----------------------------------------------------------------------------- memory

_CLEAR_REFS_OK = False


def _setup_memory_probe() -> str:
    """Pin glibc's mmap threshold and check that the RSS high-water mark can be reset."""
    global _CLEAR_REFS_OK
    notes = []
    try:
        libc = ctypes.CDLL("libc.so.6")
        M_MMAP_THRESHOLD = -3
        if libc.mallopt(M_MMAP_THRESHOLD, 1 << 16) != 1:
            notes.append("mallopt(M_MMAP_THRESHOLD) failed")
    except OSError as err:
        notes.append(f"no glibc ({err})")
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        _rss_kib()
        _CLEAR_REFS_OK = True
    except OSError as err:
        notes.append(f"cannot reset VmHWM ({err}): memory column n/a")
    return "; ".join(notes)


def _rss_kib() -> tuple[int, int]:
    rss = hwm = -1
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


# ----------------------------------------------------------------------------- other load

_CLK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_mark() -> Optional[tuple[float, float, float]]:
    """(wall, CPU seconds busy on the whole machine, CPU seconds of this process)."""
    try:
        with open("/proc/stat") as fh:
            v = [int(t) for t in fh.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    t = os.times()
    return time.perf_counter(), (sum(v) - v[3] - v[4]) / _CLK, t.user + t.system


def other_load(m0, m1) -> Optional[float]:
    """Average number of cores that other processes kept busy between two marks."""
    if m0 is None or m1 is None or m1[0] - m0[0] <= 0:
        return None
    return max(0.0, ((m1[1] - m0[1]) - (m1[2] - m0[2])) / (m1[0] - m0[0]))


# ----------------------------------------------------------------------------- timing

@dataclass
class Sample:
    times: list
    peak: Optional[float]   # bytes
    result: object = None
    load: Optional[float] = None   # cores used by other processes during the timed calls


def _one_call(fn: Callable, setup: Optional[Callable]):
    if setup is not None:
        setup()
    gc.collect()
    before = None
    if _CLEAR_REFS_OK:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        before = _rss_kib()[0]
    gc.disable()
    try:
        t0 = time.perf_counter()
        res = fn()
        dt = time.perf_counter() - t0
    finally:
        gc.enable()
    peak = None
    if before is not None:
        peak = max(0, _rss_kib()[1] - before) * 1024.0
    return dt, peak, res


def measure(fn: Callable, *, small: Optional[Callable], setup: Optional[Callable], repeats: int,
            budget: float, pure_numpy: bool, min_repeats: int) -> Sample:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if small is not None:
            small()
        times, peaks = [], []
        m0 = _cpu_mark()
        dt, peak, res = _one_call(fn, setup)
        if pure_numpy and dt > 1.0:
            times.append(dt)
            peaks.append(peak)
        n = max(min_repeats, min(repeats, int(budget / max(dt, 1e-9))))
        while len(times) < n:
            res = None
            dt, peak, res = _one_call(fn, setup)
            times.append(dt)
            peaks.append(peak)
        load = other_load(m0, _cpu_mark())
    peak = None if any(p is None for p in peaks) else max(peaks)
    return Sample(times, peak, res, load)


# ----------------------------------------------------------------------------- implementations

class NA(Exception):
    """An implementation that is not available for this case (reason in the message)."""


@dataclass
class Impl:
    name: str
    modes: dict                      # lowprec mode number -> peer's own label
    make: Callable                   # (fmt, mode, x, ctx) -> (callable, setup or None)
    formats: tuple = ("fp16", "bf16")
    pure_numpy: bool = False
    slow: bool = False               # swept in every mode only on its sweep array
    version: str = ""
    na: str = ""                     # "n/a" reason for the whole implementation
    sweep: tuple = ()                # (n, dtype) arrays where every mode is run
    compare: bool = True             # count differences to lowprec's result
    sweep_only: bool = False         # run only on its sweep arrays
    offsweep: tuple = (1, 5)         # modes run on the other arrays
    note: str = ""


def _version(dist: str) -> str:
    try:
        return _md.version(dist)
    except _md.PackageNotFoundError:
        return "not installed"


def build_impls(target, second) -> list[Impl]:
    import lowprec as lp

    impls: list[Impl] = []
    every = {m: MODE_NAMES[m] for m in ALL_MODES}

    def small_of(x):
        return np.ascontiguousarray(x.reshape(-1)[:64])

    # ---- copy floor
    def mk_copyto(fmt, mode, x, ctx):
        dst = np.empty_like(x)
        return (lambda: np.copyto(dst, x)), None
    impls.append(Impl("copy floor: np.copyto(dst, x)", {0: "-"}, mk_copyto, compare=False,
                      formats=("-",)))

    def mk_copy(fmt, mode, x, ctx):
        return (lambda: x.copy()), None
    impls.append(Impl("x.copy() (allocates)", {0: "-"}, mk_copy, compare=False, formats=("-",)))

    # ---- lowprec
    def mk_lp(fmt, mode, x, ctx):
        seed = 1 if mode in (5, 6) else None
        xs = small_of(x)
        ctx["small"] = lambda: lp.chop(xs, fmt.lp, mode, seed=seed)
        return (lambda: lp.chop(x, fmt.lp, mode, seed=seed)), None
    impls.append(Impl("lowprec", every, mk_lp, formats=("fp16", "bf16", "e4m3fn", "e5m2"),
                      version=lp.__version__, compare=False))

    def mk_lp_out(fmt, mode, x, ctx):
        seed = 1 if mode in (5, 6) else None
        dst = np.empty_like(x)
        xs = small_of(x)
        ctx["small"] = lambda: lp.chop(xs, fmt.lp, mode, seed=seed, out=np.empty_like(xs))
        return (lambda: lp.chop(x, fmt.lp, mode, seed=seed, out=dst)), None
    impls.append(Impl("lowprec out=dst", every, mk_lp_out, slow=True,
                      sweep=(target,), version=lp.__version__))

    def mk_lp_inplace(fmt, mode, x, ctx):
        seed = 1 if mode in (5, 6) else None
        work = np.empty_like(x)
        xs = small_of(x)
        ctx["small"] = lambda: lp.chop(xs.copy(), fmt.lp, mode, seed=seed)

        def setup():   # untimed: each call rounds the original values, not already-rounded ones
            np.copyto(work, x)
        return (lambda: lp.chop(work, fmt.lp, mode, seed=seed, out=work)), setup
    impls.append(Impl("lowprec out=x (in place)", every, mk_lp_inplace, slow=True,
                      sweep=(target,), version=lp.__version__))

    # ---- numpy astype (fp16)
    def mk_np(roundtrip):
        def mk(fmt, mode, x, ctx):
            if roundtrip:
                return (lambda: x.astype(np.float16).astype(x.dtype)), None
            return (lambda: x.astype(np.float16)), None
        return mk
    impls.append(Impl("numpy astype(float16) round trip", {1: "astype"}, mk_np(True),
                      formats=("fp16",), version=np.__version__))
    impls.append(Impl("numpy astype(float16) one way", {1: "astype"}, mk_np(False),
                      formats=("fp16",), version=np.__version__, compare=False))

    # ---- ml_dtypes
    try:
        import ml_dtypes
        mld_types = {"bf16": ml_dtypes.bfloat16, "e4m3fn": ml_dtypes.float8_e4m3fn,
                     "e5m2": ml_dtypes.float8_e5m2}
        mld_na = ""
    except Exception as err:  # noqa: BLE001
        mld_types, mld_na = {}, f"{type(err).__name__}: {err}"

    def mk_mld(roundtrip):
        def mk(fmt, mode, x, ctx):
            t = mld_types[fmt.fam]
            if roundtrip:
                return (lambda: x.astype(t).astype(x.dtype)), None
            return (lambda: x.astype(t)), None
        return mk
    impls.append(Impl("ml_dtypes astype round trip", {1: "astype"}, mk_mld(True),
                      formats=("bf16", "e4m3fn", "e5m2"), version=_version("ml_dtypes"), na=mld_na))
    impls.append(Impl("ml_dtypes astype one way", {1: "astype"}, mk_mld(False),
                      formats=("bf16", "e4m3fn", "e5m2"), version=_version("ml_dtypes"), na=mld_na,
                      compare=False))

    # ---- pychop (NumPy backend)
    pychop_na = ""
    try:
        os.environ.setdefault("chop_backend", "numpy")
        import pychop
        pychop.backend("numpy")
    except Exception as err:  # noqa: BLE001
        pychop_na = f"{type(err).__name__}: {err}"

    def mk_pychop(fmt, mode, x, ctx):
        c = pychop.Chop(fmt.exp_bits, fmt.sig_bits, rmode=mode, subnormal=True)
        xs = small_of(x)
        ctx["small"] = lambda: c(xs)
        return (lambda: c(x)), None
    impls.append(Impl("pychop.Chop (LightChop)", dict(every), mk_pychop, pure_numpy=True,
                      slow=True, sweep=(target,), version=_version("pychop"), na=pychop_na,
                      note="default chunk_size=800: dask blocks for modes 1-4, 7-9"))

    def mk_faultchop(fmt, mode, x, ctx):
        prec = {"fp16": "h", "bf16": "b"}[fmt.fam]
        c = pychop.FaultChop(prec, subnormal=True, rmode=mode)
        xs = small_of(x)
        ctx["small"] = lambda: c(xs)
        return (lambda: c(x)), None
    impls.append(Impl("pychop.FaultChop", {m: MODE_NAMES[m] for m in range(1, 7)}, mk_faultchop,
                      pure_numpy=True, slow=True, sweep=(target,), version=_version("pychop"),
                      na=pychop_na))

    # ---- gfloat
    gfloat_na = ""
    try:
        import gfloat
        from gfloat import RoundMode
        from gfloat import formats as gff
        g_fi = {"fp16": gff.format_info_binary16, "bf16": gff.format_info_bfloat16,
                "e4m3fn": gff.format_info_ocp_e4m3, "e5m2": gff.format_info_ocp_e5m2}
        g_modes = {1: RoundMode.TiesToEven, 2: RoundMode.TowardPositive,
                   3: RoundMode.TowardNegative, 4: RoundMode.TowardZero,
                   5: RoundMode.Stochastic, 8: RoundMode.TiesToAway}
    except Exception as err:  # noqa: BLE001
        gfloat_na, g_modes = f"{type(err).__name__}: {err}", {1: "?"}

    SRBITS = 32

    def mk_gfloat(variant=None):
        def mk(fmt, mode, x, ctx):
            fi = g_fi[fmt.fam]
            rnd = getattr(RoundMode, variant) if variant else g_modes[mode]
            xs = small_of(x)
            if mode == 5:
                ctx["note"] = f"srnumbits={SRBITS}, random bits drawn inside the call"
                rng = np.random.default_rng(1)

                def call(v):   # draws its random bits in the call, as lp.chop does
                    bits = rng.integers(0, 1 << SRBITS, size=v.shape, dtype=np.int64)
                    return gfloat.round_ndarray(fi, v, rnd, srbits=bits, srnumbits=SRBITS)
            else:
                def call(v):
                    return gfloat.round_ndarray(fi, v, rnd)
            ctx["small"] = lambda: call(xs)
            return (lambda: call(x)), None
        return mk
    gm = {m: getattr(r, "name", str(r)) for m, r in g_modes.items()}
    impls.append(Impl("gfloat.round_ndarray", gm, mk_gfloat(), formats=("fp16", "bf16", "e4m3fn",
                      "e5m2"), pure_numpy=True, slow=True, sweep=(second,), offsweep=(1,),
                      version=_version("gfloat"), na=gfloat_na))
    for variant in ("StochasticOdd", "StochasticFast", "StochasticFastest"):
        impls.append(Impl(f"gfloat.round_ndarray {variant}", {5: variant}, mk_gfloat(variant),
                          pure_numpy=True, slow=True, sweep=(second,), version=_version("gfloat"),
                          na=gfloat_na, compare=False, sweep_only=True))

    # ---- apytypes
    apy_na = ""
    try:
        import apytypes as apy
        Q = apy.QuantizationMode
        apy_modes = {1: Q.TIES_EVEN, 2: Q.TO_POS, 3: Q.TO_NEG, 4: Q.TO_ZERO, 5: Q.STOCH_WEIGHTED,
                     6: Q.STOCH_EQUAL, 7: Q.TIES_ZERO, 8: Q.TIES_AWAY, 9: Q.JAM_UNBIASED}
    except Exception as err:  # noqa: BLE001
        apy_na, apy_modes = f"{type(err).__name__}: {err}", {1: "?"}

    def mk_apy(fmt, mode, x, ctx):
        se, ss = (11, 52) if x.dtype == np.float64 else (8, 23)
        dt = x.dtype
        if mode == 1:   # from_float rounds to nearest even directly
            def call(v):
                return apy.APyFloatArray.from_float(v, fmt.exp_bits, fmt.sig_bits).to_numpy() \
                    .astype(dt, copy=False)
        else:
            q = apy_modes[mode]

            def call(v):
                a = apy.APyFloatArray.from_float(v, se, ss)
                return a.cast(fmt.exp_bits, fmt.sig_bits, quantization=q).to_numpy() \
                    .astype(dt, copy=False)
        xs = small_of(x)
        ctx["small"] = lambda: call(xs)
        return (lambda: call(x)), None
    impls.append(Impl("apytypes APyFloatArray", {m: getattr(q, "name", str(q)) for m, q in
                                                 apy_modes.items()},
                      mk_apy, pure_numpy=True, slow=True, sweep=(second,), offsweep=(1,),
                      version=_version("apytypes"), na=apy_na,
                      note="from_float(...).to_numpy() for RNE; from_float(storage).cast(..., "
                           "quantization=...) otherwise; to_numpy() gives float64, cast back"))
    return impls


# ----------------------------------------------------------------------------- running

@dataclass
class Row:
    arr: tuple            # (n, dtype name)
    fmt: str
    mode: int
    impl: str
    label: str
    median: Optional[float] = None   # seconds
    best: Optional[float] = None     # fastest call, seconds
    load: Optional[float] = None     # other processes' cores during the measurement
    n: int = 0
    peak: Optional[float] = None     # bytes
    out_bytes: int = 0
    in_bytes: int = 0
    diff: Optional[tuple] = None     # judge(): differing elements, sampled, lowprec/peer right
    na: str = ""
    note: str = ""
    copy: Optional[float] = None     # copy floor median of this array


def exact_round(v: float, t: int, emin: int, xmax: float, has_inf: bool, mode: int) -> float:
    """Round ``v`` into a binary format in a deterministic mode, in exact rational arithmetic.

    An oracle independent of every library benchmarked here, used to tell who is right where
    a peer's result differs from lowprec's. Overflow: infinity (NaN for a format without
    infinities) for the modes that round outward, xmax for the others.
    """
    import math
    from fractions import Fraction
    if v == 0 or v != v or math.isinf(v):
        return v
    a = abs(Fraction(v))
    neg = v < 0
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    q = max(e, emin) - (t - 1)
    k = a / Fraction(2) ** q
    lo = math.floor(k)
    rem = k - lo
    half = Fraction(1, 2)
    up = {1: rem > half or (rem == half and lo % 2 == 1), 2: rem > 0 and not neg,
          3: rem > 0 and neg, 4: False, 7: rem > half, 8: rem >= half,
          9: rem > 0 and lo % 2 == 0}[mode]
    r = float((lo + up) * Fraction(2) ** q) if (lo + up) * Fraction(2) ** q <= Fraction(xmax) \
        else None
    if r is None:
        outward = mode in (1, 7, 8) or (mode == 2 and not neg) or (mode == 3 and neg)
        r = (math.inf if has_inf else math.nan) if outward else xmax
    return -r if neg else r


def judge(x, a, b, fmt: "Fmt", mode: int, sample: int = 50):
    """(elements where b != a, sampled, lowprec right, peer right) with a = lowprec's result."""
    import lowprec as lp
    a = np.asarray(a).reshape(-1)
    b = np.asarray(b).reshape(-1)
    if a.shape != b.shape:
        return (-1, 0, 0, 0)
    if a.dtype != b.dtype:
        b = b.astype(a.dtype)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    idx = np.flatnonzero(~same)
    if idx.size == 0 or mode not in (1, 2, 3, 4, 7, 8, 9):
        return (int(idx.size), 0, 0, 0)
    f = lp.format(fmt.lp)
    xs = np.asarray(x).reshape(-1)
    pick = idx[np.linspace(0, idx.size - 1, min(sample, idx.size)).astype(np.int64)]
    ok_a = ok_b = 0
    for i in pick:
        ex = exact_round(float(xs[i]), f.t, f.emin, float(f.xmax), bool(f.has_inf), mode)
        ok_a += bool(a[i] == ex or (a[i] != a[i] and ex != ex))
        ok_b += bool(b[i] == ex or (b[i] != b[i] and ex != ex))
    return (int(idx.size), int(pick.size), ok_a, ok_b)


def modes_for(impl: Impl, arr, all_peer_modes: bool, target) -> list[int]:
    modes = [m for m in impl.modes]
    if impl.sweep_only and not all_peer_modes and arr not in impl.sweep:
        return []
    if impl.slow and not all_peer_modes and arr not in impl.sweep:
        modes = [m for m in modes if m == 0 or m in impl.offsweep]
    return modes


def wait_quiet(limit: float) -> Optional[float]:
    """Wait (at most ``limit`` s) until other processes use less than BUSY cores over 2 s."""
    t_end = time.perf_counter() + limit
    while True:
        m0 = _cpu_mark()
        time.sleep(2.0)
        load = other_load(m0, _cpu_mark())
        if load is None or load < BUSY or time.perf_counter() >= t_end:
            return load
        print(f"other processes use {load:.2f} cores; waiting for a quiet machine ...", flush=True)


def run(args) -> tuple[list[Row], dict]:
    import lowprec as lp

    sizes = (256, 512) if args.quick else tuple(int(s) for s in args.sizes.split(","))
    dtypes = (np.float64, np.float32)
    arrays = [(n, np.dtype(d).name) for n in sizes for d in dtypes]
    target = (max(sizes), "float64")
    second = (min(sizes), "float64")
    impls = build_impls(target, second)
    info = {"target": target, "second": second, "arrays": arrays, "mix": {}, "impls": impls}
    rows: list[Row] = []
    t_start = time.perf_counter()
    mark0 = _cpu_mark()
    waited = [getattr(args, "waited0", 0.0)]

    def log(msg):
        print(msg, flush=True)

    for arr in arrays:
        n, dname = arr
        dtype = np.dtype(dname)
        log(f"== {n}x{n} {dname} ({time.perf_counter() - t_start:.0f} s)")
        copy_median = None
        fmts = list(MAIN_FORMATS)
        if n == max(sizes):
            fmts += list(FP8_FORMATS) + list(NORMAL_FORMATS)
        for fmt in fmts:
            x = make_data(n, fmt, dtype, seed=1234 + n)
            if dtype == np.float64 and fmt.key not in info["mix"]:
                info["mix"][fmt.key] = data_mix(x, fmt)
            ref: dict[int, np.ndarray] = {}
            for impl in impls:
                is_copy = 0 in impl.modes
                if is_copy and fmt is not MAIN_FORMATS[0]:
                    continue
                if not is_copy and fmt.fam not in impl.formats:
                    continue
                modes = [0] if is_copy else modes_for(impl, arr, args.all_peer_modes, target)
                if fmt in FP8_FORMATS:   # extra: RNE only
                    modes = [m for m in modes if m == 1]
                    if impl.name != "lowprec" and not impl.name.startswith(("ml_dtypes",
                                                                            "gfloat.round_ndarray")):
                        continue
                    if impl.name.startswith("gfloat.round_ndarray "):
                        continue
                if fmt.normal_only:      # extra: lowprec's fast path alone, and the casts
                    modes = [m for m in modes if m in (1, 5)]
                    if not impl.name.startswith(("lowprec", "numpy", "ml_dtypes")) or \
                            "in place" in impl.name:
                        continue
                for mode in modes:
                    row = Row(arr, "-" if is_copy else fmt.key, mode, impl.name,
                              impl.modes[mode], in_bytes=x.nbytes, note=impl.note)
                    rows.append(row)
                    if impl.na:
                        row.na = impl.na
                        continue
                    ctx: dict = {}
                    try:
                        fn, setup = impl.make(fmt, mode, x, ctx)
                        kw = dict(small=ctx.get("small"), setup=setup, repeats=args.repeats,
                                  budget=args.budget, pure_numpy=impl.pure_numpy,
                                  min_repeats=2 if impl.slow and impl.pure_numpy else 3)
                        s = measure(fn, **kw)
                        if s.load is not None and s.load > BUSY and waited[0] < args.wait_quiet:
                            t0 = time.perf_counter()   # noisy: wait for quiet, measure again
                            log(f"   (other processes used {s.load:.2f} cores: measuring again)")
                            wait_quiet(min(30.0, args.wait_quiet - waited[0]))
                            waited[0] += time.perf_counter() - t0
                            s = None
                            s = measure(fn, **kw)
                        med, low = statistics.median(s.times), min(s.times)
                        if not (impl.slow and impl.pure_numpy) and med > 1.5 * low:
                            # bimodal: a stall of the machine (page faults on a VM, ...) hit
                            # most calls; measure again once and keep the new numbers
                            ctx["note"] = (f"measured again: first try median {_ms(med)} ms, "
                                           f"min {_ms(low)} ms")
                            log(f"   (unstable: median {_ms(med)} ms, min {_ms(low)} ms: "
                                "measuring again)")
                            s = None
                            s = measure(fn, **kw)
                    except Exception as err:  # noqa: BLE001
                        msg = str(err).splitlines()[0] if str(err) else ""
                        row.na = f"{type(err).__name__}: {msg}"[:120]
                        log(f"   {impl.name:38s} {fmt.key:6s} {mode}  n/a ({row.na})")
                        continue
                    if ctx.get("note"):
                        row.note = (row.note + "; " if row.note else "") + ctx["note"]
                    row.median = statistics.median(s.times)
                    row.best = min(s.times)
                    row.load = s.load
                    row.n = len(s.times)
                    row.peak = s.peak
                    res = s.result
                    row.out_bytes = getattr(res, "nbytes", 0) or 0
                    if isinstance(res, np.ndarray) and res.dtype != x.dtype and "one way" not in \
                            impl.name:
                        row.note = (row.note + "; " if row.note else "") + f"returns {res.dtype}"
                    if impl.name == "lowprec" and mode not in (5, 6):
                        ref[mode] = res
                    elif impl.compare and mode in ref and isinstance(res, np.ndarray):
                        row.diff = judge(x, ref[mode], res, fmt, mode)
                    if impl.name == "lowprec out=x (in place)":
                        row.out_bytes = x.nbytes
                    if is_copy and impl.name.startswith("copy floor"):
                        copy_median = row.median
                    del s, res
                    log(f"   {impl.name:38s} {row.fmt:6s} {mode}  {row.median * 1e3:9.2f} ms"
                        f"  n={row.n}" + (f"  peak {row.peak / MB:7.1f} MiB" if row.peak is not None
                                          else "")
                        + (f"  (other processes: {row.load:.2f} cores)" if row.load and
                           row.load > BUSY else ""))
            del ref, x
            gc.collect()
        for r in rows:
            if r.arr == arr:
                r.copy = copy_median
    info["elapsed"] = time.perf_counter() - t_start
    info["load"] = other_load(mark0, _cpu_mark())
    info["waited"] = waited[0]
    info["busy_rows"] = sum(1 for r in rows if r.load is not None and r.load > BUSY)
    info["threading_layer"] = _threading_layer()
    return rows, info


def _threading_layer() -> str:
    try:
        import numba
        return numba.threading_layer()
    except Exception as err:  # noqa: BLE001
        return f"? ({type(err).__name__})"


# ----------------------------------------------------------------------------- reporting

def table(headers: list[str], body: list[list[str]], right: Optional[set] = None) -> str:
    """A markdown pipe table, padded so that it reads as plain text too."""
    right = right if right is not None else set(range(1, len(headers)))
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h)
              for i, h in enumerate(headers)]

    def fmt_row(cells):
        out = []
        for i, c in enumerate(cells):
            out.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        return "| " + " | ".join(out) + " |"
    sep = "|" + "|".join(("-" * (w + 1) + ":") if i in right else ("-" * (w + 2))
                         for i, w in enumerate(widths)) + "|"
    return "\n".join([fmt_row(headers), sep] + [fmt_row(r) for r in body])


def _ms(t: Optional[float]) -> str:
    return "-" if t is None else (f"{t * 1e3:.1f}" if t >= 0.01 else f"{t * 1e3:.2f}")


def _arr_name(arr) -> str:
    return f"{arr[0]}x{arr[0]} {arr[1]}"


def find(rows, arr, fmt, mode, impl) -> Optional[Row]:
    for r in rows:
        if r.arr == arr and r.fmt == fmt and r.mode == mode and r.impl == impl:
            return r
    return None


def cell(r: Optional[Row]) -> str:
    if r is None:
        return ""
    if r.na:
        return "n/a"
    return _ms(r.median)


SUMMARY_COLS = [
    ("lowprec", "lowprec"),
    ("lowprec out=dst", "out=dst"),
    ("lowprec out=x (in place)", "out=x"),
    ("pychop.Chop (LightChop)", "pychop.Chop"),
    ("pychop.FaultChop", "FaultChop"),
    ("numpy astype(float16) round trip", "np f16 rt"),
    ("numpy astype(float16) one way", "np f16 1way"),
    ("ml_dtypes astype round trip", "ml_dtypes rt"),
    ("ml_dtypes astype one way", "ml_dtypes 1way"),
    ("gfloat.round_ndarray", "gfloat"),
    ("apytypes APyFloatArray", "apytypes"),
]


def summary_tables(rows, info) -> list[str]:
    out = []
    for arr in info["arrays"]:
        copy = find(rows, arr, "-", 0, "copy floor: np.copyto(dst, x)")
        alloc = find(rows, arr, "-", 0, "x.copy() (allocates)")
        for fmt in [f.key for f in MAIN_FORMATS + NORMAL_FORMATS + FP8_FORMATS]:
            rs = [r for r in rows if r.arr == arr and r.fmt == fmt]
            if not rs:
                continue
            cols = [(k, h) for k, h in SUMMARY_COLS if any(r.impl == k for r in rs)]
            headers = ["mode"] + [h for _, h in cols] + ["pychop/lowprec", "lowprec/copy"]
            body = []
            for mode in ALL_MODES:
                lpr = find(rows, arr, fmt, mode, "lowprec")
                if lpr is None:
                    continue
                line = [f"{mode} {MODE_NAMES[mode]}"] + [cell(find(rows, arr, fmt, mode, k))
                                                         for k, _ in cols]
                pys = [r.median for r in (find(rows, arr, fmt, mode, "pychop.Chop (LightChop)"),
                                          find(rows, arr, fmt, mode, "pychop.FaultChop"))
                       if r is not None and r.median is not None]
                ok = lpr.median is not None
                line.append(f"{min(pys) / lpr.median:.1f}x" if pys and ok else "")
                line.append(f"{lpr.median / copy.median:.1f}x" if ok and copy and copy.median
                            else "")
                body.append(line)
            keep = [0] + [i for i in range(1, len(headers)) if any(b[i] for b in body)]
            headers = [headers[i] for i in keep]
            body = [[b[i] for i in keep] for b in body]
            title = (f"**{_arr_name(arr)} -> {fmt}**: median ms per call (copy floor "
                     f"np.copyto {_ms(copy.median if copy else None)} ms, x.copy() "
                     f"{_ms(alloc.median if alloc else None)} ms); blank = not run on this "
                     "array (see sweep rules), n/a = see the detail table")
            out.append(title + "\n\n" + table(headers, body, right=set(range(1, len(headers)))))
    return out


def detail_table(rows) -> str:
    headers = ["array", "fmt", "mode", "implementation", "peer mode", "median ms", "min ms", "GB/s",
               "x copy", "peak extra MiB", "peak/out", "n", "other load", "!= lowprec", "note"]
    body = []
    for r in rows:
        if r.na:
            body.append([_arr_name(r.arr), r.fmt, str(r.mode), r.impl, str(r.label), "n/a", "", "",
                         "", "", "", "", "", "", f"n/a ({r.na})"])
            continue
        gbs = r.in_bytes / r.median / 1e9
        ratio = f"{r.median / r.copy:.2f}" if r.copy else ""
        peak = "" if r.peak is None else f"{r.peak / MB:.1f}"
        pr = "" if (r.peak is None or not r.out_bytes) else f"{r.peak / r.out_bytes:.2f}"
        diff = "" if r.diff is None else (
            str(r.diff[0]) if not r.diff[1] else
            f"{r.diff[0]} (of {r.diff[1]} checked: lowprec right {r.diff[2]}, peer right "
            f"{r.diff[3]})")
        load = "" if r.load is None else f"{r.load:.2f}"
        body.append([_arr_name(r.arr), r.fmt, str(r.mode), r.impl, str(r.label), _ms(r.median),
                     _ms(r.best), f"{gbs:.2f}", ratio, peak, pr, str(r.n), load, diff, r.note])
    return table(headers, body, right={2, 5, 6, 7, 8, 9, 10, 11, 12, 13})


def targets(rows, info) -> list[str]:
    """The PASS/MISS lines of lowprec's performance targets."""
    arr = info["target"]
    arr32 = (arr[0], "float32")
    name = _arr_name(arr)
    lines = []

    def get(a, fmt, mode, impl):
        r = find(rows, a, fmt, mode, impl)
        return None if r is None or r.median is None else r

    def verdict(ok):
        return "PASS" if ok else "MISS"

    busy = [r for r in rows if r.arr in (arr, arr32) and r.load is not None and r.load > BUSY
            and (r.impl.startswith(("lowprec", "copy floor")))]

    copy = get(arr, "-", 0, "copy floor: np.copyto(dst, x)")
    rne = get(arr, "fp16", 1, "lowprec")
    rne_out = get(arr, "fp16", 1, "lowprec out=dst")
    if not (copy and rne):
        return ["targets: not evaluated (missing measurements)"]
    frac = copy.median / rne.median
    lines.append(f"{verdict(frac >= 0.5)}  RNE->fp16 on {name} at >= 50% of the copy floor's "
                 f"throughput: lp.chop {_ms(rne.median)} ms ({rne.in_bytes / rne.median / 1e9:.2f} "
                 f"GB/s) vs np.copyto {_ms(copy.median)} ms "
                 f"({copy.in_bytes / copy.median / 1e9:.2f} GB/s): {100 * frac:.1f}% "
                 f"(needs {rne.median / copy.median / 2:.1f}x faster)" if frac < 0.5 else
                 f"{verdict(True)}  RNE->fp16 on {name} at >= 50% of the copy floor's throughput: "
                 f"lp.chop {_ms(rne.median)} ms vs np.copyto {_ms(copy.median)} ms: "
                 f"{100 * frac:.1f}%")
    if rne_out:
        f2 = copy.median / rne_out.median
        lines.append(f"info  same with out=dst (no allocation, like np.copyto): "
                     f"{_ms(rne_out.median)} ms = {100 * f2:.1f}% of the copy floor")
    nk = NORMAL_FORMATS[0].key
    rn, rno = get(arr, nk, 1, "lowprec"), get(arr, nk, 1, "lowprec out=dst")
    if rn:
        lines.append(f"info  same on normal-range-only data: {_ms(rn.median)} ms = "
                     f"{100 * copy.median / rn.median:.1f}% of the copy floor"
                     + (f"; with out=dst {_ms(rno.median)} ms = "
                        f"{100 * copy.median / rno.median:.1f}%" if rno else ""))

    for fmt in ("fp16", "bf16"):
        worst, wm = 0.0, None
        for m in ALL_MODES:
            r = get(arr, fmt, m, "lowprec")
            if r and r.median / rne.median > worst:
                worst, wm = r.median / rne.median, m
        lines.append(f"{verdict(worst <= 1.5)}  every mode to {fmt} within 1.5x of the RNE->fp16 "
                     f"time ({_ms(rne.median)} ms): worst is mode {wm} ({MODE_NAMES.get(wm)}) at "
                     f"{worst:.2f}x")

    for fmt in ("fp16", "bf16"):
        ratios = []
        for m in ALL_MODES:
            lpr = get(arr, fmt, m, "lowprec")
            pys = [r.median for r in (get(arr, fmt, m, "pychop.Chop (LightChop)"),
                                      get(arr, fmt, m, "pychop.FaultChop")) if r]
            if lpr and pys:
                ratios.append((min(pys) / lpr.median, m))
        if not ratios:
            lines.append(f"n/a   >= 10x faster than pychop's fastest NumPy path ({fmt}): pychop "
                         "not measured")
            continue
        lo, lm = min(ratios)
        detail = ", ".join(f"{m}:{q:.1f}x" for q, m in sorted(ratios, key=lambda t: t[1]))
        lines.append(f"{verdict(lo >= 10)}  >= 10x faster than pychop's fastest NumPy path in every "
                     f"mode ({fmt}, {name}): lowest {lo:.1f}x (mode {lm}); per mode {detail}")

    for fmt, impl in (("fp16", "numpy astype(float16)"), ("bf16", "ml_dtypes astype")):
        lpr = get(arr, fmt, 1, "lowprec")
        rt = get(arr, fmt, 1, f"{impl} round trip")
        ow = get(arr, fmt, 1, f"{impl} one way")
        if not (lpr and rt):
            lines.append(f"n/a   at least as fast as {impl} for RNE ({fmt}): not measured")
            continue
        lines.append(f"{verdict(lpr.median <= rt.median)}  RNE->{fmt} at least as fast as {impl} "
                     f"round trip ({name}): lp.chop {_ms(lpr.median)} ms vs {_ms(rt.median)} ms "
                     f"(lowprec {rt.median / lpr.median:.2f}x the speed)")
        if ow:
            lines.append(f"{verdict(lpr.median <= ow.median)}  RNE->{fmt} at least as fast as {impl} "
                         f"one way (to the {fmt} dtype): lp.chop {_ms(lpr.median)} ms vs "
                         f"{_ms(ow.median)} ms (lowprec {ow.median / lpr.median:.2f}x the speed)")

    worst, wk = 0.0, None
    for fmt in ("fp16", "bf16"):
        for m in ALL_MODES:
            a, b = get(arr32, fmt, m, "lowprec"), get(arr, fmt, m, "lowprec")
            if a and b and a.median / b.median > worst:
                worst, wk = a.median / b.median, (fmt, m)
    if wk:
        r32 = get(arr32, "fp16", 1, "lowprec")
        lines.append(f"{verdict(worst < 1.0)}  float32 storage faster per element than float64 "
                     f"({arr[0]}x{arr[0]}, every format and mode): worst float32/float64 time ratio "
                     f"{worst:.2f} ({wk[0]} mode {wk[1]}); RNE->fp16 {_ms(r32.median) if r32 else '-'}"
                     f" ms vs {_ms(rne.median)} ms")

    for a in (arr, arr32):
        worst, wk = 0.0, None
        for fmt in ("fp16", "bf16"):
            for m in ALL_MODES:
                r = find(rows, a, fmt, m, "lowprec")
                if r and r.peak is not None and r.out_bytes and r.peak / r.out_bytes > worst:
                    worst, wk = r.peak / r.out_bytes, (fmt, m, r.peak, r.out_bytes)
        if wk:
            ok = wk[2] <= 1.02 * wk[3] + 4 * MB
            lines.append(f"{verdict(ok)}  no temporary larger than the output "
                         f"({_arr_name(a)}, peak extra <= output + 2% + 4 MiB): worst peak extra "
                         f"{wk[2] / MB:.1f} MiB for a {wk[3] / MB:.1f} MiB output ({worst:.2f}x, "
                         f"{wk[0]} mode {wk[1]})")
    worst, wk = 0.0, None
    for r in rows:
        if r.impl == "lowprec out=x (in place)" and r.peak is not None and r.arr[0] == arr[0]:
            if r.peak >= worst:
                worst, wk = r.peak, r
    if wk:
        lines.append(f"{verdict(worst <= 0.02 * wk.in_bytes + 4 * MB)}  in place (out=x) allocates "
                     f"nothing array-sized: worst peak extra {worst / MB:.1f} MiB ("
                     f"{_arr_name(wk.arr)}, {wk.fmt} mode {wk.mode}; input {wk.in_bytes / MB:.0f} MiB)")
    inp = get(arr, "fp16", 1, "lowprec out=x (in place)")
    if inp:
        lines.append(f"info  in place RNE->fp16 on {name}: {_ms(inp.median)} ms "
                     f"({inp.median / rne.median:.2f}x the allocating call, "
                     f"{copy.median / inp.median * 100:.0f}% of the copy floor)")
    if busy:
        lines.append(f"note  {len(busy)} lowprec/copy measurements on the {arr[0]}x{arr[0]} arrays ran "
                     f"while other processes used > {BUSY} cores (see `other load`)")
    return lines


def load_line(info) -> str:
    load, busy = info.get("load"), info.get("busy_rows", 0)
    if load is None:
        return "Other processes' CPU use during the run: unknown (no /proc/stat)."
    text = (f"Other processes kept {load:.2f} cores busy on average during the run (the "
            f"`other load` column gives it per measurement); ")
    if info.get("waited"):
        text += f"the run waited {info['waited']:.0f} s for quiet to measure busy cases again; "
    if busy:
        return text + (f"{busy} measurements ran while they used more than {BUSY} cores: "
                       "treat those times with caution (numba's parallel loops suffer most).")
    return text + f"no measurement ran while they used more than {BUSY} cores."


def machine_info() -> dict:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    import numba
    return {"cpu": cpu, "cores": os.cpu_count(), "usable": usable,
            "numba_threads": numba.get_num_threads(), "python": platform.python_version(),
            "platform": platform.platform()}


def git_state() -> str:
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "lowprec"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if not head:
            return "?"
        return head + (" + uncommitted changes in lowprec/" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def versions(info) -> list[tuple[str, str]]:
    import numba
    import lowprec
    out = [("python", platform.python_version()), ("numpy", np.__version__),
           ("numba", numba.__version__), ("lowprec", f"{lowprec.__version__} (git {git_state()})")]
    for dist in ("pychop", "ml_dtypes", "gfloat", "apytypes", "dask"):
        out.append((dist, _version(dist)))
    return out


def report(rows, info, args, mem_note) -> str:
    m = machine_info()
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "python " + " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])
    parts = ["# lp.chop benchmark results", "",
             f"Made by `{cmd}` (from the repository root; `make bench` runs it with "
             f"`--write benchmarks/RESULTS.md`) on {now}, in {info['elapsed'] / 60:.1f} min.", "", load_line(info), "",
             "## Machine and versions", "",
             f"- CPU: {m['cpu']}; {m['cores']} logical cores ({m['usable']} usable); "
             f"numba threads: {m['numba_threads']} (threading layer {info['threading_layer']})",
             f"- {m['platform']}"]
    parts += [f"- {k}: {v}" for k, v in versions(info)]
    t = info["target"]
    mix = ", ".join(f"{k}: {100 * a:.2f}% below xmin, {100 * b:.3f}% above xmax"
                    for k, (a, b) in info["mix"].items())
    parts += ["", "## Method", "",
              "- Data: standard normal values, each multiplied by 2**k with k uniform in "
              "[emin, emax] of the target format, so that the values cover the format's normal "
              "range with a few subnormals and overflows from the tails; float32 arrays are the "
              f"float64 ones cast (values beyond float32's range become inf). Measured on the float64 "
              f"data: {mix}. The `normal-only` data sets hold only values ±(1+u)*2**k inside the "
              "normal range (k uniform in [emin, emax-1]).",
              f"- Time: median of n timed calls after a small warm-up call (numba compilation, "
              f"imports) and one untimed full-size call; up to {args.repeats} calls within "
              f"{args.budget:g} s per case (at least 3, or 2 for pychop/gfloat/apytypes). For a "
              "pure-NumPy peer whose call takes more than 1 s the first full-size call is counted "
              "(nothing to compile). A fast case whose median exceeds 1.5x its fastest call (the "
              "machine stalled during most calls) is measured once more and the new numbers kept "
              "(its note says so). Every output is a freshly mapped array (as glibc does anyway "
              "for blocks over 32 MiB, i.e. every 4000x4000 output), so allocating calls pay for "
              "first-touch page faults, as `x.copy()` does. GB/s = input bytes / median time. `x copy` = median time / "
              "np.copyto(dst, x) time on the same array.",
              "- Memory: peak growth of the resident set during one call (VmHWM after minus VmRSS "
              "before, the high-water mark reset via /proc/self/clear_refs before each call, glibc's "
              "mmap threshold pinned at 64 KiB so that freed arrays really leave the process); it "
              "counts the output and every temporary (NumPy, numba, dask or C++), not the input; "
              "max over the timed calls. `peak/out` = that over the output's size; 1.00 means the "
              "output alone." + (f" ({mem_note})" if mem_note else ""),
              "- `!= lowprec`: elements whose value differs from lp.chop's result in the same "
              "deterministic mode (NaN = NaN; signed zeros not told apart); up to 50 of them are "
              "checked against exact rational rounding (Python fractions, independent of every "
              "library here) and the count of right answers on each side is given.",
              "- lp.chop in stochastic modes gets `seed=1`; pychop's and apytypes' stochastic modes "
              "use their own generators, gfloat gets random bits drawn inside the timed call.",
              f"- Sweep rules (to keep the run near 10 minutes on 2 cores): lowprec, the copy floor, "
              f"numpy and ml_dtypes run everywhere; pychop and lowprec's out= variants run every "
              f"mode on {_arr_name(t)} and RNE and stochastic (mode 5) on the other arrays; "
              f"gfloat and apytypes run every mode on {_arr_name(info['second'])} and RNE on the "
              "other arrays (`--all-peer-modes` lifts all this). fp8 (RNE only, lowprec, "
              "ml_dtypes, gfloat) and the normal-only data (RNE and SR, lowprec and the casts) "
              f"are measured on the {t[0]}x{t[0]} arrays.",
              "- Peer modes: pychop 1-9 (its 10, CADNA, has no lowprec counterpart), FaultChop 1-6, "
              "gfloat TiesToEven/TowardPositive/TowardNegative/TowardZero/Stochastic/TiesToAway "
              "(= 1/2/3/4/5/8; StochasticOdd/Fast/Fastest listed as extra mode-5 variants), "
              "apytypes TIES_EVEN/TO_POS/TO_NEG/TO_ZERO/STOCH_WEIGHTED/STOCH_EQUAL/TIES_ZERO/"
              "TIES_AWAY/JAM_UNBIASED (= 1-9), numpy and ml_dtypes astype round to nearest (1).",
              "", "## Targets", "", "```"] + targets(rows, info) + ["```", "", "## Summary", ""]
    for s in summary_tables(rows, info):
        parts += [s, ""]
    nas = sorted({(r.impl, r.na) for r in rows if r.na})
    if nas:
        parts += ["Not available:", ""] + [f"- {i}: n/a ({why})" for i, why in nas] + [""]
    parts += ["## All measurements", "", detail_table(rows), ""]
    return "\n".join(parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="256x256 and 512x512 arrays, few repeats")
    p.add_argument("--write", metavar="FILE", help="write the markdown report to FILE")
    p.add_argument("--sizes", default="2000,4000", help="array sides, comma separated")
    p.add_argument("--repeats", type=int, default=None, help="most timed calls per case (7; 3 quick)")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds of timed calls per case (2; 0.3 quick)")
    p.add_argument("--wait-quiet", type=float, default=None, metavar="S",
                   help="wait up to S seconds in all for other processes to go quiet: before the "
                        "run, and before measuring again a case that ran on a busy machine (120; 0 quick)")
    p.add_argument("--all-peer-modes", action="store_true",
                   help="run the slow peers in every mode on every array (long)")
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 7
    if args.budget is None:
        args.budget = 0.3 if args.quick else 2.0
    if args.wait_quiet is None:
        args.wait_quiet = 0.0 if args.quick else 120.0

    mem_note = _setup_memory_probe()
    t0 = time.perf_counter()
    # at most half of the waiting budget before the run; the rest is for measuring again
    start_load = wait_quiet(args.wait_quiet / 2) if args.wait_quiet > 0 else None
    args.waited0 = time.perf_counter() - t0 if args.wait_quiet > 0 else 0.0
    if start_load is not None and start_load > BUSY:
        print(f"warning: other processes use {start_load:.2f} cores; timings will be noisy",
              flush=True)
    rows, info = run(args)
    info["start_load"] = start_load
    text = report(rows, info, args, mem_note)
    print()
    print(text)
    if args.write:
        path = Path(args.write)  # the other benchmarks' sections (benchmarks/sections.py) stay
        old = path.read_text() if path.exists() else ""
        kept = old[old.index("<!-- BEGIN"):] if "<!-- BEGIN" in old else ""
        path.write_text(text.rstrip("\n") + ("\n\n" + kept if kept else "\n"))
        print(f"\nwritten to {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
