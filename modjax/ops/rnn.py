"""The fused ``RNN`` operator (MXNet's cuDNN-compatible multi-layer RNN/LSTM/GRU).

Inputs: data ``(T, N, I)``, parameters (flat, MXNet's packed layout), state ``(L·D, N, Hs)``,
state_cell ``(L·D, N, H)`` (lstm only), sequence_length ``(N,)`` (with use_sequence_length).
``Hs`` is ``projection_size`` when set (LSTMP), else ``state_size`` (H).

Packed layout (verified against MXNet 1.9.1 and gluon's ``rnn_layer``): all weights first, for
each layer and direction (l, then r): ``W_i2h (G·H, in_l)``, ``W_h2h (G·H, Hs)`` and, with a
projection, ``W_h2r (Hs, H)``; then all biases in the same order: ``b_i2h (G·H)``, ``b_h2h
(G·H)``. ``in_0 = I``, ``in_l = D·Hs``. Gate order: LSTM i, f, g, o; GRU r, z, n (cuDNN form).

Each layer runs as one ``lax.scan`` over time with both directions batched in the carry; the
input projections of all steps are one matmul before the scan. Gradients come from autodiff.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..base import MXNetError, ShapeError
from .params import (Param, Params, p_bool, p_enum, p_float, p_float_or_none, p_int,
                     p_int_or_none)
from .registry import OpCtx, merge_shape, register

__all__ = ["rnn_param_size", "rnn_param_layout", "NUM_GATES"]

NUM_GATES = {"rnn_relu": 1, "rnn_tanh": 1, "lstm": 4, "gru": 3}


def _check(p: Params) -> None:
    if p.projection_size is not None:
        if p.mode != "lstm":
            raise MXNetError("RNN: projection_size is only supported for mode='lstm'")
        if not 0 < p.projection_size <= p.state_size:
            raise MXNetError(f"RNN: projection_size must be in [1, state_size={p.state_size}], "
                             f"got {p.projection_size}")
    clip = (p.lstm_state_clip_min is not None, p.lstm_state_clip_max is not None)
    if any(clip):
        if p.mode != "lstm":
            raise MXNetError("RNN: state clipping is only supported for mode='lstm'")
        if not all(clip):
            raise MXNetError("RNN: lstm_state_clip_min and lstm_state_clip_max must be specified "
                             "together")
        if p.lstm_state_clip_max < p.lstm_state_clip_min:
            raise MXNetError("RNN: lstm_state_clip_max must be greater or equal to "
                             "lstm_state_clip_min")
    if not 0.0 <= p.p < 1.0:
        raise MXNetError(f"RNN: dropout p must be in [0, 1), got {p.p}")


def rnn_param_layout(p: Params, input_size: int) -> list[tuple[str, int, tuple[int, ...]]]:
    """(key, offset, shape) of every block of the packed vector, keys like ``('w', l, d, 'i2h')``
    flattened to strings ``"w{l}{d}i2h"``; the last entry's end is the total size."""
    g, h, hs = NUM_GATES[p.mode], p.state_size, p.projection_size or p.state_size
    dirs = 2 if p.bidirectional else 1
    out, off = [], 0
    for layer in range(p.num_layers):
        in_size = input_size if layer == 0 else dirs * hs
        for d in range(dirs):
            blocks = [("i2h", (g * h, in_size)), ("h2h", (g * h, hs))]
            if p.projection_size is not None:
                blocks.append(("h2r", (hs, h)))
            for kind, shape in blocks:
                out.append((f"w{layer}{d}{kind}", off, shape))
                off += int(np.prod(shape))
    for layer in range(p.num_layers):
        for d in range(dirs):
            for kind in ("i2h", "h2h"):
                out.append((f"b{layer}{d}{kind}", off, (g * h,)))
                off += g * h
    return out


def rnn_param_size(p: Params, input_size: int) -> int:
    """Length of the packed parameter vector (MXNet's GetRnnParamSize)."""
    _, off, shape = rnn_param_layout(p, input_size)[-1]
    return off + int(np.prod(shape))


def _arguments(p: Params) -> list[str]:
    names = ["data", "parameters", "state"]
    if p.mode == "lstm":
        names.append("state_cell")
    if p.use_sequence_length:
        names.append("sequence_length")
    return names


def _outputs(p: Params) -> list[str]:
    if not p.state_outputs:
        return ["output"]
    return ["output", "state_output"] + (["statecell_output"] if p.mode == "lstm" else [])


