#!/usr/bin/env python
"""Time ``lowprec.matlab.chop`` (MATLAB chop, quirks included) against ``lowprec.chop``.

    python benchmarks/bench_matlab.py            # 4000x4000 float64, half, modes 1-5
    python benchmarks/bench_matlab.py --n 1000 --repeats 3

For each mode: the median of ``--repeats`` timed calls of each function (after one
warm-up call that compiles the kernels; calls interleaved), and the ratio. The issue's target is a ratio
of at most 1.5 (and at least 20x faster than MATLAB chop run in Octave, which takes
2-4 s per call on this machine).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import lowprec as lp
import lowprec.matlab as lpm


def _median_times(fns, repeats: int) -> list:
    """Median time of each function; the calls are interleaved so that a busy machine
    slows them alike."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000, help="the matrix is n x n (default 4000)")
    ap.add_argument("--format", default="h", help="chop format (default 'h')")
    ap.add_argument("--modes", default="1,2,3,4,5", help="rounding modes (default 1,2,3,4,5)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    args = ap.parse_args()

    x = np.random.default_rng(0).standard_normal((args.n, args.n)).astype(args.dtype)
    lp_name = {"h": "half", "b": "bfloat16", "s": "single", "q43": "e4m3", "q52": "e5m2"}[args.format]
    print(f"{args.n}x{args.n} {args.dtype}, format {args.format!r}, median of {args.repeats}")
    print(f"{'mode':>4}  {'lp.chop [ms]':>13}  {'lp.matlab.chop [ms]':>20}  {'ratio':>6}")
    for mode in (int(m) for m in args.modes.split(",")):
        opts = {"format": args.format, "round": mode}
        lpm.chop([], opts)  # set chop's persistent options once, as chop([], options) does
        t_lp, t_m = _median_times([lambda: lp.chop(x, lp_name, mode), lambda: lpm.chop(x)], args.repeats)
        print(f"{mode:>4}  {t_lp * 1e3:>13.1f}  {t_m * 1e3:>20.1f}  {t_m / t_lp:>6.2f}")


if __name__ == "__main__":
    main()
