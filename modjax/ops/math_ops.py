"""Math operators: unary math (trigonometric, hyperbolic, rounding, exponents and logs, gamma,
erf, hard_sigmoid, logical_not), dot, batch_dot, norm, argmax/argmin/argmax_channel, sort,
argsort, topk and moments.

Unary ops on integer arrays compute in float32 and truncate back (MXNet casts the result);
rounding ops leave integers alone. Index outputs (argmax, argsort, topk) are floats by default,
first index on ties; sorts are stable.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np

from ..base import MXNetError, ShapeError
from .elemwise import custom_unary
from .params import Param, Params, p_bool, p_enum, p_float, p_int, p_int_or_none, \
    p_shape_or_none
from .reduce import reduce_axes
from .registry import register

_HIGHEST = jax.lax.Precision.HIGHEST


def _inexact(x: jax.Array) -> bool:
    return jnp.issubdtype(x.dtype, jnp.inexact)


def _float_unary(fn: Callable) -> Callable:
    """fn on floats; integer input computes in float32 and truncates toward zero."""
    def run(x: jax.Array) -> jax.Array:
        return fn(x) if _inexact(x) else fn(x.astype(jnp.float32)).astype(x.dtype)
    return run


def _rounding(fn: Callable) -> Callable:
    """Rounding ops: zero gradient, integers unchanged."""
    def run(x: jax.Array) -> jax.Array:
        return jax.lax.stop_gradient(fn(x)) if _inexact(x) else x
    return run


def _round_half_away(x: jax.Array) -> jax.Array:
    t = jnp.trunc(x)
    return jnp.where(jnp.abs(x - t) >= 0.5, t + jnp.sign(x), t)


def _rint_half_down(x: jax.Array) -> jax.Array:
    """MXNet's rint: the nearer of floor and ceil, floor on a tie (rint(-0.5) = -1)."""
    fl, fc = jnp.floor(x), jnp.ceil(x)
    return jnp.where((x - fl) > (fc - x), fc, fl)


_LN10 = np.float32(np.log(10.0))
_LN2 = np.float32(np.log(2.0))

_UNARY: list[tuple[str, Callable, str]] = [
    ("sin", jnp.sin, "sin x; gradient cos x."),
    ("cos", jnp.cos, "cos x; gradient -sin x."),
    ("tan", custom_unary(jnp.tan, lambda x, y, g: g * (1 + y * y)), "tan x; gradient 1 + y²."),
    ("arcsin", jnp.arcsin, "arcsin x (NaN outside [-1, 1]); gradient 1/√(1-x²)."),
    ("arccos", jnp.arccos, "arccos x; gradient -1/√(1-x²)."),
    ("arctan", jnp.arctan, "arctan x; gradient 1/(1+x²)."),
    ("sinh", jnp.sinh, "sinh x; gradient cosh x."),
    ("cosh", jnp.cosh, "cosh x; gradient sinh x."),
    ("arcsinh", jnp.arcsinh, "arcsinh x; gradient 1/√(x²+1)."),
    ("arccosh", custom_unary(jnp.arccosh, lambda x, y, g: g / jnp.sqrt(x * x - 1)),
     "arccosh x (NaN below 1); gradient 1/√(x²-1)."),
    ("arctanh", custom_unary(jnp.arctanh, lambda x, y, g: g / (1 - x * x)),
     "arctanh x; gradient 1/(1-x²)."),
    ("degrees", lambda x: x * np.float32(180.0 / np.pi), "x·180/π."),
    ("radians", lambda x: x * np.float32(np.pi / 180.0), "x·π/180."),
    ("expm1", custom_unary(jnp.expm1, lambda x, y, g: g * jnp.exp(x)), "eˣ - 1; gradient eˣ."),
    ("log10", custom_unary(jnp.log10, lambda x, y, g: g / (x * _LN10)), "log₁₀ x; gradient 1/(x ln 10)."),
    ("log2", custom_unary(jnp.log2, lambda x, y, g: g / (x * _LN2)), "log₂ x; gradient 1/(x ln 2)."),
    ("log1p", custom_unary(jnp.log1p, lambda x, y, g: g / (1 + x)), "ln(1+x); gradient 1/(1+x)."),
    ("cbrt", custom_unary(jnp.cbrt, lambda x, y, g: g / (3 * y * y)), "∛x; gradient 1/(3y²)."),
    ("rcbrt", custom_unary(lambda x: 1 / jnp.cbrt(x), lambda x, y, g: g * (-y / (3 * x))),
     "1/∛x; gradient -1/(3x∛x)."),
    ("reciprocal", custom_unary(lambda x: 1 / x, lambda x, y, g: g * (-1 / (x * x))),
     "1/x; gradient -1/x²."),
    ("gamma", custom_unary(jsp.gamma, lambda x, y, g: g * y * jsp.digamma(x)),
     "Γ(x); gradient Γ(x)ψ(x)."),
    ("gammaln", custom_unary(jsp.gammaln, lambda x, y, g: g * jsp.digamma(x)),
     "ln|Γ(x)|; gradient ψ(x)."),
    ("erf", jsp.erf, "erf x; gradient 2/√π·e^(-x²)."),
    ("erfinv", custom_unary(jsp.erfinv, lambda x, y, g: g * (np.float32(np.sqrt(np.pi) / 2)
                                                              * jnp.exp(y * y))),
     "erf⁻¹ x; gradient √π/2·e^(y²)."),
]

