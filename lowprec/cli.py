"""Text output of the command line: the formats table and the demo."""

from __future__ import annotations

import time

import numpy as np

from .arith import add
from .chop import chop
from .formats import FLOAT_FORMATS, finfo
from .rounding import RoundingMode


def formats_table() -> str:
    """The built-in float formats with their parameters, one row each."""
    head = f"{'format':<10} {'bits':>4} {'t':>3} {'emin':>6} {'emax':>5} {'xmin':>11} {'xmins':>11} {'xmax':>11} {'u':>10}  inf  nan"
    rows = [head, "-" * len(head)]
    for name, fmt in FLOAT_FORMATS.items():
        i = finfo(fmt)
        rows.append(
            f"{name:<10} {i.bits:>4} {i.t:>3} {i.emin:>6} {i.emax:>5} {i.xmin:>11.4e} {i.xmins:>11.4e} "
            f"{i.xmax:>11.4e} {i.u:>10.3e}  {'yes' if fmt.has_inf else 'no':<4} {'yes' if fmt.has_nan else 'no'}"
        )
    return "\n".join(rows)


def harmonic_sum(fmt: str, mode: RoundingMode, n: int, seed: int = 0) -> float:
    """Sum 1/k for k = 1..n, rounding every term and partial sum into ``fmt``."""
    terms = chop(1.0 / np.arange(1, n + 1), fmt, mode, seed=seed)
    s = 0.0
    for k, term in enumerate(terms):
        s = float(add(s, term, fmt, mode, seed=seed + k + 1))  # correctly rounded sum
    return s


def demo() -> None:
    """Print the formats table and a harmonic sum in several formats and modes."""
    t0 = time.perf_counter()
    print("lowprec: emulated low-precision arithmetic\n")
    print("Built-in formats (python -m lowprec formats):\n")
    print(formats_table())
    n = 3000
    exact = float(np.sum(1.0 / np.arange(1, n + 1)))
    modes = [RoundingMode.NEAREST_EVEN, RoundingMode.UP, RoundingMode.DOWN,
             RoundingMode.TOWARD_ZERO, RoundingMode.STOCHASTIC, RoundingMode.ODD]
    print(f"\nThe harmonic sum 1 + 1/2 + ... + 1/{n} = {exact:.6f}, every partial sum rounded:")
    print("round-to-nearest stagnates once 1/k falls below half an ulp of the sum;")
    print("stochastic rounding keeps adding in expectation.\n")
    print(f"{'format':<10}" + "".join(f"{m.name.lower():>14}" for m in modes))
    for fmt in ("bfloat16", "binary16", "e5m2", "e4m3"):
        print(f"{fmt:<10}" + "".join(f"{harmonic_sum(fmt, m, n):>14.6g}" for m in modes))
    x = 1 / 3
    print("\n1/3 in each format (round to nearest): " + ", ".join(
        f"{f}={chop(x, f):.10g}" for f in ("binary16", "bfloat16", "tf32", "e4m3", "e4m3fn", "fp4_e2m1")))
    print(f"\n(done in {time.perf_counter() - t0:.1f} s)")
