"""Random samplers: ``_random_*`` (scalar parameters, output of ``shape``), ``_random_*_like``
(the shape and dtype of an input), ``_sample_*`` (array parameters: output
``param.shape + shape``), ``_sample_multinomial`` and ``_shuffle``; plus the Python front ends
that MXNet exposes as ``mx.nd.random.*``, ``mx.sym.random.*`` and ``mx.random.*``.

Every op draws from ``ctx.key``: the key the lowered graph (or an eager call) receives, so a
symbol is a pure function of its key and eager draws follow ``mx.random.seed``. Values cannot
match MXNet's generator; distributions do (poisson and the negative binomials are integer-valued
floats; negative_binomial(k, p) counts failures before k successes; exponential takes the rate).
"""
from __future__ import annotations

import types
from functools import partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..base import MXNetError, numeric_types
from .params import Param, Params, p_bool, p_enum, p_float, p_int, p_shape, p_str
from .registry import OpCtx, known, merge_shape, register

__all__ = ["frontend", "NULL"]

_FLOATS = (None, "float16", "float32", "float64")


# -- the distributions: (key, params broadcastable to shape, shape, dtype) -> sample ------------
def _uniform(key: Any, low: Any, high: Any, shape: tuple, dtype: Any) -> jax.Array:
    u = jax.random.uniform(key, shape, jnp.float32)
    return (low + (high - low) * u).astype(dtype)


def _normal(key: Any, loc: Any, scale: Any, shape: tuple, dtype: Any) -> jax.Array:
    return (loc + scale * jax.random.normal(key, shape, jnp.float32)).astype(dtype)


def _gamma(key: Any, alpha: Any, beta: Any, shape: tuple, dtype: Any) -> jax.Array:
    a = jnp.broadcast_to(jnp.asarray(alpha, jnp.float32), shape)
    return (jax.random.gamma(key, a, shape, jnp.float32) * beta).astype(dtype)


def _exponential(key: Any, lam: Any, shape: tuple, dtype: Any) -> jax.Array:
    return (jax.random.exponential(key, shape, jnp.float32) / lam).astype(dtype)


def _poisson(key: Any, lam: Any, shape: tuple, dtype: Any) -> jax.Array:
    lam = jnp.broadcast_to(jnp.asarray(lam, jnp.float32), shape)
    return jax.random.poisson(key, lam, shape).astype(dtype)


def _negative_binomial(key: Any, k: Any, p: Any, shape: tuple, dtype: Any) -> jax.Array:
    """Failures before the k-th success: Poisson(Gamma(k, (1-p)/p))."""
    k1, k2 = jax.random.split(key)
    lam = _gamma(k1, k, (1 - p) / p, shape, jnp.float32)
    return _poisson(k2, lam, shape, dtype)


def _gen_negative_binomial(key: Any, mu: Any, alpha: Any, shape: tuple, dtype: Any) -> jax.Array:
    """Mean mu, variance mu + alpha·mu²: Poisson(Gamma(1/alpha, alpha·mu)); Poisson(mu) at 0."""
    k1, k2 = jax.random.split(key)
    alpha = jnp.asarray(alpha, jnp.float32)
    safe = jnp.where(alpha > 0, alpha, 1.0)
    lam = jnp.where(alpha > 0, _gamma(k1, 1 / safe, safe * mu, shape, jnp.float32),
                    jnp.broadcast_to(jnp.asarray(mu, jnp.float32), shape))
    return _poisson(k2, lam, shape, dtype)


# name, sampler, params (name, parser, default), array-form arguments
_DISTS: list[tuple[str, Callable, list, tuple]] = [
    ("uniform", _uniform, [("low", p_float, 0.0), ("high", p_float, 1.0)], ("low", "high")),
    ("normal", _normal, [("loc", p_float, 0.0), ("scale", p_float, 1.0)], ("mu", "sigma")),
    ("gamma", _gamma, [("alpha", p_float, 1.0), ("beta", p_float, 1.0)], ("alpha", "beta")),
    ("exponential", _exponential, [("lam", p_float, 1.0)], ("lam",)),
    ("poisson", _poisson, [("lam", p_float, 1.0)], ("lam",)),
    ("negative_binomial", _negative_binomial, [("k", p_int, 1), ("p", p_float, 1.0)], ("k", "p")),
    ("generalized_negative_binomial", _gen_negative_binomial,
     [("mu", p_float, 1.0), ("alpha", p_float, 1.0)], ("mu", "alpha")),
]


