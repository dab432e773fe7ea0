"""PyTorch backend benchmarks (CPU): rounding throughput of ``lp.chop`` on a tensor
against the ``torch.clone`` copy floor and pychop's torch backend (and qtorch when it
imports), the overhead of ``LPTensor`` operations over plain tensor operations, and a
small-MLP training step with ``LPTensor`` parameters against plain float32.

    python benchmarks/bench_torch.py [--n 4000] [--repeat 5] [--skip-pychop]

Every time is the best of ``--repeat`` runs after one warm-up run.
"""

from __future__ import annotations

import argparse
import time

import torch

import lowprec as lp

MODES = ["nearest_even", "up", "down", "toward_zero", "stochastic", "stochastic_uniform",
         "nearest_zero", "nearest_away", "odd"]


def best(f, repeat: int) -> float:
    """Best wall time of ``f()`` in seconds, after one warm-up call."""
    f()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def _pychop():
    try:
        import pychop
        pychop.backend("torch")
        return pychop.Chop
    except Exception:  # optional
        return None


def _qtorch():
    try:
        from qtorch.quant import float_quantize
        return float_quantize
    except Exception:  # optional; needs a C++ toolchain at import
        return None


def rounding(n: int, repeat: int, skip_pychop: bool) -> None:
    x = torch.randn(n, n, dtype=torch.float32)
    floor = best(lambda: torch.clone(x), repeat)
    print(f"## Rounding a {n}x{n} float32 tensor into bf16 (torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads)\n")
    print(f"torch.clone copy floor: {floor * 1e3:.1f} ms\n")
    chop_cls = None if skip_pychop else _pychop()
    quant = _qtorch()
    qtorch_modes = {"nearest_even": "nearest", "stochastic": "stochastic"}
    print("| mode | lowprec ms | x clone | pychop ms | speed-up over pychop | qtorch ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for i, mode in enumerate(MODES, start=1):
        t = best(lambda: lp.chop(x, "bf16", mode, seed=1), repeat)
        pc = qt = float("nan")
        if chop_cls is not None:
            ch = chop_cls(8, 7, rmode=i)
            pc = best(lambda: ch(x), max(1, repeat // 2)) * 1e3
        if quant is not None and mode in qtorch_modes:
            qt = best(lambda: quant(x, 8, 7, rounding=qtorch_modes[mode]), repeat) * 1e3
        print(f"| {mode} | {t * 1e3:.1f} | {t / floor:.2f} | {pc:.1f} | {pc / (t * 1e3):.1f}x | {qt:.1f} |")
    if quant is None:
        print("\nqtorch: not importable here (it compiles a C++ extension on first import)")


def lptensor_ops(repeat: int) -> None:
    n = 2**22
    a = lp.asarray(torch.randn(n), "bf16")
    b = lp.asarray(torch.randn(n).abs() + 0.5, "bf16")
    pa, pb = a.as_plain(), b.as_plain()
    print(f"\n## LPTensor (bf16, float32 storage) elementwise on {n} elements vs plain float32\n")
    print("| op | LPTensor ms | plain ms | ratio |")
    print("|---|---:|---:|---:|")
    cases = (("add", lambda: a + b, lambda: pa + pb), ("mul", lambda: a * b, lambda: pa * pb),
             ("div", lambda: a / b, lambda: pa / pb), ("sqrt", lambda: torch.sqrt(b), lambda: torch.sqrt(pb)),
             ("exp", lambda: torch.exp(a), lambda: torch.exp(pa)),
             ("relu", lambda: torch.relu(a), lambda: torch.relu(pa)))
    for name, f, g in cases:
        tl, tp = best(f, repeat), best(g, repeat)
        print(f"| {name} | {tl * 1e3:.1f} | {tp * 1e3:.2f} | {tl / tp:.1f}x |")


def composites(repeat: int) -> None:
    """Emulated composites (every step rounded, sums under the default sequential model)
    against torch's fused kernels on plain float32."""
    x = lp.asarray(torch.randn(64, 1024), "bf16")
    px = x.as_plain()
    labels = torch.randint(0, 1024, (64,))
    F = torch.nn.functional
    print("\n## LPTensor composites (bf16, 64x1024, sequential sums) vs plain float32\n")
    print("| function | LPTensor ms | plain ms | ratio |")
    print("|---|---:|---:|---:|")
    cases = (("softmax", lambda v: F.softmax(v, dim=-1)), ("layer_norm", lambda v: F.layer_norm(v, (1024,))),
             ("cross_entropy", lambda v: F.cross_entropy(v, labels)))
    for name, f in cases:
        tl, tp = best(lambda: f(x), repeat), best(lambda: f(px), repeat)
        print(f"| {name} | {tl * 1e3:.2f} | {tp * 1e3:.3f} | {tl / tp:.0f}x |")


def mlp_step(repeat: int, batch: int = 128, sizes=(256, 512, 512, 10)) -> None:
    def build(lp_fmt):
        torch.manual_seed(0)
        layers = []
        for i in range(len(sizes) - 1):
            layers += [torch.nn.Linear(sizes[i], sizes[i + 1]), torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers[:-1])
        if lp_fmt is not None:
            for m in model:
                if isinstance(m, torch.nn.Linear):
                    m.weight = torch.nn.Parameter(lp.asarray(m.weight.detach(), lp_fmt))
                    m.bias = torch.nn.Parameter(lp.asarray(m.bias.detach(), lp_fmt))
        return model, torch.optim.SGD(model.parameters(), lr=0.01)

    x = torch.randn(batch, sizes[0])
    y = torch.randint(0, sizes[-1], (batch,))

    def stepper(model, opt):
        def step():
            opt.zero_grad()
            logits = model(x)  # the loss in float32, knowingly (no emulated cross_entropy yet)
            loss = torch.nn.functional.cross_entropy(getattr(logits, "as_plain", lambda: logits)(), y)
            loss.backward()
            opt.step()
        return step

    plain = best(stepper(*build(None)), repeat)
    print(f"\n## MLP {'-'.join(map(str, sizes))} training step, batch {batch} (SGD)\n")
    print("| parameters | accumulation | ms per step | x plain float32 |")
    print("|---|---|---:|---:|")
    print(f"| plain float32 | native | {plain * 1e3:.2f} | 1.0 |")
    for model_name in ("exact", "sequential"):
        with lp.accumulate(model_name):
            t = best(stepper(*build("bf16")), max(1, repeat if model_name == "exact" else 1))
        print(f"| LPTensor bf16 | {model_name} | {t * 1e3:.2f} | {t / plain:.1f} |")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-pychop", action="store_true")
    args = ap.parse_args(argv)
    rounding(args.n, args.repeat, args.skip_pychop)
    lptensor_ops(args.repeat)
    composites(args.repeat)
    mlp_step(args.repeat)


if __name__ == "__main__":
    main()
