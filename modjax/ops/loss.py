"""Loss heads with MXNet's own gradient rules (the head gradient is ignored): SoftmaxOutput, the
regression outputs, MakeLoss, make_loss, BlockGrad; and the softmax family (softmax,
log_softmax, softmin), whose gradients do use the head gradient."""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .elemwise import custom_unary, sigmoid
from .params import Param, Params, p_bool, p_bool_or_none, p_enum, p_float, p_float_or_none, p_int
from .registry import merge_shape, register


def loss_head(forward, grad, uses_head=None):
    """An op ``forward(p, data, label) -> out`` whose data gradient is ``grad(p, data, label, out)``,
    with the head gradient ignored and a zero label gradient, as MXNet's loss layers do. Where
    ``uses_head(p)`` is true the rule is ``grad(p, data, label, out, head_grad)`` instead."""
    @partial(jax.custom_vjp, nondiff_argnums=(0,))
    def op(p, data, label):
        return forward(p, data, label)

    def fwd(p, data, label):
        out = forward(p, data, label)
        return out, (data, label, out)

    def bwd(p, res, head_grad):
        data, label, out = res
        g = (grad(p, data, label, out, head_grad) if uses_head is not None and uses_head(p)
             else grad(p, data, label, out))
        return g.astype(data.dtype), _zero_cotangent(label)

    op.defvjp(fwd, bwd)
    return op


def _zero_cotangent(x: jax.Array) -> jax.Array:
    """A zero gradient for ``x`` (float0 for integer arrays, as jax requires)."""
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return jnp.zeros_like(x)
    return np.zeros(x.shape, jax.dtypes.float0)


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


def _minus_onehot(prob: jax.Array, lab_i: jax.Array, axis: int) -> jax.Array:
    """``prob - one_hot(lab_i)`` along ``axis``; an out-of-range label subtracts nothing.
    prob: (N, K) or (N, K, S) with axis 1, or (..., K) with the last axis; lab_i: prob without
    ``axis``. A (N, K) prob takes a scatter, which XLA:CPU schedules better than a one-hot."""
    k = prob.shape[axis]
    if prob.ndim == 2 and axis == 1:
        rows = jnp.arange(prob.shape[0])
        safe = jnp.where((lab_i >= 0) & (lab_i < k), lab_i, k)  # k: dropped (negatives would wrap)
        return prob.at[rows, safe].add(-1.0, mode="drop")
    return prob - jax.nn.one_hot(lab_i, k, axis=axis, dtype=prob.dtype)


def _softmax_output_grad(p: Params, data: jax.Array, label: jax.Array, out: jax.Array,
                         head_grad: jax.Array | None = None) -> jax.Array:
    prob, axis = _softmax_view(p, out)
    if tuple(label.shape) == tuple(data.shape):  # a probability target: no normalisation
        g = out - label
        return (g * head_grad if head_grad is not None else g) * p.grad_scale
    k = prob.shape[axis]
    if p.multi_output:
        lab = label.reshape(prob.shape[0], -1)
    elif p.preserve_shape:
        lab = label.reshape(prob.shape[:-1])
    else:
        lab = label.reshape(-1)[: prob.shape[0]]
    lab_i = jnp.trunc(lab).astype(jnp.int32)
    if p.smooth_alpha:
        onehot = jax.nn.one_hot(lab_i, k, axis=axis, dtype=prob.dtype)  # out-of-range -> zero row
        a = np.float32(p.smooth_alpha)
        target = onehot * (1 - a) + (1 - onehot) * (a / (k - 1))
        # rows with an out-of-range label keep only the smoothing of the other entries
        g = prob - target
    else:
        g = _minus_onehot(prob, lab_i, axis)
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
    if head_grad is not None:  # out_grad=True: times the head gradient (MXNet 1.9.1 multiplies
        g = g * head_grad.reshape(g.shape)  # by the softmax output instead; see differences.md)
    return (g * (p.grad_scale / norm)).reshape(data.shape)


_softmax_output = loss_head(_softmax_output_forward, _softmax_output_grad,
                            uses_head=lambda p: p.out_grad)


@register("SoftmaxOutput", aliases=("Softmax",), arguments=("data", "label"),
          params=[Param("grad_scale", p_float, 1.0), Param("ignore_label", p_float, -1.0),
                  Param("multi_output", p_bool, False), Param("use_ignore", p_bool, False),
                  Param("preserve_shape", p_bool, False),
                  Param("normalization", p_enum("null", "batch", "valid"), "null"),
                  Param("out_grad", p_bool, False), Param("smooth_alpha", p_float, 0.0)],
          infer_shape=_softmax_output_shape, loss=lambda p: not p.out_grad)
