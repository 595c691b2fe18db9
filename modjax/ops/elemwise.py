"""Elementwise operators: same-shape binary ops (no broadcasting), their ``_scalar`` forms,
``broadcast_*`` ops, unary math and ``add_n``.

One kernel per binary operation serves all three families; where MXNet's gradient differs from
JAX's default (ties in maximum/minimum go wholly to the lhs, ``mod``'s rhs gradient, ``power`` at
0) the kernel carries MXNet's rule through ``jax.custom_vjp``. Scalar forms cast the scalar to the
array's dtype first (``int32 + 1.5`` adds 1), comparisons return 0/1 in the input dtype, and
integer results of float math are truncated toward zero, as in MXNet.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from .params import Param, Params, p_bool, p_float, p_int
from .registry import register

__all__ = ["custom_unary", "binary_kernel", "sigmoid", "tanh", "softsign", "softrelu", "relu",
           "activation_relu", "unbroadcast"]


def _inexact(x: Any) -> bool:
    return jnp.issubdtype(x.dtype, jnp.inexact)


def unbroadcast(g: jax.Array, shape: tuple) -> jax.Array:
    """Sum a broadcast gradient back to ``shape`` (numpy broadcasting, left-padded ndim)."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


# -- unary kernels with MXNet's gradients ------------------------------------------------------
def custom_unary(fwd: Callable, grad: Callable) -> Callable:
    """``fwd(x)`` whose input gradient is ``grad(x, y, g)`` (MXNet's formula); integer inputs
    skip the custom rule (they are not differentiable)."""
    @jax.custom_vjp
    def op(x):
        return fwd(x)

    def op_fwd(x):
        y = fwd(x)
        return y, (x, y)

    def op_bwd(res, g):
        x, y = res
        return (grad(x, y, g).astype(x.dtype),)

    op.defvjp(op_fwd, op_bwd)
    return lambda x: op(x) if _inexact(x) else fwd(x)


sigmoid = custom_unary(lambda x: 1 / (1 + jnp.exp(-x)), lambda x, y, g: g * (y * (1 - y)))
tanh = custom_unary(jnp.tanh, lambda x, y, g: g * (1 - y * y))
softsign = custom_unary(lambda x: x / (1 + jnp.abs(x)),
                        lambda x, y, g: g * (1 / jnp.square(1 + jnp.abs(x))))
# softrelu: log(1 + e^x), exactly x above 20; the gradient 1 - e^-y uses the output
softrelu = custom_unary(lambda x: jnp.where(x > 20, x, jnp.log1p(jnp.exp(jnp.minimum(x, 20)))),
                        lambda x, y, g: g * -jnp.expm1(-y))
# the ``relu`` op lets NaN through (and its gradient is NaN there); Activation(act_type='relu')
# maps NaN to 0 with a 0 gradient
relu = custom_unary(lambda x: jnp.maximum(x, 0),
                    lambda x, y, g: g * jnp.where(jnp.isnan(y), y, (y > 0).astype(y.dtype)))
activation_relu = custom_unary(lambda x: jnp.where(x > 0, x, 0).astype(x.dtype),
                               lambda x, y, g: g * (y > 0).astype(g.dtype))
_rsqrt = custom_unary(jax.lax.rsqrt, lambda x, y, g: g * (-1 / (2 * x * jnp.sqrt(x))))
_sqrt = custom_unary(jnp.sqrt, lambda x, y, g: g * (0.5 / y))


def _sign(x: jax.Array) -> jax.Array:
    """MXNet's sign: -1, 0 or 1, and 0 for NaN."""
    return jnp.where(x > 0, 1, jnp.where(x < 0, -1, 0)).astype(x.dtype)


def _unary(name: str, fn: Callable, doc: str) -> None:
    def impl(p: Params, data: jax.Array) -> jax.Array:
        out = fn(data)
        if jnp.issubdtype(data.dtype, jnp.integer) and not jnp.issubdtype(out.dtype, jnp.integer):
            # MXNet computes float math on integer arrays in float and truncates back
            out = jnp.trunc(jnp.nan_to_num(out, nan=0.0)).astype(data.dtype)
        return out
    impl.__doc__ = doc
    register(name, elementwise=True)(impl)


