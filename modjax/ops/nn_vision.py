"""Spatial and detection layers: GridGenerator, BilinearSampler, SpatialTransformer, ROIPooling,
Correlation."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..base import ShapeError
from .params import Param, Params, p_bool, p_bool_or_none, p_enum, p_float, p_int, p_shape
from .registry import merge_shape, register


def _has_ndim(s: Any) -> bool:
    return s is not None and len(s) > 0


# -- GridGenerator -----------------------------------------------------------------------------
def _affine_dst(h: int, w: int, dtype: Any) -> jax.Array:
    """The target grid (3, h·w): normalised x, y in [-1, 1] (row-major) and ones, as MXNet makes
    it: -1 + j·(2/(w-1)) with the step computed in double and cast."""
    j = np.arange(h * w) % w
    i = np.arange(h * w) // w
    x = np.float32(-1.0) + j.astype(np.float32) * np.float32(2.0 / (w - 1) if w > 1 else np.inf)
    y = np.float32(-1.0) + i.astype(np.float32) * np.float32(2.0 / (h - 1) if h > 1 else np.inf)
    return jnp.asarray(np.stack([x, y, np.ones(h * w, np.float32)]), dtype)


def affine_grid(theta: jax.Array, h: int, w: int) -> jax.Array:
    """theta (N, 6) -> grid (N, 2, h, w): (x_src, y_src) = theta(2x3)·(x, y, 1)."""
    n = theta.shape[0]
    out = jnp.matmul(theta.reshape(n, 2, 3), _affine_dst(h, w, theta.dtype),
                     precision=jax.lax.Precision.HIGHEST)
    return out.reshape(n, 2, h, w)


def _grid_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    data = ins[0]
    if _has_ndim(data):
        if p.transform_type == "affine":
            if len(data) != 2 or (data[1] and data[1] != 6):
                raise ShapeError(f"GridGenerator(affine): data must be (batch, 6), got {tuple(data)}")
            if len(p.target_shape) != 2 or min(p.target_shape) <= 0:
                raise ShapeError(f"GridGenerator(affine): invalid target_shape {p.target_shape}")
            outs[0] = merge_shape(outs[0], (data[0], 2) + tuple(p.target_shape), "GridGenerator")
        else:
            if len(data) != 4 or (data[1] and data[1] != 2):
                raise ShapeError(f"GridGenerator(warp): data must be (batch, 2, H, W), got "
                                 f"{tuple(data)}")
            outs[0] = merge_shape(outs[0], tuple(data), "GridGenerator")
    return ins, outs


@register("GridGenerator", hidden_outputs=1, infer_shape=_grid_shape,
          params=[Param("transform_type", p_enum("affine", "warp")),
                  Param("target_shape", p_shape, (0, 0))])
def grid_generator(p: Params, data: jax.Array) -> jax.Array:
    """affine: data (N, 6) -> sampling grid (N, 2, *target_shape); warp: a flow (N, 2, H, W)
    -> (flow + pixel position)/((size-1)/2) - 1. Grids are normalised to [-1, 1]."""
    if p.transform_type == "affine":
        return affine_grid(data, int(p.target_shape[0]), int(p.target_shape[1]))
    h, w = data.shape[2], data.shape[3]
    pos = jnp.stack([jnp.broadcast_to(jnp.arange(w, dtype=data.dtype), (h, w)),
                     jnp.broadcast_to(jnp.arange(h, dtype=data.dtype)[:, None], (h, w))])
    half = jnp.asarray([(w - 1.0) / 2.0, (h - 1.0) / 2.0], data.dtype).reshape(1, 2, 1, 1)
    return (data + pos[None]) / half - 1


# -- BilinearSampler ---------------------------------------------------------------------------
def bilinear_sample(data: jax.Array, grid: jax.Array) -> jax.Array:
    """data (N, C, H, W) sampled at grid (N, 2, h, w) (x, y in [-1, 1]) -> (N, C, h, w); the four
    neighbours outside the input count as 0. Gradients reach data and grid."""
    n, c, hi, wi = data.shape
    ho, wo = grid.shape[2], grid.shape[3]
    x_real = (grid[:, 0] + 1) * (wi - 1) / 2
    y_real = (grid[:, 1] + 1) * (hi - 1) / 2
    x0 = jax.lax.stop_gradient(jnp.floor(x_real))
    y0 = jax.lax.stop_gradient(jnp.floor(y_real))
    wx = 1 - (x_real - x0)
    wy = 1 - (y_real - y0)
    flat = data.reshape(n, c, hi * wi)
    x0i, y0i = x0.astype(jnp.int32), y0.astype(jnp.int32)

    def corner(dy: int, dx: int) -> jax.Array:
        yy, xx = y0i + dy, x0i + dx
        valid = (xx >= 0) & (xx <= wi - 1) & (yy >= 0) & (yy <= hi - 1)
        idx = (jnp.clip(yy, 0, hi - 1) * wi + jnp.clip(xx, 0, wi - 1)).reshape(n, 1, ho * wo)
        v = jnp.take_along_axis(flat, jnp.broadcast_to(idx, (n, c, ho * wo)), axis=2)
        return jnp.where(valid.reshape(n, 1, ho * wo), v, 0).reshape(n, c, ho, wo)

    wx, wy = wx[:, None], wy[:, None]
    return (corner(0, 0) * wy * wx + corner(0, 1) * wy * (1 - wx)
            + corner(1, 0) * (1 - wy) * wx + corner(1, 1) * (1 - wy) * (1 - wx))


def _sampler_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    data, grid = ins
    if _has_ndim(data) and _has_ndim(grid):
        if len(data) != 4 or len(grid) != 4 or (grid[1] and grid[1] != 2):
            raise ShapeError(f"BilinearSampler: data {tuple(data)} and grid {tuple(grid)} must be "
                             "(N, C, H, W) and (N, 2, h, w)")
        outs[0] = merge_shape(outs[0], (data[0], data[1], grid[2], grid[3]), "BilinearSampler")
    return ins, outs


@register("BilinearSampler", arguments=("data", "grid"), hidden_outputs=1,
          infer_shape=_sampler_shape, params=[Param("cudnn_off", p_bool_or_none, None)])
def bilinear_sampler(p: Params, data: jax.Array, grid: jax.Array) -> jax.Array:
    """Bilinear sampling of data (N, C, H, W) at grid (N, 2, h, w) -> (N, C, h, w); points
    outside the input read zeros."""
    return bilinear_sample(data, grid)


# -- SpatialTransformer ------------------------------------------------------------------------
def _st_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    data, loc = ins
    if _has_ndim(data):
        if len(data) != 4:
            raise ShapeError(f"SpatialTransformer: data must be (N, C, H, W), got {tuple(data)}")
        if len(p.target_shape) != 2 or min(p.target_shape) <= 0:
            raise ShapeError(f"SpatialTransformer: invalid target_shape {p.target_shape}")
        ins[1] = merge_shape(loc, (data[0], 6), "SpatialTransformer loc")
        outs[0] = merge_shape(outs[0], (data[0], data[1]) + tuple(p.target_shape), "SpatialTransformer")
    return ins, outs


@register("SpatialTransformer", arguments=("data", "loc"), hidden_outputs=2, infer_shape=_st_shape,
          params=[Param("target_shape", p_shape, (0, 0)), Param("transform_type", p_enum("affine")),
                  Param("sampler_type", p_enum("bilinear")), Param("cudnn_off", p_bool_or_none, None)])
def spatial_transformer(p: Params, data: jax.Array, loc: jax.Array) -> jax.Array:
    """An affine grid from loc (N, 6) over target_shape, then bilinear sampling of data
    (N, C, H, W) -> (N, C, *target_shape)."""
    grid = affine_grid(loc, int(p.target_shape[0]), int(p.target_shape[1]))
    return bilinear_sample(data, grid)


# -- ROIPooling --------------------------------------------------------------------------------
def _round_half_away(x: jax.Array) -> jax.Array:
    return jnp.sign(x) * jnp.floor(jnp.abs(x) + 0.5)


def _roi_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    data, rois = ins
    if len(p.pooled_size) != 2:
        raise ShapeError(f"ROIPooling: pooled_size must have 2 dims, got {p.pooled_size}")
    if _has_ndim(rois) and (len(rois) != 2 or (rois[1] and rois[1] != 5)):
        raise ShapeError(f"ROIPooling: rois must be (R, 5), got {tuple(rois)}")
    if _has_ndim(data) and _has_ndim(rois):
        outs[0] = merge_shape(outs[0], (rois[0], data[1]) + tuple(p.pooled_size), "ROIPooling")
    return ins, outs


def _first_max(v: jax.Array, mask: jax.Array, axis: int) -> tuple[jax.Array, jax.Array]:
    """Max of v over ``axis`` where mask (broadcast to v), taking (and differentiating) the first
    maximum; also whether the mask had any element there."""
    mask = jnp.broadcast_to(mask, jnp.broadcast_shapes(mask.shape, v.shape))
    masked = jnp.where(mask, v, jnp.asarray(-jnp.inf, v.dtype))
    idx = jnp.argmax(masked, axis=axis, keepdims=True)
    return jnp.take_along_axis(masked, idx, axis=axis).squeeze(axis), jnp.any(mask, axis=axis)


@register("ROIPooling", arguments=("data", "rois"), hidden_outputs=1, infer_shape=_roi_shape,
          params=[Param("pooled_size", p_shape), Param("spatial_scale", p_float)])
def roi_pooling(p: Params, data: jax.Array, rois: jax.Array) -> jax.Array:
    """Max pooling of data (N, C, H, W) over each roi [batch, x1, y1, x2, y2] (scaled by
    spatial_scale, rounded half away from zero) split into pooled_size bins -> (R, C, ph, pw).
    Empty bins give 0; the gradient goes to the first maximum; rois get no gradient."""
    ph, pw = int(p.pooled_size[0]), int(p.pooled_size[1])
    _, c, h, w = data.shape
    rois = jax.lax.stop_gradient(rois).astype(jnp.float32)
    scale = np.float32(p.spatial_scale)
    hs = jnp.arange(h)
    ws = jnp.arange(w)

    def one(roi: jax.Array) -> jax.Array:
        b = roi[0].astype(jnp.int32)
        x1, y1, x2, y2 = (_round_half_away(roi[i] * scale).astype(jnp.int32) for i in range(1, 5))
        rh = jnp.maximum(y2 - y1 + 1, 1).astype(jnp.float32)
        rw = jnp.maximum(x2 - x1 + 1, 1).astype(jnp.float32)
        bh, bw = rh / np.float32(ph), rw / np.float32(pw)
        i, j = jnp.arange(ph, dtype=jnp.float32), jnp.arange(pw, dtype=jnp.float32)
        h0 = jnp.clip(jnp.floor(i * bh).astype(jnp.int32) + y1, 0, h)
        h1 = jnp.clip(jnp.ceil((i + 1) * bh).astype(jnp.int32) + y1, 0, h)
        w0 = jnp.clip(jnp.floor(j * bw).astype(jnp.int32) + x1, 0, w)
        w1 = jnp.clip(jnp.ceil((j + 1) * bw).astype(jnp.int32) + x1, 0, w)
        img = jax.lax.dynamic_index_in_dim(data, jnp.clip(b, 0, data.shape[0] - 1), 0, False)
        wmask = (ws[None, :] >= w0[:, None]) & (ws[None, :] < w1[:, None])  # (pw, W)
        hmask = (hs[None, :] >= h0[:, None]) & (hs[None, :] < h1[:, None])  # (ph, H)
        # the max along each row of every column bin, then down the rows: the first maximum in
        # row-major order, as MXNet's argmax
        rowmax, _ = _first_max(img[:, :, None, :], wmask[None, None], axis=3)  # (C, H, pw)
        colv = jnp.swapaxes(rowmax, 1, 2)[:, None]  # (C, 1, pw, H)
        ok = hmask[:, None, :] & jnp.any(wmask, axis=1)[None, :, None]  # (ph, pw, H)
        best, any_ok = _first_max(colv, ok[None], axis=3)  # (C, ph, pw)
        return jnp.where(any_ok, best, jnp.zeros((), data.dtype))

    return jax.lax.map(one, rois)


# -- Correlation -------------------------------------------------------------------------------
def _corr_geometry(p: Params, h: int, w: int) -> tuple[int, int, int, int]:
    """(top_h, top_w, grid radius, grid width) as MXNet computes them."""
    if p.kernel_size % 2 == 0:
        raise ShapeError("Correlation: kernel_size must be odd")
    border = p.max_displacement + (p.kernel_size - 1) // 2
    top_h = int(np.ceil(np.float32(h + 2 * p.pad_size - 2 * border) / np.float32(p.stride1)))
    top_w = int(np.ceil(np.float32(w + 2 * p.pad_size - 2 * border) / np.float32(p.stride1)))
    if top_h < 1 or top_w < 1:
        raise ShapeError("Correlation cannot be done with current settings. Neighborhood and kernel "
                         "don't fit in blob")
    radius = p.max_displacement // p.stride2
    return top_h, top_w, radius, 2 * radius + 1


def _corr_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    d1 = ins[0] if _has_ndim(ins[0]) else ins[1]
    if _has_ndim(d1):
        if len(d1) != 4:
            raise ShapeError(f"Correlation: data must be 4-D, got {tuple(d1)}")
        ins = [merge_shape(ins[0], d1, "Correlation data1"), merge_shape(ins[1], d1, "Correlation data2")]
        if all(d1[2:]):
            th, tw, _, gw = _corr_geometry(p, d1[2], d1[3])
            outs[0] = merge_shape(outs[0], (d1[0], gw * gw, th, tw), "Correlation")
    return ins, outs


def _absdiff(a: jax.Array, b: jax.Array) -> jax.Array:
    """|a - b| whose gradient is +1 for a (-1 for b) where a >= b, as MXNet's backward."""
    @jax.custom_vjp
    def op(x, y):
        return jnp.abs(x - y)

    def bwd(res, g):
        s = jnp.where(res[0] >= res[1], 1, -1).astype(g.dtype)
        return g * s, -g * s

    op.defvjp(lambda x, y: (op(x, y), (x, y)), bwd)
    return op(a, b)


