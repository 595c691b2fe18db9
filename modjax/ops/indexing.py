"""Indexing and sequence operators: take, batch_take, pick, one_hot, where, gather_nd,
scatter_nd, _scatter_set_nd, slice (crop), slice_like, Crop, SequenceMask, SequenceLast,
SequenceReverse, diag.

Index inputs follow MXNet's rule: float indices are truncated toward zero, then clipped (or
wrapped, where the op has ``mode='wrap'``); no gradient flows to them (MXNet writes zeros).
Data gradients scatter-add into repeated positions, as MXNet's backward kernels do.
"""
from __future__ import annotations

import ast
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..base import MXNetError, ShapeError
from .nn import clip_indices
from .params import Param, Params, ParamParseError, p_bool, p_enum, p_float, p_int, \
    p_int_or_none, p_shape
from .registry import merge_shape, register

_DTYPES = ("bfloat16", "float16", "float32", "float64", "int32", "int64", "int8", "uint8")


def _has_ndim(s: Any) -> bool:
    return s is not None and len(s) > 0


def int_index(indices: jax.Array) -> jax.Array:
    """Indices as int32, floats truncated toward zero; no gradient."""
    indices = jax.lax.stop_gradient(indices)
    if jnp.issubdtype(indices.dtype, jnp.inexact):
        indices = jnp.trunc(indices)
    return indices.astype(jnp.int32)


def _is_concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


# -- take / batch_take / pick ----------------------------------------------------------------
@register("take", arguments=("a", "indices"),
          params=[Param("axis", p_int, 0), Param("mode", p_enum("clip", "raise", "wrap"), "clip")])
def take(p: Params, a: jax.Array, indices: jax.Array) -> jax.Array:
    """a (..., n, ...) at ``axis`` indexed by ``indices`` -> a.shape[:axis] + indices.shape +
    a.shape[axis+1:]. clip: -1 -> 0; wrap: -1 -> n-1; raise: out-of-range indices are an error
    when the values are known (eager calls), else clipped."""
    axis = p.axis % a.ndim
    n = a.shape[axis]
    if p.mode == "wrap":
        idx = jnp.mod(int_index(indices), n)
    else:
        if p.mode == "raise" and _is_concrete(indices):
            raw = np.asarray(int_index(indices))
            if raw.size and (raw.min() < 0 or raw.max() >= n):
                raise MXNetError("take operator contains indices out of bound")
        idx = clip_indices(indices, n)
    return jnp.take(a, idx, axis=axis, mode="clip")


def _batch_take_type(p: Params, ins: list, outs: list) -> tuple[list, list]:
    return [ins[0], np.dtype(np.int32)], [ins[0]]


@register("batch_take", arguments=("a", "indices"), infer_type=_batch_take_type)
def batch_take(p: Params, a: jax.Array, indices: jax.Array) -> jax.Array:
    """out[i] = a[i, indices[i]] with a viewed as (-1, a.shape[-1]); int32 indices clipped to
    the last axis; output of the indices' shape."""
    m = a.shape[-1]
    flat = a.reshape(-1, m)
    if flat.shape[0] != indices.size:
        raise ShapeError(f"batch_take: index array's size {indices.size} must be the data "
                         f"array's size excluding the last dimension ({flat.shape[0]})")
    idx = clip_indices(indices.reshape(-1, 1), m)
    return jnp.take_along_axis(flat, idx, axis=1).reshape(indices.shape)


def _pick_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    data = ins[0]
    if _has_ndim(data) and p.axis is not None:
        axis = p.axis % len(data)
        rest = tuple(data[:axis]) + tuple(data[axis + 1:])
        kept = tuple(data[:axis]) + (1,) + tuple(data[axis + 1:])
        outs[0] = merge_shape(outs[0], kept if p.keepdims else rest, "pick output")
        if not _has_ndim(ins[1]) or len(ins[1]) == len(rest):
            ins[1] = merge_shape(ins[1], rest, "pick index")
    return ins, outs


@register("pick", aliases=("choose_element_0index",), arguments=("data", "index"),
          infer_shape=_pick_shape,
          params=[Param("axis", p_int_or_none, -1), Param("keepdims", p_bool, False),
                  Param("mode", p_enum("clip", "wrap"), "clip")])
