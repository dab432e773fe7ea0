"""Rounding throughput of lp.chop on torch tensors (CPU) against the torch.clone copy
floor, pychop's torch backend (if importable), and LPTensor op overhead.

    python benchmarks/bench_torch.py [--n 4000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import torch

import lowprec as lp

MODES = ["nearest_even", "up", "down", "toward_zero", "stochastic", "stochastic_uniform",
         "nearest_zero", "nearest_away", "odd"]


def best(f, repeat):
    f()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    x = torch.randn(args.n, args.n, dtype=torch.float32)
    floor = best(lambda: torch.clone(x), args.repeat)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.n}x{args.n} float32")
    print(f"torch.clone copy floor: {floor * 1e3:.1f} ms")
    try:
        import pychop
        pychop.backend("torch")
        from pychop import Chop
    except Exception:  # pychop is optional
        Chop = None
    print(f"{'mode':20s} {'lowprec ms':>11s} {'x clone':>8s} {'pychop ms':>10s}")
    for i, mode in enumerate(MODES, start=1):
        t = best(lambda: lp.chop(x, "bf16", mode, seed=1), args.repeat)
        pc = float("nan")
        if Chop is not None:
            try:
                ch = Chop(prec="bf16", rmode=i)
                pc = best(lambda: ch(x), args.repeat) * 1e3
            except Exception:
                pass
        print(f"{mode:20s} {t * 1e3:11.1f} {t / floor:8.1f} {pc:10.1f}")
    a = lp.asarray(torch.randn(2**22), "bf16")
    b = lp.asarray(torch.randn(2**22), "bf16")
    pa, pb = a.as_plain(), b.as_plain()
    for name, f, g in (("add", lambda: a + b, lambda: pa + pb), ("mul", lambda: a * b, lambda: pa * pb),
                       ("exp", lambda: torch.exp(a), lambda: torch.exp(pa))):
        tl, tp = best(f, args.repeat), best(g, args.repeat)
        print(f"LPTensor {name} on 4M: {tl * 1e3:.1f} ms vs plain {tp * 1e3:.2f} ms ({tl / tp:.0f}x)")


if __name__ == "__main__":
    main()