def _out_shape(p: Params, ctx: OpCtx) -> tuple:
    """The shape param; 0 (or missing) dims come from graph shape inference when known."""
    if ctx.out_shapes and known(ctx.out_shapes[0]):
        return tuple(ctx.out_shapes[0])
    return tuple(p.shape)


def _shape_rule(p: Params, ins: list, outs: list) -> tuple[list, list]:
    if len(p.shape):
        outs[0] = merge_shape(outs[0], tuple(p.shape), "random shape")
    return ins, outs


def _dtype_rule(default: str) -> Callable:
    def rule(p: Params, ins: list, outs: list) -> tuple[list, list]:
        return ins, [np.dtype(p.dtype) if p.dtype else (outs[0] or np.dtype(default))]
    return rule


def _register_random(name: str, sampler: Callable, spec: list) -> None:
    params = [Param(n, parse, d) for n, parse, d in spec]

    def impl(p: Params, ctx: OpCtx) -> jax.Array:
        values = [np.float32(p[n]) for n, _, _ in spec]
        return sampler(ctx.key, *values, _out_shape(p, ctx), p.dtype or "float32")
    impl.__doc__ = (f"Samples of {name}({', '.join(n for n, _, _ in spec)}) of ``shape`` (0 dims "
                    "from shape inference); dtype float32 unless given.")
    register(f"_random_{name}", aliases=(f"random_{name}",) + (
        (name,) if name in ("uniform", "normal") else ()), arguments=(),
        params=params + [Param("shape", p_shape, ()), Param("ctx", p_str, ""),
                         Param("dtype", p_enum(*_FLOATS), None)],
        needs_key=True, needs_out_shapes=True, infer_shape=_shape_rule,
        infer_type=_dtype_rule("float32"))(impl)

    def like(p: Params, data: jax.Array, ctx: OpCtx) -> jax.Array:
        values = [np.float32(p[n]) for n, _, _ in spec]
        return jax.lax.stop_gradient(sampler(ctx.key, *values, data.shape, data.dtype))
    like.__doc__ = f"Samples of {name} with data's shape and dtype (no gradient to data)."
    register(f"_random_{name}_like", params=params, needs_key=True, elementwise=True)(like)


def _register_sample(name: str, sampler: Callable, args: tuple) -> None:
    def impl(p: Params, *inputs: jax.Array, ctx: OpCtx) -> jax.Array:
        extra = tuple(p.shape)
        values = [jnp.asarray(a, jnp.float32).reshape(a.shape + (1,) * len(extra)) for a in inputs]
        out = sampler(ctx.key, *values, inputs[0].shape + extra, p.dtype or "float32")
        return jax.lax.stop_gradient(out)
    impl.__doc__ = (f"One {name} sample per element of the parameter arrays ({', '.join(args)}, "
                    "shape S), ``shape`` samples each: output S + shape.")
    register(f"_sample_{name}", aliases=(f"sample_{name}",), arguments=args, needs_key=True,
             params=[Param("shape", p_shape, ()), Param("dtype", p_enum(*_FLOATS), None)],
             infer_type=lambda p, ins, outs: (ins, [np.dtype(p.dtype or "float32")]))(impl)


for _name, _sampler, _spec, _args in _DISTS:
    _register_random(_name, _sampler, _spec)
    _register_sample(_name, _sampler, _args)


@register("_random_randint", aliases=("random_randint",), arguments=(),
          params=[Param("low", p_int), Param("high", p_int), Param("shape", p_shape, ()),
                  Param("ctx", p_str, ""), Param("dtype", p_enum(None, "int32", "int64"), None)],
          needs_key=True, needs_out_shapes=True, infer_shape=_shape_rule,
          infer_type=_dtype_rule("int32"))