@register("Correlation", arguments=("data1", "data2"), hidden_outputs=2, infer_shape=_corr_shape,
          params=[Param("kernel_size", p_int, 1), Param("max_displacement", p_int, 1),
                  Param("stride1", p_int, 1), Param("stride2", p_int, 1), Param("pad_size", p_int, 0),
                  Param("is_multiply", p_bool, True)])
def correlation(p: Params, data1: jax.Array, data2: jax.Array) -> jax.Array:
    """FlowNet correlation of (N, C, H, W) maps -> (N, D², th, tw): for each displacement on a
    D×D grid (step stride2, radius max_displacement), the mean over channels and a
    kernel_size² window of data1·data2 (or |data1 - data2|), zero padded by pad_size."""
    _, c, h, w = data1.shape
    th, tw, radius, gw = _corr_geometry(p, h, w)
    k, pad, s1, s2, md = p.kernel_size, p.pad_size, p.stride1, p.stride2, p.max_displacement
    cfg = [(0, 0), (0, 0), (pad, pad), (pad, pad)]
    t1, t2 = jnp.pad(data1, cfg), jnp.pad(data2, cfg)
    lh, lw = (th - 1) * s1 + k, (tw - 1) * s1 + k  # the rows/cols the windows cover
    a = t1[:, :, md:md + lh, md:md + lw]
    outs = []
    for t in range(gw * gw):
        oy, ox = md + (t // gw - radius) * s2, md + (t % gw - radius) * s2
        b = t2[:, :, oy:oy + lh, ox:ox + lw]
        v = jnp.sum(a * b if p.is_multiply else _absdiff(a, b), axis=1)  # (N, lh, lw)
        outs.append(jax.lax.reduce_window(v, np.array(0, v.dtype), jax.lax.add, (1, k, k),
                                          (1, s1, s1), "VALID"))
    return jnp.stack(outs, axis=1) / np.float32(k * k * c)
