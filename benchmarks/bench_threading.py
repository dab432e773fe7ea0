"""numba threading layers side by side: TBB (lowprec's default) against GNU OpenMP.

One process per layer (numba picks its layer once per process); the parent asks them in
turn, case by case, so that both see the same load, and prints best-of-``--repeat`` times
and the tbb/omp ratio; ``--rounds`` repeats the comparison so that the noise of a shared
machine shows.

    python benchmarks/bench_threading.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CASES = ("chop 4000x4000 f64->half", "LPFloat bf16 add 4M", "LPTensor bf16 add 4M",
         "LPFloat half 512x512 @", "LPTensor bf16 MLP step", "chop 32768 f64->half")


def best(f, repeat: int) -> float:
    f()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts)


def child(repeat: int) -> None:
    import numba
    import numpy as np
    import torch

    import lowprec as lp

    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 4000))
    a = lp.asarray(rng.standard_normal(2**22), "bf16")
    b = lp.asarray(rng.standard_normal(2**22), "bf16")
    ta = lp.asarray(torch.randn(2**22), "bf16")
    tb = lp.asarray(torch.randn(2**22), "bf16")
    m = lp.asarray(rng.standard_normal((512, 512)), "half")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
    for layer in model:
        if isinstance(layer, torch.nn.Linear):  # emulated parameters (p.data = ... would drop the type)
            layer.weight = torch.nn.Parameter(lp.asarray(layer.weight.detach(), "bf16"))
            layer.bias = torch.nn.Parameter(lp.asarray(layer.bias.detach(), "bf16"))
    xb, yb = torch.randn(128, 256), torch.randint(0, 10, (128,))
    small = rng.standard_normal(1 << 15)  # just above the serial threshold: the launch cost

    def step():
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(xb).as_plain(), yb).backward()  # the loss in float32, knowingly

    cases = {CASES[0]: (lambda: lp.chop(x, "half"), repeat),
             CASES[1]: (lambda: a + b, repeat),
             CASES[2]: (lambda: ta + tb, repeat),
             CASES[3]: (lambda: m @ m, max(1, repeat // 2)),
             CASES[4]: (step, repeat),
             CASES[5]: (lambda: lp.chop(small, "half"), 20 * repeat)}
    lp.chop(small, "half")  # a parallel kernel: numba has chosen its layer
    print(json.dumps({"layer": numba.threading_layer()}), flush=True)
    for line in sys.stdin:  # one case per request, so that the parent can alternate layers
        f, r = cases[line.strip()]
        print(json.dumps(best(f, r)), flush=True)


class Child:
    """A process running one threading layer, timing the case it is sent."""

    def __init__(self, layer: str, repeat: int):
        env = dict(os.environ, NUMBA_THREADING_LAYER=layer)
        self.proc = subprocess.Popen([sys.executable, __file__, "--child", "--repeat", str(repeat)], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        got = json.loads(self.proc.stdout.readline())["layer"]
        assert got == layer, (layer, got)

    def time(self, case: str) -> float:
        self.proc.stdin.write(case + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args.repeat)
        return
    import numba
    print(f"numba {numba.__version__}, {os.cpu_count()} cores, NUMBA_NUM_THREADS="
          f"{os.environ.get('NUMBA_NUM_THREADS', 'default')}, best of {args.repeat}\n")
    print("| round | case | omp ms | tbb ms | tbb/omp |")
    print("|---:|---|---:|---:|---:|")
    omp, tbb = Child("omp", args.repeat), Child("tbb", args.repeat)
    for r in range(1, args.rounds + 1):
        for c in CASES:  # the two layers alternate case by case: both see the same machine load
            to, tt = omp.time(c), tbb.time(c)
            print(f"| {r} | {c} | {to * 1e3:.3f} | {tt * 1e3:.3f} | {tt / to:.2f} |", flush=True)
    omp.close()
    tbb.close()


if __name__ == "__main__":
    main()
