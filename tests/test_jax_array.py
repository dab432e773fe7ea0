"""lp.jax.LPArray and lp.jax.numpy: bit-identical to LPFloat, transformations, keys, bad input."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402

import lowprec as lp  # noqa: E402
from lowprec.jax import numpy as lnp  # noqa: E402
from lowprec.rounding import RoundingMode  # noqa: E402

DETERMINISTIC = [m for m in RoundingMode if not m.is_stochastic]


#: Tests run eagerly (op by op): they sweep many (format, mode, shape) combinations, and
#: compiling each costs ~0.5 s while eager primitives are compiled once and shared. The
#: others (scans, transformations) are faster jitted.
_EAGER = {"test_asarray_rounds_and_routes", "test_promotion_and_mode_mismatch",
          "test_correctly_rounded_float32_equals_lpfloat", "test_correctly_rounded_x64_equals_lpfloat",
          "test_property_lparray_equals_lpfloat", "test_property_lparray_equals_lpfloat_many",
          "test_rounded_functions_round_once", "test_float32_path_limits_name_jax_enable_x64",
          "test_lparray_equals_lptensor"}


@pytest.fixture(autouse=True)
def _eager(request):
    if request.node.originalname in _EAGER:
        with jax.disable_jit():
            yield
    else:
        yield




def same_bits(a, b):
    a = np.asarray(a.values if isinstance(a, (lp.jax.LPArray, lp.LPArray)) else a)
    b = np.asarray(b.values if isinstance(b, (lp.jax.LPArray, lp.LPArray)) else b)
    assert a.shape == b.shape, (a.shape, b.shape)
    b = b.astype(a.dtype)
    ints = np.int64 if a.dtype == np.float64 else np.int32
    ok = (a.view(ints) == b.view(ints)) | (np.isnan(a) & np.isnan(b))
    assert ok.all(), (a[~ok][:4], b[~ok][:4])


def format_values(fmt, n, seed, dtype=np.float32):
    """Random values of ``fmt`` over its whole range, with specials and edge cases."""
    rng = np.random.default_rng(seed)
    e = rng.integers(fmt.emin - fmt.t - 1, fmt.emax + 1, n)
    with np.errstate(all="ignore"):
        x = (rng.uniform(-2, 2, n) * np.ldexp(1.0, e)).astype(dtype)
    x[:8] = [0.0, -0.0, fmt.xmax, -fmt.xmins, fmt.xmins, 1.0, -1.0, fmt.xmin]
    return lp.chop(x, fmt)


def pair(fmt, mode, n=600, seed=0, dtype=np.float32):
    """Two operands (NumPy LPFloat, JAX LPArray) with cancellations, ties and near-overflow."""
    fmt = lp.format(fmt)
    a = format_values(fmt, n, seed, dtype)
    b = format_values(fmt, n, seed + 1, dtype)
    b[10:100] = -a[10:100]  # exact cancellation
    b[100:200] = lp.chop(a[100:200] * (1 + 2.0 ** -fmt.t), fmt, "up")
    b[200:210] = [2.0 ** -100, -(2.0 ** -100), 3.0, fmt.xmax, fmt.xmins, -fmt.xmax, 0.5, 1.5, -0.0, 7.0]
    b = lp.chop(b, fmt)
    np_a, np_b = lp.asarray(a, fmt, mode), lp.asarray(b, fmt, mode)
    return (np_a, np_b), (lp.asarray(jnp.asarray(a), fmt, mode), lp.asarray(jnp.asarray(b), fmt, mode))


# ------------------------------------------------------------------ pytree and basics

def test_pytree_static_format_and_no_validation_in_unflatten():
    x = lp.asarray(jnp.arange(4.0), "bf16", "up")
    assert type(x) is lp.jax.LPArray
    leaves, tree = jax.tree_util.tree_flatten(x)
    assert len(leaves) == 1 and leaves[0] is x.values
    hash(tree)  # aux data is hashable: a jit cache key
    odd = jax.tree_util.tree_unflatten(tree, [object()])  # vmap does this: no validation
    assert odd.format == lp.format("bf16")
    assert not hasattr(x, "__jax_array__")
    with pytest.raises(TypeError):
        jnp.sin(x)  # jnp functions fail loudly instead of returning unrounded values
    assert "format='bfloat16'" in repr(x) and "rmode='up'" in repr(x)


def test_asarray_rounds_and_routes():
    x = lp.asarray(jnp.array([0.1, 1 / 3]), "bf16")
    same_bits(x, lp.chop(np.array([0.1, 1 / 3], np.float32), "bf16"))
    assert x.dtype == jnp.float32
    assert lp.jax.asarray(np.array([1, 2]), "half").dtype == jnp.float32  # ints: default float
    y = lp.asarray(jnp.array([1.0, 2.0]), "e5m2", subnormal=False)
    assert y.format.subnormal is False


def test_indexing_shape_and_updates():
    x = lp.asarray(jnp.arange(6.0).reshape(2, 3) / 3, "bf16")
    assert x.T.shape == (3, 2) and x.T.format == x.format
    assert x.reshape(3, 2).shape == (3, 2) and x.reshape(-1).format == x.format
    r = x[1, 2]
    assert isinstance(r, lp.jax.LPArray) and r.shape == () and r.format == x.format
    assert isinstance(x > 0.5, jax.Array) and (x > 0.5).dtype == jnp.bool_
    y = x.at[0, 0].set(0.1)
    assert float(y[0, 0]) == float(lp.chop(np.float32(0.1), "bf16"))
    z = x.at[0, 1].add(2 ** -12)  # below half an ulp of 1/3 in bf16: no change in rne
    assert float(z[0, 1]) == float(x[0, 1])
    zu = lp.asarray(x, "bf16", "up").at[0, 1].add(2 ** -20)
    assert float(zu[0, 1]) > float(x[0, 1])
    assert x.astype("e4m3").format == lp.format("e4m3")
    same_bits(x.astype("e4m3"), lp.chop(np.asarray(x.values), "e4m3"))


def test_promotion_and_mode_mismatch():
    a = lp.asarray(jnp.ones(3) / 3, "half")
    b = lp.asarray(jnp.ones(3) / 3, "bf16")
    assert (a + b).format == lp.format("tf32")
    with pytest.raises(lp.FormatMismatchError, match="rounding modes"):
        a + lp.asarray(jnp.ones(3), "half", "up")
    w = a + 0.1  # Python numbers are weak: rounded into the format first
    same_bits(w, lp.asarray(np.ones(3, np.float32) / 3, "half") + 0.1)


# ------------------------------------------------------------------ correctly rounded arithmetic

OPS = [("add", np.add), ("subtract", np.subtract), ("multiply", np.multiply), ("divide", np.divide)]


SLOW = pytest.mark.slow


@pytest.mark.parametrize("name", ["bf16", "e4m3", pytest.param("half", marks=SLOW), pytest.param("e5m2", marks=SLOW),
                                  pytest.param("fp4_e2m1", marks=SLOW), pytest.param("tf32", marks=SLOW)])
def test_correctly_rounded_float32_equals_lpfloat(name):
    # float32 storage without x64: round to odd in float32, then the shared rounding core
    with np.errstate(all="ignore"):
        for mode in DETERMINISTIC:
            (na, nb), (ja, jb) = pair(name, mode, seed=len(name))
            for fname, ufunc in OPS:
                same_bits(getattr(lnp, fname)(ja, jb), ufunc(na, nb))
            same_bits(lnp.sqrt(ja), np.sqrt(na))
            same_bits(lnp.square(ja), np.square(na))
            same_bits(lnp.reciprocal(jb), np.reciprocal(nb))


@pytest.mark.parametrize("name,dtype", [("bf16", np.float32), ("half", np.float64),
                                        pytest.param("single", np.float32, marks=SLOW),
                                        pytest.param("e8m30", np.float64, marks=SLOW)])
def test_correctly_rounded_x64_equals_lpfloat(name, dtype, x64):
    with np.errstate(all="ignore"):
        for mode in DETERMINISTIC:
            (na, nb), (ja, jb) = pair(name, mode, n=300, seed=3, dtype=dtype)
            for fname, ufunc in OPS:
                same_bits(getattr(lnp, fname)(ja, jb), ufunc(na, nb))
            same_bits(lnp.sqrt(ja), np.sqrt(na))


def test_operators_jitted_equal_lpfloat():
    (na, nb), (ja, jb) = pair("bf16", "down", n=300)
    f = jax.jit(lambda a, b: ((a + b) * a - b / 3, -a, abs(b), a ** 2))
    got = f(ja, jb)
    want = ((na + nb) * na - nb / 3, -na, abs(nb), na ** 2)
    for g, w in zip(got, want):
        assert isinstance(g, lp.jax.LPArray)
        same_bits(g, w)


_PROPERTY = (st.sampled_from(["bf16", "half", "e4m3", "e5m2"]), st.sampled_from(DETERMINISTIC),
             st.lists(st.floats(-1e4, 1e4, width=32), min_size=1, max_size=8),
             st.lists(st.floats(-1e4, 1e4, width=32), min_size=1, max_size=8),
             st.sampled_from(["add", "subtract", "multiply", "divide"]))


@settings(max_examples=12, deadline=None)
@given(*_PROPERTY)
def test_property_lparray_equals_lpfloat(name, mode, xs, ys, op):
    _check_property(name, mode, xs, ys, op)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(*_PROPERTY)
def test_property_lparray_equals_lpfloat_many(name, mode, xs, ys, op):
    _check_property(name, mode, xs, ys, op)


def _check_property(name, mode, xs, ys, op):
    n = min(len(xs), len(ys))  # padded to one shape
    a = np.resize(np.array(xs[:n], np.float32), 8)
    b = np.resize(np.array(ys[:n], np.float32), 8)
    got = getattr(lnp, op)(lp.asarray(jnp.asarray(a), name, mode), lp.asarray(jnp.asarray(b), name, mode))
    with np.errstate(all="ignore"):
        want = getattr(np, op)(lp.asarray(a, name, mode), lp.asarray(b, name, mode))
    same_bits(got, want)


def test_float32_path_limits_name_jax_enable_x64():
    x = lp.asarray(jnp.ones(3), "single", "up")
    with pytest.raises(lp.FormatError, match="jax_enable_x64"):
        x + x
    s = lp.asarray(jnp.ones(3), "bf16", "stochastic", rng=jax.random.key(0))
    with pytest.raises(lp.FormatError, match="jax_enable_x64"):
        lnp.sqrt(s, key=jax.random.key(1))
    with pytest.raises(lp.FormatError, match="jax_enable_x64"):
        lp.asarray(jnp.ones(3), "double")


# ------------------------------------------------------------------ functions of the paper's tables

def test_rounded_functions_round_once():
    x = lp.asarray(jnp.linspace(0.1, 0.9, 17), "bf16")
    v = x.values
    for name, fn in [("exp", jnp.exp), ("sin", jnp.sin), ("tanh", jnp.tanh), ("log1p", jnp.log1p),
                     ("arctan", jnp.arctan), ("cbrt", jnp.cbrt), ("sinh", jnp.sinh)]:
        got = getattr(lnp, name)(x)
        same_bits(got, lp.chop(fn(v), "bf16"))
        near = getattr(np, name)(lp.asarray(np.asarray(v), "bf16"))  # the NumPy side (binary64 libm)
        assert np.max(np.abs(np.asarray(got.values) - near.values)) <= 2.0 ** -8
    same_bits(lnp.hypot(x, x), lp.chop(jnp.hypot(v, v), "bf16"))
    same_bits(lnp.power(x, 3), lp.chop(v ** 3, "bf16"))
    same_bits(lnp.clip(x, 0.2, 0.5), jnp.clip(v, lp.chop(np.float32(0.2), "bf16"), 0.5))
    for name in ["floor", "ceil", "round", "sign", "abs", "negative"]:
        same_bits(getattr(lnp, name)(x * 4), getattr(jnp, name)((x * 4).values))
    same_bits(lnp.maximum(x, 0.5), jnp.maximum(v, 0.5))
    assert lnp.isfinite(x).all() and lnp.argmax(x) == 16
    c = lnp.concatenate([x, x])
    assert c.shape == (34,) and c.format == x.format


# ------------------------------------------------------------------ accumulation models

MODELS = ["sequential", "pairwise", pytest.param("exact", marks=SLOW)]


@pytest.mark.parametrize("model", MODELS)
def test_reductions_equal_lpfloat(model):
    rng = np.random.default_rng(4)
    a = lp.chop(rng.uniform(-1, 1, (5, 37)).astype(np.float32) * 3, "half")
    npa, ja = lp.asarray(a, "half", "up"), lp.asarray(jnp.asarray(a), "half", "up")
    with lp.accumulate(model):
        same_bits(lnp.sum(ja), np.sum(npa))
        same_bits(lnp.sum(ja, axis=1), np.sum(npa, axis=1))
        same_bits(lnp.sum(ja, axis=0, keepdims=True), np.sum(npa, axis=0, keepdims=True))
        same_bits(lnp.mean(ja, axis=1), np.mean(npa, axis=1))
        same_bits(lnp.cumsum(ja, axis=1), np.cumsum(npa, axis=1))
        same_bits(lnp.prod(ja[:, :6], axis=1), np.prod(npa[:, :6], axis=1))
        same_bits(lnp.linalg.norm(ja[0]), np.sqrt(np.sum(npa[0] * npa[0])))
        same_bits(ja.sum(axis=1), npa.sum(axis=1))


@pytest.mark.parametrize("model", MODELS)
def test_matmul_equals_lpfloat(model):
    rng = np.random.default_rng(5)
    a = lp.chop(rng.uniform(-2, 2, (4, 9)).astype(np.float32), "bf16")
    b = lp.chop(rng.uniform(-2, 2, (9, 3)).astype(np.float32), "bf16")
    na, nb = lp.asarray(a, "bf16", "toward_zero"), lp.asarray(b, "bf16", "toward_zero")
    ja, jb = lp.asarray(jnp.asarray(a), "bf16", "toward_zero"), lp.asarray(jnp.asarray(b), "bf16", "toward_zero")
    with lp.accumulate(model):
        same_bits(ja @ jb, na @ nb)
        same_bits(lnp.dot(ja[0], jb[:, 0]), np.dot(na[0], nb[:, 0]))
        same_bits(lnp.matmul(ja[0], jb), np.matmul(na[0], nb))
    same_bits(lnp.matmul(ja, jb, model=model), _np_model(model, na, nb))


def _np_model(model, na, nb):
    with lp.accumulate(model):
        return na @ nb


@pytest.mark.parametrize("model", ["fma", pytest.param("fp32", marks=SLOW), pytest.param("pairwise", marks=SLOW)])
def test_fma_and_wide_accumulator_equal_lpfloat(model, x64):
    rng = np.random.default_rng(6)
    a = lp.chop(rng.uniform(-2, 2, (3, 40)), "half")
    b = lp.chop(rng.uniform(-2, 2, (40, 2)), "half")
    na, nb = lp.asarray(a, "half"), lp.asarray(b, "half")
    ja, jb = lp.asarray(jnp.asarray(a), "half"), lp.asarray(jnp.asarray(b), "half")
    with lp.accumulate(model):
        same_bits(ja @ jb, na @ nb)
        same_bits(lnp.sum(ja, axis=1), np.sum(na, axis=1))
        same_bits(lnp.cumsum(ja, axis=1), np.cumsum(na, axis=1))
    batched = lnp.matmul(lp.asarray(jnp.stack([ja.values, ja.values]), "half"), jb, model=model)
    same_bits(batched[1], _np_model(model, na, nb))


def test_fma_without_x64_names_the_flag():
    a = lp.asarray(jnp.ones((2, 2)), "half")
    with pytest.raises(lp.FormatError, match="jax_enable_x64"):
        lnp.matmul(a, a, model="fma")


# ------------------------------------------------------------------ keys

def test_stochastic_keys(x64):
    x = lp.asarray(jnp.full(2000, 1 / 3), "bf16", "stochastic", rng=jax.random.key(0))
    with pytest.raises(ValueError, match="PRNG key"):
        x / 3
    f = jax.jit(lambda a, k: lnp.divide(a, 3.0, key=k))
    r1, r2, r3 = f(x, jax.random.key(1)), f(x, jax.random.key(1)), f(x, jax.random.key(2))
    same_bits(r1, r2)
    assert not np.array_equal(np.asarray(r1.values), np.asarray(r3.values))
    down = lp.chop(np.asarray(x.values) / 3, "bf16", "down")
    up = lp.chop(np.asarray(x.values) / 3, "bf16", "up")
    v = np.asarray(r1.values)
    assert ((v == down) | (v == up)).all() and (v == down).any() and (v == up).any()
    with lp.jax.rng(jax.random.key(5)):
        y1 = x / 3
        y2 = x / 3  # the block's next subkey: another draw
    with lp.jax.rng(jax.random.key(5)):
        y3 = x / 3
    same_bits(y1, y3)
    assert not np.array_equal(np.asarray(y1.values), np.asarray(y2.values))
    g = jax.jit(lambda a, k: _in_block(a, k))  # a block inside jit with a traced key
    same_bits(g(x, jax.random.key(5)), y1)


def _in_block(a, k):
    with lp.jax.rng(k):
        return a / 3


def test_stochastic_sum_is_unbiased(x64):
    # 1 + 2**-9 per step: a quarter of bf16's gap at 1..2; sequential rounding to nearest stalls
    x = lp.asarray(jnp.full((400, 64), 2.0 ** -9), "bf16", "stochastic", rng=jax.random.key(0))
    near = lnp.sum(lp.asarray(jnp.full(64, 2.0 ** -9), "bf16"))
    assert float(near) == 64 * 2.0 ** -9  # exact below 1: no stall yet
    total = lnp.sum(x, axis=1, key=jax.random.key(1))
    assert abs(float(jnp.mean(total.values)) - 64 * 2.0 ** -9) < 0.002


# ------------------------------------------------------------------ transformations

def test_jit_compiles_once_per_format():
    traces = []

    @jax.jit
    def f(a, b):
        traces.append(1)
        return a * b + a

    x = jnp.linspace(-1, 1, 16)
    for name in ["bf16", "half"]:
        a, b = lp.asarray(x, name), lp.asarray(x / 3, name)
        for _ in range(3):
            f(a, b)
            f(lp.asarray(x * 2, name), b)
    assert len(traces) == 2  # one per format, never again
    f(lp.asarray(x, "bf16", "up"), lp.asarray(x, "bf16", "up"))
    assert len(traces) == 3


def test_grad_is_straight_through():
    x = lp.asarray(jnp.array([0.3, -1.7, 2.2]), "bf16")

    def loss(a):
        return lnp.sum(lnp.tanh(a * a) / 3).values

    g = jax.grad(loss)(x)
    # each exact derivative, evaluated at the emulated intermediate values
    v, t = x.values, (x * x).values
    want = (1 - jnp.tanh(t) ** 2) / 3 * 2 * v
    np.testing.assert_allclose(np.asarray(g.values), np.asarray(want), rtol=1e-3)  # 1 - tanh**2 cancels


def test_grad_format_rounds_cotangents():
    x = lp.asarray(jnp.array([0.3, -1.7, 2.2]), "bf16", grad_format="e4m3")
    g = jax.grad(lambda a: lnp.sum((a * 0.1) * 0.1).values)(x)
    tenth = np.float32(lp.chop(np.float32(0.1), "bf16"))
    # the cotangent of a * 0.1 is 0.1 in bf16, rounded into e4m3; then times 0.1 (bf16)
    want = np.full(3, np.float32(lp.chop(tenth, "e4m3")) * tenth, np.float32)
    same_bits(g.values, want)
    plain = jax.grad(lambda a: lnp.sum((a * 0.1) * 0.1).values)(lp.asarray(x.values, "bf16"))
    same_bits(plain.values, np.full(3, tenth * tenth, np.float32))


def test_vmap_jit_grad_equals_eager_per_example():
    w = lp.asarray(jnp.array([0.5, -0.25, 1.5]), "bf16")
    xs = lp.asarray(jnp.arange(12.0).reshape(4, 3) / 7, "bf16")

    def loss(w, x):
        return lnp.sum(lnp.tanh(w * x) * x).values

    batched = jax.vmap(jax.jit(jax.grad(loss)), in_axes=(None, 0))(w, xs)
    values = jax.vmap(jax.jit(loss), in_axes=(None, 0))(w, xs)
    for i in range(4):
        one = jax.grad(loss)(w, xs[i])
        # the gradient arithmetic itself is plain float32, which XLA may fuse differently
        np.testing.assert_allclose(np.asarray(batched.values[i]), np.asarray(one.values), rtol=1e-6)
        same_bits(values[i], loss(w, xs[i]))  # the emulated forward pass: bit for bit


def test_scan_and_vmap_keep_the_format():
    x = lp.asarray(jnp.ones(5) / 3, "half")

    def step(c, xi):
        c = c + xi
        return c, c

    total, partials = jax.lax.scan(step, x[0] * 0, x)
    with lp.accumulate("sequential"):
        same_bits(partials, lnp.cumsum(x))
    same_bits(total, lnp.sum(x))
    doubled = jax.vmap(lambda a: a * 2 + 1)(x)
    assert doubled.format == x.format and doubled.shape == (5,)


def test_equinox_module_and_optax_update():
    eqx = pytest.importorskip("equinox")
    optax = pytest.importorskip("optax")

    class Linear(eqx.Module):
        w: lp.jax.LPArray
        b: lp.jax.LPArray

        def __call__(self, x):
            return self.w @ x + self.b

    model = Linear(lp.asarray(jnp.array([[0.5, -1.0], [2.0, 0.25]]), "bf16"), lp.asarray(jnp.array([0.1, 0.2]), "bf16"))
    x = lp.asarray(jnp.array([1.0, 3.0]), "bf16")
    y = eqx.filter_jit(lambda m, x: m(x))(model, x)
    assert isinstance(y, lp.jax.LPArray) and y.format == lp.format("bf16")
    loss = lambda m: lnp.sum(m(x) * m(x)).values  # noqa: E731
    grads = eqx.filter_grad(loss)(model)
    opt = optax.sgd(0.01)
    state = opt.init(eqx.filter(model, eqx.is_array))
    updates, state = opt.update(grads, state)
    new = lp.jax.apply_updates(model, updates)
    assert isinstance(new.w, lp.jax.LPArray)
    want = lnp.add(model.w, lp.chop(np.asarray(updates.w.values), "bf16"))
    same_bits(new.w, want)
    same_bits(new.w, lp.chop(np.asarray(new.w.values), "bf16"))  # on the grid


def test_no_tracer_leak():
    with jax.checking_leaks():
        x = lp.asarray(jnp.ones(4) / 3, "bf16")
        jax.jit(lambda a: lnp.sum(a * a))(x)
        jax.grad(lambda a: lnp.sum(a * a).values)(x)


def test_lparray_equals_lptensor():
    torch = pytest.importorskip("torch")
    (na, nb), (ja, jb) = pair("bf16", "down", n=300, seed=9)
    ta = lp.asarray(torch.from_numpy(np.asarray(na.values).copy()), "bf16", "down")
    tb = lp.asarray(torch.from_numpy(np.asarray(nb.values).copy()), "bf16", "down")
    for got, want in [(ja + jb, ta + tb), (ja - jb, ta - tb), (ja * jb, ta * tb), (ja / jb, ta / tb),
                      (lnp.sqrt(jb), torch.sqrt(tb))]:
        same_bits(got, want.as_plain().detach().numpy())


def _same_as_reference_and_x64(op, a, b, fmt, mode, key, p, r62):
    """float32 ``op`` without x64 equals the float64 reference given the same random
    words, and equals the result with x64 on."""
    from lowprec.rounding import array_api
    got = lp.jax.correctly_rounded(op, jnp.asarray(a), jnp.asarray(b), fmt, mode, key)
    with np.errstate(all="ignore"):
        want = array_api.round_op(op, a.astype(np.float64), b.astype(np.float64), p, mode, r62)
    same_bits(got, want.astype(np.float32))
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        same_bits(lp.jax.correctly_rounded(op, jnp.asarray(a), jnp.asarray(b), fmt, mode, key), got)
    finally:
        jax.config.update("jax_enable_x64", old)


def test_stochastic_uniform_float32_without_x64():
    # Its decision needs only the kept bits and inexactness, which the float32 path's
    # round-to-odd keeps: the same bits as the float64 path (x64) and the NumPy reference
    # given the same random words, for every operation.
    from lowprec.jax import _fastround, _random
    from lowprec.rounding import rounding_params
    fmt = lp.format("bf16")
    a = format_values(fmt, 4000, 1)
    b = format_values(fmt, 4000, 2)
    key = jax.random.key(8)
    r62 = _fastround.reference_r62(np.asarray(_random.words32(key, a.shape)))
    p = rounding_params(fmt, True, np.dtype(np.float32))
    sru = RoundingMode.STOCHASTIC_UNIFORM
    for op in range(5):
        _same_as_reference_and_x64(op, a, b, fmt, sru, key, p, r62)
    x = lp.asarray(jnp.asarray(a), "bf16", "stochastic_uniform", rng=key)
    with lp.jax.rng(jax.random.key(1)):
        y = x * x + x  # LPArray operators, no x64
    assert y.values.dtype == jnp.float32


@pytest.mark.parametrize("name", ["bf16", "e4m3", "half"])
def test_stochastic_float32_without_x64(name):
    # + - * have exact float32 error-free transformations: the same bits as the float64
    # reference given the same random words (r62 = u * 2**30 + 2**30 - 1), and as x64.
    from lowprec.jax import _fastround, _random
    from lowprec.rounding import rounding_params
    fmt = lp.format(name)
    (na, nb), _ = pair(fmt, "nearest_even", n=3000, seed=4)
    a, b = np.asarray(na.values, np.float32), np.asarray(nb.values, np.float32)
    b[210:300] = lp.chop(a[210:300] * np.float32(1 + 2.0 ** -20), fmt)  # fractions near 0 and 1
    key = jax.random.key(8)
    r62 = _fastround.reference_r62(np.asarray(_random.words32(key, a.shape)))
    p = rounding_params(fmt, True, np.dtype(np.float32))
    sr = RoundingMode.STOCHASTIC
    with np.errstate(over="ignore"):
        b[300:400] = lp.chop(3 * a[300:400], fmt)  # quotients near 1/3
    for op in (lp.jax._arith.ADD, lp.jax._arith.SUBTRACT, lp.jax._arith.MULTIPLY, lp.jax._arith.DIVIDE):
        _same_as_reference_and_x64(op, a, b, fmt, sr, key, p, r62)
    with pytest.raises(lp.FormatError, match="jax_enable_x64"):
        lp.jax.correctly_rounded(lp.jax._arith.SQRT, jnp.asarray(a), jnp.asarray(b), fmt, sr, key)


def test_stochastic_float32_words_every_shift():
    # _sr_words against the float64 reference for chosen random words, over exponents
    # from the format's normal range down to far below its smallest gap (s > 32, s > 62).
    from lowprec.jax import _arith, _fastround
    from lowprec.rounding import array_api, rounding_params
    hs = np.array([1.0, 1.5, 1 + 2.0 ** -23, 2 - 2.0 ** -23, 1.25], np.float32)
    errs = np.array([0.0, 2.0 ** -25, -(2.0 ** -25), 2.0 ** -40, -(2.0 ** -40), 2.0 ** -24, -(2.0 ** -24)])
    es = np.arange(-220, 20, dtype=np.int32)
    h, err, e = (v.ravel() for v in np.meshgrid(hs, errs.astype(np.float32), es, indexing="ij"))
    for name in ("bf16", "e4m3", "half"):
        fmt = lp.format(name)
        p = rounding_params(fmt, True, np.dtype(np.float32))
        for word in (0, 1, 2 ** 20, 2 ** 31, 2 ** 32 - 1):
            u = jnp.full(h.shape, word, jnp.uint32)
            odd = _arith._assemble(_arith._odd(jnp.asarray(h), jnp.asarray(err)), jnp.asarray(e),
                                   jnp.zeros(h.shape, bool), RoundingMode.STOCHASTIC)
            words = _arith._sr_words(jnp.asarray(h), jnp.asarray(err), jnp.asarray(e), u, p)
            got = _fastround.round_bits(odd, p, RoundingMode.STOCHASTIC, words)
            hi = h.astype(np.float64) + err  # exact: at most 41 bits
            r62 = _fastround.reference_r62(np.full(h.shape, word, np.uint32))
            want = array_api.round_pair(hi, np.zeros_like(hi), e.astype(np.int64), p, "stochastic", r62)
            same_bits(got, want.astype(np.float32))


def test_floor_quotient_is_exact():
    # the integer long division behind stochastic float32 division, against Python's
    from fractions import Fraction
    from lowprec.jax import _arith
    rng = np.random.default_rng(3)
    n = 4000
    d = (1 + rng.integers(0, 2 ** 23, n) * 2.0 ** -23).astype(np.float32)
    k = rng.integers(0, 56, n).astype(np.int32)
    r = (rng.uniform(-1, 1, n) * 2.0 ** (30 - k.astype(np.float64))).astype(np.float32)
    r[:4] = [0.0, 2.0 ** -30, -(2.0 ** -30), -1.0]
    r[4:200] = (d[4:200] * np.float32(2.0 ** -20)) * np.where(np.arange(196) % 2, 1, -1)  # exact quotients
    k[4:200] = 40
    got = np.asarray(_arith._floor_quotient(jnp.asarray(r), jnp.asarray(d), jnp.asarray(k)))
    want = [int((Fraction(float(ri)) * 2 ** int(ki) / Fraction(float(di))).__floor__()) % 2 ** 32
            for ri, di, ki in zip(r, d, k)]
    assert [int(g) for g in got] == want