_ROUNDING: list[tuple[str, Callable, str]] = [
    ("round", _round_half_away, "Round to nearest, halves away from zero (zero gradient)."),
    ("rint", _rint_half_down, "Round to nearest, halves down: rint(0.5) = 0, rint(-0.5) = -1."),
    ("fix", jnp.trunc, "Round toward zero."),
    ("floor", jnp.floor, "Round down."),
    ("ceil", jnp.ceil, "Round up."),
    ("trunc", jnp.trunc, "Drop the fractional part (toward zero)."),
]


def _unary(name: str, fn: Callable, doc: str) -> None:
    def impl(p: Params, data: jax.Array) -> jax.Array:
        return fn(data)
    impl.__doc__ = doc
    register(name, elementwise=True)(impl)


for _name, _fn, _doc in _UNARY:
    _unary(_name, _float_unary(_fn), _doc)
for _name, _fn, _doc in _ROUNDING:
    _unary(_name, _rounding(_fn), _doc)


@register("logical_not", elementwise=True)
def logical_not(p: Params, data: jax.Array) -> jax.Array:
    """1 where x == 0, else 0, in x's dtype (NaN gives 0); zero gradient."""
    return jax.lax.stop_gradient((data == 0).astype(data.dtype))


@register("hard_sigmoid", elementwise=True,
          params=[Param("alpha", p_float, 0.2), Param("beta", p_float, 0.5)])
def hard_sigmoid(p: Params, data: jax.Array) -> jax.Array:
    """clip(alpha·x + beta, 0, 1); gradient alpha strictly inside (0, 1), else 0."""
    alpha, beta = np.float32(p.alpha), np.float32(p.beta)

    def fwd(x: jax.Array) -> jax.Array:
        return jnp.clip(x * alpha.astype(x.dtype) + beta.astype(x.dtype), 0, 1)

    def grad(x: jax.Array, y: jax.Array, g: jax.Array) -> jax.Array:
        v = x * alpha.astype(x.dtype) + beta.astype(x.dtype)
        return g * jnp.where((v > 0) & (v < 1), alpha, 0).astype(g.dtype)
    return custom_unary(fwd, grad)(data)


# -- dot / batch_dot -------------------------------------------------------------------------
_DOT_PARAMS = [Param("transpose_a", p_bool, False), Param("transpose_b", p_bool, False),
               Param("forward_stype", p_enum(None, "csr", "default", "row_sparse"), None)]


