"""``lp.jax.emulate``: run an unchanged JAX function with every floating result rounded.

A jaxpr interpreter in the style of ``jax.experimental.sparse.sparsify`` (MODELS.md 6.8):
the function is traced to a jaxpr, and each equation is evaluated by the rule that
:data:`RULES` holds for its primitive (looked up by name):

* ``add sub mul div sqrt`` (and ``add_any``, ``square``, ``integer_pow`` with ``y=2``):
  correctly rounded, the exact result rounded once, in every mode;
* ``dot_general``, ``reduce_sum``, ``reduce_prod``, ``cumsum``, ``cumprod``: the
  accumulation model of :func:`lowprec.accumulate` (or ``model=``), bit-identical to
  ``lp.jax.numpy.matmul``/``sum``/``cumsum``;
* other floating elementwise primitives (``exp tanh logistic pow max select_n
  convert_element_type ...``): bound as they are, the output rounded;
* structural primitives (``reshape broadcast_in_dim slice gather transpose ...``):
  bound as they are (they move format values, nothing to round);
* ``jit``/``pjit``, ``closed_call``, ``checkpoint``, ``custom_jvp_call``,
  ``custom_vjp_call``: their inner jaxpr is interpreted (the custom derivative rules are
  replaced by the straight-through estimator of every rounding); ``scan``, ``while`` and
  ``cond`` are rebuilt with ``lax.scan``/``lax.while_loop``/``lax.switch`` around
  interpreted bodies;
* primitives without floating operands or results (integer and boolean arithmetic) are
  bound as they are; any other primitive raises
  :class:`~lowprec.errors.UnsupportedOperationError` naming it.

The function's floating inputs and float literals are rounded into the format on entry.
Gradients of the emulated function are straight-through (the derivative of the exact
computation). Stochastic modes need ``key=``; each rounding gets its own subkey (a
``scan``/``while`` body gets a fresh one per iteration).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend import core as jcore

from ..errors import UnsupportedOperationError
from ..formats import FloatFormat
from ..policy import accumulation_model
from ..rounding.modes import RoundingMode
from ._array import emulated, storage_dtype
from ._arith import ADD, DIVIDE, MULTIPLY, SQRT, SUBTRACT, correctly_rounded, round_values, to_storage
from ._chop import _as_key
from ._keys import split_key
from .numpy import _Ctx, _fold, _matmul2

__all__ = ["emulate", "RULES"]


class _Env:
    """Format, mode, accumulation model and the key stream of one interpretation."""

    def __init__(self, fmt: FloatFormat, mode: RoundingMode, model, key):
        self.fmt, self.mode, self.model, self.key = fmt, mode, model, key
        self.count = 0

    def next_key(self):
        if self.key is None:
            return None
        self.count += 1
        return jax.random.fold_in(self.key, self.count)

    def child(self, key) -> "_Env":
        return _Env(self.fmt, self.mode, self.model, key)

    def ctx(self, dtype) -> _Ctx:
        return _Ctx(self.fmt, self.mode, None, storage_dtype(self.fmt, _work_dtype(dtype)))


def _is_float(x) -> bool:
    return jnp.issubdtype(jnp.result_type(x), jnp.floating)


def _work_dtype(dtype):
    """The storage the rounding runs in: float16/bfloat16 go through float32."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


def _round(env: _Env, x):
    """``x`` rounded into the format (straight-through gradient), same dtype."""
    if not _is_float(x):
        return x
    dtype = jnp.result_type(x)
    ctx = env.ctx(dtype)
    out = emulated(lambda v: v, lambda v, k: to_storage(round_values(v.astype(ctx.dtype), env.fmt, env.mode, k), dtype),
                   (x,), env.next_key())
    return out.astype(dtype)


def _emulated_call(env: _Env, raw: Callable, emulate: Callable, args):
    dtype = jnp.result_type(*[a for a in args if _is_float(a)])
    ctx = env.ctx(dtype)
    out = emulated(raw, lambda *v: to_storage(emulate(ctx, *[a.astype(ctx.dtype) for a in v[:-1]], v[-1]), dtype),
                   tuple(args), env.next_key())
    return out.astype(dtype)


# ------------------------------------------------------------------ rules

