"""Jitted rounding throughput of a 4000x4000 float32 JAX array (issue 6).

Compares ``lp.jax.round_to`` under ``jit`` with the copy floor (``x + 0`` under jit)
and with pychop's JAX backend when importable. Run: ``python benchmarks/bench_jax.py``.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import lowprec as lp
from lowprec.rounding import RoundingMode


def best_of(f, *args, repeat=5):
    jax.block_until_ready(f(*args))  # compile and warm up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        jax.block_until_ready(f(*args))
        times.append(time.perf_counter() - t)
    return min(times)


def pychop_jax(fmt_name, mode):
    try:
        import pychop
        pychop.backend("jax")
        from pychop import LightChop
    except Exception:  # not installed or no JAX backend in this version
        return None
    try:
        ch = LightChop(exp_bits=8, sig_bits=7, rmode=mode) if fmt_name == "bf16" else None
        return None if ch is None else jax.jit(ch)
    except Exception:
        return None


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--fmt", default="bf16")
    args = ap.parse_args(argv)
    x = jax.random.normal(jax.random.key(0), (args.n, args.n), jnp.float32)
    key = jax.random.key(1)
    copy = best_of(jax.jit(lambda x: x + 0), x)
    nbytes = x.size * 4
    print(f"device {jax.devices()[0].platform}, {args.n}x{args.n} float32, format {args.fmt}")
    print(f"{'mode':22s} {'ms':>8s} {'x copy':>8s} {'GB/s':>7s} {'pychop ms':>10s}")
    print(f"{'copy (x + 0)':22s} {copy * 1e3:8.2f} {1.0:8.2f} {2 * nbytes / copy / 1e9:7.1f}")
    for mode in RoundingMode:
        f = jax.jit(lambda x, k, mode=mode: lp.jax.round_to(x, args.fmt, mode, k))
        t = best_of(f, x, key)
        pc = pychop_jax(args.fmt, int(mode))
        pct = f"{best_of(pc, x) * 1e3:10.2f}" if pc is not None else f"{'n/a':>10s}"
        print(f"{mode.name.lower():22s} {t * 1e3:8.2f} {t / copy:8.2f} {2 * nbytes / t / 1e9:7.1f} {pct}")


if __name__ == "__main__":
    main()