def pick(p: Params, data: jax.Array, index: jax.Array) -> jax.Array:
    """out[i, j] = data[i, index[i, j], j] along ``axis``: data (..., n, ...), index data's
    shape without that axis -> index's shape (keepdims: with a 1 there)."""
    if p.axis is None:
        raise MXNetError("axis=None is not supported by pick yet. Must specify an axis.")
    axis = p.axis % data.ndim
    n = data.shape[axis]
    idx = jnp.mod(int_index(index), n) if p.mode == "wrap" else clip_indices(index, n)
    if idx.ndim == data.ndim - 1:
        idx = jnp.expand_dims(idx, axis)
    out = jnp.take_along_axis(data, idx.reshape(data.shape[:axis] + (1,) + data.shape[axis + 1:]),
                              axis=axis)
    return out if p.keepdims else jnp.squeeze(out, axis)


# -- one_hot ---------------------------------------------------------------------------------
def _one_hot_type(p: Params, ins: list, outs: list) -> tuple[list, list]:
    return [ins[0] if ins[0] is not None else np.dtype(np.float32)], [np.dtype(p.dtype)]


@register("one_hot", arguments=("indices",), infer_type=_one_hot_type,
          params=[Param("depth", p_int), Param("on_value", p_float, 1.0),
                  Param("off_value", p_float, 0.0), Param("dtype", p_enum(*_DTYPES), "float32")])
def one_hot(p: Params, indices: jax.Array) -> jax.Array:
    """indices (...) -> (..., depth): on_value at the truncated index, off_value elsewhere; an
    index outside [0, depth) gives an all-off row."""
    idx = int_index(indices)
    hot = idx[..., None] == jnp.arange(p.depth, dtype=jnp.int32)
    on = np.asarray(p.on_value).astype(p.dtype)
    off = np.asarray(p.off_value).astype(p.dtype)
    return jnp.where(hot, on, off).astype(p.dtype)


# -- where -----------------------------------------------------------------------------------
def _where_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    cond = ins[0]
    if not _has_ndim(cond):  # MXNet learns nothing until the condition's shape is known
        return ins, outs
    shape = merge_shape(merge_shape(ins[1], ins[2], "where x/y"), outs[0], "where output")
    if not _has_ndim(shape):
        return ins, outs
    ins[1] = ins[2] = outs[0] = shape
    if len(cond) == len(shape):
        ins[0] = merge_shape(cond, shape, "where condition")
    elif len(cond) != 1:
        raise ShapeError(f"where: condition {tuple(cond)} must have x's shape {tuple(shape)} or "
                         "be 1-D")
    return ins, outs


def _where_type(p: Params, ins: list, outs: list) -> tuple[list, list]:
    t = ins[1] or ins[2] or outs[0]
    return [ins[0] or t, t, t], [t]


@register("where", arguments=("condition", "x", "y"), infer_shape=_where_shape,
          infer_type=_where_type)
def where(p: Params, condition: jax.Array, x: jax.Array, y: jax.Array) -> jax.Array:
    """x where condition != 0, else y. condition has x's shape, or is 1-D of length
    x.shape[0] (whole rows). Gradients: x's where the condition holds, y's elsewhere, none to
    the condition."""
    cond = jax.lax.stop_gradient(condition) != 0
    if cond.ndim != x.ndim:
        if cond.ndim != 1 or cond.shape[0] != x.shape[0]:
            raise ShapeError(f"where: condition {cond.shape} must have x's shape {x.shape} or "
                             "be 1-D of length x.shape[0]")
        cond = cond.reshape((-1,) + (1,) * (x.ndim - 1))
    return jnp.where(cond, x, y)