def _correctly_rounded_rule(op: int, arity: int = 2):
    raw_fns = {ADD: jnp.add, SUBTRACT: jnp.subtract, MULTIPLY: jnp.multiply, DIVIDE: jnp.divide, SQRT: jnp.sqrt}

    def rule(env, eqn, *args):
        if not _is_float(args[0]):
            return eqn.primitive.bind(*args, **eqn.params)
        args = tuple(args[:arity]) if arity == 2 else (args[0], args[0])
        raw = raw_fns[op] if arity == 2 else (lambda a, b: raw_fns[op](a))
        return _emulated_call(env, raw, lambda c, a, b, k: correctly_rounded(op, a, b, c.fmt, c.mode, k),
                              args)
    return rule


def _square_rule(env, eqn, x):
    return _correctly_rounded_rule(MULTIPLY, 2)(env, eqn, x, x)


def _integer_pow_rule(env, eqn, x):
    if eqn.params["y"] == 2:
        return _square_rule(env, eqn, x)
    return _elementwise_rule(env, eqn, x)


def _elementwise_rule(env, eqn, *args):
    out = eqn.primitive.bind(*args, **eqn.params)
    if eqn.primitive.multiple_results:
        return [_round(env, o) for o in out]
    return _round(env, out)


def _structural_rule(env, eqn, *args):
    return eqn.primitive.bind(*args, **eqn.params)


def _dot_general_rule(env, eqn, lhs, rhs):
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    out_dtype = eqn.params.get("preferred_element_type") or jnp.result_type(lhs, rhs)
    if not (_is_float(lhs) or _is_float(rhs)):
        return eqn.primitive.bind(lhs, rhs, **eqn.params)
    lhs, rhs = lhs.astype(out_dtype), rhs.astype(out_dtype)
    lf = [d for d in range(lhs.ndim) if d not in lc and d not in lb]
    rf = [d for d in range(rhs.ndim) if d not in rc and d not in rb]

    def raw(a, b):
        return lax.dot_general(a, b, eqn.params["dimension_numbers"], precision=lax.Precision.HIGHEST)

    def emulate(ctx, a, b, key):
        a3 = jnp.transpose(a, list(lb) + lf + list(lc))
        b3 = jnp.transpose(b, list(rb) + list(rc) + rf)
        batch = a3.shape[:len(lb)]
        m = int(np.prod([a.shape[d] for d in lf], dtype=int))
        n = int(np.prod([b.shape[d] for d in rf], dtype=int))
        k = int(np.prod([a.shape[d] for d in lc], dtype=int))
        a3 = a3.reshape((-1, m, k))
        b3 = b3.reshape((-1, k, n))
        keys = None if key is None else jax.random.split(key, a3.shape[0])
        out = jax.vmap(lambda x, y, kk: _matmul2(x, y, ctx, env.model, kk),
                       in_axes=(0, 0, None if key is None else 0))(a3, b3, keys)
        return out.reshape(batch + tuple(a.shape[d] for d in lf) + tuple(b.shape[d] for d in rf))

    return _emulated_call(env, raw, emulate, (lhs, rhs))


def _reduce_rule(op: int, keep: bool):
    def rule(env, eqn, x):
        if not _is_float(x):
            return eqn.primitive.bind(x, **eqn.params)
        if keep:
            axes, reverse = (eqn.params["axis"],), eqn.params.get("reverse", False)
        else:
            axes, reverse = tuple(eqn.params["axes"]), False

        def raw(v):
            return eqn.primitive.bind(v, **eqn.params)

        def emulate(ctx, v, key):
            rest = [d for d in range(v.ndim) if d not in axes]
            moved = jnp.transpose(v, rest + list(axes))
            kept_shape = moved.shape[:len(rest)]
            rows = moved.reshape((-1, int(np.prod([v.shape[d] for d in axes], dtype=int))))
            if reverse:
                rows = rows[:, ::-1]
            final, partials = _fold(rows, op, ctx, key, keep, env.model)
            if not keep:
                return final.reshape(kept_shape)
            if reverse:
                partials = partials[:, ::-1]
            return jnp.moveaxis(partials.reshape(moved.shape), -1, axes[0])

        return _emulated_call(env, raw, emulate, (x,))
    return rule


