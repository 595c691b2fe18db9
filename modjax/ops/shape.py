"""Shape and layout operators: Flatten, Reshape, Concat, SliceChannel, expand_dims, SwapAxis,
transpose, _copy, Cast, the fill ops (_zeros, _ones, _full, zeros_like, ones_like), slice_axis,
reverse.

Shape inference runs backwards (an output shape gives the input's) exactly where MXNet's does:
the shape-preserving ops, expand_dims, transpose, Reshape (one unknown dim), Concat, and the fill
ops, which is how an unrolled RNN's ``_zeros(shape=(0, H))`` begin state learns its batch size.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..base import ShapeError
from .params import (Param, Params, p_bool, p_dtype, p_float, p_int, p_int_or_none, p_shape,
                     p_str)
from .registry import OpCtx, known, merge_shape, register
from .shape_rules import reshape_shape

def _has_ndim(s: Any) -> bool:
    return s is not None and len(s) > 0


def _prod(dims: Any) -> int:
    return int(np.prod(dims, dtype=np.int64)) if len(dims) else 1


# -- Flatten -----------------------------------------------------------------------------------
def _flatten_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    data = ins[0]
    if _has_ndim(data):  # forward only, as MXNet
        rest = _prod(data[1:]) if all(data[1:]) else 0
        outs[0] = merge_shape(outs[0], (data[0], rest), "Flatten output")
    return ins, outs


@register("Flatten", aliases=("flatten",), infer_shape=_flatten_shape)
def flatten(p: Params, data: jax.Array) -> jax.Array:
    """(N, d1, d2, ...) -> (N, d1·d2·...)."""
    return data.reshape(data.shape[0], -1)


# -- Reshape -----------------------------------------------------------------------------------
def _legacy_target(p: Params, src: tuple) -> tuple:
    """The deprecated ``target_shape``: one 0 dim is inferred; keep_highest keeps dim 0."""
    out = list(p.target_shape)
    start = 1 if p.keep_highest else 0
    if p.keep_highest:
        out[0] = src[0]
    zeros = [i for i in range(start, len(out)) if out[i] == 0]
    if len(zeros) == 1:
        out[zeros[0]] = 1
        out[zeros[0]] = _prod(src) // _prod(out)
    if _prod(out) != _prod(src):
        raise ShapeError(f"Reshape: target_shape {tuple(p.target_shape)} does not fit {tuple(src)}")
    return tuple(out)


def reshape_target(p: Params, src: tuple) -> tuple:
    """The output shape of Reshape for a known input shape."""
    if len(p.shape) == 0 and len(p.target_shape):
        return _legacy_target(p, tuple(src))
    return reshape_shape(src, p.shape, p.reverse)


def _reshape_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    data, out = ins[0], outs[0]
    if known(data):
        outs[0] = merge_shape(out, reshape_target(p, tuple(data)), "Reshape output")
    elif _has_ndim(data) and known(out):
        missing = [i for i, d in enumerate(data) if not d]
        rest = _prod([d for d in data if d])
        if len(missing) == 1 and rest and _prod(out) % rest == 0:
            filled = list(data)
            filled[missing[0]] = _prod(out) // rest
            ins[0] = tuple(filled)
    return ins, outs


@register("Reshape", aliases=("reshape",), infer_shape=_reshape_shape,
          params=[Param("shape", p_shape, ()), Param("reverse", p_bool, False),
                  Param("target_shape", p_shape, ()), Param("keep_highest", p_bool, False)])
def reshape(p: Params, data: jax.Array) -> jax.Array:
    """Reshape with MXNet's special codes 0, -1, -2, -3, -4 (matched right to left if reverse)."""
    return data.reshape(reshape_target(p, tuple(data.shape)))


# -- Concat ------------------------------------------------------------------------------------
def _concat_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    shapes = [s for s in ins + outs if _has_ndim(s)]
    if not shapes:
        return ins, outs
    ndim = len(shapes[0])
    axis = p.dim % ndim
    common = None  # every dim but the concat axis is shared
    for s in shapes:
        if len(s) != ndim:
            raise ShapeError(f"Concat: inputs of different ndim {[tuple(x) for x in shapes]}")
        common = merge_shape(common, tuple(s[:axis]) + (0,) + tuple(s[axis + 1:]), "Concat")

    def with_axis(s: Any, d: int) -> tuple:
        return tuple(common[:axis]) + (d,) + tuple(common[axis + 1:])

    sizes = [s[axis] if _has_ndim(s) else 0 for s in ins]
    total = outs[0][axis] if _has_ndim(outs[0]) else 0
    if all(sizes):
        total = merge_shape((total,), (sum(sizes),), "Concat output")[0]
    elif total and sizes.count(0) == 1:
        sizes[sizes.index(0)] = total - sum(sizes)
    ins = [with_axis(s, d) for s, d in zip(ins, sizes)]
    outs[0] = with_axis(outs[0], total)
    return ins, outs


