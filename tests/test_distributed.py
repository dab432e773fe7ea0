"""LP arrays through dask.distributed (issue 13, item 4).

distributed serializes numpy arrays with its own ``dask_serialize`` for np.ndarray, which
rebuilt plain ndarrays: results came back from workers unwrapped, and ``a * b`` on chunks
that had moved between workers ran unrounded (38,810 of 40,000 elements differed).
lowprec/_dask.py registers the LP types; these tests check the round trip in process, the
registration whatever the import order, and a two-process LocalCluster (about 15 s).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lowprec as lp

pytest.importorskip("distributed")
from distributed.protocol import deserialize, serialize  # noqa: E402

rng = np.random.default_rng(13)


def _cases():
    x = rng.standard_normal((6, 5))
    return {
        "bf16 up": lp.asarray(x, "bf16", "up"),
        "half float32 storage": lp.asarray(x.astype(np.float32), "half", "toward_zero"),
        "strided slice": lp.asarray(x, "e4m3")[::2, 1::2],
        "0-d": lp.asarray(x, "bf16")[1, 2],
        "fixed": lp.asarray(x, lp.FixedFormat(4, 6), "down"),
        "int8 per channel": lp.asarray(x, lp.IntFormat(8, per_channel=True, axis=1)),
    }


@pytest.mark.parametrize("name", list(_cases()))
def test_serialize_round_trip_keeps_type_format_mode(name):
    a = _cases()[name]
    header, frames = serialize(a)
    assert header["serializer"] == "dask", header  # zero-copy frames, not a pickle of the array
    b = deserialize(header, frames)
    assert type(b) is type(a)
    assert b.format == a.format and b.rmode == a.rmode
    assert b.shape == a.shape and b.dtype == a.dtype
    np.testing.assert_array_equal(b.values, a.values)
    for attr in ("_scale", "_zero"):
        if hasattr(a, attr):
            np.testing.assert_array_equal(getattr(b, attr), getattr(a, attr))
    # still emulated after the trip: an operation rounds into the format
    np.testing.assert_array_equal(np.asarray(b * b), np.asarray(a * a))


@pytest.mark.parametrize("first", ["lowprec", "distributed"])
def test_registration_does_not_depend_on_import_order(first):
    other = "distributed.protocol" if first == "lowprec" else "lowprec"
    script = textwrap.dedent(f"""
        import {first}
        import {other}
        import numpy as np
        import lowprec as lp
        from distributed.protocol import deserialize, serialize
        b = deserialize(*serialize(lp.asarray(np.ones(3) / 3, "bf16")))
        print(type(b).__name__, b.format)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["LPFloat", "bfloat16"], out.stdout


def test_local_cluster_operands_moving_between_workers():
    """Two worker processes; operands persisted on one, the product computed on the other."""
    da = pytest.importorskip("dask.array")
    from distributed import Client, LocalCluster, wait

    x, y = rng.standard_normal(40000), rng.standard_normal(40000)
    want = lp.asarray(x, "bf16") * lp.asarray(y, "bf16")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        w1, w2 = list(client.scheduler_info()["workers"])
        a = lp.asarray(da.from_array(x, chunks=10000), "bf16").persist(workers=[w1])
        b = lp.asarray(da.from_array(y, chunks=10000), "bf16").persist(workers=[w1])
        wait([a, b])
        got = client.compute(a * b, workers=[w2]).result()
        assert type(got) is lp.LPFloat and got.format == lp.format("bf16")
        np.testing.assert_array_equal(got.values, want.values)
        # a task's LP result comes back as an LP array
        r = client.submit(lambda v: lp.asarray(v, "half", "up") / 3, np.ones(5)).result()
        assert type(r) is lp.LPFloat and r.format == lp.format("half") and r.rmode == lp.RoundingMode.UP