def random_randint(p: Params, ctx: OpCtx) -> jax.Array:
    """Integers uniform in [low, high) of ``shape``; int32 unless dtype says int64."""
    if p.high <= p.low:
        raise MXNetError(f"randint: high ({p.high}) must exceed low ({p.low})")
    return jax.random.randint(ctx.key, _out_shape(p, ctx), p.low, p.high, jnp.int32).astype(
        p.dtype or "int32")


def _multinomial_type(p: Params, ins: list, outs: list) -> tuple[list, list]:
    t = ins[0] or np.dtype(np.float32)
    return [t], [np.dtype(p.dtype)] + ([t] if p.get_prob else [])


@register("_sample_multinomial", aliases=("sample_multinomial",), needs_key=True,
          outputs=lambda p: ["output0", "output1"] if p.get_prob else ["output"],
          infer_type=_multinomial_type,
          params=[Param("shape", p_shape, ()), Param("get_prob", p_bool, False),
                  Param("dtype", p_enum("float16", "float32", "float64", "int32", "uint8"),
                        "int32")])
def sample_multinomial(p: Params, data: jax.Array, ctx: OpCtx) -> Any:
    """Category indices drawn from the probabilities on data's last axis: (..., K) ->
    (...) + shape; get_prob adds the log-probability of each draw (its gradient is 1/p at the
    drawn category, the REINFORCE rule)."""
    idx = _categorical(ctx.key, jax.lax.stop_gradient(data), tuple(p.shape))
    out = idx.astype(p.dtype)
    if not p.get_prob:
        return out
    batch, extra = data.shape[:-1], tuple(p.shape)
    flat = data.reshape(batch + (1,) * len(extra) + data.shape[-1:])
    flat = jnp.broadcast_to(flat, batch + extra + data.shape[-1:])
    prob = jnp.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]
    return out, jnp.log(prob)


@partial(jax.jit, static_argnums=(2,))
def _categorical(key: Any, probs: jax.Array, extra: tuple) -> jax.Array:
    batch = probs.shape[:-1]
    logits = jnp.log(probs).reshape(batch + (1,) * len(extra) + probs.shape[-1:])
    return jax.random.categorical(key, logits, axis=-1, shape=batch + extra)


@register("_shuffle", aliases=("shuffle",), needs_key=True, elementwise=True)
def shuffle(p: Params, data: jax.Array, ctx: OpCtx) -> jax.Array:
    """A random permutation of data along its first axis."""
    return jax.random.permutation(ctx.key, data, axis=0, independent=False)


# -- Python front ends: mx.nd.random / mx.sym.random / mx.random --------------------------------
class _NullType:
    def __repr__(self) -> str:
        return "_Null"


NULL = _NullType()