# -- gather_nd / scatter_nd ------------------------------------------------------------------
def _nd_index(indices: jax.Array, shape: tuple, wrap: bool = True) -> tuple:
    """The first indices.shape[0] axes' index arrays: truncated, negatives wrapped once, then
    clipped (MXNet raises on out-of-range indices; inside a graph they are clipped). Without
    ``wrap`` a negative index becomes out of range (for dropping scatters)."""
    idx = int_index(indices)
    m = idx.shape[0]
    if m > len(shape):
        raise ShapeError(f"indices.shape[0] ({m}) exceeds the data's ndim ({len(shape)})")
    out = []
    for i in range(m):
        k = idx[i]
        if wrap:
            k = jnp.clip(jnp.where(k < 0, k + shape[i], k), 0, shape[i] - 1)
        else:
            k = jnp.where(k < 0, shape[i], k)
        out.append(k)
    return tuple(out)


@jax.custom_vjp
def _gather_nd(data: jax.Array, indices: jax.Array) -> jax.Array:
    return data[_nd_index(indices, data.shape)]


def _gather_nd_fwd(data: jax.Array, indices: jax.Array) -> tuple:
    return _gather_nd(data, indices), (jnp.zeros_like(data), indices)


def _gather_nd_bwd(res: tuple, g: jax.Array) -> tuple:
    zeros, indices = res
    grad = zeros.at[_nd_index(indices, zeros.shape, wrap=False)].add(g, mode="drop")
    return grad, jnp.zeros_like(indices)


_gather_nd.defvjp(_gather_nd_fwd, _gather_nd_bwd)


@register("gather_nd", arguments=("data", "indices"))
def gather_nd(p: Params, data: jax.Array, indices: jax.Array) -> jax.Array:
    """data (X0..X{N-1}), indices (M, Y...) -> (Y..., X{M}..): out[y] = data[indices[:, y]],
    negative indices wrapped; the gradient scatter-adds, dropping the negative indices (as
    MXNet's backward does)."""
    if not jnp.issubdtype(data.dtype, jnp.inexact):
        return data[_nd_index(indices, data.shape)]
    return _gather_nd(data, jax.lax.stop_gradient(indices))


def _scatter_nd_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    outs[0] = merge_shape(outs[0], tuple(p.shape), "scatter_nd output")
    return ins, outs


@register("scatter_nd", arguments=("data", "indices"), infer_shape=_scatter_nd_shape,
          params=[Param("shape", p_shape)])
def scatter_nd(p: Params, data: jax.Array, indices: jax.Array) -> jax.Array:
    """Zeros of ``shape`` with out[indices[:, y]] = data[y] (data (Y..., X{M}..)); repeated
    indices leave one of the values; the data gradient gathers."""
    out = jnp.zeros(tuple(p.shape), data.dtype)
    return out.at[_nd_index(indices, tuple(p.shape))].set(data)


@register("_scatter_set_nd", arguments=("lhs", "rhs", "indices"), params=[Param("shape", p_shape)])
def scatter_set_nd(p: Params, lhs: jax.Array, rhs: jax.Array, indices: jax.Array) -> jax.Array:
    """lhs with lhs[indices[:, y]] = rhs[y] (scatter_nd into an existing array)."""
    return lhs.at[_nd_index(indices, lhs.shape)].set(rhs.astype(lhs.dtype))


# -- slice / slice_like / Crop ---------------------------------------------------------------
def p_index_tuple(value: Any) -> tuple:
    """A tuple of ints or None: ``(None, -1)``, ``"(None, -1)"``, ``"[1,2]"``, ``3``."""
    if isinstance(value, (list, tuple)):
        items = value
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        items = (value,)
    else:
        text = str(value).strip()
        if text in ("", "()", "[]"):
            return ()
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ParamParseError(f"expected a tuple such as (1, None), got {value!r}") from None
        items = parsed if isinstance(parsed, (list, tuple)) else (parsed,)
    out = []
    for v in items:
        if v is None or (isinstance(v, str) and v.strip() == "None"):
            out.append(None)
        else:
            out.append(p_int(v))
    return tuple(out)


@register("slice", aliases=("crop",),
          params=[Param("begin", p_index_tuple), Param("end", p_index_tuple),
                  Param("step", p_index_tuple, ())])
