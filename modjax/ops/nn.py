"""Dense layers and normalisation: FullyConnected, BatchNorm."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .params import Param, Params, p_bool, p_float, p_float_or_none, p_int
from .registry import OpCtx, merge_shape, register


def _fc_infer_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    data = ins[0]
    nh = p.num_hidden
    if data is not None and len(data) > 0:
        if p.flatten:
            rest = int(np.prod(data[1:], dtype=np.int64)) if all(data[1:]) else 0
            ins[1] = merge_shape(ins[1], (nh, rest), "FullyConnected weight")
            outs[0] = merge_shape(outs[0], (data[0], nh), "FullyConnected output")
        else:
            ins[1] = merge_shape(ins[1], (nh, data[-1]), "FullyConnected weight")
            outs[0] = merge_shape(outs[0], tuple(data[:-1]) + (nh,), "FullyConnected output")
    if not p.no_bias:
        ins[2] = merge_shape(ins[2], (nh,), "FullyConnected bias")
    if p.flatten and outs[0] is not None and len(outs[0]) == 2 and data is not None and len(data):
        ins[0] = merge_shape(ins[0], (outs[0][0],) + tuple(data[1:]), "FullyConnected data")
    elif p.flatten and outs[0] is not None and len(outs[0]) == 2 and (data is None or not len(data)):
        pass
    return ins, outs


@register("FullyConnected",
          params=[Param("num_hidden", p_int), Param("no_bias", p_bool, False),
                  Param("flatten", p_bool, True)],
          arguments=lambda p: ["data", "weight"] if p.no_bias else ["data", "weight", "bias"],
          infer_shape=_fc_infer_shape)
def fully_connected(p: Params, data: jax.Array, weight: jax.Array, bias: jax.Array | None = None):
    """y = x·Wᵀ + b; x (N, ...) is flattened to (N, K) unless flatten=False. W (num_hidden, K)."""
    x = data.reshape(data.shape[0], -1) if p.flatten else data
    y = jnp.matmul(x, weight.T, precision=jax.lax.Precision.HIGHEST)
    return y + bias if bias is not None else y


def _bn_infer_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    data = ins[0]
    if data is not None and len(data) > 0:
        c = data[p.axis % len(data)]
        for i in range(1, 5):
            ins[i] = merge_shape(ins[i], (c,), "BatchNorm parameter")
        outs[0] = merge_shape(outs[0], tuple(data), "BatchNorm output")
        if len(outs) == 3:
            outs[1] = merge_shape(outs[1], (c,), "BatchNorm mean")
            outs[2] = merge_shape(outs[2], (c,), "BatchNorm var")
    elif outs[0] is not None and len(outs[0]):
        ins[0] = merge_shape(ins[0], outs[0], "BatchNorm data")
    return ins, outs


def _bn_on_compose(p: Params, arg: str, attrs: dict) -> None:
    if arg == "moving_mean":
        attrs.setdefault("__init__", '["zero", {}]')
    elif arg == "moving_var":
        attrs.setdefault("__init__", '["one", {}]')


@register("BatchNorm", simple=False,
          params=[Param("eps", p_float, 1e-3), Param("momentum", p_float, 0.9),
                  Param("fix_gamma", p_bool, True), Param("use_global_stats", p_bool, False),
                  Param("output_mean_var", p_bool, False), Param("axis", p_int, 1),
                  Param("cudnn_off", p_bool, False), Param("min_calib_range", p_float_or_none, None),
                  Param("max_calib_range", p_float_or_none, None)],
          arguments=("data", "gamma", "beta"), aux=("moving_mean", "moving_var"),
          outputs=lambda p: ["output", "mean", "var"] if p.output_mean_var else ["output"],
          hidden_outputs=lambda p: 0 if p.output_mean_var else 2,
          infer_shape=_bn_infer_shape, on_compose=_bn_on_compose,
          rewrites_args=lambda p: {"gamma": jnp.ones_like} if p.fix_gamma else {})
def batch_norm(p: Params, inputs: list, aux: list, ctx: OpCtx):
    """MXNet BatchNorm. Training: batch mean and biased variance; moving stats are returned as
    new aux (``m·momentum + stat·(1-momentum)``). Outputs mean and invstd = 1/sqrt(var+eps)."""
    data, gamma, beta = inputs
    moving_mean, moving_var = aux
    axis = p.axis % data.ndim
    red = tuple(i for i in range(data.ndim) if i != axis)
    bshape = [1] * data.ndim
    bshape[axis] = data.shape[axis]
    eps = np.float32(p.eps)  # MXNet stores eps as float32 (1e-3 -> 0.0010000000474974513)
    w = jnp.ones_like(gamma) if p.fix_gamma else gamma
    if ctx.is_train and not p.use_global_stats:
        x32 = data.astype(jnp.float32)
        mean = jnp.mean(x32, axis=red)
        var = jnp.mean(jnp.square(x32 - mean.reshape(bshape)), axis=red)
        invstd = jax.lax.rsqrt(var + eps)
        mom = np.float32(p.momentum)
        # the variance recovered from invstd, as MXNet's backward does
        var_rec = 1.0 / jnp.square(invstd) - eps
        new_aux = [jax.lax.stop_gradient(moving_mean * mom + mean * (1 - mom)).astype(moving_mean.dtype),
                   jax.lax.stop_gradient(moving_var * mom + var_rec * (1 - mom)).astype(moving_var.dtype)]
    else:
        mean, invstd = moving_mean, jax.lax.rsqrt(moving_var + eps)
        new_aux = [moving_mean, moving_var]
    y = (data - mean.reshape(bshape)) * (invstd * w).reshape(bshape) + beta.reshape(bshape)
    outs = [y.astype(data.dtype)]
    if p.output_mean_var:
        outs += [mean, invstd]
    return outs, new_aux