for _name, _fn, _doc in [
        ("abs", custom_unary(jnp.abs, lambda x, y, g: g * _sign(x)),
         "|x| (gradient sign(x): 0 at 0 and at NaN)."),
        ("sign", _sign, "sign(x), 0 for NaN (zero gradient)."),
        ("negative", jnp.negative, "-x."),
        ("square", jnp.square, "x²."),
        ("sqrt", _sqrt, "√x; gradient 0.5/y (inf at 0)."),
        ("rsqrt", _rsqrt, "1/√x; gradient -1/(2x√x)."),
        ("exp", jnp.exp, "eˣ."),
        ("log", jnp.log, "ln x."),
        ("relu", relu, "max(x, 0), NaN passes through; gradient (y > 0), NaN at NaN."),
        ("sigmoid", sigmoid, "1/(1+e⁻ˣ); gradient y(1-y)."),
        ("tanh", tanh, "tanh x; gradient 1-y²."),
        ("softsign", softsign, "x/(1+|x|); gradient 1/(1+|x|)²."),
]:
    _unary(_name, _fn, _doc)


def _clip(x: jax.Array, lo: Any, hi: Any) -> jax.Array:
    return jnp.where(x > hi, hi, jnp.where(x < lo, lo, x)).astype(x.dtype)


@register("clip", params=[Param("a_min", p_float), Param("a_max", p_float)], elementwise=True)
def clip(p: Params, data: jax.Array) -> jax.Array:
    """Clip to [a_min, a_max] (NaN passes); gradient 1 on the closed interval (and at NaN),
    0 outside."""
    lo, hi = np.asarray(p.a_min, np.float32), np.asarray(p.a_max, np.float32)
    lo, hi = lo.astype(data.dtype), hi.astype(data.dtype)
    op = custom_unary(lambda x: _clip(x, lo, hi),
                      lambda x, y, g: g * (~((x < lo) | (x > hi))).astype(g.dtype))
    return op(data)


# -- binary kernels ------------------------------------------------------------------------------
def binary_kernel(fwd: Callable, grad: Callable | None = None) -> Callable:
    """``fwd(a, b)`` (broadcasting allowed) with MXNet's gradients ``grad(a, b, y, g) -> (da, db)``
    taken at the output shape and summed back to each input's shape."""
    if grad is None:
        return fwd

    @jax.custom_vjp
    def op(a, b):
        return fwd(a, b)

    def op_fwd(a, b):
        y = fwd(a, b)
        return y, (a, b, y)

    def op_bwd(res, g):
        a, b, y = res
        da, db = grad(a, b, y, g)
        da = jnp.broadcast_to(da, g.shape)
        db = jnp.broadcast_to(db, g.shape)
        return unbroadcast(da, a.shape).astype(a.dtype), unbroadcast(db, b.shape).astype(b.dtype)

    op.defvjp(op_fwd, op_bwd)
    return lambda a, b: op(a, b) if _inexact(a) and _inexact(b) else fwd(a, b)


def _float_math(fn: Callable) -> Callable:
    """Float math on integer arrays: compute in float, truncate back (MXNet casts the double)."""
    def run(a, b):
        if _inexact(a):
            return fn(a, b)
        return fn(a.astype(jnp.float32), b.astype(jnp.float32)).astype(a.dtype)
    return run


def _div(a, b):
    if _inexact(a):
        return a / b
    a, b = jnp.broadcast_arrays(a, b.astype(a.dtype))
    return jax.lax.div(a, b)  # integers truncate toward zero, as C does


def _mod(a, b):
    """Python-sign modulo; x % 0 = 0."""
    zero = b == 0
    r = jnp.mod(a, jnp.where(zero, jnp.ones_like(b), b))
    return jnp.where(zero, jnp.zeros_like(r), r)