def softmax_output(p: Params, data: jax.Array, label: jax.Array) -> jax.Array:
    """Softmax forward; backward is (p - onehot(label))·grad_scale/norm (head gradient ignored;
    with out_grad=True multiplied by it)."""
    return _softmax_output(p, data, label)


def loss_head1(forward, grad):
    """A one-input loss op: ``forward(p, data) -> out``, data gradient ``grad(p, data, out)``;
    the head gradient is ignored."""
    @partial(jax.custom_vjp, nondiff_argnums=(0,))
    def op(p, data):
        return forward(p, data)

    def fwd(p, data):
        out = forward(p, data)
        return out, (data, out)

    def bwd(p, res, _head_grad):
        data, out = res
        return (jnp.broadcast_to(grad(p, data, out), data.shape).astype(data.dtype),)

    op.defvjp(fwd, bwd)
    return op


# -- regression outputs ------------------------------------------------------------------------
def _regression_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    data, label = ins
    if data is None or not len(data) or not all(data):
        if outs[0] is not None and len(outs[0]):
            ins[0] = merge_shape(data, outs[0], "regression data")
        return ins, outs
    if label is None or not len(label):
        ins[1] = (data[0],) if len(data) == 2 and data[1] == 1 else tuple(data)
    elif all(label) and (label[0] != data[0] or np.prod(label) != np.prod(data)):
        from ..base import ShapeError
        raise ShapeError(f"Shape inconsistent, Provided={tuple(label)}, inferred shape={tuple(data)}")
    outs[0] = merge_shape(outs[0], tuple(data), "regression output")
    return ins, outs


