"""One short run on a CUDA machine: the torch backend on the GPU equals the CPU bit for bit,
then timings. Not needed by the test suite (``tests/test_torch_gpu.py`` calls the checks
under the ``gpu`` marker when CUDA is present).

Checked, GPU against CPU (whose results the CPU tests tie to NumPy's):

* ``lp.chop`` in every mode, float32 and float64, with and without subnormals, stochastic
  modes and ``flip=True`` included (one counter-based stream on every device);
* ``LPTensor`` ``+ - * / sqrt`` (every mode, the stochastic ones under ``lp.seed``);
* ``matmul``, ``sum``, ``mean``, ``linear`` and ``conv2d`` under every deterministic
  accumulation model (the device driver against the CPU's NumPy kernels);
* a training step with a gradient format runs and keeps parameters on the grid.

    python benchmarks/gpu_check.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Callable, List

import torch

import lowprec as lp
from lowprec.rounding import RoundingMode

F = torch.nn.functional
_INT = {torch.float64: torch.int64, torch.float32: torch.int32}


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    a, b = a.detach().cpu(), b.detach().cpu()
    if isinstance(a, lp.torch.LPTensor):
        a = a.as_plain()
    if isinstance(b, lp.torch.LPTensor):
        b = b.as_plain()
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    nan = torch.isnan(a) & torch.isnan(b)
    return bool(((a.view(_INT[a.dtype]) == b.view(_INT[b.dtype])) | nan).all())


def _inputs(n: int, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    scale = torch.exp2(torch.randint(-40, 40, (n,), generator=g).to(torch.float64))
    x = (torch.randn(n, generator=g, dtype=torch.float64) * scale).to(dtype)
    x[:6] = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan"), 1e-40], dtype=dtype)
    return x


def check_chop(dev: torch.device, n: int, report: Callable[[str], None]) -> None:
    for dtype, fmts in ((torch.float64, ["half", "bf16", "e4m3", "double", "tf32", "fp4_e2m1", "binary8p1"]),
                        (torch.float32, ["half", "bf16", "e4m3", "e5m2fnuz", "binary8p3uf"])):
        x = _inputs(n, dtype)
        xd = x.to(dev)
        for fmt in fmts:
            for mode in RoundingMode:
                for subnormal in (True, False):
                    kw = dict(subnormal=subnormal, seed=3)
                    if not _same(lp.chop(x, fmt, mode, **kw), lp.chop(xd, fmt, mode, **kw)):
                        report(f"chop {dtype} {fmt} {mode.name} subnormal={subnormal}")
            if fmt != "double" and not _same(lp.chop(x, fmt, flip=True, p=0.3, seed=4),
                                             lp.chop(xd, fmt, flip=True, p=0.3, seed=4)):
                report(f"chop flip {dtype} {fmt}")


def check_arithmetic(dev: torch.device, n: int, report: Callable[[str], None]) -> None:
    g = torch.Generator().manual_seed(1)
    a = torch.randn(n, dtype=torch.float64, generator=g)
    b = torch.randn(n, dtype=torch.float64, generator=g)
    for mode in RoundingMode:
        results = []
        for device in (torch.device("cpu"), dev):
            lp.seed(5)
            la, lb = lp.asarray(a.to(device), "bf16", mode), lp.asarray(b.to(device), "bf16", mode)
            results.append([la + lb, la - lb, la * lb, la / lb, torch.sqrt(la.abs())])
        for name, c, d in zip(("add", "sub", "mul", "div", "sqrt"), *results):
            if not _same(c, d):
                report(f"LPTensor {name} {mode.name}")


def check_accumulation(dev: torch.device, report: Callable[[str], None]) -> None:
    g = torch.Generator().manual_seed(2)

    def grid(*shape):
        return lp.chop(torch.randn(*shape, dtype=torch.float64, generator=g), "half")

    a, b, x, w = grid(3, 8, 17), grid(17, 5), grid(2, 3, 7, 6), grid(4, 3, 3, 3)
    bias, bias5 = grid(4), grid(5)
    for model in ("sequential", "pairwise", "fma", "exact", "fp32"):
        for mode in (m for m in RoundingMode if not m.is_stochastic):
            outs = []
            for device in (torch.device("cpu"), dev):
                la, lb = (lp.asarray(t.to(device), "half", mode) for t in (a, b))
                lx, lw, lbias, lb5 = (lp.asarray(t.to(device), "half", mode) for t in (x, w, bias, bias5))
                with lp.accumulate(model):
                    outs.append([la @ lb, la.sum(dim=-1), la.mean(dim=1), F.linear(la, lb.T, lb5),
                                 F.conv2d(lx, lw, lbias, padding=1, stride=(1, 2))])
            for name, c, d in zip(("matmul", "sum", "mean", "linear", "conv2d"), *outs):
                if not _same(c, d):
                    report(f"accumulate {model} {name} {mode.name}")


def check_training(dev: torch.device, report: Callable[[str], None]) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).to(dev)
    for layer in (model[0], model[2]):
        layer.weight = torch.nn.Parameter(lp.torch.as_lp(layer.weight.detach(), "bf16", grad_format="e5m2"))
        layer.bias = torch.nn.Parameter(lp.torch.as_lp(layer.bias.detach(), "bf16", grad_format="e5m2"))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x = torch.randn(64, 6, device=dev)
    for _ in range(3):
        opt.zero_grad()
        loss = ((model(x) - x[:, :1]) ** 2).mean()
        loss.backward()
        opt.step()
    for p in model.parameters():
        plain = p.as_plain().detach()
        if p.device.type != dev.type or not torch.equal(lp.chop(plain, "bf16"), plain):
            report("training: parameter off the grid or off the device")


def timings(dev: torch.device) -> None:
    x = torch.randn(4000, 4000, device=dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def clock(f, reps=5):
        f()
        sync()
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        sync()
        return (time.perf_counter() - t0) / reps * 1e3

    floor = clock(lambda: torch.clone(x))
    print(f"{'clone':24s} {floor:8.2f} ms (4000x4000 float32)")
    for mode in RoundingMode:
        t = clock(lambda: lp.chop(x, "bf16", mode, seed=1))
        print(f"{'chop bf16 ' + mode.name.lower():24s} {t:8.2f} ms  ({t / floor:.1f}x clone)")
    a = lp.asarray(torch.randn(2**22, device=dev), "bf16")
    b = lp.asarray(torch.randn(2**22, device=dev).abs() + 0.5, "bf16")
    pa, pb = a.as_plain(), b.as_plain()
    for name, f, g in (("add", lambda: a + b, lambda: pa + pb), ("div", lambda: a / b, lambda: pa / pb)):
        tl, tp = clock(f), clock(g)
        print(f"{'LPTensor ' + name + ' 4M':24s} {tl:8.2f} ms vs plain {tp:.3f} ms ({tl / tp:.0f}x)")
    m = lp.asarray(torch.randn(256, 256, device=dev), "bf16")
    for model in ("exact", "sequential", "pairwise"):
        with lp.accumulate(model):
            t = clock(lambda: m @ m, reps=2)
        print(f"{'matmul 256 ' + model:24s} {t:8.2f} ms")


def run_checks(dev: torch.device, quick: bool = False) -> List[str]:
    """All the correctness checks; returns the list of mismatches (empty: all equal)."""
    failures: List[str] = []

    def report(msg: str) -> None:
        failures.append(msg)
        print("MISMATCH", msg)

    check_chop(dev, 2_000 if quick else 50_000, report)
    check_arithmetic(dev, 2_000 if quick else 50_000, report)
    check_accumulation(dev, report)
    check_training(dev, report)
    return failures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller inputs, no timings")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device; nothing to check")
        return 0
    dev = torch.device("cuda")
    print(torch.cuda.get_device_name(dev), "torch", torch.__version__)
    t0 = time.perf_counter()
    failures = run_checks(dev, args.quick)
    print(f"checks: {len(failures)} mismatches ({time.perf_counter() - t0:.1f} s)")
    if not args.quick:
        timings(dev)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