def _compare(fn: Callable) -> Callable:
    return lambda a, b: fn(a, b).astype(a.dtype)


def _logical(fn: Callable) -> Callable:
    return lambda a, b: fn(a != 0, b != 0).astype(a.dtype)


KERNELS: dict[str, Callable] = {
    "add": jnp.add,
    "sub": jnp.subtract,
    "mul": jnp.multiply,
    "div": _div,
    "mod": binary_kernel(_mod, lambda a, b, y, g: (g, g * -jnp.floor(a / b))),
    "power": binary_kernel(_float_math(jnp.power), lambda a, b, y, g: (
        g * (jnp.power(a, b - 1) * b), g * (jnp.power(a, b) * jnp.log(a)))),
    "maximum": binary_kernel(jnp.maximum, lambda a, b, y, g: (
        g * (a >= b).astype(g.dtype), g * (a < b).astype(g.dtype))),
    "minimum": binary_kernel(jnp.minimum, lambda a, b, y, g: (
        g * (a <= b).astype(g.dtype), g * (a > b).astype(g.dtype))),
    "hypot": binary_kernel(_float_math(jnp.hypot), lambda a, b, y, g: (
        g * (a / jnp.hypot(a, b)), g * (b / jnp.hypot(a, b)))),
    "equal": _compare(jnp.equal),
    "not_equal": _compare(jnp.not_equal),
    "greater": _compare(jnp.greater),
    "greater_equal": _compare(jnp.greater_equal),
    "lesser": _compare(jnp.less),
    "lesser_equal": _compare(jnp.less_equal),
    "logical_and": _logical(jnp.logical_and),
    "logical_or": _logical(jnp.logical_or),
    "logical_xor": _logical(jnp.logical_xor),
}

_DOCS = {"add": "a + b", "sub": "a - b", "mul": "a · b", "div": "a / b (integers truncate)",
         "mod": "a mod b with Python's sign rule, x % 0 = 0", "power": "a ** b",
         "maximum": "max(a, b); ties send the whole gradient to the lhs",
         "minimum": "min(a, b); ties send the whole gradient to the lhs", "hypot": "√(a²+b²)"}


def _binary_impl(kind: str, what: str) -> Callable:
    kernel = KERNELS[kind]

    def impl(p: Params, lhs: jax.Array, rhs: jax.Array) -> jax.Array:
        return kernel(lhs, rhs)
    impl.__doc__ = f"{what}: {_DOCS.get(kind, kind + ' (0/1 in the input dtype)')}."
    return impl


# (kind, same-shape op name and aliases, broadcast op name and aliases)
_BINARY_NAMES = [
    ("add", "elemwise_add", ("_plus", "_Plus", "_add"), ("broadcast_add", "broadcast_plus")),
    ("sub", "elemwise_sub", ("_minus", "_sub", "_Minus"), ("broadcast_sub", "broadcast_minus")),
    ("mul", "elemwise_mul", ("_mul", "_Mul"), ("broadcast_mul",)),
    ("div", "elemwise_div", ("_div", "_Div"), ("broadcast_div",)),
    ("mod", "_mod", ("_Mod",), ("broadcast_mod",)),
    ("power", "_power", ("_Power",), ("broadcast_power",)),
    ("maximum", "_maximum", ("_Maximum",), ("broadcast_maximum",)),
    ("minimum", "_minimum", ("_Minimum",), ("broadcast_minimum",)),
    ("hypot", "_hypot", ("_Hypot",), ("broadcast_hypot",)),
    ("equal", "_equal", ("_Equal",), ("broadcast_equal",)),
    ("not_equal", "_not_equal", ("_Not_Equal",), ("broadcast_not_equal",)),
    ("greater", "_greater", ("_Greater",), ("broadcast_greater",)),
    ("greater_equal", "_greater_equal", ("_Greater_Equal",), ("broadcast_greater_equal",)),
    ("lesser", "_lesser", ("_Lesser",), ("broadcast_lesser",)),
    ("lesser_equal", "_lesser_equal", ("_Lesser_Equal",), ("broadcast_lesser_equal",)),
    ("logical_and", "_logical_and", ("_Logical_And",), ("broadcast_logical_and",)),
    ("logical_or", "_logical_or", ("_Logical_Or",), ("broadcast_logical_or",)),
    ("logical_xor", "_logical_xor", ("_Logical_Xor",), ("broadcast_logical_xor",)),
]