def slice_op(p: Params, data: jax.Array) -> jax.Array:
    """data[b0:e0:s0, b1:e1:s1, ...] over the first len(begin) axes (None: Python's defaults,
    negatives count from the end, a negative step walks backwards)."""
    if len(p.end) != len(p.begin) or (len(p.step) and len(p.step) != len(p.begin)):
        raise ShapeError(f"slice: begin {p.begin}, end {p.end} and step {p.step} differ in length")
    if len(p.begin) > data.ndim:
        raise ShapeError(f"slice: {len(p.begin)} axes sliced on data of ndim {data.ndim}")
    index = []
    for i, (b, e) in enumerate(zip(p.begin, p.end)):
        s = p.step[i] if len(p.step) and p.step[i] is not None else 1
        if s == 0:
            raise ShapeError(f"slice op step[{i}] cannot be 0")
        index.append(slice(b, e, s))
    out = data[tuple(index)]
    if 0 in out.shape:
        raise ShapeError(f"slice: empty slice {p.begin}:{p.end}:{p.step} of shape {data.shape}")
    return out


@register("slice_like", arguments=("data", "shape_like"), params=[Param("axes", p_shape, ())])
def slice_like(p: Params, data: jax.Array, shape_like: jax.Array) -> jax.Array:
    """data[:like.shape[0], :like.shape[1], ...] on ``axes`` (all of like's axes when empty);
    shape_like gets no gradient."""
    if len(p.axes):
        axes = [a % data.ndim for a in p.axes]
    else:
        if shape_like.ndim != data.ndim:
            raise ShapeError(f"slice_like: data {data.shape} and shape_like {shape_like.shape} "
                             "differ in ndim")
        axes = list(range(data.ndim))
    index = [slice(None)] * data.ndim
    for a in axes:
        if shape_like.shape[a] > data.shape[a]:
            raise ShapeError(f"slice_like: shape_like {shape_like.shape} exceeds data {data.shape}")
        index[a] = slice(0, shape_like.shape[a])
    return data[tuple(index)]


@register("Crop", arguments=lambda p: ["data", "crop_like"] if p.num_args == 2 else ["data"],
          varargs="num_args",
          params=[Param("num_args", p_int), Param("offset", p_shape, (0, 0)),
                  Param("h_w", p_shape, (0, 0)), Param("center_crop", p_bool, False)])