@register("Concat", aliases=("concat",), arguments=("data",), varargs="num_args",
          params=[Param("num_args", p_int), Param("dim", p_int, 1)], infer_shape=_concat_shape)
def concat(p: Params, *data: jax.Array) -> jax.Array:
    """Join the inputs along ``dim``; every other dim must match."""
    return jnp.concatenate(data, axis=p.dim)


# -- SliceChannel ------------------------------------------------------------------------------
def _slice_channel_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    data = ins[0]
    if _has_ndim(data):  # forward only, as MXNet
        n = p.num_outputs
        axis = p.axis % len(data)
        if data[axis] and data[axis] % n:
            raise ShapeError(f"SliceChannel: axis {axis} of {tuple(data)} does not split into {n}")
        if p.squeeze_axis:
            piece = tuple(data[:axis]) + tuple(data[axis + 1:])
        else:
            piece = tuple(data[:axis]) + (data[axis] // n,) + tuple(data[axis + 1:])
        outs = [merge_shape(o, piece, "SliceChannel output") for o in outs]
    return ins, outs


@register("SliceChannel", aliases=("split",), infer_shape=_slice_channel_shape,
          params=[Param("num_outputs", p_int), Param("axis", p_int, 1),
                  Param("squeeze_axis", p_bool, False)],
          outputs=lambda p: [f"output{i}" for i in range(p.num_outputs)])
def slice_channel(p: Params, data: jax.Array) -> tuple:
    """Split into ``num_outputs`` equal pieces along ``axis`` (dropped if squeeze_axis)."""
    axis = p.axis % data.ndim
    parts = jnp.split(data, p.num_outputs, axis=axis)
    if p.squeeze_axis:
        parts = [jnp.squeeze(x, axis) for x in parts]
    return tuple(parts)


# -- axis moves (all invertible, so inference runs both ways) ----------------------------------
def _expand_dims_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    if _has_ndim(ins[0]):
        axis = p.axis % (len(ins[0]) + 1)
        outs[0] = merge_shape(outs[0], tuple(ins[0][:axis]) + (1,) + tuple(ins[0][axis:]),
                              "expand_dims output")
    if _has_ndim(outs[0]):
        axis = p.axis % len(outs[0])
        ins[0] = merge_shape(ins[0], tuple(outs[0][:axis]) + tuple(outs[0][axis + 1:]),
                             "expand_dims data")
    return ins, outs


@register("expand_dims", params=[Param("axis", p_int)], infer_shape=_expand_dims_shape)
def expand_dims(p: Params, data: jax.Array) -> jax.Array:
    """Insert a size-1 axis at ``axis`` (negative counts from the end of the result)."""
    return jnp.expand_dims(data, p.axis % (data.ndim + 1))


def _permuted_shape(perm_of: Any, backward: bool) -> Any:
    """Shape rule of an axis permutation; ``backward`` also infers the input from the output
    (MXNet's transpose does, SwapAxis does not)."""
    def rule(p: Params, ins: list, outs: list) -> tuple[list, list]:
        src = ins[0] if _has_ndim(ins[0]) else outs[0] if backward else None
        if not _has_ndim(src):
            return ins, outs
        perm = perm_of(p, len(src))
        if _has_ndim(ins[0]):
            outs[0] = merge_shape(outs[0], tuple(ins[0][i] for i in perm), "output")
        if backward:
            inv = np.argsort(perm)
            ins[0] = merge_shape(ins[0], tuple(outs[0][i] for i in inv), "data")
        return ins, outs
    return rule


def _swap_perm(p: Params, ndim: int) -> list:
    perm = list(range(ndim))
    a, b = p.dim1 % ndim, p.dim2 % ndim
    perm[a], perm[b] = perm[b], perm[a]
    return perm


def _transpose_perm(p: Params, ndim: int) -> list:
    return [a % ndim for a in p.axes] if len(p.axes) else list(range(ndim))[::-1]


@register("SwapAxis", aliases=("swapaxes",), params=[Param("dim1", p_int, 0), Param("dim2", p_int, 0)],
          infer_shape=_permuted_shape(_swap_perm, backward=False))
def swap_axis(p: Params, data: jax.Array) -> jax.Array:
    """Exchange axes dim1 and dim2."""
    return jnp.transpose(data, _swap_perm(p, data.ndim))


@register("transpose", params=[Param("axes", p_shape, ())],
          infer_shape=_permuted_shape(_transpose_perm, backward=True))
def transpose(p: Params, data: jax.Array) -> jax.Array:
    """Permute axes (empty ``axes`` reverses them)."""
    return jnp.transpose(data, _transpose_perm(p, data.ndim))


# -- shape-preserving ops ----------------------------------------------------------------------
@register("_copy", aliases=("identity",), elementwise=True)
def copy(p: Params, data: jax.Array) -> jax.Array:
    """Identity."""
    return data


def _cast_type(p: Params, ins: list, outs: list) -> tuple[list, list]:
    return ins, [np.dtype(p.dtype)]


@register("Cast", aliases=("cast",), params=[Param("dtype", p_dtype)], elementwise=True,
          infer_type=_cast_type)
def cast(p: Params, data: jax.Array) -> jax.Array:
    """Convert to ``dtype`` (float to int truncates); the gradient is cast back."""
    return data.astype(p.dtype)


@register("zeros_like", elementwise=True)
def zeros_like(p: Params, data: jax.Array) -> jax.Array:
    """Zeros of the input's shape and dtype (zero gradient)."""
    return jnp.zeros_like(data)


@register("ones_like", elementwise=True)
def ones_like(p: Params, data: jax.Array) -> jax.Array:
    """Ones of the input's shape and dtype (zero gradient)."""
    return jnp.ones_like(data)


@register("reverse", aliases=("flip",), params=[Param("axis", p_shape)], elementwise=True)
def reverse(p: Params, data: jax.Array) -> jax.Array:
    """Reverse the order of elements along each axis listed in ``axis``."""
    return jnp.flip(data, tuple(a % data.ndim for a in p.axis))


# -- slice_axis --------------------------------------------------------------------------------
def _slice_bounds(p: Params, size: int) -> tuple[int, int]:
    begin = p.begin + size if p.begin < 0 else p.begin
    end = size if p.end is None else (p.end + size if p.end < 0 else p.end)
    if not 0 <= begin < end <= size:
        raise ShapeError(f"slice_axis: invalid slice [{p.begin}, {p.end}) of an axis of size {size}")
    return begin, end


@register("slice_axis", params=[Param("axis", p_int), Param("begin", p_int),
                                Param("end", p_int_or_none)])
def slice_axis(p: Params, data: jax.Array) -> jax.Array:
    """data[..., begin:end, ...] on ``axis`` (negative begin/end count from the end; end None
    is the end)."""
    axis = p.axis % data.ndim
    begin, end = _slice_bounds(p, data.shape[axis])
    return jax.lax.slice_in_dim(data, begin, end, axis=axis)


# -- fill ops without inputs -------------------------------------------------------------------
def _fill_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    if len(p.shape):
        outs[0] = merge_shape(outs[0], tuple(p.shape), "fill shape")
    return ins, outs


def _fill_type(p: Params, ins: list, outs: list) -> tuple[list, list]:
    return ins, [np.dtype(p.dtype)]


def _fill_out_shape(p: Params, ctx: OpCtx) -> tuple:
    """The shape param, with 0 (unknown) dims taken from graph shape inference if available."""
    if ctx.out_shapes and known(ctx.out_shapes[0]):
        return tuple(ctx.out_shapes[0])
    return tuple(p.shape)


_FILL_PARAMS = [Param("shape", p_shape, ()), Param("ctx", p_str, ""),
                Param("dtype", p_dtype, "float32")]


def _fill(name: str, value_of: Any, extra: list, doc: str) -> None:
    def impl(p: Params, inputs: list, aux: list, ctx: OpCtx) -> tuple[list, list]:
        return [jnp.full(_fill_out_shape(p, ctx), value_of(p), dtype=p.dtype)], []
    impl.__doc__ = doc
    register(name, simple=False, arguments=(), params=_FILL_PARAMS + extra,
             infer_shape=_fill_shape, infer_type=_fill_type, needs_out_shapes=True)(impl)


_fill("_zeros", lambda p: 0, [], "An array of zeros of ``shape``; 0 dims are unknown and come "
      "from shape inference (consumers' shapes), as RNN begin states need.")
_fill("_ones", lambda p: 1, [], "An array of ones of ``shape`` (0 dims from shape inference).")
_fill("_full", lambda p: p.value, [Param("value", p_float)],
      "An array filled with ``value`` (cast to dtype) of ``shape`` (0 dims from shape inference).")