for _kind, _name, _aliases, _bnames in _BINARY_NAMES:
    register(_name, arguments=("lhs", "rhs"), aliases=_aliases, elementwise=True)(
        _binary_impl(_kind, "Same-shape (no broadcasting)"))
    register(_bnames[0], arguments=("lhs", "rhs"), aliases=_bnames[1:])(
        _binary_impl(_kind, "Broadcasting"))


# -- scalar forms ------------------------------------------------------------------------------
_SCALAR_PARAMS = [Param("scalar", p_float, 1.0), Param("is_int", p_bool, True)]


def scalar_as(x: jax.Array, scalar: float) -> jax.Array:
    """The scalar parameter cast to the array's dtype (C truncation for integers)."""
    return jnp.asarray(np.asarray(scalar).astype(x.dtype))


def _scalar_impl(kind: str, reverse: bool) -> Callable:
    kernel = KERNELS[kind]

    def impl(p: Params, data: jax.Array) -> jax.Array:
        s = scalar_as(data, p.scalar)
        return kernel(s, data) if reverse else kernel(data, s)
    order = "scalar ⊕ x" if reverse else "x ⊕ scalar"
    impl.__doc__ = f"{_DOCS.get(kind, kind)} as {order}; the scalar is cast to x's dtype first."
    return impl


# (kind, name, legacy CamelCase alias, reversed operands)
_SCALAR_NAMES = [
    ("add", "_plus_scalar", "_PlusScalar", False), ("sub", "_minus_scalar", "_MinusScalar", False),
    ("sub", "_rminus_scalar", "_RMinusScalar", True), ("mul", "_mul_scalar", "_MulScalar", False),
    ("div", "_div_scalar", "_DivScalar", False), ("div", "_rdiv_scalar", "_RDivScalar", True),
    ("mod", "_mod_scalar", "_ModScalar", False), ("mod", "_rmod_scalar", "_RModScalar", True),
    ("power", "_power_scalar", "_PowerScalar", False),
    ("power", "_rpower_scalar", "_RPowerScalar", True),
    ("maximum", "_maximum_scalar", "_MaximumScalar", False),
    ("minimum", "_minimum_scalar", "_MinimumScalar", False),
    ("hypot", "_hypot_scalar", "_HypotScalar", False),
    ("equal", "_equal_scalar", "_EqualScalar", False),
    ("not_equal", "_not_equal_scalar", "_NotEqualScalar", False),
    ("greater", "_greater_scalar", "_GreaterScalar", False),
    ("greater_equal", "_greater_equal_scalar", "_GreaterEqualScalar", False),
    ("lesser", "_lesser_scalar", "_LesserScalar", False),
    ("lesser_equal", "_lesser_equal_scalar", "_LesserEqualScalar", False),
    ("logical_and", "_logical_and_scalar", "_LogicalAndScalar", False),
    ("logical_or", "_logical_or_scalar", "_LogicalOrScalar", False),
    ("logical_xor", "_logical_xor_scalar", "_LogicalXorScalar", False),
]

for _kind, _name, _alias, _rev in _SCALAR_NAMES:
    register(_name, params=_SCALAR_PARAMS, aliases=(_alias,), elementwise=True)(
        _scalar_impl(_kind, _rev))


@register("add_n", aliases=("ElementWiseSum",), arguments=("args",), varargs="num_args",
          params=[Param("num_args", p_int)], elementwise=True)
def add_n(p: Params, *args: jax.Array) -> jax.Array:
    """Sum of any number of same-shape inputs, added left to right."""
    out = args[0]
    for a in args[1:]:
        out = out + a
    return out