def _regression(name: str, transform, diff, doc: str) -> None:
    def forward(p: Params, data, label):
        return transform(data)

    def grad(p: Params, data, label, out):
        num_output = np.float32(label.size // label.shape[0])
        scale = np.float32(p.grad_scale) / num_output
        return diff(out, label.reshape(out.shape)) * scale

    head = loss_head(forward, grad)

    def impl(p: Params, data, label):
        return head(p, data, label)
    impl.__doc__ = doc
    register(name, arguments=("data", "label"), params=[Param("grad_scale", p_float, 1.0)],
             infer_shape=_regression_shape, loss=True)(impl)


_regression("LinearRegressionOutput", lambda x: x, lambda out, lab: out - lab,
            "Identity; gradient (out - label)·grad_scale/m, m = outputs per example.")
_regression("MAERegressionOutput", lambda x: x,
            lambda out, lab: jnp.where(out - lab > 0, 1, -1).astype(out.dtype),
            "Identity; gradient sign(out - label)·grad_scale/m (a 0 difference gives -1).")
_regression("LogisticRegressionOutput", sigmoid, lambda out, lab: out - lab,
            "Sigmoid; gradient (out - label)·grad_scale/m.")


# -- MakeLoss, make_loss, BlockGrad --------------------------------------------------------------
def _make_loss_grad(p: Params, data, out):
    scale = jnp.asarray(p.grad_scale, data.dtype)
    if p.normalization == "batch":
        return jnp.broadcast_to(scale / data.shape[0], data.shape)
    if p.normalization == "valid":
        valid = jnp.sum((data > np.float32(p.valid_thresh)).astype(data.dtype))
        return jnp.broadcast_to(scale / jnp.maximum(valid, 1), data.shape)
    return jnp.broadcast_to(scale, data.shape)


_make_loss = loss_head1(lambda p, data: data, _make_loss_grad)


@register("MakeLoss", elementwise=True, loss=True,
          params=[Param("grad_scale", p_float, 1.0), Param("valid_thresh", p_float, 0.0),
                  Param("normalization", p_enum("batch", "null", "valid"), "null")])
def make_loss_op(p: Params, data: jax.Array) -> jax.Array:
    """Identity whose gradient is grad_scale (null), grad_scale/N (batch) or
    grad_scale/max(1, #(data > valid_thresh)) (valid); the head gradient is ignored."""
    return _make_loss(p, data)


_ones_loss = loss_head1(lambda p, data: data, lambda p, data, out: jnp.ones_like(data))


@register("make_loss", elementwise=True, loss=True, outputs=("loss",))
def make_loss(p: Params, data: jax.Array) -> jax.Array:
    """Identity whose gradient is ones (head gradient ignored); output named ``loss``."""
    return _ones_loss(p, data)


@register("BlockGrad", aliases=("stop_gradient",), elementwise=True, loss=True)
def block_grad(p: Params, data: jax.Array) -> jax.Array:
    """Identity with zero gradient."""
    return jax.lax.stop_gradient(data)


# -- softmax, log_softmax, softmin ---------------------------------------------------------------
def _softmax_kernel(kind: str, axis: int, temperature: float | None):
    """softmax / log_softmax / softmin over ``axis`` with MXNet's gradients (using the head
    gradient): softmax y·(g - Σg·y)/T, log_softmax (g - eʸ·Σg)/T."""
    t = None if temperature is None or temperature == 1.0 else temperature

    def fwd(x):
        z = -x if kind == "softmin" else x
        z = z - jax.lax.stop_gradient(jnp.max(z, axis=axis, keepdims=True))
        if t is not None:
            z = z / jnp.asarray(t, x.dtype)
        if kind == "log_softmax":
            return z - jnp.log(jnp.sum(jnp.exp(z), axis=axis, keepdims=True))
        e = jnp.exp(z)
        return e / jnp.sum(e, axis=axis, keepdims=True)

    def grad(x, y, g):
        if kind == "log_softmax":
            d = g - jnp.exp(y) * jnp.sum(g, axis=axis, keepdims=True)
        else:
            d = y * (g - jnp.sum(g * y, axis=axis, keepdims=True))
            if kind == "softmin":
                d = -d
        return d / jnp.asarray(t, x.dtype) if t is not None else d

    return custom_unary(fwd, grad)


def _softmax_impl(kind: str):
    def impl(p: Params, data: jax.Array, length: jax.Array | None = None) -> jax.Array:
        axis = p.axis % data.ndim
        x = data
        if length is not None:  # positions at or beyond length are excluded and output 0
            pos = jnp.arange(data.shape[axis]).reshape([-1 if i == axis else 1 for i in range(data.ndim)])
            valid = pos < jnp.expand_dims(jax.lax.stop_gradient(length), axis).astype(jnp.int32)
            x = jnp.where(valid, data, jnp.asarray(-jnp.inf, data.dtype))
        y = _softmax_kernel(kind, axis, p.temperature)(x)
        if length is not None:
            y = jnp.where(valid, y, jnp.zeros((), y.dtype))
        return y.astype(p.dtype) if p.dtype is not None else y
    impl.__doc__ = (f"{kind} of data/temperature along ``axis`` (max subtracted first); the "
                    "gradient uses the head gradient.")
    return impl


def _softmax_type(p: Params, ins: list, outs: list) -> tuple[list, list]:
    first = ins[0]
    out = np.dtype(p.dtype) if p.dtype is not None else first
    return [first] + list(ins[1:]), [out]


def _softmax_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    if ins[0] is not None and len(ins[0]):
        outs[0] = merge_shape(outs[0], tuple(ins[0]), "softmax output")
    elif outs[0] is not None and len(outs[0]):
        ins[0] = merge_shape(ins[0], tuple(outs[0]), "softmax data")
    if len(ins) > 1 and ins[0] is not None and len(ins[0]) and all(ins[0]):
        axis = p.axis % len(ins[0])
        ins[1] = merge_shape(ins[1], tuple(ins[0][:axis]) + tuple(ins[0][axis + 1:]), "length")
    return ins, outs


_SOFTMAX_PARAMS = [Param("axis", p_int, -1), Param("temperature", p_float_or_none, None),
                   Param("dtype", p_enum(None, "float16", "float32", "float64"), None),
                   Param("use_length", p_bool_or_none, False)]

register("softmax", params=_SOFTMAX_PARAMS, infer_shape=_softmax_shape, infer_type=_softmax_type,
         arguments=lambda p: ["data", "length"] if p.use_length else ["data"])(_softmax_impl("softmax"))
register("log_softmax", params=_SOFTMAX_PARAMS, infer_shape=_softmax_shape,
         infer_type=_softmax_type)(_softmax_impl("log_softmax"))
register("softmin", params=_SOFTMAX_PARAMS, infer_shape=_softmax_shape,
         infer_type=_softmax_type)(_softmax_impl("softmin"))


# -- SVMOutput ---------------------------------------------------------------------------------
def _svm_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    data = ins[0]
    if data is not None and len(data) and all(data):
        ins[1] = merge_shape(ins[1], tuple(data[:-1]) if len(data) > 1 else (data[0],), "SVMOutput label")
        outs[0] = merge_shape(outs[0], tuple(data), "SVMOutput output")
    elif outs[0] is not None and len(outs[0]):
        ins[0] = merge_shape(data, outs[0], "SVMOutput data")
    return ins, outs


def _svm_grad(p: Params, data: jax.Array, label: jax.Array, out: jax.Array) -> jax.Array:
    x = data.reshape(-1, data.shape[-1])
    lab = jnp.trunc(label.reshape(-1)[: x.shape[0]]).astype(jnp.int32)
    target = jax.nn.one_hot(lab, x.shape[1], dtype=jnp.bool_)  # out-of-range -> no target entry
    m, reg = np.float32(p.margin), np.float32(p.regularization_coefficient)
    xk = x
    if p.use_linear:
        g = jnp.where(target, -(m > xk).astype(x.dtype), (m > -xk).astype(x.dtype))
    else:
        g = jnp.where(target, -(m > xk).astype(x.dtype) * 2 * (m - xk),
                      (m > -xk).astype(x.dtype) * 2 * (m + xk))
    return (g * reg).reshape(data.shape)


_svm_output = loss_head(lambda p, data, label: data, _svm_grad)


@register("SVMOutput", arguments=("data", "label"), infer_shape=_svm_shape, loss=True,
          params=[Param("margin", p_float, 1.0), Param("regularization_coefficient", p_float, 1.0),
                  Param("use_linear", p_bool, False)])
def svm_output(p: Params, data: jax.Array, label: jax.Array) -> jax.Array:
    """Identity on data (N, K); backward, for label k (N,): squared hinge (L2-SVM)
    -2·reg·(margin - x_k)·[margin > x_k] at k and 2·reg·(margin + x_j)·[margin > -x_j]
    elsewhere, or with use_linear -reg·[margin > x_k] and reg·[margin > -x_j]."""
    return _svm_output(p, data, label)


# -- softmax_cross_entropy, smooth_l1 ----------------------------------------------------------
def _sce_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    data, label = ins
    if label is not None and len(label) and len(label) != 1:
        from ..base import ShapeError
        raise ShapeError(f"softmax_cross_entropy only accepts a 1-D label, got {tuple(label)}")
    if data is not None and len(data) and len(data) != 2:
        from ..base import ShapeError
        raise ShapeError(f"softmax_cross_entropy: data must be (N, K), got {tuple(data)}")
    outs[0] = merge_shape(outs[0], (1,), "softmax_cross_entropy output")
    return ins, outs


@register("softmax_cross_entropy", arguments=("data", "label"), infer_shape=_sce_shape)
def softmax_cross_entropy(p: Params, data: jax.Array, label: jax.Array) -> jax.Array:
    """Σ_n -log softmax(data)[n, label_n] of data (N, K), label (N,) -> (1,); gradient
    (softmax - onehot(label))·head_grad; the label gets none."""
    lab = jnp.clip(jnp.trunc(jax.lax.stop_gradient(label)).astype(jnp.int32), 0, data.shape[1] - 1)
    logp = jax.nn.log_softmax(data, axis=1)
    return -jnp.sum(jnp.take_along_axis(logp, lab[:, None], axis=1)).reshape(1)


@register("smooth_l1", elementwise=True, params=[Param("scalar", p_float)])
def smooth_l1(p: Params, data: jax.Array) -> jax.Array:
    """0.5·(σx)² where |x| < 1/σ², else |x| - 0.5/σ² (σ = scalar); gradient σ²x or sign(x),
    times the head gradient."""
    s2 = jnp.asarray(np.float32(p.scalar) * np.float32(p.scalar), data.dtype)
    inv = 1 / s2
    return jnp.where(data > inv, data - 0.5 * inv,
                     jnp.where(data < -inv, -data - 0.5 * inv, 0.5 * data * data * s2))


# -- IdentityAttachKLSparseReg -----------------------------------------------------------------
def _kl_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    if ins[0] is not None and len(ins[0]):
        ins[1] = merge_shape(ins[1], (ins[0][1],), "IdentityAttachKLSparseReg moving_avg")
        outs[0] = merge_shape(outs[0], tuple(ins[0]), "IdentityAttachKLSparseReg output")
    return ins, outs


def _kl_attach(x: jax.Array, avg: jax.Array, target: np.float32, penalty: np.float32) -> jax.Array:
    @jax.custom_vjp
    def op(v, a):
        return v

    def bwd(a, g):
        reg = penalty * (-target / a + (1 - target) / (1 - a))
        return g + reg.astype(g.dtype), jnp.zeros_like(a)

    op.defvjp(lambda v, a: (v, a), bwd)
    return op(x, avg)


@register("IdentityAttachKLSparseReg", simple=False, aux=("moving_avg",), infer_shape=_kl_shape,
          on_compose=lambda p, arg, attrs: attrs.setdefault("__init__", '["zero", {}]')
          if arg == "moving_avg" else None,
          params=[Param("sparseness_target", p_float, 0.1), Param("penalty", p_float, 0.001),
                  Param("momentum", p_float, 0.9)])
def identity_attach_kl_sparse_reg(p: Params, inputs: list, aux: list, ctx):
    """Identity on data (N, C) (meant to follow a sigmoid). The training step first updates the
    moving average (C,) of the mean activation, ρ̂ = momentum·ρ̂ + (1 - momentum)·mean_n(x),
    then adds penalty·(-ρ/ρ̂ + (1-ρ)/(1-ρ̂)) to the head gradient (ρ = sparseness_target)."""
    (data,), (avg,) = inputs, aux
    if not ctx.is_train:
        return [data], [avg]
    x2 = data.reshape(-1, data.shape[-1])
    mom = np.float32(p.momentum)
    new_avg = jax.lax.stop_gradient(mom * avg + (1 - mom) * jnp.mean(x2, axis=0).astype(avg.dtype))
    out = _kl_attach(data, new_avg, np.float32(p.sparseness_target), np.float32(p.penalty))
    return [out], [new_avg]


# -- CTCLoss -----------------------------------------------------------------------------------
def _ctc_args(p: Params) -> list[str]:
    return (["data", "label"] + (["data_lengths"] if p.use_data_lengths else [])
            + (["label_lengths"] if p.use_label_lengths else []))


def _ctc_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    from ..base import ShapeError
    data, label = ins[0], ins[1]
    if label is not None and len(label) and len(label) != 2:
        raise ShapeError(f"CTCLoss: the label must be 2-D (batch, max label length), got {tuple(label)}")
    if data is not None and len(data):
        if len(data) != 3:
            raise ShapeError(f"CTCLoss: data must be (time, batch, alphabet), got {tuple(data)}")
        for i in range(2, len(ins)):
            ins[i] = merge_shape(ins[i], (data[1],), "CTCLoss lengths")
        outs[0] = merge_shape(outs[0], (data[1],), "CTCLoss output")
    return ins, outs


@register("CTCLoss", aliases=("ctc_loss", "_contrib_CTCLoss"), arguments=_ctc_args,
          outputs=("output0",), hidden_outputs=1, infer_shape=_ctc_shape,
          params=[Param("use_data_lengths", p_bool, False), Param("use_label_lengths", p_bool, False),
                  Param("blank_label", p_enum("first", "last"), "first")])
def ctc_loss(p: Params, data: jax.Array, label: jax.Array, *lengths: jax.Array) -> jax.Array:
    """Connectionist temporal classification loss of activations data (T, N, C) (softmax taken
    inside) against label (N, L) -> (N,). blank_label 'first': blank 0, labels padded with 0;
    'last': blank C-1, labels padded with -1; or explicit data/label lengths."""
    import optax
    t, n, c = data.shape
    blank = 0 if p.blank_label == "first" else c - 1
    lab = jnp.trunc(jax.lax.stop_gradient(label)).astype(jnp.int32)
    lengths = [jax.lax.stop_gradient(x) for x in lengths]
    if p.use_data_lengths:
        dlen = lengths.pop(0).astype(jnp.int32)
    else:
        dlen = jnp.full((n,), t, jnp.int32)
    if p.use_label_lengths:
        llen = lengths.pop(0).astype(jnp.int32)
    else:  # up to the first padding value
        pad_value = 0 if p.blank_label == "first" else -1
        is_pad = lab == pad_value
        llen = jnp.where(jnp.any(is_pad, axis=1), jnp.argmax(is_pad, axis=1), lab.shape[1])
    logit_pad = (jnp.arange(t)[None, :] >= dlen[:, None]).astype(data.dtype)
    label_pad = (jnp.arange(lab.shape[1])[None, :] >= llen[:, None]).astype(data.dtype)
    logits = jnp.transpose(data, (1, 0, 2))
    return optax.ctc_loss(logits, logit_pad, jnp.clip(lab, 0, c - 1), label_pad, blank_id=blank)
