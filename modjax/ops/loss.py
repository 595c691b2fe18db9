"""Loss heads with MXNet's own gradient rules (the head gradient is ignored)."""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .params import Param, Params, p_bool, p_enum, p_float
from .registry import merge_shape, register


def loss_head(forward, grad):
    """An op ``forward(p, data, label) -> out`` whose data gradient is ``grad(p, data, label, out)``,
    with the head gradient ignored and a zero label gradient, as MXNet's loss layers do."""
    @partial(jax.custom_vjp, nondiff_argnums=(0,))
    def op(p, data, label):
        return forward(p, data, label)

    def fwd(p, data, label):
        out = forward(p, data, label)
        return out, (data, label, out)

    def bwd(p, res, _head_grad):
        data, label, out = res
        return grad(p, data, label, out).astype(data.dtype), jnp.zeros_like(label)

    op.defvjp(fwd, bwd)
    return op


def _softmax_output_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    data, label = ins
    if data is not None and len(data) and all(data):
        outs[0] = merge_shape(outs[0], tuple(data), "SoftmaxOutput output")
        if label is None or not len(label):
            if p.multi_output:
                ins[1] = (data[0],) + tuple(data[2:])
            else:
                ins[1] = tuple(data[:-1])
        elif p.multi_output:
            n, spatial = data[0], int(np.prod(data[2:], dtype=np.int64))
            ok = (tuple(label) in ((n, spatial), (n,) + tuple(data[2:]),
                                   (n, 1) + tuple(data[2:]), tuple(data)))
            if not ok:
                from ..base import ShapeError
                raise ShapeError(f"SoftmaxOutput(multi_output): label shape {tuple(label)} does not "
                                 f"fit data shape {tuple(data)}; expected {(n, spatial)}")
        elif tuple(label) != tuple(data):
            ins[1] = merge_shape(label, tuple(data[:-1]), "SoftmaxOutput label")
    elif outs[0] is not None and len(outs[0]):
        ins[0] = merge_shape(data, outs[0], "SoftmaxOutput data")
    return ins, outs


def _softmax_view(p: Params, data: jax.Array) -> tuple[jax.Array, int]:
    """The array and axis MXNet takes the softmax over."""
    if p.multi_output:
        return data.reshape(data.shape[0], data.shape[1], -1), 1
    if p.preserve_shape:
        return data, data.ndim - 1
    return data.reshape(data.shape[0], -1), 1


def _softmax_output_forward(p: Params, data: jax.Array, label: jax.Array) -> jax.Array:
    x, axis = _softmax_view(p, data)
    return jax.nn.softmax(x, axis=axis).reshape(data.shape)


def _softmax_output_grad(p: Params, data: jax.Array, label: jax.Array, out: jax.Array) -> jax.Array:
    prob, axis = _softmax_view(p, out)
    if tuple(label.shape) == tuple(data.shape):  # a probability target: no normalisation
        return (out - label) * p.grad_scale
    k = prob.shape[axis]
    if p.multi_output:
        lab = label.reshape(prob.shape[0], -1)
    elif p.preserve_shape:
        lab = label.reshape(prob.shape[:-1])
    else:
        lab = label.reshape(-1)[: prob.shape[0]]
    lab_i = jnp.trunc(lab).astype(jnp.int32)
    onehot = jax.nn.one_hot(lab_i, k, axis=axis, dtype=prob.dtype)  # out-of-range -> zero row
    if p.smooth_alpha:
        a = np.float32(p.smooth_alpha)
        target = onehot * (1 - a) + (1 - onehot) * (a / (k - 1))
        # rows with an out-of-range label keep only the smoothing of the other entries
        g = prob - target
    else:
        g = prob - onehot
    valid = lab != p.ignore_label
    if p.use_ignore:
        g = g * jnp.expand_dims(valid, axis).astype(g.dtype)
    spatial = int(np.prod(prob.shape[2:], dtype=np.int64)) if p.multi_output else 1
    if p.normalization == "null":
        norm = jnp.float32(spatial)
    elif p.normalization == "batch":
        norm = jnp.float32(lab.size * spatial if p.multi_output else lab.size)
    else:
        norm = jnp.maximum(jnp.sum(valid).astype(jnp.float32), 1.0)
    if p.out_grad:  # MXNet 1.9.1 multiplies by the softmax output itself (see differences.md)
        g = g * prob
    return (g * (p.grad_scale / norm)).reshape(data.shape)


_softmax_output = loss_head(_softmax_output_forward, _softmax_output_grad)


@register("SoftmaxOutput", aliases=("Softmax",), arguments=("data", "label"),
          params=[Param("grad_scale", p_float, 1.0), Param("ignore_label", p_float, -1.0),
                  Param("multi_output", p_bool, False), Param("use_ignore", p_bool, False),
                  Param("preserve_shape", p_bool, False),
                  Param("normalization", p_enum("null", "batch", "valid"), "null"),
                  Param("out_grad", p_bool, False), Param("smooth_alpha", p_float, 0.0)],
          infer_shape=_softmax_output_shape, loss=True)
def softmax_output(p: Params, data: jax.Array, label: jax.Array) -> jax.Array:
    """Softmax forward; backward is (p - onehot(label))·grad_scale/norm (head gradient ignored)."""
    return _softmax_output(p, data, label)