def crop(p: Params, *inputs: jax.Array) -> jax.Array:
    """Crop (N, C, H, W) to h_w, or to crop_like's (H, W) with two inputs, at ``offset`` (y, x)
    or centred ((H-h)//2, (W-w)//2). crop_like gets no gradient."""
    data = inputs[0]
    if len(inputs) not in (1, 2) or data.ndim != 4:
        raise ShapeError("Crop: one or two 4-D inputs (N, C, H, W)")
    h, w = (inputs[1].shape[2], inputs[1].shape[3]) if len(inputs) == 2 else tuple(p.h_w)
    H, W = data.shape[2], data.shape[3]
    y, x = ((H - h) // 2, (W - w) // 2) if p.center_crop else tuple(p.offset)
    if h > H or w > W or y + h > H or x + w > W or min(h, w, y, x) < 0:
        raise ShapeError(f"Crop: cannot crop ({h}, {w}) at ({y}, {x}) from ({H}, {W})")
    return data[:, :, y:y + h, x:x + w]


# -- sequence ops ----------------------------------------------------------------------------
_SEQ_PARAMS = [Param("use_sequence_length", p_bool, False)]


def _seq_args(p: Params) -> list[str]:
    return ["data", "sequence_length"] if p.use_sequence_length else ["data"]


def _seq_shape(last: bool) -> Any:
    def rule(p: Params, ins: list, outs: list) -> tuple[list, list]:
        data = ins[0]
        if _has_ndim(data):
            batch_axis = 1 if p.axis == 0 else 0
            if p.use_sequence_length:
                ins[1] = merge_shape(ins[1], (data[batch_axis],), "sequence_length")
            out = tuple(d for i, d in enumerate(data) if i != p.axis) if last else tuple(data)
            outs[0] = merge_shape(outs[0], out, "output")
        return ins, outs
    return rule


def _lengths(p: Params, data: jax.Array, inputs: tuple) -> jax.Array:
    """Per-sequence lengths (batch,), truncated; the full length without sequence_length."""
    t, n = data.shape[p.axis], data.shape[1 - p.axis]
    if p.use_sequence_length:
        return int_index(inputs[0]).reshape(n)
    return jnp.full((n,), t, jnp.int32)


def _steps(p: Params, data: jax.Array) -> jax.Array:
    """Step numbers shaped to broadcast against data: (T, 1, ...) for axis 0, (1, T, ...) for 1."""
    t = data.shape[p.axis]
    shape = [1] * data.ndim
    shape[p.axis] = t
    return jnp.arange(t, dtype=jnp.int32).reshape(shape)


def _batch_view(p: Params, v: jax.Array, ndim: int) -> jax.Array:
    shape = [1] * ndim
    shape[1 - p.axis] = -1
    return v.reshape(shape)


def _check_axis(p: Params, name: str, allowed: tuple) -> None:
    if p.axis not in allowed:
        raise MXNetError(f"{name}: axis must be one of {allowed}, got {p.axis}")


@register("SequenceMask", arguments=_seq_args, infer_shape=_seq_shape(False),
          params=_SEQ_PARAMS + [Param("value", p_float, 0.0), Param("axis", p_int, 0)])
def sequence_mask(p: Params, data: jax.Array, *seq: jax.Array) -> jax.Array:
    """data (T, N, ...) (axis 0) or (N, T, ...) (axis 1): steps t >= length[n] set to value;
    their gradient is 0."""
    _check_axis(p, "SequenceMask", (0, 1))
    keep = _steps(p, data) < _batch_view(p, _lengths(p, data, seq), data.ndim)
    return jnp.where(keep, data, jnp.asarray(np.asarray(p.value).astype(data.dtype)))


@register("SequenceLast", arguments=_seq_args, infer_shape=_seq_shape(True),
          params=_SEQ_PARAMS + [Param("axis", p_int, 0)])
def sequence_last(p: Params, data: jax.Array, *seq: jax.Array) -> jax.Array:
    """The step length[n]-1 of each sequence (the last step without lengths): (T, N, ...) ->
    (N, ...). A length of 0 reads step 0 (MXNet reads out of bounds)."""
    _check_axis(p, "SequenceLast", (0, 1))
    last = jnp.clip(_lengths(p, data, seq) - 1, 0, data.shape[p.axis] - 1)
    idx = _batch_view(p, last, data.ndim)
    shape = list(data.shape)
    shape[p.axis] = 1
    out = jnp.take_along_axis(data, jnp.broadcast_to(idx, shape), axis=p.axis)
    return jnp.squeeze(out, p.axis)


@register("SequenceReverse", arguments=_seq_args, infer_shape=_seq_shape(False),
          params=_SEQ_PARAMS + [Param("axis", p_int, 0)])
def sequence_reverse(p: Params, data: jax.Array, *seq: jax.Array) -> jax.Array:
    """(T, N, ...): the first length[n] steps of each sequence reversed, the rest in place."""
    _check_axis(p, "SequenceReverse", (0,))
    t = _steps(p, data)
    n = _batch_view(p, _lengths(p, data, seq), data.ndim)
    src = jnp.where(t < n, n - 1 - t, t)
    return jnp.take_along_axis(data, jnp.broadcast_to(src, data.shape), axis=0)


# -- diag ------------------------------------------------------------------------------------
@register("diag", params=[Param("k", p_int, 0), Param("axis1", p_int, 0), Param("axis2", p_int, 1)])
def diag(p: Params, data: jax.Array) -> jax.Array:
    """1-D (n,) -> (n+|k|, n+|k|) with data on diagonal k; N-D -> the diagonal k of axes
    (axis1, axis2), moved to the last axis."""
    if data.ndim == 1:
        return jnp.diag(data, p.k)
    a1, a2 = p.axis1 % data.ndim, p.axis2 % data.ndim
    if a1 == a2:
        raise ShapeError("diag: axis1 and axis2 cannot refer to the same axis")
    size = min(data.shape[a1], data.shape[a2] - p.k) if p.k >= 0 else \
        min(data.shape[a1] + p.k, data.shape[a2])
    if size <= 0:
        raise ShapeError("Diagonal does not exist.")
    return jnp.diagonal(data, p.k, a1, a2)
