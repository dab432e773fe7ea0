"""numba's cache must not run a stale copy of a kernel inlined from another file (issue 18).

numba stamps a cached kernel with the hash of its own source file only, yet the kernel
carries compiled copies of what it inlines or calls from other files. lowprec stamps its
kernels with one hash of all its kernel sources (:func:`lowprec._cache.kernel_stamp`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import lowprec
from lowprec import _cache

PKG = Path(lowprec.__file__).resolve().parent

CALL = """
import numpy as np, lowprec
from lowprec.rounding import _certificate
_certificate.sums_magnitudes(np.ones((2, 2)), 2, np.empty((2, 1)), np.empty((2, 1)))
"""


def _run(site: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_CACHE", "PYTHONPATH"))}
    env.update(PYTHONPATH=str(site), NUMBA_DEBUG_CACHE="1", PYTHONDONTWRITEBYTECODE="1")
    res = subprocess.run([sys.executable, "-c", CALL], capture_output=True, text=True, env=env,
                         cwd=str(site), timeout=300)
    assert res.returncode == 0, res.stderr
    return "\n".join(line for line in res.stdout.splitlines() if "sums_magnitudes" in line)


def test_an_edit_of_another_kernel_file_recompiles(tmp_path):
    shutil.copytree(PKG, tmp_path / "lowprec", ignore=shutil.ignore_patterns("*.nbi", "*.nbc"))
    assert "data saved" in _run(tmp_path)
    again = _run(tmp_path)
    assert "data loaded" in again and "data saved" not in again
    with open(tmp_path / "lowprec" / "rounding" / "_kernels.py", "a") as f:
        f.write("\n# an edit of a file sums_magnitudes. module imports from\n")
    assert "data saved" in _run(tmp_path)


def test_the_stamp_is_one_hash_for_lowprecs_files_only():
    stamp = _cache.kernel_stamp()
    assert len(stamp) == 64
    assert _cache.kernel_stamp() == stamp  # computed once
    assert _cache._ours(str(PKG / "chop.py")) and not _cache._ours(os.__file__)