def _rnn_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    _check(p)
    dirs = 2 if p.bidirectional else 1
    hs = p.projection_size or p.state_size
    ld = p.num_layers * dirs
    data = ins[0]
    if data is not None and len(data) not in (0, 3):
        raise ShapeError(f"RNN: data must be 3-D (T, N, I), got {tuple(data)}")
    t, n, i = tuple(data) if data is not None and len(data) == 3 else (0, 0, 0)
    # the batch size may come from a state or an output
    for s in [ins[2]] + ([ins[3]] if p.mode == "lstm" else []) + list(outs[1:]):
        if s is not None and len(s) == 3 and s[1] and not n:
            n = s[1]
    if outs[0] is not None and len(outs[0]) == 3:
        t, n = t or outs[0][0], n or outs[0][1]
    ins[0] = merge_shape(ins[0], (t, n, i), "RNN data")
    if i:
        ins[1] = merge_shape(ins[1], (rnn_param_size(p, i),), "RNN parameters")
    ins[2] = merge_shape(ins[2], (ld, n, hs), "RNN state")
    k = 3
    if p.mode == "lstm":
        ins[3] = merge_shape(ins[3], (ld, n, p.state_size), "RNN state_cell")
        k = 4
    if p.use_sequence_length:
        ins[k] = merge_shape(ins[k], (n,), "RNN sequence_length")
    outs[0] = merge_shape(outs[0], (t, n, dirs * hs), "RNN output")
    if p.state_outputs:
        outs[1] = merge_shape(outs[1], (ld, n, hs), "RNN state_output")
        if p.mode == "lstm":
            outs[2] = merge_shape(outs[2], (ld, n, p.state_size), "RNN statecell_output")
    return ins, outs


def _rnn_type(p: Params, ins: list, outs: list) -> tuple[list, list]:
    dt = next((t for t in ins[:3] if t is not None), None)
    n_float = 4 if p.mode == "lstm" else 3
    new_ins = [t if t is not None else dt for t in ins[:n_float]]
    if p.use_sequence_length:
        new_ins.append(ins[n_float] if ins[n_float] is not None else dt)
    return new_ins, [dt] * len(outs)


# -- one layer ---------------------------------------------------------------------------------
def _cell_step(p: Params, xp: jax.Array, h: jax.Array, c: Any, wh: jax.Array, bh: jax.Array,
               wr: Any) -> tuple[jax.Array, Any]:
    """One step for both directions at once. xp (D, N, G·H) = W_i2h·x + b_i2h; h (D, N, Hs);
    c (D, N, H) or None; wh (D, G·H, Hs); bh (D, G·H). Returns new (h, c)."""
    gh = jnp.einsum("dnk,dgk->dng", h, wh) + bh[:, None, :]
    mode = p.mode
    if mode == "lstm":
        i, f, g, o = jnp.split(xp + gh, 4, axis=-1)
        c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        if p.lstm_state_clip_min is not None:
            lo, hi = np.float32(p.lstm_state_clip_min), np.float32(p.lstm_state_clip_max)
            clipped = jnp.clip(c_new, lo, hi)
            # cuDNN CLIP_MINMAX; with NOT_PROPAGATE_NAN a NaN state becomes the minimum
            c_new = jnp.where(jnp.isnan(c_new), lo, clipped) if p.lstm_state_clip_nan else clipped
        h_new = jax.nn.sigmoid(o) * jnp.tanh(c_new)
        if wr is not None:
            h_new = jnp.einsum("dnh,drh->dnr", h_new, wr)
        return h_new, c_new
    if mode == "gru":
        xr, xz, xn = jnp.split(xp, 3, axis=-1)
        hr, hz, hn = jnp.split(gh, 3, axis=-1)
        r = jax.nn.sigmoid(xr + hr)
        z = jax.nn.sigmoid(xz + hz)
        n = jnp.tanh(xn + r * hn)
        return (1.0 - z) * n + z * h, None
    pre = xp + gh
    return (jnp.tanh(pre) if mode == "rnn_tanh" else jax.nn.relu(pre)), None


def _reverse_index(seq_len: Any, t: int, n: int) -> jax.Array:
    """(T, N) time indices that reverse each sequence within its length (the rest stays)."""
    steps = jnp.arange(t)[:, None]
    if seq_len is None:
        return jnp.broadcast_to(t - 1 - steps, (t, n))
    lens = seq_len[None, :]
    return jnp.where(steps < lens, lens - 1 - steps, steps)