@register("dot", arguments=("lhs", "rhs"), params=_DOT_PARAMS)
def dot(p: Params, lhs: jax.Array, rhs: jax.Array) -> jax.Array:
    """Contract lhs's last axis (first if transpose_a) with rhs's first axis (last if
    transpose_b): the remaining axes of lhs, then of rhs. 1-D · 1-D gives shape (1,)."""
    ca = 0 if p.transpose_a else lhs.ndim - 1
    cb = rhs.ndim - 1 if p.transpose_b else 0
    if lhs.shape[ca] != rhs.shape[cb]:
        raise ShapeError(f"dot shape error: {lhs.shape} X {rhs.shape} (transpose_a="
                         f"{p.transpose_a}, transpose_b={p.transpose_b})")
    out = jnp.tensordot(lhs, rhs, axes=([ca], [cb]), precision=_HIGHEST)
    return out.reshape(1) if out.ndim == 0 else out


@register("batch_dot", arguments=("lhs", "rhs"), params=_DOT_PARAMS)
def batch_dot(p: Params, lhs: jax.Array, rhs: jax.Array) -> jax.Array:
    """(B..., M, K) · (B..., K, N) -> (B..., M, N); transpose_a/b swap the last two axes."""
    if lhs.ndim < 3 or lhs.ndim != rhs.ndim:
        raise ShapeError(f"batch_dot: lhs {lhs.shape} and rhs {rhs.shape} must be N-D (N >= 3) "
                         "of the same ndim")
    a = jnp.swapaxes(lhs, -1, -2) if p.transpose_a else lhs
    b = jnp.swapaxes(rhs, -1, -2) if p.transpose_b else rhs
    if a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-2]:
        raise ShapeError(f"batch_dot shape error: {lhs.shape} X {rhs.shape}")
    return jnp.matmul(a, b, precision=_HIGHEST)


# -- norm ------------------------------------------------------------------------------------
def _finish(y: jax.Array, shape: tuple, axes: tuple, keepdims: bool) -> jax.Array:
    if keepdims:
        return y
    kept = tuple(d for i, d in enumerate(shape) if i not in axes)
    return y.reshape(kept or (1,))


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def _l2(x: jax.Array, axes: tuple) -> jax.Array:
    return jnp.sqrt(jnp.sum(x * x, axis=axes, keepdims=True))


def _l2_fwd(x: jax.Array, axes: tuple) -> tuple:
    y = _l2(x, axes)
    return y, (x, y)


def _l2_bwd(axes: tuple, res: tuple, g: jax.Array) -> tuple:
    x, y = res
    return (g * (x / y),)  # 0/0 = NaN where the norm is 0, as MXNet


_l2.defvjp(_l2_fwd, _l2_bwd)

_abs = custom_unary(jnp.abs, lambda x, y, g: g * jnp.sign(x))  # |x|'(0) = 0, as MXNet
_NORM_DTYPES = (None, "float16", "float32", "float64", "int32", "int64", "int8")


@register("norm", params=[Param("ord", p_int, 2), Param("axis", p_shape_or_none, None),
                          Param("out_dtype", p_enum(*_NORM_DTYPES), None),
                          Param("keepdims", p_bool, False)],
          infer_type=lambda p, ins, outs: (ins, [np.dtype(p.out_dtype) if p.out_dtype
                                                 else ins[0]]))
def norm(p: Params, data: jax.Array) -> jax.Array:
    """L1 (Σ|x|, gradient sign x) or L2 (√Σx², gradient x/‖x‖) norm over ``axis`` (None: all,
    shape (1,)); the result is cast to out_dtype if given."""
    if p.ord not in (1, 2):
        raise MXNetError(f"norm: ord must be 1 or 2, got {p.ord}")
    axes = reduce_axes(Params(axis=p.axis, exclude=False), data.ndim)
    x = data if _inexact(data) else data.astype(jnp.float32)
    if p.ord == 1:
        y = jnp.sum(_abs(x), axis=axes, keepdims=True)
    else:
        y = _l2(x, axes)
    y = _finish(y, data.shape, axes, p.keepdims)
    return y.astype(p.out_dtype or data.dtype)