def _call_rule(param: str):
    """Higher-order primitives with one inner jaxpr: interpret it inline."""
    def rule(env, eqn, *args):
        inner = eqn.params[param]
        if isinstance(inner, jcore.ClosedJaxpr):
            return _eval(env, inner.jaxpr, inner.consts, *args)
        return _eval(env, inner, [], *args)
    return rule


def _custom_vjp_rule(env, eqn, *args):
    inner = eqn.params.get("call_jaxpr") or eqn.params.get("fun_jaxpr")
    return _eval(env, inner.jaxpr, inner.consts, *args)


def _scan_rule(env, eqn, *args):
    p = eqn.params
    body = p["jaxpr"]
    nc, ncarry = p["num_consts"], p["num_carry"]
    consts, carry, xs = args[:nc], args[nc:nc + ncarry], args[nc + ncarry:]

    def step(state, x):
        key, c = state
        sub = env.child(split_key(key, 0))
        out = _eval(sub, body.jaxpr, body.consts, *consts, *c, *x)
        return (split_key(key, 1), list(out[:ncarry])), list(out[ncarry:])

    (_, carry_out), ys = lax.scan(step, (env.next_key(), list(carry)), list(xs), length=p["length"],
                                  reverse=p["reverse"], unroll=p["unroll"])
    return [*carry_out, *ys]


def _while_rule(env, eqn, *args):
    p = eqn.params
    cj, bj = p["cond_jaxpr"], p["body_jaxpr"]
    cn, bn = p["cond_nconsts"], p["body_nconsts"]
    cconsts, bconsts, init = args[:cn], args[cn:cn + bn], args[cn + bn:]

    def cond(state):
        key, c = state
        return _eval(env.child(split_key(key, 0)), cj.jaxpr, cj.consts, *cconsts, *c)[0]

    def body(state):
        key, c = state
        out = _eval(env.child(split_key(key, 1)), bj.jaxpr, bj.consts, *bconsts, *c)
        return split_key(key, 2), list(out)

    _, out = lax.while_loop(cond, body, (env.next_key(), list(init)))
    return out


def _cond_rule(env, eqn, index, *ops):
    key = env.next_key()
    branches = [
        (lambda br: lambda *o: _eval(env.child(key), br.jaxpr, br.consts, *o))(br)
        for br in eqn.params["branches"]
    ]
    return lax.switch(index, branches, *ops)


_ELEMENTWISE = """
exp exp2 log log1p expm1 sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh atanh logistic
pow rsqrt cbrt erf erfc erf_inv lgamma digamma igamma igammac random_gamma_grad bessel_i0e bessel_i1e
abs neg sign floor ceil round nextafter rem max min clamp select_n convert_element_type
reduce_max reduce_min reduce_precision cumlogsumexp cummax cummin tan is_finite copy copy_p
exp2 polygamma zeta regularized_incomplete_beta real imag conj complex sort argsort top_k
""".split()
_STRUCTURAL = """
broadcast_in_dim reshape transpose squeeze expand_dims slice dynamic_slice dynamic_update_slice gather
scatter concatenate pad rev iota device_put split select_and_gather_add argmax argmin eq ne lt le gt ge
stop_gradient optimization_barrier sharding_constraint mesh_cast reshard
""".split()

#: Rule by primitive name: ``rule(env, eqn, *args) -> output (or list of outputs)``.
RULES: Dict[str, Callable[..., Any]] = {}
RULES.update({name: _elementwise_rule for name in _ELEMENTWISE})
RULES.update({name: _structural_rule for name in _STRUCTURAL})
RULES.update({
    "add": _correctly_rounded_rule(ADD), "add_any": _correctly_rounded_rule(ADD),
    "sub": _correctly_rounded_rule(SUBTRACT), "mul": _correctly_rounded_rule(MULTIPLY),
    "div": _correctly_rounded_rule(DIVIDE), "sqrt": _correctly_rounded_rule(SQRT, arity=1),
    "square": _square_rule, "integer_pow": _integer_pow_rule,
    "dot_general": _dot_general_rule,
    "reduce_sum": _reduce_rule(ADD, False), "reduce_prod": _reduce_rule(MULTIPLY, False),
    "cumsum": _reduce_rule(ADD, True), "cumprod": _reduce_rule(MULTIPLY, True),
    "jit": _call_rule("jaxpr"), "pjit": _call_rule("jaxpr"), "closed_call": _call_rule("call_jaxpr"),
    "core_call": _call_rule("call_jaxpr"), "checkpoint": _call_rule("jaxpr"), "remat": _call_rule("jaxpr"),
    "custom_jvp_call": _call_rule("call_jaxpr"), "custom_vjp_call": _custom_vjp_rule,
    "custom_vjp_call_jaxpr": _custom_vjp_rule,
    "scan": _scan_rule, "while": _while_rule, "cond": _cond_rule,
})


