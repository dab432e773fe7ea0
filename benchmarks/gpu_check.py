"""One short run on a CUDA machine: lp.chop and LPTensor arithmetic on the GPU equal the
CPU bit for bit (deterministic modes, float32 and float64), then timings. Not used by tests.

    python benchmarks/gpu_check.py
"""

from __future__ import annotations

import sys
import time

import torch

import lowprec as lp
from lowprec.rounding import RoundingMode


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device; nothing to check")
        return 0
    dev = torch.device("cuda")
    failures = 0
    g = torch.Generator().manual_seed(0)
    for dtype, fmts in ((torch.float64, ["half", "bf16", "e4m3", "double", "tf32"]),
                        (torch.float32, ["half", "bf16", "e4m3", "e5m2fnuz"])):
        x = torch.randn(100_000, generator=g, dtype=dtype) * torch.exp2(torch.randint(-40, 40, (100_000,), generator=g)).to(dtype)
        x[:6] = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan"), 1e-40], dtype=dtype)
        for fmt in fmts:
            for mode in (m for m in RoundingMode if not m.is_stochastic):
                for subnormal in (True, False):
                    cpu = lp.chop(x, fmt, mode, subnormal=subnormal)
                    gpu = lp.chop(x.to(dev), fmt, mode, subnormal=subnormal).cpu()
                    if not torch.equal(cpu.view(torch.int64 if dtype == torch.float64 else torch.int32),
                                       gpu.view(torch.int64 if dtype == torch.float64 else torch.int32)):
                        failures += 1
                        print("MISMATCH chop", dtype, fmt, mode.name, subnormal)
    a = torch.randn(50_000, dtype=torch.float64, generator=g)
    b = torch.randn(50_000, dtype=torch.float64, generator=g)
    for mode in (m for m in RoundingMode if not m.is_stochastic):
        la, lb = lp.asarray(a, "bf16", mode), lp.asarray(b, "bf16", mode)
        ga, gb = lp.asarray(a.to(dev), "bf16", mode), lp.asarray(b.to(dev), "bf16", mode)
        for name, c, d in (("add", la + lb, ga + gb), ("mul", la * lb, ga * gb), ("div", la / lb, ga / gb),
                           ("sqrt", torch.sqrt(la.abs()), torch.sqrt(ga.abs()))):
            if not torch.equal(c.as_plain(), d.as_plain().cpu()):
                failures += 1
                print("MISMATCH LPTensor", name, mode.name)
    x = torch.randn(4000, 4000, device=dev)
    for label, f in (("clone", lambda: torch.clone(x)), ("chop bf16 rne", lambda: lp.chop(x, "bf16")),
                     ("chop bf16 sr", lambda: lp.chop(x, "bf16", "stochastic", seed=1))):
        f()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(5):
            f()
        torch.cuda.synchronize()
        print(f"{label:16s} {(time.perf_counter() - t0) / 5 * 1e3:8.2f} ms (4000x4000 float32)")
    print("failures:", failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