# -- argmax / argmin -------------------------------------------------------------------------
def _arg_reduce(fn: Callable, p: Params, data: jax.Array) -> jax.Array:
    if p.axis is None:
        idx = fn(data.reshape(-1))
        shape = (1,) * data.ndim if p.keepdims else (1,)
        return jax.lax.stop_gradient(idx.reshape(shape).astype(data.dtype))
    axis = p.axis % data.ndim
    idx = fn(data, axis=axis, keepdims=p.keepdims)
    return jax.lax.stop_gradient(idx.astype(data.dtype))


_ARG_PARAMS = [Param("axis", p_int_or_none, None), Param("keepdims", p_bool, False)]


@register("argmax", params=_ARG_PARAMS)
def argmax(p: Params, data: jax.Array) -> jax.Array:
    """Index of the max along ``axis`` (None: of the flattened array, shape (1,)), in data's
    dtype; first on ties, NaN counts as the max."""
    return _arg_reduce(jnp.argmax, p, data)


@register("argmin", params=_ARG_PARAMS)
def argmin(p: Params, data: jax.Array) -> jax.Array:
    """Index of the min along ``axis`` (None: flattened, shape (1,)), in data's dtype."""
    return _arg_reduce(jnp.argmin, p, data)


@register("argmax_channel")
def argmax_channel(p: Params, data: jax.Array) -> jax.Array:
    """argmax over axis 1: (N, C, ...) -> (N, ...), float indices."""
    if data.ndim < 2:
        raise ShapeError(f"argmax_channel: axis 1 exceeds the input dimension of {data.ndim}")
    return _arg_reduce(jnp.argmax, Params(axis=1, keepdims=False), data)


# -- sort / argsort / topk -------------------------------------------------------------------
_IDX_DTYPES = ("float16", "float32", "float64", "int32", "int64", "uint8")


def _sort_key(x: jax.Array, ascend: bool) -> jax.Array:
    if ascend:
        return x
    return -x if _inexact(x) else jnp.bitwise_not(x)  # order-reversing for signed and unsigned


def _stable_argsort(x: jax.Array, axis: int, ascend: bool) -> jax.Array:
    """Indices sorting x along axis; ties keep their order; NaN last (ascending)."""
    iota = jax.lax.broadcasted_iota(jnp.int32, x.shape, axis)
    _, idx = jax.lax.sort((jax.lax.stop_gradient(_sort_key(x, ascend)), iota), dimension=axis,
                          is_stable=True, num_keys=1)
    return idx


def _flat_axis(p: Params, data: jax.Array) -> tuple[jax.Array, int]:
    if p.axis is None:
        return data.reshape(-1), 0
    return data, p.axis % data.ndim


@register("sort", outputs=("output0",), hidden_outputs=1,  # MXNet's sort is topk: indices hidden
          params=[Param("axis", p_int_or_none, -1), Param("is_ascend", p_bool, True)])
def sort(p: Params, data: jax.Array) -> jax.Array:
    """Sorted copy along ``axis`` (None: flattened); stable, NaN last when ascending; the
    gradient follows the permutation."""
    x, axis = _flat_axis(p, data)
    return jnp.take_along_axis(x, _stable_argsort(x, axis, p.is_ascend), axis=axis)


@register("argsort", params=[Param("axis", p_int_or_none, -1), Param("is_ascend", p_bool, True),
                             Param("dtype", p_enum(*_IDX_DTYPES), "float32")],
          infer_type=lambda p, ins, outs: (ins, [np.dtype(p.dtype)]))
