"""JAX backend benchmarks (issue 6): rounding throughput and LPArray overhead.

* Rounding of an ``n x n`` float32 array into bf16 and half, every mode, jitted (inside
  the caller's ``jit``) and eager (``lp.chop`` called from Python), against the copy
  floor (``x + 0`` under jit), pychop's JAX backend (``pychop.backend("jax")``, jitted
  when it can be) and gfloat's array-API path (``gfloat.round_ndarray`` on a JAX array,
  jitted when it traces). Target (issue 6): jitted within 2x of the copy and 5x faster
  than pychop in every mode.
* ``LPArray`` overhead: ``a * b + a`` of LPArrays (correctly rounded) against the same
  plain jitted ``jnp`` expression followed by one rounding, and the eager dispatch cost.

    python benchmarks/bench_jax.py [--n 4000] [--repeat 5] [--skip-peers] [--formats bf16,half]

Every time is the best of ``--repeat`` runs after one warm-up (compiling) run.
"""

from __future__ import annotations

import argparse
import time
import warnings

import jax
import jax.numpy as jnp

import lowprec as lp
from lowprec.rounding import RoundingMode


def best(f, *args, repeat: int = 5) -> float:
    """Best wall time of ``f(*args)`` in seconds (results blocked on), after a warm-up."""
    jax.block_until_ready(f(*args))
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        jax.block_until_ready(f(*args))
        times.append(time.perf_counter() - t)
    return min(times)


def _pychop(fmt: str, mode: int):
    """pychop's JAX rounding into ``fmt``, jitted when it traces (deterministic modes);
    None if unavailable."""
    f = lp.format(fmt)
    try:
        import pychop
        pychop.backend("jax")
        ch = pychop.Chop(exp_bits=f.exp_bits, sig_bits=f.sig_bits, rmode=mode)
    except Exception:
        return None
    if mode in (5, 6):  # its stochastic modes keep key state on the object: they leak tracers under jit
        return ch
    x = jnp.ones((4, 4), jnp.float32)
    for f in (jax.jit(ch), ch):
        try:
            jax.block_until_ready(f(x))
            jax.block_until_ready(f(x))
            return f
        except Exception:
            continue
    return None


def _gfloat():
    """gfloat's array-API rounding of a JAX array into bf16, jitted when it traces."""
    try:
        from gfloat import round_ndarray
        from gfloat.formats import format_info_bfloat16
    except Exception:
        return None
    # its int64 casts truncate to int32 without x64 (harmless for bf16), warning at each trace
    warnings.filterwarnings("ignore", "Explicitly requested dtype int64", UserWarning)
    g = lambda x: round_ndarray(format_info_bfloat16, x)  # noqa: E731
    x = jnp.ones((4, 4), jnp.float32)
    for f in (jax.jit(g), g):
        try:
            jax.block_until_ready(f(x))
            return f
        except Exception:
            continue
    return None


def rounding(n: int, repeat: int, skip_peers: bool, formats) -> None:
    x = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    key = jax.random.key(1)
    jcopy = jax.jit(lambda x: x + 0)
    copy = best(jcopy, x, repeat=repeat)
    nbytes = x.size * 4
    print(f"## Rounding a {n}x{n} float32 JAX array "
          f"(jax {jax.__version__}, {jax.devices()[0].platform}, {jax.device_count()} device)\n")
    print(f"copy floor (`x + 0` under jit): {copy * 1e3:.1f} ms ({2 * nbytes / copy / 1e9:.1f} GB/s)\n")
    if not skip_peers:
        gf = _gfloat()
        if gf is not None:
            tg = best(gf, x, repeat=repeat)
            tl = best(jax.jit(lambda x: lp.jax.round_to(x, "bf16")), x, repeat=repeat)
            print(f"gfloat round_ndarray into bf16 (nearest_even): {tg * 1e3:.1f} ms; "
                  f"lowprec {tl * 1e3:.1f} ms ({tg / tl:.1f}x faster)\n")
        else:
            print("gfloat: not importable or no JAX path\n")
    print("Each lowprec time is paired with a copy measured right before it (`x copy`), so the "
          "ratio holds on a busy machine.\n")
    print("| format | mode | jit ms | x copy | eager ms | pychop ms | x pychop |")
    print("|---|---|---|---|---|---|---|")
    for fmt in formats:
        for mode in RoundingMode:
            f = jax.jit(lambda x, k, fmt=fmt, mode=mode: lp.jax.round_to(x, fmt, mode, k))
            c = best(jcopy, x, repeat=repeat)
            t = best(f, x, key, repeat=repeat)
            te = best(lambda x, k, fmt=fmt, mode=mode: lp.chop(x, fmt, mode, rng=k), x, key, repeat=repeat)
            pc = None if skip_peers else _pychop(fmt, int(mode))
            if pc is not None:
                tp = best(pc, x, repeat=repeat)
                peer = f"{tp * 1e3:.1f} | {tp / t:.1f}x"
            else:
                peer = "n/a | n/a"
            print(f"| {fmt} | {mode.name.lower()} | {t * 1e3:.1f} | {t / c:.2f} | {te * 1e3:.1f} | {peer} |")
    print()


