"""Fixed-point, integer and MX quantization of a 4000x4000 float64 array (issue 4).

Times lowprec's quantizers against ``lp.chop(x, "half")`` (round to nearest) on the
same array, and against the peers that are installed: pychop's ``Chopf``/``Chopi``/
``mx_quantize``, fxpmath's ``Fxp`` and numfi. Also reports whether each peer agrees
with lowprec's values (``same``: bit for bit; ``max|d|``: the largest difference).

Run: ``python benchmarks/bench_quant.py [--n 4000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable, List, Optional, Tuple

import numpy as np

import lowprec as lp


def best_of(f: Callable[[], object], repeat: int) -> float:
    f()  # compile / warm up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def paired(f: Callable[[], object], g: Callable[[], object], repeat: int) -> Tuple[float, float]:
    """Best times of ``f`` and ``g`` run alternately, so that a changing machine load
    affects both alike."""
    f()
    g()
    tf, tg = [], []
    for _ in range(repeat):
        for fn, acc in ((f, tf), (g, tg)):
            t = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t)
    return min(tf), min(tg)


def peers(x: np.ndarray) -> List[Tuple[str, str, Callable[[], np.ndarray]]]:
    """(task, peer name, thunk) for every installed peer."""
    out = []
    try:
        from pychop import Chopf, Chopi
        from pychop.mx_formats import mx_quantize
        chopf = Chopf(ibits=8, fbits=8, rmode=1)
        out.append(("fixed q8.8 rne", "pychop Chopf", lambda: chopf(x)))
        chopi = Chopi(bits=8, symmetric=True)
        out.append(("int8 symmetric", "pychop Chopi", lambda: chopi(x)))
        # pychop's MX is a Python loop over blocks (minutes at full size): timed on 1/16 of the
        # rows and scaled by 16 (marked "*" in the table)
        part = x[: max(1, x.shape[0] // 16)]
        out.append(("mxfp8_e4m3", "pychop mx_quantize*", lambda: mx_quantize(part, "mxfp8_e4m3")))
    except ImportError:
        pass
    try:
        from fxpmath import Fxp
        out.append(("fixed q8.8 rne", "fxpmath Fxp", lambda: Fxp(x, True, 16, 8, rounding="around").get_val()))
    except ImportError:
        pass
    try:
        import numfi
        if callable(numfi):  # numfi 0.3 exports the class as the module
            out.append(("fixed q8.8 rne", "numfi", lambda: np.asarray(numfi(x, 1, 16, 8))))
    except (ImportError, SyntaxError):  # numfi >= 0.4 needs Python 3.12
        pass
    return out


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    x = np.random.default_rng(0).standard_normal((args.n, args.n))
    base = best_of(lambda: lp.chop(x, "half"), args.repeat)
    copy = best_of(lambda: x.copy(), args.repeat)
    ours = {
        "fixed q8.8 rne": lambda: lp.quantize_fixed(x, "q8.8"),
        "fixed q8.8 sr": lambda: lp.quantize_fixed(x, "q8.8", "stochastic"),
        "fixed q8.8 wrap": lambda: lp.quantize_fixed(x, "q8.8", overflow="wrap"),
        "int8 symmetric": lambda: lp.quantize_int(x, "int8"),
        "int8 asymmetric": lambda: lp.quantize_int(x, lp.IntFormat(8, symmetric=False)),
        "int8 per-channel": lambda: lp.quantize_int(x, lp.IntFormat(8, per_channel=True)),
        "int8 sr": lambda: lp.quantize_int(x, "int8", "stochastic"),
        "mxfp8_e4m3": lambda: lp.quantize_mx(x, "mxfp8_e4m3"),
        "mxfp4_e2m1": lambda: lp.quantize_mx(x, "mxfp4_e2m1"),
        "mxint8": lambda: lp.quantize_mx(x, "mxint8"),
    }
    targets = {"fixed": 2.0, "int8": 2.0, "mx": 3.0}
    print(f"{args.n}x{args.n} float64, best of {args.repeat}; lp.chop(x, 'half') = {base * 1e3:.1f} ms, "
          f"x.copy() = {copy * 1e3:.1f} ms")
    print(f"{'task':20s} {'ms':>8s} {'chop ms':>8s} {'x chop':>7s} {'target':>7s}  (each task paired with lp.chop)")
    results = {}
    for task, f in ours.items():
        t, base = paired(f, lambda: lp.chop(x, "half"), args.repeat)
        results[task] = f()
        target = next(v for k, v in targets.items() if task.startswith(k))
        note = "" if task.endswith(("rne", "symmetric", "e4m3")) else " (not a target case)"
        print(f"{task:20s} {t * 1e3:8.1f} {base * 1e3:8.1f} {t / base:7.2f} {target:7.1f}{note}")
    print()
    print(f"{'task':20s} {'peer':20s} {'ms':>8s} {'x ours':>7s} {'same':>6s} {'max|d|':>9s}")
    for task, name, f in peers(x):
        try:
            t = best_of(f, max(1, args.repeat // 2))
            theirs = np.asarray(f(), dtype=np.float64)
        except Exception as err:  # a peer failing on this input is a result too
            print(f"{task:20s} {name:20s} failed: {type(err).__name__}: {err}")
            continue
        mine = results[task]
        if name.endswith("*"):  # measured on the first rows only
            t *= x.shape[0] / theirs.shape[0]
            mine = mine[: theirs.shape[0]]
        ours_t = best_of(ours[task], max(1, args.repeat // 2))
        same = np.array_equal(theirs, mine)
        diff = float(np.nanmax(np.abs(theirs - mine)))
        print(f"{task:20s} {name:20s} {t * 1e3:8.1f} {t / ours_t:7.2f} {str(same):>6s} {diff:9.3g}")


if __name__ == "__main__":
    main()
