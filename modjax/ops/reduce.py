"""Reductions: sum, mean, max, min, prod, nansum, nanprod (MXNet's legacy semantics).

``axis`` None or () reduces everything; ``exclude`` reduces the axes *not* listed; reducing every
axis without keepdims gives shape (1,), never a 0-d array. max/min send the gradient to every
position equal to the result; prod's gradient is ``out / x``; integer mean truncates.
"""
from __future__ import annotations

from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp

from ..base import ShapeError
from .params import Param, Params, p_bool, p_shape_or_none
from .registry import register

_PARAMS = [Param("axis", p_shape_or_none, None), Param("keepdims", p_bool, False),
           Param("exclude", p_bool, False)]


def reduce_axes(p: Params, ndim: int) -> tuple[int, ...]:
    """The axes a reduction runs over, after negative indices, ``exclude`` and the all-axes
    default."""
    if p.axis is None or len(p.axis) == 0:
        return tuple(range(ndim))
    axes = set()
    for a in p.axis:
        if not -ndim <= a < ndim:
            raise ShapeError(f"reduction axis {a} out of range for ndim {ndim}")
        axes.add(a % ndim)
    if p.exclude:
        axes = set(range(ndim)) - axes
    return tuple(sorted(axes))


def _finish(p: Params, y: jax.Array, x: jax.Array, axes: tuple) -> jax.Array:
    """Drop the reduced axes of a keepdims result unless keepdims; a total reduction gives the
    legacy shape (1,)."""
    if p.keepdims:
        return y
    kept = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return y.reshape(kept or (1,))


def _with_grad(fwd: Callable, grad: Callable) -> Callable:
    """``fwd(x, axes)`` (keepdims result) with input gradient ``grad(x, y, g)`` (y, g keepdims)."""
    @partial(jax.custom_vjp, nondiff_argnums=(1,))
    def op(x, axes):
        return fwd(x, axes)

    def op_fwd(x, axes):
        y = fwd(x, axes)
        return y, (x, y)

    def op_bwd(axes, res, g):
        x, y = res
        return (grad(x, y, g).astype(x.dtype),)

    op.defvjp(op_fwd, op_bwd)
    return lambda x, axes: op(x, axes) if jnp.issubdtype(x.dtype, jnp.inexact) else fwd(x, axes)


def _mean(x: jax.Array, axes: tuple) -> jax.Array:
    n = 1
    for a in axes:
        n *= x.shape[a]
    s = jnp.sum(x, axis=axes, keepdims=True)
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return s / jnp.asarray(n, x.dtype)
    return jax.lax.div(s, jnp.asarray(n, s.dtype)).astype(x.dtype)


def _nan_to(x: jax.Array, value: float) -> jax.Array:
    return jnp.where(jnp.isnan(x), jnp.asarray(value, x.dtype), x) \
        if jnp.issubdtype(x.dtype, jnp.inexact) else x


def _eq_grad(x: jax.Array, y: jax.Array, g: jax.Array) -> jax.Array:
    return g * (x == y).astype(g.dtype)


_KERNELS: dict[str, tuple[Callable, str]] = {
    "sum": (lambda x, axes: jnp.sum(x, axis=axes, keepdims=True), "Σ"),
    "mean": (_mean, "mean (integers truncate)"),
    "max": (_with_grad(lambda x, axes: jnp.max(x, axis=axes, keepdims=True), _eq_grad),
            "max; the gradient goes to every position equal to the max"),
    "min": (_with_grad(lambda x, axes: jnp.min(x, axis=axes, keepdims=True), _eq_grad),
            "min; the gradient goes to every position equal to the min"),
    "prod": (_with_grad(lambda x, axes: jnp.prod(x, axis=axes, keepdims=True),
                        lambda x, y, g: g * (y / x)), "product; gradient out/x"),
    "nansum": (_with_grad(lambda x, axes: jnp.sum(_nan_to(x, 0), axis=axes, keepdims=True),
                          lambda x, y, g: g * (~jnp.isnan(x)).astype(g.dtype)),
               "Σ with NaN counted as 0 (zero gradient at NaN)"),
    "nanprod": (_with_grad(lambda x, axes: jnp.prod(_nan_to(x, 1), axis=axes, keepdims=True),
                           lambda x, y, g: jnp.where(jnp.isnan(x), 0, g * (y / x))),
                "product with NaN counted as 1 (zero gradient at NaN)"),
}


def _reduce_impl(kind: str) -> Callable:
    kernel, what = _KERNELS[kind]

    def impl(p: Params, data: jax.Array) -> jax.Array:
        axes = reduce_axes(p, data.ndim)
        if not axes:
            return data
        return _finish(p, kernel(data, axes), data, axes)
    impl.__doc__ = (f"Reduce by {what} over ``axis`` (None: all; exclude: the others); "
                    "(N, ...) -> reduced shape, (1,) for a total reduction.")
    return impl


_ALIASES = {"sum": ("sum_axis",), "max": ("max_axis",), "min": ("min_axis",)}

for _kind in _KERNELS:
    register(_kind, params=_PARAMS, aliases=_ALIASES.get(_kind, ()))(_reduce_impl(_kind))
