"""The cost of the exact accumulation model: ``a @ b`` under ``lp.accumulate("exact")``
against BLAS in binary64 rounded once (what "exact" computed before it was exact; wrong
for directed modes, wide formats and ties), interleaved call by call in one process so that
the machine's drift hits both alike. Median and minimum of the per-call ratios' parts.

    python benchmarks/sections.py exact benchmarks/RESULTS.md -- python benchmarks/bench_exact.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import lowprec as lp


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="128,512,1024")
    ap.add_argument("--repeat", type=int, default=40)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    print("| n | format | exact ms | BLAS + chop ms | ratio (medians) | ratio (minima) |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in map(int, args.sizes.split(",")):
        for label in ("half", "bf16", "e4m3"):
            a = lp.asarray(rng.standard_normal((n, n)), label)
            b = lp.asarray(rng.standard_normal((n, n)), label)
            av, bv = a.values, b.values

            def exact():
                with lp.accumulate("exact"):
                    return a @ b

            def once():
                return lp.chop(av @ bv, label)

            exact(), once()
            te, tb = [], []
            for _ in range(args.repeat if n <= 512 else max(5, args.repeat // 4)):
                t0 = time.perf_counter()
                exact()
                t1 = time.perf_counter()
                once()
                t2 = time.perf_counter()
                te.append(t1 - t0)
                tb.append(t2 - t1)
            print(f"| {n} | {label} | {np.median(te) * 1e3:.2f} | {np.median(tb) * 1e3:.2f} | "
                  f"{np.median(te) / np.median(tb):.2f} | {min(te) / min(tb):.2f} |")


if __name__ == "__main__":
    main()
