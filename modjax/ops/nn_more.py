"""More neural-network layers: Deconvolution, LeakyReLU (leaky, prelu, rrelu, elu, selu, gelu),
InstanceNorm, LayerNorm, GroupNorm, L2Normalization, UpSampling and SoftmaxActivation."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..base import ShapeError
from .elemwise import custom_unary
from .params import Param, Params, p_bool, p_enum, p_float, p_int, p_shape
from .registry import OpCtx, merge_shape, register

_LAYOUTS = (None, "NCDHW", "NCHW", "NCW", "NDHWC", "NHWC")


def _has_ndim(s: Any) -> bool:
    return s is not None and len(s) > 0


# -- Deconvolution -----------------------------------------------------------------------------
def _deconv_geometry(p: Params, spatial: tuple) -> tuple[tuple, tuple, tuple, tuple]:
    """(stride, dilate, pad, adj) per spatial dim; a non-zero target_shape recomputes pad and
    adj as MXNet does: total = s(x-1) + d(k-1)+1 - target, adj = total % 2, pad = (total+1)//2."""
    nd = len(p.kernel)
    stride = tuple(p.stride) or (1,) * nd
    dilate = tuple(p.dilate) or (1,) * nd
    pad = tuple(p.pad) or (0,) * nd
    adj = tuple(p.adj) or (0,) * nd
    target = tuple(p.target_shape)
    if target and any(target):
        pads, adjs = [], []
        for i in range(nd):
            total = stride[i] * (spatial[i] - 1) + dilate[i] * (p.kernel[i] - 1) + 1
            if total < target[i]:
                raise ShapeError(f"Deconvolution: target_shape {target} is too big for input "
                                 f"{tuple(spatial)}")
            total -= target[i]
            adjs.append(total % 2)
            pads.append((total + 1) // 2)
        pad, adj = tuple(pads), tuple(adjs)
    elif any(a >= s for a, s in zip(adj, stride)):
        raise ShapeError(f"Deconvolution: adj {adj} must be smaller than stride {stride}")
    return stride, dilate, pad, adj


def _deconv_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    data = ins[0]
    nd = len(p.kernel)
    if not 1 <= nd <= 3:
        raise ShapeError(f"Deconvolution: kernel must have 1 to 3 dims, got {p.kernel}")
    layout = p.layout or {1: "NCW", 2: "NCHW", 3: "NCDHW"}[nd]
    if _has_ndim(data):
        if len(data) != nd + 2:
            raise ShapeError(f"Deconvolution: data {tuple(data)} does not fit kernel {p.kernel}")
        cin = data[layout.index("C")]
        if cin and p.num_filter % p.num_group:
            raise ShapeError("Deconvolution: num_filter must be a multiple of num_group")
        w = (cin, p.num_filter // p.num_group) + tuple(p.kernel)
        if layout[1] != "C":
            w = (cin,) + tuple(p.kernel) + (p.num_filter // p.num_group,)
        ins[1] = merge_shape(ins[1], w, "Deconvolution weight")
    if not p.no_bias:
        ins[2] = merge_shape(ins[2], (p.num_filter,), "Deconvolution bias")
    return ins, outs


@register("Deconvolution", infer_shape=_deconv_shape,
          params=[Param("kernel", p_shape), Param("stride", p_shape, ()), Param("dilate", p_shape, ()),
                  Param("pad", p_shape, ()), Param("adj", p_shape, ()),
                  Param("target_shape", p_shape, ()), Param("num_filter", p_int),
                  Param("num_group", p_int, 1), Param("workspace", p_int, 512),
                  Param("no_bias", p_bool, True),
                  Param("cudnn_tune", p_enum(None, "fastest", "limited_workspace", "off"), None),
                  Param("cudnn_off", p_bool, False), Param("layout", p_enum(*_LAYOUTS), None)],
          arguments=lambda p: ["data", "weight"] if p.no_bias else ["data", "weight", "bias"])
def deconvolution(p: Params, data: jax.Array, weight: jax.Array, bias: jax.Array | None = None):
    """Transposed convolution (the input gradient of Convolution). data (N, C, *x), weight
    (C, F/g, *k), bias (F,) -> (N, F, *y), y = s(x-1) + d(k-1)+1 - 2p + adj."""
    nd = len(p.kernel)
    layout = p.layout or {1: "NCW", 2: "NCHW", 3: "NCDHW"}[nd]
    channels_last = layout[-1] == "C"
    x = jnp.moveaxis(data, -1, 1) if channels_last else data
    w = jnp.moveaxis(weight, -1, 1) if channels_last else weight
    stride, dilate, pad, adj = _deconv_geometry(p, tuple(x.shape[2:]))
    g, cin, fpg = p.num_group, x.shape[1], w.shape[1]
    k = tuple(w.shape[2:])
    # (C, F/g, *k) -> (F, C/g, *k), flipped: a convolution over the stride-dilated input
    w = w.reshape((g, cin // g, fpg) + k).swapaxes(1, 2).reshape((g * fpg, cin // g) + k)
    w = jnp.flip(w, axis=tuple(range(2, 2 + nd)))
    padding = [(d * (ki - 1) - pi, d * (ki - 1) - pi + a)
               for d, ki, pi, a in zip(dilate, k, pad, adj)]
    spatial = "DHW"[3 - nd:]
    dn = jax.lax.conv_dimension_numbers(x.shape, w.shape, ("NC" + spatial, "OI" + spatial,
                                                           "NC" + spatial))
    y = jax.lax.conv_general_dilated(x, w, (1,) * nd, padding, lhs_dilation=stride,
                                     rhs_dilation=dilate, dimension_numbers=dn,
                                     feature_group_count=g, precision=jax.lax.Precision.HIGHEST)
    if bias is not None:
        y = y + bias.reshape((1, -1) + (1,) * nd)
    return jnp.moveaxis(y, 1, -1) if channels_last else y


# -- LeakyReLU ---------------------------------------------------------------------------------
_SELU_LAMBDA = np.float32(1.0507009873554805)
_SELU_ALPHA = np.float32(1.6732632423543772)


def _leaky_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    data = ins[0]
    if not _has_ndim(data) and _has_ndim(outs[0]):
        data = ins[0] = merge_shape(ins[0], outs[0], "LeakyReLU data")
    if _has_ndim(data):
        if p.act_type == "prelu" and not _has_ndim(ins[1]):
            ins[1] = (data[1] if len(data) > 1 else 1,)
        for i in range(len(outs)):
            outs[i] = merge_shape(outs[i], tuple(data), "LeakyReLU output")
    return ins, outs


def _leaky_on_compose(p: Params, arg: str, attrs: dict) -> None:
    if arg == "gamma" and p.act_type == "prelu":
        attrs.setdefault("__init__", '["Constant", {"value": 0.25}]')


def _xelu(slope: Any):
    """x > 0 ? x : slope·x whose gradient is (x > 0 ? 1 : slope) (so slope at 0, and for a
    negative slope also where the output is positive)."""
    return custom_unary(lambda x: jnp.where(x > 0, x, x * slope).astype(x.dtype),
                        lambda x, y, g: g * jnp.where(x > 0, 1, slope).astype(g.dtype))


def _elu(slope: Any):
    return custom_unary(lambda x: jnp.where(x > 0, x, slope * jnp.expm1(x)).astype(x.dtype),
                        lambda x, y, g: g * jnp.where(y > 0, 1, y + slope).astype(g.dtype))


# the true derivative, from the output: λ for x > 0, else y + λα (MXNet 1.9.1 computes λ(y + α))
_selu = custom_unary(
    lambda x: (_SELU_LAMBDA * jnp.where(x > 0, x, _SELU_ALPHA * jnp.expm1(x))).astype(x.dtype),
    lambda x, y, g: g * jnp.where(y > 0, _SELU_LAMBDA, y + _SELU_LAMBDA * _SELU_ALPHA).astype(g.dtype))


def _rrelu_train(x: jax.Array, mask: jax.Array) -> jax.Array:
    @jax.custom_vjp
    def op(v, m):
        return jnp.where(v > 0, v, v * m)

    def fwd(v, m):
        y = op(v, m)
        return y, (y, m)

    op.defvjp(fwd, lambda res, g: (g * jnp.where(res[0] > 0, 1, res[1]).astype(g.dtype),
                                   jnp.zeros_like(res[1])))
    return op(x, mask)


@register("LeakyReLU", needs_key=True, infer_shape=_leaky_shape, on_compose=_leaky_on_compose,
          params=[Param("act_type", p_enum("elu", "gelu", "leaky", "prelu", "rrelu", "selu"), "leaky"),
                  Param("slope", p_float, 0.25), Param("lower_bound", p_float, 0.125),
                  Param("upper_bound", p_float, 0.334)],
          arguments=lambda p: ["data", "gamma"] if p.act_type == "prelu" else ["data"],
          outputs=lambda p: ["output", "mask"] if p.act_type == "rrelu" else ["output"])
def leaky_relu(p: Params, data: jax.Array, gamma: jax.Array | None = None, *, ctx: OpCtx):
    """leaky: x>0 ? x : slope·x; prelu: gamma (C,) per channel; elu: slope·(eˣ-1) below 0
    (slope default 0.25); selu; gelu (exact, erf); rrelu: a random slope in [lower, upper] per
    element while training (returned as the ``mask`` output), (lower+upper)/2 otherwise."""
    act = p.act_type
    slope = np.float32(p.slope)
    if act == "leaky":
        return _xelu(slope)(data)
    if act == "prelu":
        g = gamma.reshape(()) if gamma.size == 1 else gamma.reshape(_bshape(data.ndim, 1, -1))
        return jnp.where(data > 0, data, data * g.astype(data.dtype))
    if act == "elu":
        return _elu(slope)(data)
    if act == "selu":
        return _selu(data)
    if act == "gelu":
        return (0.5 * data * (1 + jax.lax.erf(data / np.float32(np.sqrt(2))))).astype(data.dtype)
    lo, hi = np.float32(p.lower_bound), np.float32(p.upper_bound)
    if ctx.is_train and ctx.key is not None:
        u = jax.random.uniform(ctx.key, data.shape, jnp.float32)
        mask = (u * (hi - lo) + lo).astype(data.dtype)
        return _rrelu_train(data, mask), jax.lax.stop_gradient(mask)
    # inference: the mean slope; MXNet leaves the mask output unwritten (zeros)
    return _xelu((lo + hi) / np.float32(2))(data), jnp.zeros_like(data)


# -- InstanceNorm, LayerNorm, GroupNorm --------------------------------------------------------
def _norm_param_shape(name: str, size_of):
    def rule(p: Params, ins: list, outs: list) -> tuple[list, list]:
        data = ins[0]
        if not _has_ndim(data) and _has_ndim(outs[0]):
            data = ins[0] = merge_shape(ins[0], outs[0], f"{name} data")
        if _has_ndim(data):
            size = size_of(p, data)
            ins[1] = merge_shape(ins[1], (size,), f"{name} gamma")
            ins[2] = merge_shape(ins[2], (size,), f"{name} beta")
            outs[0] = merge_shape(outs[0], tuple(data), f"{name} output")
        return ins, outs
    return rule


def _bshape(ndim: int, axis: int, size: int) -> list:
    shape = [1] * ndim
    shape[axis] = size
    return shape


@register("InstanceNorm", hidden_outputs=2, arguments=("data", "gamma", "beta"),
          infer_shape=_norm_param_shape("InstanceNorm", lambda p, d: d[1]),
          params=[Param("eps", p_float, 1e-3)])
def instance_norm(p: Params, data: jax.Array, gamma: jax.Array, beta: jax.Array) -> jax.Array:
    """Per (n, c): (x - mean)/sqrt(var + eps)·gamma[c] + beta[c] over the spatial dims
    (biased variance). data (N, C, ...), gamma/beta (C,). mean/var outputs are hidden."""
    red = tuple(range(2, data.ndim))
    mean = jnp.mean(data, axis=red, keepdims=True)
    var = jnp.mean(jnp.square(data - mean), axis=red, keepdims=True)
    b = _bshape(data.ndim, 1, -1)
    y = (data - mean) / jnp.sqrt(var + np.float32(p.eps))
    return y * gamma.reshape(b) + beta.reshape(b)


def _mean_std_outputs(p: Params) -> list[str]:
    return ["output", "mean", "std"] if p.output_mean_var else ["output"]


@register("LayerNorm", arguments=("data", "gamma", "beta"), outputs=_mean_std_outputs,
          hidden_outputs=lambda p: 0 if p.output_mean_var else 2,
          infer_shape=_norm_param_shape("LayerNorm", lambda p, d: d[p.axis % len(d)]),
          params=[Param("axis", p_int, -1), Param("eps", p_float, 1e-5),
                  Param("output_mean_var", p_bool, False)])
def layer_norm(p: Params, data: jax.Array, gamma: jax.Array, beta: jax.Array):
    """(x - mean)/std·gamma + beta along ``axis``, std = sqrt(var + eps); gamma/beta
    (data.shape[axis],). With output_mean_var also mean and std (the axis kept as size 1)."""
    axis = p.axis % data.ndim
    mean = jnp.mean(data, axis=axis, keepdims=True)
    std = jnp.sqrt(jnp.mean(jnp.square(data - mean), axis=axis, keepdims=True) + np.float32(p.eps))
    b = _bshape(data.ndim, axis, -1)
    y = (data - mean) / std * gamma.reshape(b) + beta.reshape(b)
    # like BatchNorm's, the backward ignores the head gradients of mean and std
    sg = jax.lax.stop_gradient
    return [y, sg(mean), sg(std)] if p.output_mean_var else y


@register("GroupNorm", arguments=("data", "gamma", "beta"), outputs=_mean_std_outputs,
          hidden_outputs=lambda p: 0 if p.output_mean_var else 2,
          infer_shape=_norm_param_shape("GroupNorm", lambda p, d: p.num_groups),
          params=[Param("num_groups", p_int, 1), Param("eps", p_float, 1e-5),
                  Param("output_mean_var", p_bool, False)])
def group_norm(p: Params, data: jax.Array, gamma: jax.Array, beta: jax.Array):
    """Normalise each of num_groups channel groups of (N, C, ...) over its channels and spatial
    dims; gamma/beta have shape (num_groups,) (MXNet 1.9.1). mean/std outputs (N, G)."""
    n, c, g = data.shape[0], data.shape[1], p.num_groups
    if c % g:
        raise ShapeError(f"GroupNorm: {c} channels do not split into {g} groups")
    x = data.reshape((n, g, -1))
    mean = jnp.mean(x, axis=2, keepdims=True)
    std = jnp.sqrt(jnp.mean(jnp.square(x - mean), axis=2, keepdims=True) + np.float32(p.eps))
    y = (x - mean) / std * gamma.reshape(1, g, 1) + beta.reshape(1, g, 1)
    y = y.reshape(data.shape)
    sg = jax.lax.stop_gradient
    return [y, sg(mean[..., 0]), sg(std[..., 0])] if p.output_mean_var else y


# -- L2Normalization ---------------------------------------------------------------------------
@register("L2Normalization", hidden_outputs=1,
          params=[Param("eps", p_float, 1e-10),
                  Param("mode", p_enum("channel", "instance", "spatial"), "instance")])
def l2_normalization(p: Params, data: jax.Array) -> jax.Array:
    """x / sqrt(Σx² + eps), summed over all axes but 0 (instance), axis 1 (channel) or the
    axes from 2 (spatial). The norm output is hidden."""
    if p.mode == "instance":
        red = tuple(range(1, data.ndim))
    else:
        if data.ndim < 3:
            raise ShapeError(f"L2Normalization: mode '{p.mode}' needs data of 3 or more dims, got "
                             f"{tuple(data.shape)}")
        red = (1,) if p.mode == "channel" else tuple(range(2, data.ndim))
    norm = jnp.sqrt(jnp.sum(jnp.square(data), axis=red, keepdims=True) + np.float32(p.eps))
    return data / norm


# -- UpSampling --------------------------------------------------------------------------------
def _bilinear_kernel(scale: int) -> tuple[int, int, int]:
    """(kernel, stride, pad) of the Deconvolution that bilinear UpSampling is."""
    return 2 * scale - scale % 2, scale, int(np.ceil((scale - 1) / 2.0))


def _upsampling_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    if p.sample_type == "bilinear":
        data = ins[0]
        k = _bilinear_kernel(p.scale)[0]
        ins[1] = merge_shape(ins[1], (p.num_filter, 1, k, k), "UpSampling weight")
        if _has_ndim(data) and data[1] and data[1] != p.num_filter:
            raise ShapeError(f"UpSampling(bilinear): data has {data[1]} channels, num_filter is "
                             f"{p.num_filter}")
        return ins, outs
    if all(_has_ndim(s) and all(s) for s in ins):
        oh, ow = ins[0][2] * p.scale, ins[0][3] * p.scale
        for s in ins[1:]:
            if oh % s[2] or ow % s[3]:
                raise ShapeError(f"UpSampling(nearest): input {tuple(s)} does not divide the output "
                                 f"size ({oh}, {ow})")
    return ins, outs


def _upsampling_on_compose(p: Params, arg: str, attrs: dict) -> None:
    """MXNet hints the bilinear init for input 1, whatever the sample type (a nearest
    UpSampling's second image too)."""
    if arg in ("weight", "arg1"):
        attrs.setdefault("__init__", '["bilinear", {}]')


@register("UpSampling", varargs="num_args", infer_shape=_upsampling_shape,
          on_compose=_upsampling_on_compose,
          params=[Param("scale", p_int), Param("num_filter", p_int, 0),
                  Param("sample_type", p_enum("bilinear", "nearest")),
                  Param("multi_input_mode", p_enum("concat", "sum"), "concat"),
                  Param("num_args", p_int), Param("workspace", p_int, 512)],
          arguments=lambda p: ["data", "weight"] if p.sample_type == "bilinear" else ["data"])
def upsampling(p: Params, *inputs: jax.Array) -> jax.Array:
    """nearest: each (N, C_i, h_i, w_i) repeated to (scale·h_0, scale·w_0), then concatenated
    along channels or summed. bilinear: a Deconvolution of data (N, C, h, w) with the learnable
    weight (C, 1, 2s - s%2, 2s - s%2), stride s, pad ceil((s-1)/2), C groups (num_filter = C)."""
    if p.sample_type == "bilinear":
        k, s, pad = _bilinear_kernel(p.scale)
        dp = Params(kernel=(k, k), stride=(s, s), dilate=(1, 1), pad=(pad, pad), adj=(), target_shape=(),
                    num_filter=p.num_filter, num_group=p.num_filter, no_bias=True, layout=None)
        return deconvolution(dp, inputs[0], inputs[1])
    oh, ow = inputs[0].shape[2] * p.scale, inputs[0].shape[3] * p.scale
    ups = [jnp.repeat(jnp.repeat(x, oh // x.shape[2], axis=2), ow // x.shape[3], axis=3)
           for x in inputs]
    if len(ups) == 1:
        return ups[0]
    if p.multi_input_mode == "sum":
        out = ups[0]
        for u in ups[1:]:
            out = out + u
        return out
    return jnp.concatenate(ups, axis=1)


# -- SoftmaxActivation -------------------------------------------------------------------------
@register("SoftmaxActivation", elementwise=True,
          params=[Param("mode", p_enum("channel", "instance"), "instance")])
def softmax_activation(p: Params, data: jax.Array) -> jax.Array:
    """Softmax over the last axis (instance) or axis 1 (channel); the gradient, y·(g - Σgy),
    uses the head gradient. (MXNet 1.9.1 sums the instance-mode gradient over axis 1 for data of
    3 or more dims, which is not the forward's derivative: docs/differences.md.)"""
    return jax.nn.softmax(data, axis=1 if p.mode == "channel" else -1)
