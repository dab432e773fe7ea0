"""Test-session settings shared by every test module.

JAX's persistent compilation cache: most of the JAX tests' time is XLA compiling the
same (format, mode, shape) programs on every run, so compiled executables are kept in
``.pytest_cache/jax`` (git-ignored; keyed by the program, JAX version and flags, so a
stale entry is never reused). Set through environment variables, read when JAX is
first imported: importing this file does not import JAX. An explicit
``JAX_COMPILATION_CACHE_DIR`` wins; ``JAX_COMPILATION_CACHE_DIR=`` (empty) turns it off.
"""

import os
from pathlib import Path

import pytest

_CACHE = Path(__file__).resolve().parent.parent / ".pytest_cache" / "jax"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")


@pytest.fixture
def x64():
    """jax_enable_x64 on for the test, restored afterwards (one fixture for every JAX test file)."""
    import jax

    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


@pytest.fixture(autouse=True)
def _ieee_subnormals_kept():
    """Fail a test that leaves flush-to-zero or denormals-are-zero set on the main thread:
    every later NumPy-side result in the subnormal range would silently be flushed
    (lowprec/_fpenv.py)."""
    yield
    from lowprec import _fpenv
    if _fpenv._X86:
        state = int(_fpenv.get_mxcsr())
        if state & (_fpenv._FTZ | _fpenv._DAZ):
            _fpenv.set_mxcsr(state & ~(_fpenv._FTZ | _fpenv._DAZ))
            pytest.fail(f"the test left MXCSR = {state:#x} (flush-to-zero or denormals-are-zero set)")