def frontend(call: Callable[[str, str, list, dict], Any], is_array: Callable[[Any], bool],
             eager: bool) -> types.SimpleNamespace:
    """The ``random`` namespace over ``call(op_name, name_hint, inputs, kwargs)``: number
    parameters use ``_random_<dist>``, array parameters ``_sample_<dist>``. ``eager`` (nd) adds
    MXNet's ``ctx``/``out`` arguments and draws shape (1,) when no shape is given."""
    def helper(dist: str, values: list, shape: Any, dtype: Any, ctx: Any, out: Any,
               kwargs: dict) -> Any:
        kw = dict(kwargs)
        if dtype is not NULL:
            kw["dtype"] = dtype
        if out is not None:
            kw["out"] = out
        if is_array(values[0]):
            if not all(is_array(v) for v in values[1:]):
                raise MXNetError(f"random.{dist}: distribution parameters must all be arrays "
                                 f"or all be numbers, got {[type(v).__name__ for v in values]}")
            if shape is not NULL:
                kw["shape"] = shape
            return call(f"_sample_{dist}", f"_sample_{dist}", list(values), kw)
        if not all(isinstance(v, numeric_types) for v in values):
            raise MXNetError(f"random.{dist}: distribution parameters must all be arrays or all "
                             f"be numbers, got {[type(v).__name__ for v in values]}")
        if eager:
            if shape is NULL and out is None:
                shape = 1
            if ctx is not None:
                kw["ctx"] = ctx
        if shape is not NULL:
            kw["shape"] = shape
        spec = next(s for n, _, s, _ in _DISTS if n == dist) if dist != "randint" else \
            [("low", None, None), ("high", None, None)]
        kw.update({name: v for (name, _, _), v in zip(spec, values)})
        return call(f"_random_{dist}", f"_random_{dist}", [], kw)

    def make(dist: str, names: list[str], defaults: list, transform: Callable = lambda v: v
             ) -> Callable:
        def fn(*args: Any, shape: Any = NULL, dtype: Any = NULL, ctx: Any = None, out: Any = None,
               **kwargs: Any) -> Any:
            values = list(defaults)
            for i, a in enumerate(args):
                values[i] = a
            for i, n in enumerate(names):
                if n in kwargs:
                    values[i] = kwargs.pop(n)
            if len(args) > len(names):
                shape = args[len(names)]
                values = values[:len(names)]
            return helper(dist, transform(values[:len(names)]), shape, dtype, ctx, out, kwargs)
        fn.__name__ = dist
        fn.__doc__ = (f"{dist}({', '.join(names)}, shape, dtype): numbers draw ``shape`` samples "
                      f"(_random_{dist}); arrays draw ``shape`` per element (_sample_{dist}).")
        return fn

    ns: dict[str, Any] = {
        "uniform": make("uniform", ["low", "high"], [0, 1]),
        "normal": make("normal", ["loc", "scale"], [0, 1]),
        "gamma": make("gamma", ["alpha", "beta"], [1, 1]),
        "exponential": make("exponential", ["scale"], [1], lambda v: [1.0 / v[0]]),
        "poisson": make("poisson", ["lam"], [1]),
        "negative_binomial": make("negative_binomial", ["k", "p"], [1, 1]),
        "generalized_negative_binomial": make("generalized_negative_binomial", ["mu", "alpha"],
                                              [1, 1]),
    }
    randint_values = make("randint", ["low", "high"], [None, None])
    ns["randint"] = randint_values

    def randn(*shape: Any, loc: Any = 0, scale: Any = 1, dtype: Any = NULL, ctx: Any = None,
              out: Any = None, **kwargs: Any) -> Any:
        """Normal(loc, scale) samples of shape ``shape`` (given as positional ints)."""
        return helper("normal", [loc, scale], shape if shape else NULL, dtype, ctx, out, kwargs)

    def multinomial(data: Any, shape: Any = NULL, get_prob: Any = NULL, out: Any = None,
                    dtype: Any = "int32", **kwargs: Any) -> Any:
        """Draw category indices from the probabilities on data's last axis; get_prob (default
        False for nd, True for sym, as in MXNet) adds their log-probabilities."""
        kw = dict(kwargs, get_prob=(not eager) if get_prob is NULL else get_prob, dtype=dtype)
        if shape is not NULL:
            kw["shape"] = shape
        if out is not None:
            kw["out"] = out
        return call("_sample_multinomial", "_sample_multinomial", [data], kw)

    def shuffle_fn(data: Any, **kwargs: Any) -> Any:
        """A copy of data shuffled along its first axis."""
        return call("_shuffle", "_shuffle", [data], dict(kwargs))

    ns.update(randn=randn, multinomial=multinomial, shuffle=shuffle_fn)
    for dist, _, spec, _ in _DISTS:
        ns[f"{dist}_like"] = _like_fn(call, dist, [n for n, _, _ in spec])
    return types.SimpleNamespace(**ns)


def _like_fn(call: Callable, dist: str, names: list[str]) -> Callable:
    def fn(data: Any = None, *args: Any, **kwargs: Any) -> Any:
        kw = dict(kwargs)
        for n, v in zip(names, args):
            kw[n] = v
        return call(f"_random_{dist}_like", f"{dist}_like", [data], kw)
    fn.__name__ = f"{dist}_like"
    fn.__doc__ = f"{dist} samples with data's shape and dtype ({', '.join(names)})."
    return fn
