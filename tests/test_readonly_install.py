"""``import lowprec`` from a read-only install (issue 13, item 8).

numba raised ``RuntimeError: cannot cache function 'round_pair': no locator available`` at
import when neither the package's ``__pycache__`` nor the home directory was writable, and
it ignored a cache pre-built there. Each test copies the package into a temporary
directory, makes it read-only and imports it in a subprocess. Root ignores file modes, so
as root the subprocess runs without the capabilities that let it write anyway
(CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH; Linux ``prctl``).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lowprec

# the subprocesses are started with a preexec_fn (a fork), and JAX, imported by other tests in the
# same worker, warns about forks.
pytestmark = pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")

PKG = Path(lowprec.__file__).resolve().parent

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _drop_root_write_capabilities():  # runs in the child, before exec
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _preexec():
    if os.name != "posix" or os.geteuid() != 0:
        return None  # file modes apply
    if not sys.platform.startswith("linux"):
        pytest.skip("running as root, and dropping root's override of file modes needs Linux prctl")
    return _drop_root_write_capabilities


def _set_writable(root: Path, writable: bool) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        mode = mode | stat.S_IWUSR if writable else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        path.chmod(mode)


@pytest.fixture
def install(tmp_path):
    """A copy of the package in ``site/`` (read-only once ``freeze`` is called), a home, a TMPDIR."""
    site, home, tmp = tmp_path / "site", tmp_path / "home", tmp_path / "tmp"
    site.mkdir(), home.mkdir(), tmp.mkdir()
    frozen = []

    def freeze(with_cache: bool, home_writable: bool) -> None:
        ignore = None if with_cache else shutil.ignore_patterns("*.nbi", "*.nbc")
        shutil.copytree(PKG, site / "lowprec", ignore=ignore, symlinks=True)
        if with_cache:  # what an install step would do: build the kernels this test calls
            run(site, home, tmp, "lowprec.chop(np.linspace(-3.0, 3.0, 101), 'half')", None)
        _set_writable(site, False)
        if not home_writable:
            _set_writable(home, False)
        frozen.extend([site, home])

    yield site, home, tmp, freeze
    for path in frozen:
        _set_writable(path, True)


def run(site: Path, home: Path, tmp: Path, body: str, preexec) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NUMBA_CACHE", "XDG_CACHE", "PYTHONPATH"))}
    env.update(HOME=str(home), TMPDIR=str(tmp), PYTHONPATH=str(site), NUMBA_DEBUG_CACHE="1",
               PYTHONDONTWRITEBYTECODE="1")
    script = textwrap.dedent(f"""
        import os, sys, warnings
        import numpy as np
        warnings.simplefilter("always")
        import lowprec
        assert lowprec.__file__.startswith({str(site)!r}), lowprec.__file__
    """) + textwrap.dedent(body) + '\nprint("OK")\n'
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                         cwd=str(tmp), timeout=300, preexec_fn=preexec)
    assert res.returncode == 0 and "OK" in res.stdout, f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    return res


PROBE = """
for d in (os.path.dirname(lowprec.__file__), os.path.expanduser("~")):
    try:
        open(os.path.join(d, "probe"), "w").close()
    except OSError:
        pass
    else:
        raise SystemExit(f"{d} is writable: the test does not reproduce a read-only install")
"""


def test_import_without_any_writable_cache_dir(install):
    """The reported failure: no pre-built cache, read-only package, read-only home."""
    site, home, tmp, freeze = install
    freeze(with_cache=False, home_writable=False)
    res = run(site, home, tmp, PROBE, _preexec())
    assert res.stderr.count("LowprecWarning") == 1, res.stderr
    assert "NUMBA_CACHE_DIR" in res.stderr
    assert not list(tmp.glob("lowprec-numba-*")), "the temporary cache was not removed at exit"


def test_prebuilt_cache_is_used_without_writable_home(install):
    site, home, tmp, freeze = install
    freeze(with_cache=True, home_writable=False)
    x = "np.linspace(-3.0, 3.0, 101)"
    res = run(site, home, tmp, PROBE + f"assert np.array_equal(lowprec.chop({x}, 'half'), "
                                       f"{x}.astype(np.float16).astype(np.float64))", _preexec())
    assert res.stderr.count("LowprecWarning") == 1, res.stderr
    assert "data loaded from" in res.stdout, res.stdout
    assert "data saved to" not in res.stdout, "a kernel was compiled again: the pre-built cache was not used"


def test_prebuilt_cache_is_used_with_writable_home(install):
    """Read-only package, writable home: the user cache, seeded from the package, no warning."""
    site, home, tmp, freeze = install
    freeze(with_cache=True, home_writable=True)
    x = "np.linspace(-3.0, 3.0, 101)"
    res = run(site, home, tmp, f"assert np.array_equal(lowprec.chop({x}, 'half'), "
                               f"{x}.astype(np.float16).astype(np.float64))", _preexec())
    assert "LowprecWarning" not in res.stderr, res.stderr
    assert "data loaded from" in res.stdout and "data saved to" not in res.stdout, res.stdout
    assert list((home / ".cache" / "numba").glob("*/*.nbi")), "the user cache was not seeded"
