"""LPFloat benchmark: emulated arithmetic next to plain NumPy and the peers.

    python benchmarks/bench_lpfloat.py                               # print the tables
    python benchmarks/bench_lpfloat.py --write benchmarks/RESULTS.md # ... and replace its LPFloat section

Measures (issue "LPFloat"): elementwise ``+ * / sqrt`` on 4M-element half and bf16
arrays against the same op on float64 arrays, numpy float16, ml_dtypes bfloat16 and
pychop's CPArray; the overhead of one op on 10 elements; emulated 512x512 matrix
products under each accumulation model, in rounded operations per second; the LU +
iterative refinement showcase (examples/lu_refinement.py) at n = 1000 against the same
code on float32 arrays. Times are medians; memory is the tracemalloc peak of one call.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import lowprec as lp  # noqa: E402
from sections import write_section  # noqa: E402

BEGIN, END = "<!-- BEGIN lpfloat -->", "<!-- END lpfloat -->"


def timed(f, repeat=7, budget=3.0):
    f()
    times = []
    start = time.perf_counter()
    while len(times) < repeat and (len(times) < 3 or time.perf_counter() - start < budget):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def peak_bytes(f) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    f()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def peers():
    out = {}
    try:
        import ml_dtypes
        out["ml_dtypes"] = ml_dtypes
    except ImportError:
        pass
    try:
        import pychop
        from pychop.builtin.cparray import CPArray
        out["pychop"] = (pychop, CPArray)
    except ImportError:
        pass
    return out


OPS = {"+": (np.add, 2), "*": (np.multiply, 2), "/": (np.divide, 2), "sqrt": (np.sqrt, 1)}


def elementwise(n: int, found) -> list:
    rng = np.random.default_rng(0)
    x = np.abs(rng.standard_normal(n)) + 0.5
    y = np.abs(rng.standard_normal(n)) + 0.5
    rows = []
    for fmt in ("half", "bf16"):
        a, b = lp.asarray(x, fmt), lp.asarray(y, fmt)
        xa, ya = a.values, b.values
        cast = {"half": np.float16}
        if "ml_dtypes" in found:
            cast["bf16"] = found["ml_dtypes"].bfloat16
        native = (xa.astype(cast[fmt]), ya.astype(cast[fmt])) if fmt in cast else None
        cp = None
        if "pychop" in found:
            pychop, CPArray = found["pychop"]
            f = lp.format(fmt)
            chopper = pychop.Chop(f.exp_bits, f.sig_bits, rmode=1, subnormal=True)
            cp = (CPArray(xa, chopper), CPArray(ya, chopper))
        for name, (op, arity) in OPS.items():
            args = (a, b)[:arity]
            t_lp = timed(lambda: op(*args))
            t_64 = timed(lambda: op(*(xa, ya)[:arity]))
            row = {"fmt": fmt, "op": name, "lp": t_lp, "f64": t_64,
                   "mem": peak_bytes(lambda: op(*args)) / (8 * n)}
            if native is not None:
                row["native"] = timed(lambda: op(*native[:arity]))
            if cp is not None:
                t_cp = timed(lambda: op(*cp[:arity]), repeat=3)
                want = np.asarray(op(*args))
                got = np.asarray(op(*cp[:arity]))
                row["pychop"] = t_cp
                row["pychop_diff"] = int(np.count_nonzero(want != got))
            rows.append(row)
    return rows


def small_overhead() -> dict:
    s = lp.asarray(np.linspace(0.1, 1, 10), "half")
    x = s.values
    import timeit
    per = {}
    for name, f in (("lp s + s", lambda: s + s), ("lp s * 3.0", lambda: s * 3.0), ("np x + x", lambda: x + x)):
        f()
        per[name] = min(timeit.repeat(f, number=2000, repeat=5)) / 2000
    return per


def matmuls(n: int, found) -> list:
    rng = np.random.default_rng(1)
    a = lp.asarray(rng.standard_normal((n, n)), "half")
    b = lp.asarray(rng.standard_normal((n, n)), "half")
    rows = []
    for model in ("sequential", "fma", "pairwise", "exact", "fp32"):
        with lp.accumulate(model):
            t = timed(lambda: a @ b, repeat=3)
        rows.append({"what": f"lowprec `@`, {model}", "time": t, "gops": 2 * n ** 3 / t / 1e9})
    av, bv = a.values, b.values
    t = timed(lambda: lp.chop(av @ bv, "half"), repeat=3)
    rows.append({"what": "binary64 BLAS `@` rounded once (what \"exact\" was before it was exact)", "time": t,
                 "gops": 2 * n ** 3 / t / 1e9})
    for label in ("bf16", "e4m3"):
        x = lp.asarray(rng.standard_normal((n, n)), label)
        y = lp.asarray(rng.standard_normal((n, n)), label)
        xv, yv = x.values, y.values
        with lp.accumulate("exact"):
            t = timed(lambda: x @ y, repeat=3)
        t0 = timed(lambda: lp.chop(xv @ yv, label), repeat=3)
        rows.append({"what": f"{label}: `@` exact / BLAS rounded once = {t / t0:.2f}", "time": t,
                     "gops": 2 * n ** 3 / t / 1e9})
    v = lp.asarray(rng.standard_normal(4_000_000), "half")
    vv = v.values
    with lp.accumulate("exact"):
        t = timed(lambda: lp.sum(v), repeat=3)
    t0 = timed(lambda: lp.chop(np.sum(vv), "half"), repeat=3)
    rows.append({"what": f"half: sum of 4M, exact / binary64 sum rounded once = {t / t0:.2f}", "time": t,
                 "gops": 4e6 / t / 1e9})
    h = a.values.astype(np.float16)
    t = timed(lambda: h @ h, repeat=3)
    rows.append({"what": "numpy float16 `@` (float32 accumulation inside)", "time": t, "gops": 2 * n ** 3 / t / 1e9})
    if "pychop" in found:
        pychop, CPArray = found["pychop"]
        c = CPArray(a.values, pychop.Chop(5, 10, rmode=1, subnormal=True))
        t = timed(lambda: c @ c, repeat=3)
        rows.append({"what": "pychop CPArray `@` (binary64, rounded once)", "time": t, "gops": 2 * n ** 3 / t / 1e9})
    return rows


def lu_showcase(n: int) -> dict:
    from lu_refinement import lu_inplace, refine, test_matrix
    A = test_matrix(n, 1e3)
    b = A @ np.ones(n)
    t32 = timed(lambda: lu_inplace(A.astype(np.float32)), repeat=3)
    t_lp = timed(lambda: lu_inplace(lp.asarray(A, "half")), repeat=3)
    # fp16 LU-IR converges when cond * n * u is small enough: at n = 1000, cond 1e2 (1e3 does not)
    A = test_matrix(n, 1e2 if n >= 500 else 1e3)
    b = A @ np.ones(n)
    t0 = time.perf_counter()
    x, history = refine(A, b)
    t_ir = time.perf_counter() - t0
    return {"n": n, "f32": t32, "lp": t_lp, "refine": t_ir, "iterations": len(history),
            "error": float(np.abs(x - 1).max()), "cond": 1e2 if n >= 500 else 1e3}


def report(rows, small, mm, lu, mm_n, elapsed) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [BEGIN, "## LPFloat: emulated arithmetic", "",
             f"Made by `python benchmarks/bench_lpfloat.py --write benchmarks/RESULTS.md` on {now} "
             f"(git {commit}), {elapsed / 60:.1f} min; {os.cpu_count()} cores, load average {load:.2f} at the end; "
             f"numpy {np.__version__}, python {platform.python_version()}.", "",
             "Elementwise ops on 4M elements (values in [0.5, 4.5)); times are medians; `x f64` = lowprec time / "
             "the same NumPy op on the float64 storage arrays; `native` = numpy float16 (half) or ml_dtypes "
             "bfloat16 (bf16) arithmetic on 2-byte arrays; `peak/out` = tracemalloc peak over the output size; "
             "`pychop !=`: elements where pychop's CPArray (binary64 result rounded once) differs from lowprec's "
             "correctly rounded result.", "",
             "| format | op | lowprec ms | float64 ms | x f64 | native ms | pychop CPArray ms | pychop != | peak/out |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['fmt']} | {r['op']} | {r['lp'] * 1e3:.1f} | {r['f64'] * 1e3:.1f} | "
                     f"{r['lp'] / r['f64']:.1f} | {r.get('native', float('nan')) * 1e3:.1f} | "
                     f"{r.get('pychop', float('nan')) * 1e3:.1f} | {r.get('pychop_diff', '-')} | {r['mem']:.2f} |")
    lines += ["", "One op on a 10-element array (Python overhead included):", ""]
    lines += [f"- {k}: {v * 1e6:.1f} us" for k, v in small.items()]
    lines += ["", f"Matrix products of two {mm_n}x{mm_n} half matrices (`G rops/s` = 2 n^3 rounded operations per "
              "second: under `sequential` each product and each sum is rounded):", "",
              "| what | s | G rops/s |", "|---|---|---|"]
    lines += [f"| {r['what']} | {r['time']:.3f} | {r['gops']:.3f} |" for r in mm]
    lines += ["", f"LU showcase (`examples/lu_refinement.py`, plain NumPy code) at n = {lu['n']}: factorization on "
              f"LPFloat half {lu['lp']:.2f} s, on float32 arrays {lu['f32']:.2f} s (ratio {lu['lp'] / lu['f32']:.1f}); "
              f"the whole refinement (condition number {lu['cond']:.0e}) {lu['refine']:.1f} s, {lu['iterations']} "
              f"residuals, max error {lu['error']:.1e}. (At n = 1000 a condition number of 1e3 is beyond fp16 LU-IR: "
              "the refinement diverges, as the theory predicts for cond * n * u >> 1.)", "", END]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", metavar="FILE", help="replace the LPFloat section of FILE")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    args = p.parse_args(argv)
    start = time.perf_counter()
    found = peers()
    n, mm_n, lu_n = (2 ** 16, 64, 100) if args.quick else (4_000_000, 512, 1000)
    rows = elementwise(n, found)
    small = small_overhead()
    mm = matmuls(mm_n, found)
    lu = lu_showcase(lu_n)
    text = report(rows, small, mm, lu, mm_n, time.perf_counter() - start)
    print(text)
    if args.write:
        write_section(Path(args.write), "lpfloat", text)
        print(f"written to {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
