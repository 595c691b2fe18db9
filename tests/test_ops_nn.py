"""Replay the goldens of the second operator batch made by real MXNet 1.9.1
(tests/golden/gen_ops_nn.py): introspection, inferred shapes and dtypes, JSON nodes, then
forward, backward and the arrays after the step. Random (rrelu in training) and MXNet-bug cases
(selu's gradient, SoftmaxOutput(out_grad=True)) are checked against their definitions."""
import numpy as np
import pytest

import modjax as mx
from ops_replay import golden_tests  # tests/ops_replay.py

test_symbol_case, test_nd_case = golden_tests("ops_nn", json_roundtrip=True, is_list=False)


# -- cases MXNet cannot give goldens for --------------------------------------------------------
def _grads(sym, inputs, head_grads=None, is_train=True, **req):
    exe = sym.simple_bind(mx.cpu(), **{k: v.shape for k, v in inputs.items()}, **req)
    for k, v in inputs.items():
        exe.arg_dict[k][:] = v
    outs = [o.asnumpy() for o in exe.forward(is_train=is_train)]
    exe.backward(head_grads)
    return outs, {k: (g.asnumpy() if g is not None else None) for k, g in exe.grad_dict.items()}


def test_selu_gradient_is_the_true_derivative():
    """MXNet 1.9.1 computes λ(y + α) below 0 (docs/differences.md); modjax λαeˣ = y + λα."""
    lam, alpha = 1.0507009873554805, 1.6732632423543772
    x = np.array([[-3.0, -2.0, -0.5, 0.0, 0.5, 2.0]], np.float32)
    outs, grads = _grads(mx.sym.LeakyReLU(mx.sym.var("x"), act_type="selu"), {"x": x},
                         [mx.nd.ones(x.shape)])
    want = np.where(x > 0, lam, lam * alpha * np.exp(x))
    np.testing.assert_allclose(grads["x"], want, rtol=1e-5)
    np.testing.assert_allclose(grads["x"][0, 1], 0.2379, atol=1e-4)  # MXNet gives 0.1609 here


def test_softmax_activation_instance_gradient_on_3d_data():
    """Instance mode takes the softmax over the last axis; its gradient is that softmax's
    (MXNet 1.9.1 sums over axis 1 instead; docs/differences.md)."""
    rng = np.random.RandomState(2)
    x, g = rng.randn(2, 3, 4).astype(np.float32), rng.randn(2, 3, 4).astype(np.float32)
    (y,), grads = _grads(mx.sym.SoftmaxActivation(mx.sym.var("x")), {"x": x}, [mx.nd.array(g)])
    np.testing.assert_allclose(y.sum(-1), 1, rtol=1e-6)
    np.testing.assert_allclose(grads["x"], y * (g - (g * y).sum(-1, keepdims=True)), rtol=1e-5,
                               atol=1e-7)


def test_rrelu_training_statistics():
    """Training draws a slope per element in [lower, upper] (the visible mask output); the
    gradient below 0 is that slope. MXNet 1.9.1 crashes here, so this checks the definition."""
    x = -np.ones((200, 50), np.float32)
    x[:, :10] = 2.0
    sym = mx.sym.LeakyReLU(mx.sym.var("x"), act_type="rrelu", lower_bound=0.2, upper_bound=0.6)
    (y, mask), grads = _grads(sym, {"x": x}, [mx.nd.ones(x.shape), mx.nd.ones(x.shape)])
    neg = mask[:, 10:]
    assert neg.min() >= 0.2 and neg.max() <= 0.6 and abs(neg.mean() - 0.4) < 0.01
    assert abs(neg.std() - 0.4 / np.sqrt(12)) < 0.01
    np.testing.assert_allclose(y[:, 10:], -neg, rtol=1e-6)
    np.testing.assert_array_equal(y[:, :10], 2.0)
    np.testing.assert_allclose(grads["x"][:, 10:], neg, rtol=1e-6)
    np.testing.assert_array_equal(grads["x"][:, :10], 1.0)
    (y2, mask2), _ = _grads(sym, {"x": x}, [mx.nd.ones(x.shape), mx.nd.ones(x.shape)])
    assert (mask2 != mask).any()  # a fresh draw each step


def test_softmax_output_out_grad_uses_the_head_gradient():
    """out_grad=True multiplies (p - onehot)·grad_scale/norm by the head gradient (MXNet 1.9.1
    multiplies by p instead; docs/differences.md); it then needs a head gradient."""
    rng = np.random.RandomState(0)
    x, hg = rng.randn(3, 4).astype(np.float32), rng.randn(3, 4).astype(np.float32)
    label = np.array([0, 3, 1], np.float32)
    sym = mx.sym.SoftmaxOutput(mx.sym.var("data"), mx.sym.var("label"), out_grad=True,
                               normalization="batch", grad_scale=2.0)
    outs, grads = _grads(sym, {"data": x, "label": label}, [mx.nd.array(hg)])
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(grads["data"], (p - np.eye(4)[[0, 3, 1]]) * hg * 2.0 / 3, rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_array_equal(grads["label"], 0)
    exe = sym.simple_bind(mx.cpu(), data=(3, 4), label=(3,))
    exe.forward(is_train=True)
    with pytest.raises(mx.MXNetError, match="head_gradient is required"):
        exe.backward()


def test_deconvolution_is_the_input_gradient_of_convolution():
    """Deconvolution(g, w) equals Convolution's data gradient for the same geometry."""
    rng = np.random.RandomState(1)
    w = rng.randn(4, 3, 3, 2).astype(np.float32)  # conv (F=4, C/g=3) == deconv (C_in=4, F/g=3)
    kw = dict(kernel=(3, 2), stride=(2, 1), pad=(1, 0), dilate=(1, 2), num_group=2)
    x = rng.randn(1, 6, 7, 6).astype(np.float32)
    conv = mx.sym.Convolution(mx.sym.var("x"), mx.sym.var("w"), num_filter=4, no_bias=True, **kw)
    exe = conv.simple_bind(mx.cpu(), x=x.shape, grad_req={"x": "write", "w": "null"})
    exe.arg_dict["x"][:] = x
    exe.arg_dict["w"][:] = w
    y = exe.forward(is_train=True)[0]
    g = rng.randn(*y.shape).astype(np.float32)
    exe.backward(mx.nd.array(g))
    got = mx.nd.Deconvolution(mx.nd.array(g), mx.nd.array(w), num_filter=6, adj=(0, 0), **kw)
    assert got.shape == x.shape
    np.testing.assert_allclose(got.asnumpy(), exe.grad_dict["x"].asnumpy(), rtol=1e-4, atol=1e-5)


def test_prelu_gamma_init_hint_and_errors():
    s = mx.sym.LeakyReLU(mx.sym.var("x"), act_type="prelu", name="pr")
    assert s.list_arguments() == ["x", "pr_gamma"]
    assert s.attr_dict()["pr_gamma"]["__init__"] == '["Constant", {"value": 0.25}]'
    with pytest.raises(mx.MXNetError):
        mx.sym.LeakyReLU(mx.sym.var("x"), act_type="swish")
    with pytest.raises(mx.MXNetError, match="adj"):
        mx.nd.Deconvolution(mx.nd.ones((1, 1, 3, 3)), mx.nd.ones((1, 1, 3, 3)), kernel=(3, 3),
                            num_filter=1, stride=(2, 2), adj=(2, 2))
