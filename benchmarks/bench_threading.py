"""numba threading layers side by side: TBB (lowprec's default) against GNU OpenMP.

Each round runs every layer in a fresh process (numba picks its layer once per process),
alternating, and prints best-of-``--repeat`` times and the tbb/omp ratio; ``--rounds``
repeats the whole comparison so that the noise of a shared machine shows.

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
         "LPFloat half 512x512 @", "LPTensor bf16 MLP step")


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

    def step():
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(xb), yb).backward()

    times = {CASES[0]: best(lambda: lp.chop(x, "half"), repeat),
             CASES[1]: best(lambda: a + b, repeat),
             CASES[2]: best(lambda: ta + tb, repeat),
             CASES[3]: best(lambda: m @ m, max(1, repeat // 2)),
             CASES[4]: best(step, repeat)}
    print(json.dumps({"layer": numba.threading_layer(), "times": times}))


def run(layer: str, repeat: int) -> dict:
    env = dict(os.environ, NUMBA_THREADING_LAYER=layer)
    out = subprocess.run([sys.executable, __file__, "--child", "--repeat", str(repeat)], env=env,
                         capture_output=True, text=True, check=True, timeout=600).stdout
    res = json.loads(out.strip().splitlines()[-1])
    assert res["layer"] == layer, res
    return res["times"]


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
    for r in range(1, args.rounds + 1):
        omp, tbb = run("omp", args.repeat), run("tbb", args.repeat)
        for c in CASES:
            print(f"| {r} | {c} | {omp[c] * 1e3:.2f} | {tbb[c] * 1e3:.2f} | {tbb[c] / omp[c]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