def _layer(p: Params, x: jax.Array, w: dict, layer: int, dirs: int, h0: jax.Array, c0: Any,
           seq_len: Any) -> tuple[jax.Array, jax.Array, Any]:
    """One layer, all directions: x (T, N, in) -> y (T, N, D·Hs), h (D, N, Hs), c (D, N, H)."""
    t, n = x.shape[0], x.shape[1]
    wx = jnp.stack([w[f"w{layer}{d}i2h"] for d in range(dirs)])
    bx = jnp.stack([w[f"b{layer}{d}i2h"] for d in range(dirs)])
    wh = jnp.stack([w[f"w{layer}{d}h2h"] for d in range(dirs)])
    bh = jnp.stack([w[f"b{layer}{d}h2h"] for d in range(dirs)])
    wr = (jnp.stack([w[f"w{layer}{d}h2r"] for d in range(dirs)])
          if p.projection_size is not None else None)
    xp = jnp.einsum("tni,dgi->tdng", x, wx) + bx[None, :, None, :]  # (T, D, N, G·H)
    if dirs == 2:
        rev = _reverse_index(seq_len, t, n)
        back = jnp.take_along_axis(xp[:, 1], rev[:, :, None], axis=0)
        xp = jnp.stack([xp[:, 0], back], axis=1)
    lens = None if seq_len is None else seq_len.astype(jnp.int32)

    def step(carry: tuple, inp: tuple) -> tuple[tuple, jax.Array]:
        h, c = carry
        xt, k = inp
        h_new, c_new = _cell_step(p, xt, h, c, wh, bh, wr)
        if lens is None:
            return (h_new, c_new), h_new
        valid = (k < lens)[None, :, None]
        h_keep = jnp.where(valid, h_new, h)
        c_keep = jnp.where(valid, c_new, c) if c is not None else None
        return (h_keep, c_keep), jnp.where(valid, h_new, jnp.zeros_like(h_new))

    (h_t, c_t), ys = jax.lax.scan(step, (h0, c0), (xp, jnp.arange(t)))  # ys (T, D, N, Hs)
    if dirs == 2:
        back = jnp.take_along_axis(ys[:, 1], rev[:, :, None], axis=0)
        ys = jnp.stack([ys[:, 0], back], axis=1)
    y = jnp.transpose(ys, (0, 2, 1, 3)).reshape(t, n, -1)
    return y, h_t, c_t


@register("RNN", simple=False, needs_key=True, arguments=_arguments, outputs=_outputs,
          infer_shape=_rnn_shape, infer_type=_rnn_type,
          params=[Param("state_size", p_int), Param("num_layers", p_int),
                  Param("bidirectional", p_bool, False),
                  Param("mode", p_enum("rnn_relu", "rnn_tanh", "lstm", "gru")),
                  Param("p", p_float, 0.0), Param("state_outputs", p_bool, False),
                  Param("projection_size", p_int_or_none, None),
                  Param("lstm_state_clip_min", p_float_or_none, None),
                  Param("lstm_state_clip_max", p_float_or_none, None),
                  Param("lstm_state_clip_nan", p_bool, False),
                  Param("use_sequence_length", p_bool, False)])
def rnn(p: Params, inputs: list, aux: list, ctx: OpCtx) -> tuple[list, list]:
    """Fused multi-layer RNN. data (T, N, I) -> output (T, N, D·Hs) [, state_output (L·D, N, Hs)
    [, statecell_output (L·D, N, H)]]. Dropout ``p`` on each layer's output but the last, in
    training. With use_sequence_length, steps past a sequence's length give zeros and leave its
    states unchanged; the reverse direction starts at the sequence's last valid step (cuDNN)."""
    _check(p)
    data, params, hx = inputs[0], inputs[1], inputs[2]
    cx = inputs[3] if p.mode == "lstm" else None
    seq_len = None
    if p.use_sequence_length:
        seq_len = jax.lax.stop_gradient(inputs[4 if p.mode == "lstm" else 3])
        if jnp.issubdtype(seq_len.dtype, jnp.inexact):
            seq_len = jnp.trunc(seq_len)
        seq_len = seq_len.astype(jnp.int32)
    if data.ndim != 3:
        raise ShapeError(f"RNN: data must be 3-D (T, N, I), got shape {data.shape}")
    dirs = 2 if p.bidirectional else 1
    layout = rnn_param_layout(p, data.shape[2])
    size = layout[-1][1] + int(np.prod(layout[-1][2]))
    if params.shape != (size,):
        raise ShapeError(f"RNN: parameters must have shape ({size},) for mode={p.mode}, "
                         f"state_size={p.state_size}, num_layers={p.num_layers}, input size "
                         f"{data.shape[2]}, got {params.shape}")
    w = {key: params[off:off + int(np.prod(shape))].reshape(shape) for key, off, shape in layout}
    x = data
    hs, cs = [], []
    for layer in range(p.num_layers):
        sl = slice(layer * dirs, (layer + 1) * dirs)
        x, h_t, c_t = _layer(p, x, w, layer, dirs, hx[sl], cx[sl] if cx is not None else None,
                             seq_len)
        hs.append(h_t)
        cs.append(c_t)
        if ctx.is_train and p.p > 0 and layer < p.num_layers - 1:
            keep = jax.random.bernoulli(jax.random.fold_in(ctx.key, layer), 1.0 - p.p, x.shape)
            x = x * keep.astype(x.dtype) / jnp.asarray(1.0 - p.p, x.dtype)
    outs = [x]
    if p.state_outputs:
        outs.append(jnp.concatenate(hs, axis=0))
        if p.mode == "lstm":
            outs.append(jnp.concatenate(cs, axis=0))
    return outs, []
