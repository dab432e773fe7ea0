"""The verification suite: which checks run on which formats, and the report.

``python -m verification`` runs :data:`FULL`; ``--quick`` runs :data:`QUICK`, a subset
small enough for ``make test``. Every check returns :class:`~verification.checks.Check`
records; the run fails if any record has a mismatch, or checked a number of cases
other than its family promises (zero included).
"""

from __future__ import annotations

import importlib.util
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, List, Tuple

import ml_dtypes
import numpy as np

import lowprec as lp
from lowprec.formats import FLOAT_FORMATS

from . import cases as C
from . import checks as K
from . import ops as O
from .accumulate import run_all as run_accumulate
from .fixed import run_all as run_fixed
from .oracle import DETERMINISTIC, MODE_LABELS

ALL_MODES = tuple(range(1, 10))

#: Built-ins of at most 16 bits, P3109 formats (signed/unsigned, extended/finite), customs.
SMALL = [f for f in FLOAT_FORMATS.values() if f.bits <= 16] + [
    lp.p3109(8, 1), lp.p3109(8, 3), lp.p3109(8, 4, domain="finite"), lp.p3109(8, 5, signed=False),
    lp.format("e3m4"), lp.format("e6m9"),
]
#: Formats checked against mpmath on random inputs (any width).
WIDE = [lp.format(n) for n in ("half", "bf16", "tf32", "fp32", "fp64", "e4m3fn", "e3m4", "e6m9", "e8m4",
                               "e11m20", "e9m14")] + [lp.p3109(8, 4)]
#: The ml_dtypes twins of lowprec formats.
ML_DTYPES = {
    "binary16": np.float16, "bfloat16": ml_dtypes.bfloat16, "e4m3": ml_dtypes.float8_e4m3,
    "e5m2": ml_dtypes.float8_e5m2, "e4m3fn": ml_dtypes.float8_e4m3fn, "e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "e5m2fnuz": ml_dtypes.float8_e5m2fnuz, "fp6_e2m3": ml_dtypes.float6_e2m3fn,
    "fp6_e3m2": ml_dtypes.float6_e3m2fn, "fp4_e2m1": ml_dtypes.float4_e2m1fn, "e3m4": ml_dtypes.float8_e3m4,
}


@dataclass(frozen=True)
class Plan:
    """How much of each family to run."""

    small: Tuple[str, ...]  #: labels of SMALL formats swept exhaustively
    wide: Tuple[str, ...]  #: labels of WIDE formats checked against mpmath
    sample: int  #: mpmath sample per small format, options and mode
    random: int  #: random cases per wide format, family and storage
    sr_k: int  #: top random bits enumerated by sr-enum
    sr_draws: int  #: draws per point in sr-freq
    sr_points: int  #: points per format in sr-freq
    ops_small: Tuple[str, ...] = ()  #: labels of SMALL formats of <= 8 bits: operations on pairs of values
    ops_pairs: int = 0  #: pairs per small format and operation (0: every pair)
    ops_sr: int = 0  #: stochastic pairs per operation, and fma triples / 20, per small format
    ops_wide: Tuple[str, ...] = ()  #: labels of OPS_WIDE formats: operations on hard operands
    ops_hard: int = 0  #: hard operand tuples per operation, format and storage
    jax_arith: Tuple[str, ...] = ()  #: formats whose LPArray + - * / sqrt are checked (verification/jax_backend.py)
    jax_n: int = 0  #: hard operand tuples per operation there
    jax_acc: Tuple[str, ...] = ()  #: formats whose LPArray accumulation models are checked
    jax_small: bool = False  #: the tiny subset: one mode, one operation, the exact sum without x64


#: Formats of the JAX families (verification/jax_backend.py): arithmetic, accumulation.
JAX_ARITH = ("fp64", "fp32", "bf16", "half", "e11m10", "e8m30")
JAX_ACC = ("half", "bf16", "e4m3fn", "fp32", "e11m10", "e8m30", "fp64")

#: Formats whose operations are checked on hard operands against mpmath (any width).
OPS_WIDE = [lp.format(n) for n in ("half", "bf16", "tf32", "fp32", "fp64", "e8m10", "e11m20", "e3m4")]

