"""lp.jax.emulate: unchanged JAX functions run in emulated precision (a jaxpr interpreter)."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

import lowprec as lp  # noqa: E402
from lowprec.jax import numpy as lnp  # noqa: E402


@pytest.fixture(autouse=True)
def _eager(request):
    """Eager for the tests of many small primitives (each compiled once and shared); jitted
    for the scans and transformations, which are faster compiled."""
    if request.node.originalname in _EAGER:
        with jax.disable_jit():
            yield
    else:
        yield


_EAGER = {"test_outputs_on_the_format_grid_and_float_literals_rounded", "test_while_cond_scan_and_custom_rules",
          "test_newton_iteration_equals_lparray_loop", "test_unknown_primitive_names_itself"}


def same_bits(a, b):
    a = np.asarray(a.values if isinstance(a, lp.jax.LPArray) else a)
    b = np.asarray(b.values if isinstance(b, lp.jax.LPArray) else b).astype(a.dtype)
    assert a.shape == b.shape
    ints = np.int64 if a.dtype == np.float64 else np.int32
    ok = (a.view(ints) == b.view(ints)) | (np.isnan(a) & np.isnan(b))
    assert ok.all(), (a[~ok][:4], b[~ok][:4])


def mlp(params, x):
    """An ordinary JAX MLP forward pass (nothing lowprec in it)."""
    (w1, b1), (w2, b2) = params
    h = jnp.tanh(x @ w1 + b1)
    return jax.nn.relu(h @ w2 + b2).sum(axis=-1)


def _params(rng):
    return [(jnp.asarray(rng.normal(size=(4, 8)), jnp.float32), jnp.asarray(rng.normal(size=8), jnp.float32)),
            (jnp.asarray(rng.normal(size=(8, 3)), jnp.float32), jnp.asarray(rng.normal(size=3), jnp.float32))]


@pytest.mark.parametrize("model", ["exact", pytest.param("sequential", marks=pytest.mark.slow)])
def test_mlp_forward_equals_lparray_pipeline(model):
    rng = np.random.default_rng(0)
    params = _params(rng)
    x = jnp.asarray(rng.normal(size=(5, 4)), jnp.float32)
    with lp.accumulate(model):
        got = lp.jax.emulate(mlp, "bf16")(params, x)
        # the same computation spelled with LPArrays
        (w1, b1), (w2, b2) = [(lp.asarray(w, "bf16"), lp.asarray(b, "bf16")) for w, b in params]
        xl = lp.asarray(x, "bf16")
        h = lnp.tanh(xl @ w1 + b1)
        want = lnp.sum(lnp.maximum(h @ w2 + b2, 0.0), axis=-1)
    assert got.dtype == jnp.float32 and got.shape == (5,)
    same_bits(got, want)
    plain = mlp(params, x)
    assert not np.array_equal(np.asarray(got), np.asarray(plain))
    np.testing.assert_allclose(np.asarray(got), np.asarray(plain), rtol=0.1, atol=0.1)


def newton_sqrt(a):
    """Newton's iteration for sqrt(a), an ordinary JAX loop."""
    return lax.fori_loop(0, 6, lambda i, x: 0.5 * (x + a / x), a)


def test_newton_iteration_equals_lparray_loop():
    a = jnp.array([2.0, 3.0, 10.0], jnp.float32)
    got = lp.jax.emulate(newton_sqrt, "half", "toward_zero")(a)
    al = lp.asarray(a, "half", "toward_zero")
    x = al
    for _ in range(6):
        x = 0.5 * (x + al / x)
    same_bits(got, x)
    # jit of the emulated function: the same bits, one compilation
    same_bits(jax.jit(lp.jax.emulate(newton_sqrt, "half", "toward_zero"))(a), x)


def test_while_cond_scan_and_custom_rules():
    def f(x):
        y = lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 1.1), (0, x))[1]
        z = lax.cond(y.sum() > 0, lambda v: v / 3, lambda v: -v, y)
        s, cs = lax.scan(lambda c, v: (c + v, c * v), jnp.float32(0.1), z)
        return s, cs, jnp.cumsum(z), jax.nn.relu(z - 1)

    x = jnp.array([1.0, 2.0, -0.5], jnp.float32)
    s, cs, c, r = lp.jax.emulate(f, "bf16")(x)
    xl = lp.asarray(x, "bf16")
    y = xl
    for _ in range(3):
        y = y * 1.1
    z = y / 3 if float(lnp.sum(y)) > 0 else -y
    acc = lp.asarray(jnp.float32(0.1), "bf16")
    prods = []
    for v in z:
        prods.append(acc * v)
        acc = acc + v
    same_bits(s, acc)
    same_bits(cs, jnp.stack([p.values for p in prods]))
    same_bits(c, lnp.cumsum(z))
    same_bits(r, lnp.maximum(z - 1, 0.0))


def test_outputs_on_the_format_grid_and_float_literals_rounded():
    out = lp.jax.emulate(lambda x: jnp.exp(x) * 0.1 + jnp.sin(x), "e4m3")(jnp.linspace(-2, 2, 11))
    same_bits(out, lp.chop(np.asarray(out), "e4m3"))
    # the literal 0.1 is rounded into the format before use
    tenth = lp.jax.emulate(lambda x: x * 0.1, "e4m3")(jnp.float32(1.0))
    assert float(tenth) == float(lp.chop(0.1, "e4m3"))


def test_grad_vmap_jit_compose():
    f = lp.jax.emulate(lambda w, x: jnp.sum(jnp.tanh(w * x)), "bf16")
    w = jnp.array([0.5, -0.3, 1.2], jnp.float32)
    xs = jnp.arange(12.0, dtype=jnp.float32).reshape(4, 3) / 5
    g = jax.vmap(jax.jit(jax.grad(f)), in_axes=(None, 0))(w, xs)
    for i in range(4):
        np.testing.assert_allclose(np.asarray(g[i]), np.asarray(jax.grad(f)(w, xs[i])), rtol=1e-6)
    assert np.all(np.isfinite(np.asarray(g)))


def test_unknown_primitive_names_itself():
    f = lp.jax.emulate(lambda a: jnp.linalg.cholesky(a), "bf16")
    with pytest.raises(lp.UnsupportedOperationError, match="cholesky"):
        f(jnp.eye(2))
    # integer-only work passes through
    assert int(lp.jax.emulate(lambda n: n * 3 + 1, "bf16")(jnp.int32(4))) == 13


def test_stochastic_emulate_needs_a_key():
    with pytest.raises(ValueError, match="key"):
        lp.jax.emulate(lambda x: x / 3, "bf16", "stochastic")
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        x = jnp.full(1000, 1.0, jnp.float32)
        f = lambda k: lp.jax.emulate(lambda v: v / 3, "bf16", "stochastic", key=k)(x)  # noqa: E731
        a, b, c = f(jax.random.key(0)), f(jax.random.key(0)), f(jax.random.key(1))
        same_bits(a, b)
        assert not np.array_equal(np.asarray(a), np.asarray(c))
        lo, hi = lp.chop(np.float32(1 / 3), "bf16", "down"), lp.chop(np.float32(1 / 3), "bf16", "up")
        assert set(np.unique(np.asarray(a)).tolist()) == {float(lo), float(hi)}
    finally:
        jax.config.update("jax_enable_x64", old)
