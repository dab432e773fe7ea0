"""lowprec/_fpenv.py: subnormals kept on a thread whose MXCSR flushes them (as XLA's)."""

import numpy as np
import pytest

from lowprec import _fpenv

pytestmark = pytest.mark.skipif(not _fpenv._X86, reason="MXCSR is x86")


def test_ieee_subnormals_clears_and_restores_ftz_daz():
    tiny = np.float32(2.0 ** -130)
    saved = int(_fpenv.get_mxcsr())
    try:
        _fpenv.set_mxcsr(saved | _fpenv._FTZ | _fpenv._DAZ)
        assert float(np.float64(tiny)) == 0.0  # DAZ reads the subnormal as zero
        with _fpenv.ieee_subnormals():
            assert float(np.float64(tiny)) == 2.0 ** -130
            assert float(tiny * np.float32(1.0)) == 2.0 ** -130
        assert int(_fpenv.get_mxcsr()) & (_fpenv._FTZ | _fpenv._DAZ) == _fpenv._FTZ | _fpenv._DAZ
    finally:
        _fpenv.set_mxcsr(saved)
    with _fpenv.ieee_subnormals():  # nothing to clear: nothing changes
        assert int(_fpenv.get_mxcsr()) == saved


def test_jax_exact_keeps_float32_subnormals():
    jnp = pytest.importorskip("jax.numpy")
    import lowprec as lp
    import lowprec.jax.numpy as lnp
    a = lp.jax.asarray(jnp.asarray(np.full((1, 2), 2.0 ** -130, np.float32)), "bf16")
    got = lnp.sum(a, axis=1, model="exact")
    assert float(np.asarray(got.values, np.float64)[0]) == 2.0 ** -129