FULL = Plan(tuple(f.label for f in SMALL), tuple(f.label for f in WIDE), 2000, 2000, 8, 40000, 8,
            tuple(f.label for f in SMALL if f.bits <= 8), 0, 1000, tuple(f.label for f in OPS_WIDE), 800,
            tuple(lp.format(n).label for n in JAX_ARITH), 200, tuple(lp.format(n).label for n in JAX_ACC))
QUICK = Plan(("binary16", "bfloat16", "e4m3", "e4m3fn", "e5m2fnuz", "fp4_e2m1", "binary8p3se"),
             ("bfloat16", "tf32", "binary32", "e3m4", "e11m20"), 30, 40, 6, 4000, 2,
             ("e4m3", "e5m2fnuz", "fp6_e3m2", "fp4_e2m1", "binary8p3se"), 4096, 40,
             ("bfloat16", "binary64"), 48, ("binary64",), 16, ("bfloat16",), True)


def fits_float32(fmt) -> bool:
    """Whether every value of ``fmt`` is a float32."""
    return fmt.t <= 24 and fmt.emax <= 127 and fmt.emin >= -126


def tasks(plan: Plan, seed: int) -> List[Tuple[str, Callable[[], List[K.Check]]]]:
    """The checks of a plan, as ``(title, thunk)`` pairs (each thunk seeds its own generator)."""
    out = []
    small = [f for f in SMALL if f.label in plan.small]
    wide = [f for f in WIDE if f.label in plan.wide]

    def rng(i):
        return np.random.default_rng([seed, i])

    for i, f in enumerate(small):
        def sweep(f=f, i=i):
            fams = C.fp16_families() + [C.fp16_near(np.float32), C.format_points(f), C.boundaries(f)]
            pool = C.Cases("pool", np.concatenate([c.x.astype(np.float64) for c in fams]), 0)
            return (K.table_sweep(f, fams, DETERMINISTIC)
                    + K.mpmath_sample(f, pool, plan.sample, rng(i), DETERMINISTIC))

        def stochastic(f=f, i=i):
            fams = [C.fp16_near(), C.format_points(f)]
            pool = C.random_range(f, 64 * plan.sr_points, rng(1000 + i))
            return (K.sr_neighbours(f, fams, seed)
                    + K.sr_enumerate(f, plan.sr_k, rng(2000 + i))
                    + K.sr_enumerate(f, plan.sr_k, rng(3000 + i), subnormal=False)
                    + K.sr_frequency(f, pool, plan.sr_points, plan.sr_draws, seed))

        out.append((f"sweep {f.label}", sweep))
        out.append((f"stochastic {f.label}", stochastic))
        if f.bits <= 8:
            out.append((f"roundtrip {f.label}", lambda f=f: K.roundtrip(f, ALL_MODES)))
        if f.label in ML_DTYPES:
            out.append((f"ml_dtypes {f.label}", lambda f=f: K.ml_dtypes_check(f, ML_DTYPES[f.label])))

    for i, f in enumerate(wide):
        def mp(f=f, i=i):
            res = []
            for j, dtype in enumerate([np.float64, np.float32] if fits_float32(f) else [np.float64]):
                g = rng(5000 + 10 * i + j)
                fams = [C.random_bits(plan.random, g, dtype), C.random_range(f, plan.random, g, dtype),
                        C.format_sample(f, plan.random // 4, g, dtype), C.boundaries(f, dtype)]
                res += K.mpmath_check(f, fams, DETERMINISTIC)
                ex = [C.random_bits(plan.random, g, dtype), C.storage_boundaries(f, dtype),
                      C.take(C.fp16_near(dtype), plan.random, g)]
                res += K.mpmath_check(f, ex, DETERMINISTIC, subnormals=(True,), explim=False)
                pool = C.random_bits(plan.random, g, dtype)
                res += K.sr_rbits(f, pool, plan.random, g)
                near = C.random_range(f, plan.random, g, dtype)
                res += K.sr_rbits(f, near, plan.random, g, subnormal=False)
            return res
        out.append((f"mpmath {f.label}", mp))
        if f.bits > 16 and f.t + plan.sr_k <= 53:  # sr-enum inputs must be exact in float64
            out.append((f"sr-enum {f.label}", lambda f=f, i=i: K.sr_enumerate(f, plan.sr_k, rng(7000 + i))))
    for i, f in enumerate(f for f in SMALL if f.label in plan.ops_small):
        out.append((f"ops {f.label}", lambda f=f, i=i: O.small_format(
            f, plan.ops_pairs, plan.ops_sr, 20 * plan.ops_sr, rng(8000 + i), seed)))
    for i, f in enumerate(f for f in OPS_WIDE if f.label in plan.ops_wide):
        out.append((f"ops-hard {f.label}",
                    lambda f=f, i=i: O.wide_format(f, plan.ops_hard, rng(9000 + i), seed)))
    # the JAX backend (verification/jax_backend.py): XLA flushes subnormals on CPU
    jax_ok = importlib.util.find_spec("jax") is not None  # an optional extra
    for i, name in enumerate(plan.jax_arith if jax_ok else ()):
        out.append((f"jax {name}", lambda name=name, i=i: _jax_arith(plan, name, rng(11000 + i))))
    for i, name in enumerate(plan.jax_acc if jax_ok else ()):
        out.append((f"jax-acc {name}", lambda name=name, i=i: _jax_acc(plan, name, rng(12000 + i))))
    # fixed point, integer quantization and MX/block formats (verification/fixed.py)
    out.append(("fixed, integer and block formats", lambda: run_fixed(plan != FULL, seed)))
    # accumulation models: sums, dots, matrix products, cumsum/prod; LPTensor = LPFloat
    out.append(("accumulation models", lambda: run_accumulate(plan != FULL, seed)))
    return out


def _jax_arith(plan: Plan, name: str, g) -> List[K.Check]:
    from . import jax_backend as J
    f = lp.format(name)
    if plan.jax_small:
        return J.arithmetic(f, plan.jax_n, g, x64_modes=(True,), ops=("multiply",), modes=(4,))
    return J.arithmetic(f, plan.jax_n, g)


def _jax_acc(plan: Plan, name: str, g) -> List[K.Check]:
    from . import jax_backend as J
    f = lp.format(name)
    if plan.jax_small:
        return J.accumulation(f, g, shape=(3, 5, 2), x64_modes=(False,), models=("exact",), modes=(2,),
                              kinds=("sum",))
    return J.accumulation(f, g)


def run(plan: Plan, seed: int = 2024, progress: Callable[[str], None] = lambda s: None) -> List[K.Check]:
    """Run every check of ``plan`` and return the records."""
    results = []
    for title, thunk in tasks(plan, seed):
        t0 = time.perf_counter()
        got = thunk()
        progress(f"{title}: {len(got)} checks, {sum(c.checked for c in got)} cases, "
                 f"{sum(c.mismatches for c in got)} mismatches ({time.perf_counter() - t0:.1f} s)")
        results += got
    return results


def report(results: List[K.Check]) -> str:
    """The table: one line per family × format × options, one column per mode (mismatches)."""
    rows = OrderedDict()
    for c in results:
        rows.setdefault((c.family, c.fmt, c.options), {})[c.mode] = c
    modes = [m for m in ALL_MODES if any(m in r for r in rows.values())]
    head = f"{'family':<22} {'format':<12} {'options':<15} {'cases':>9} " + " ".join(
        f"{MODE_LABELS[m]:>4}" for m in modes) + "  status"
    lines = [head, "-" * len(head)]
    for (family, fmt, opts), by_mode in sorted(rows.items()):
        counts = {c.checked for c in by_mode.values()}
        cases = str(counts.pop()) if len(counts) == 1 else "varies"
        cells = " ".join(f"{by_mode[m].mismatches:>4}" if m in by_mode else f"{'.':>4}" for m in modes)
        ok = all(c.ok for c in by_mode.values())
        lines.append(f"{family:<22} {fmt:<12} {opts:<15} {cases:>9} {cells}  {'ok' if ok else 'FAIL'}")
    bad = [c for c in results if not c.ok]
    lines.append("-" * len(head))
    lines.append(f"{len(results)} checks, {sum(c.checked for c in results)} cases, "
                 f"{sum(c.mismatches for c in results)} mismatches, {len(bad)} failed checks")
    for c in bad[:40]:
        why = f"{c.mismatches} mismatches" if c.mismatches else f"checked {c.checked}, expected {c.expected}"
        lines.append(f"FAIL {c.family} {c.fmt} [{c.options}] mode {c.mode}: {why}")
        lines += [f"    {e}" for e in c.examples]
    return "\n".join(lines)


__all__ = ["FULL", "OPS_WIDE", "QUICK", "Plan", "SMALL", "WIDE", "report", "run", "tasks"]