def argsort(p: Params, data: jax.Array) -> jax.Array:
    """Indices that sort along ``axis`` (stable), as ``dtype`` (float32 by default)."""
    x, axis = _flat_axis(p, data)
    return _stable_argsort(x, axis, p.is_ascend).astype(p.dtype)


def _topk_outputs(p: Params) -> list[str]:
    return {"both": ["output0", "output1"], "value": ["output0"]}.get(p.ret_typ, ["output"])


def _topk_type(p: Params, ins: list, outs: list) -> tuple[list, list]:
    idx = np.dtype(p.dtype)
    return ins, {"value": [ins[0]], "mask": [ins[0]], "indices": [idx], "both": [ins[0], idx]}[
        p.ret_typ]


@register("topk", outputs=_topk_outputs, infer_type=_topk_type,
          hidden_outputs=lambda p: int(p.ret_typ == "value"),
          params=[Param("axis", p_int_or_none, -1), Param("k", p_int, 1),
                  Param("ret_typ", p_enum("both", "indices", "mask", "value"), "indices"),
                  Param("is_ascend", p_bool, False),
                  Param("dtype", p_enum(*_IDX_DTYPES), "float32")])
def topk(p: Params, data: jax.Array) -> Any:
    """The k largest (smallest if is_ascend) along ``axis`` (None: flattened), k < 1 meaning
    all: values, indices (``dtype``), both, or a 0/1 mask of data's shape. Ties keep the lower
    index first; the value gradient goes back to the chosen positions."""
    x, axis = _flat_axis(p, data)
    n = x.shape[axis]
    k = n if p.k < 1 else p.k
    if k > n:
        raise ShapeError(f"topk: k must be smaller than {n}, get k = {p.k}")
    idx = jax.lax.slice_in_dim(_stable_argsort(x, axis, p.is_ascend), 0, k, axis=axis)
    if p.ret_typ == "indices":
        return idx.astype(p.dtype)
    if p.ret_typ == "mask":
        hot = jnp.zeros(x.shape, data.dtype)
        hot = jnp.put_along_axis(hot, idx, jnp.ones((), data.dtype), axis=axis, inplace=False)
        return jax.lax.stop_gradient(hot.reshape(data.shape))
    values = jnp.take_along_axis(x, idx, axis=axis)
    return values if p.ret_typ == "value" else (values, idx.astype(p.dtype))


# -- moments ---------------------------------------------------------------------------------
@partial(jax.custom_vjp, nondiff_argnums=(1,))
def _moments(x: jax.Array, axes: tuple) -> tuple:
    mean = jnp.mean(x, axis=axes, keepdims=True)
    return mean, jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)


def _moments_fwd(x: jax.Array, axes: tuple) -> tuple:
    mean, var = _moments(x, axes)
    return (mean, var), (x, mean)


def _moments_bwd(axes: tuple, res: tuple, g: tuple) -> tuple:
    x, mean = res
    gm, gv = g
    n = np.float32(np.prod([x.shape[a] for a in axes]))
    return ((gm + gv * 2 * (x - mean)) / n.astype(x.dtype),)


_moments.defvjp(_moments_fwd, _moments_bwd)


@register("moments", outputs=("output0", "output1"),
          params=[Param("axes", p_shape_or_none, None), Param("keepdims", p_bool, False)])
def moments(p: Params, data: jax.Array) -> tuple:
    """Mean and (biased) variance over ``axes`` (required); reducing everything gives (1,)."""
    if p.axes is None or len(p.axes) == 0:
        raise MXNetError("Empty axes is not supported, if you would like to do global moments, "
                         "please pass all axes to axes argument")
    axes = reduce_axes(Params(axis=p.axes, exclude=False), data.ndim)
    mean, var = _moments(data, axes)
    return (_finish(mean, data.shape, axes, p.keepdims), _finish(var, data.shape, axes, p.keepdims))