# ------------------------------------------------------------------ interpreter

def _read(env: _Env, values: dict, var):
    if isinstance(var, jcore.Literal):
        return _round(env, jnp.asarray(var.val, dtype=var.aval.dtype)) if _is_float(var.aval.dtype) else var.val
    return values[var]


def _eval(env: _Env, jaxpr, consts, *args):
    values: dict = {}
    for var, val in zip(jaxpr.constvars, consts):
        values[var] = _round(env, jnp.asarray(val)) if _is_float(jnp.asarray(val).dtype) else val
    for var, val in zip(jaxpr.invars, args):
        values[var] = val
    for eqn in jaxpr.eqns:
        ins = [_read(env, values, v) for v in eqn.invars]
        name = eqn.primitive.name
        rule = RULES.get(name)
        if rule is None:
            floating = any(_is_float(v.aval.dtype) for v in list(eqn.invars) + list(eqn.outvars))
            if floating:
                raise UnsupportedOperationError(
                    f"lp.jax.emulate: no rule for the JAX primitive '{name}'; add one to "
                    f"lowprec.jax.RULES['{name}'] (e.g. RULES['{name}'] = RULES['exp'] to bind and round).")
            out = eqn.primitive.bind(*ins, **eqn.params)
        else:
            out = rule(env, eqn, *ins)
        outs = out if eqn.primitive.multiple_results or isinstance(out, (list, tuple)) else [out]
        for var, val in zip(eqn.outvars, outs):
            values[var] = val
    return [_read(env, values, v) for v in jaxpr.outvars]


def emulate(f: Callable, fmt="half", rmode=1, *, key=None, model=None,
            subnormal: Optional[bool] = None) -> Callable:
    """Wrap ``f`` so that it runs in the emulated format: every floating result rounded.

    Parameters
    ----------
    f : callable
        An ordinary JAX function of arrays (and pytrees of arrays).
    fmt : str or FloatFormat, default "half"
    rmode : int or str, default 1
    key : PRNG key, optional
        Required by the stochastic modes; the same key gives the same result.
    model : str or FloatFormat, optional
        The accumulation model of ``dot_general`` and reductions (default: the one in
        force when the wrapped function is called).
    subnormal : bool, optional
        Override the format's subnormal flag.

    Returns
    -------
    callable
        Same signature and output structure as ``f``; composes with ``jit``, ``grad``
        (straight-through) and ``vmap``. See the module docstring for what each
        primitive does.

    Examples
    --------
    >>> import jax.numpy as jnp, lowprec as lp
    >>> newton = lambda a: (lambda x: 0.5 * (x + a / x))(a)
    >>> lp.jax.emulate(newton, "bf16")(jnp.float32(2.0))      # doctest: +SKIP
    """
    from ..ndarray._float import array_format
    f_fmt, mode = array_format(fmt, rmode, subnormal)
    if mode.is_stochastic and key is None:
        raise ValueError(f"lp.jax.emulate in the stochastic mode {mode.name.lower()} needs key=jax.random.key(...).")
    base = _as_key(key) if mode.is_stochastic else None

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        acc = accumulation_model(model)
        flat, in_tree = jax.tree_util.tree_flatten((args, kwargs))

        def flat_f(*leaves):
            a, kw = jax.tree_util.tree_unflatten(in_tree, leaves)
            return f(*a, **kw)

        closed, shapes = jax.make_jaxpr(flat_f, return_shape=True)(*flat)
        env = _Env(f_fmt, mode, acc, base)
        leaves = [_round(env, jnp.asarray(x)) if _is_float(jnp.asarray(x)) else x for x in flat]
        outs = _eval(env, closed.jaxpr, closed.consts, *leaves)
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(shapes), outs)

    return wrapped
