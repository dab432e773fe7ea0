"""lowprec in worker processes and threads (issue 13, item 7).

numba's GNU OpenMP layer kills a child forked after a parallel kernel (a default
``multiprocessing.Pool`` hangs, a torch DataLoader worker dies) and its workqueue layer
aborts when two Python threads launch kernels; lowprec loads TBB, which is both fork- and
thread-safe (docs/threading.md). Each scenario runs in a subprocess with a timeout, so a
hang or an abort fails the test instead of stopping the run. The arrays have 2**16
elements: above ``_SERIAL_BELOW`` (16,384), where the kernels run in parallel.
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import tempfile
import textwrap

import pytest

#: A deadlock never ends; a child on a cold numba cache (a fresh clone, CI) compiles its
#: kernels first, which took over 60 s on 2 busy cores: the bound is generous.
TIMEOUT = 300

# Results computed in a child process or thread must equal the same calls run serially here.
COMMON = """
import numpy as np
import lowprec as lp

N = 1 << 16

def work(i):
    x = np.linspace(-3.0, 3.0, N) * (1.0 + i / 7.0)
    a = lp.asarray(x, "bf16")
    b = lp.asarray(x[::-1] + 0.1, "bf16")
    c = a * b + a
    assert type(c) is lp.LPFloat and c.format == lp.format("bf16")
    return lp.chop(x, "half"), np.asarray(c)

def check(got, i):
    want = work(i)
    for g, w in zip(got, want):
        assert np.array_equal(g, w), i
"""


def run_script(body: str, env: dict | None = None) -> str:
    """Run ``COMMON + body`` in a fresh interpreter; fail on a non-zero exit or a hang."""
    script = textwrap.dedent(COMMON) + textwrap.dedent(body)
    # A file, not ``-c``: spawn and forkserver children re-import the main module from its path.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "scenario.py")
        with open(path, "w") as f:
            f.write(script)
        # Its own session, so that a hang is ended with every worker it started.
        proc = subprocess.Popen([sys.executable, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            pytest.fail(f"hung for {TIMEOUT} s (deadlock after fork or between threads?)\nstderr:\n{err}")
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    assert "OK" in out, out
    return out


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_pool_after_parallel_kernels(method):
    """Parent runs parallel kernels, then a Pool's children run them, then the parent again."""
    run_script(f"""
    import multiprocessing as mp
    if __name__ == "__main__":
        before = [work(i) for i in range(3)]
        with mp.get_context({method!r}).Pool(2) as pool:
            got = pool.map(work, range(3))
        for i, g in enumerate(got):
            check(g, i)
        check(before[0], 0)
        print("OK")
    """)


def test_torch_dataloader_workers():
    """A DataLoader with two (forked) workers whose dataset calls lp.chop and LPTensor ops."""
    pytest.importorskip("torch")
    run_script("""
    import torch
    from torch.utils.data import DataLoader, Dataset

    def tensor_work(i):
        t = lp.asarray(torch.linspace(-3.0, 3.0, N) * (1 + i), "bf16")
        return (t * t + t).as_plain()

    class Data(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            chopped, c = work(i)
            return torch.from_numpy(chopped), torch.from_numpy(c), tensor_work(i)

    if __name__ == "__main__":
        want = [(work(i), tensor_work(i)) for i in range(4)]  # parallel kernels before the fork
        for i, (chopped, c, t) in enumerate(DataLoader(Data(), batch_size=None, num_workers=2)):
            check((chopped.numpy(), c.numpy()), i)
            assert torch.equal(t, want[i][1])
        print("OK")
    """)


def test_eight_threads_agree_with_serial():
    """8 Python threads calling lp.chop, LPFloat and LPTensor ops at once (workqueue aborted here)."""
    torch_part = "" if _no_torch() else """
    import torch
    def tensor_work(i):
        t = lp.asarray(torch.linspace(-3.0, 3.0, N) * (1 + i), "bf16")
        return (t * t + t).as_plain()
    tasks.append((tensor_work, lambda g, w: torch.equal(g, w)))
    """
    run_script("""
    import threading
    tasks = [(work, lambda g, w: all(np.array_equal(x, y) for x, y in zip(g, w)))]
    """ + torch_part + """
    want = [[f(i) for i in range(8)] for f, _ in tasks]
    errors = []

    def thread(i):
        try:
            for _ in range(3):
                for (f, same), w in zip(tasks, want):
                    if not same(f(i), w[i]):
                        errors.append(f"thread {i}: {f.__name__} differs from the serial result")
        except BaseException as e:  # reported below: a thread's exception would be lost
            errors.append(f"thread {i}: {e!r}")

    threads = [threading.Thread(target=thread, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    print("OK")
    """)


def _no_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return True
    return False


_TBB_EXPECTED = (sys.platform.startswith("linux") or sys.platform == "win32") and \
    platform.machine() in ("x86_64", "AMD64")


def test_default_layer_is_tbb():
    """The layer numba picks after ``import lowprec`` (tbb is a dependency on x86-64 Linux/Windows)."""
    if not _TBB_EXPECTED:
        pytest.skip("the tbb wheel exists only for x86-64 Linux and Windows")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_THREADING_LAYER")}
    out = run_script("""
    import numba
    from lowprec._threading import tbb_status
    work(0)
    print("OK", numba.threading_layer(), tbb_status())
    """, env=env)
    assert out.split()[1:] == ["tbb", "None"], out


def test_user_choice_of_layer_is_respected():
    env = dict(os.environ, NUMBA_THREADING_LAYER="omp")
    out = run_script("""
    import numba
    work(0)
    print("OK", numba.threading_layer())
    """, env=env)
    assert out.split()[1] == "omp", out