def overhead(n: int, repeat: int) -> None:
    a = lp.asarray(jax.random.normal(jax.random.key(2), (n, n), jnp.float32), "bf16")
    b = lp.asarray(jax.random.normal(jax.random.key(3), (n, n), jnp.float32), "bf16")
    emulated = jax.jit(lambda a, b: a * b + a)
    plain = jax.jit(lambda a, b: lp.jax.round_to(a * b + a, "bf16"))
    te = best(emulated, a, b, repeat=repeat)
    tp = best(plain, a.values, b.values, repeat=repeat)
    print(f"## LPArray overhead ({n}x{n} bf16 in float32)\n")
    print("| operation | ms |")
    print("|---|---|")
    print(f"| jit `a * b + a`, LPArrays (two correctly rounded ops) | {te * 1e3:.1f} |")
    print(f"| jit `round(a * b + a)`, plain arrays (one rounding, not correctly rounded) | {tp * 1e3:.1f} |")
    small_a, small_b = a[:8, :8], b[:8, :8]
    eager = best(lambda: small_a * small_b, repeat=max(repeat, 20))
    eager_plain = best(lambda: small_a.values * small_b.values, repeat=max(repeat, 20))
    print(f"| eager 8x8 `a * b` LPArray (dispatch) | {eager * 1e3:.3f} |")
    print(f"| eager 8x8 `a * b` jax.Array | {eager_plain * 1e3:.3f} |")
    print()

def exact_accumulation(n: int, repeat: int) -> None:
    """The "exact" model against a float matmul / sum rounded once (not exact), on the
    same run; the first call (compilation included) separately."""
    print(f"## LPArray under the exact accumulation model ({n}x{n}, float32 storage)\n")
    print("| format | what | first call s | ms | float rounded once ms | ratio |")
    print("|---|---|---|---|---|---|")
    for fmt in ("half", "bf16", "e4m3"):
        a = lp.asarray(jax.random.normal(jax.random.key(4), (n, n), jnp.float32), fmt)
        b = lp.asarray(jax.random.normal(jax.random.key(5), (n, n), jnp.float32), fmt)
        raw = jax.jit(lambda x, y, fmt=fmt: lp.jax.round_to(jnp.matmul(x, y, precision=jax.lax.Precision.HIGHEST),
                                                             fmt))
        rsum = jax.jit(lambda x, fmt=fmt: lp.jax.round_to(jnp.sum(x, axis=1), fmt))
        for what, exact, plain, args in (
                ("`a @ b`", lambda a=a, b=b: lp.jax.numpy.matmul(a, b, model="exact").values, raw,
                 (a.values, b.values)),
                ("row sums", lambda a=a: lp.jax.numpy.sum(a, axis=1, model="exact").values, rsum, (a.values,))):
            t0 = time.perf_counter()
            jax.block_until_ready(exact())
            first = time.perf_counter() - t0
            te = best(exact, repeat=repeat)
            tp = best(plain, *args, repeat=repeat)
            print(f"| {fmt} | {what} | {first:.2f} | {te * 1e3:.1f} | {tp * 1e3:.1f} | {te / tp:.1f} |")
    print()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--formats", default="bf16,half", help="comma-separated formats of the rounding table")
    args = ap.parse_args(argv)
    rounding(args.n, args.repeat, args.skip_peers, args.formats.split(","))
    overhead(min(args.n, 2000), args.repeat)
    exact_accumulation(512, args.repeat)


if __name__ == "__main__":
    main()
