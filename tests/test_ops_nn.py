"""Replay the goldens of the second operator batch made by real MXNet 1.9.1
(tests/golden/gen_ops_nn.py): introspection, inferred shapes and dtypes, JSON nodes, then
forward, backward and the arrays after the step. Random (rrelu in training) and MXNet-bug cases
(selu's gradient, SoftmaxOutput(out_grad=True)) are checked against their definitions."""
import json
import os
import sys

import numpy as np
import pytest

import modjax as mx

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
sys.path.insert(0, GOLDEN)
from gen_ops import build  # noqa: E402  (the same code text builds the symbol in both)

with open(os.path.join(GOLDEN, "ops_nn", "index.json")) as _f:
    INDEX = json.load(_f)
VALUES = np.load(os.path.join(GOLDEN, "ops_nn", "values.npz"))
RTOL, ATOL = 1e-5, 1e-6


def _close(got, want, what, tol=None):
    rtol, atol = tol or (RTOL, ATOL)
    got = got.asnumpy() if hasattr(got, "asnumpy") else np.asarray(got)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol,
                               equal_nan=True, err_msg=what)


def _names(t):
    return [np.dtype(x).name if x is not None else None for x in t]


@pytest.mark.parametrize("rec", INDEX["cases"], ids=[c["id"] for c in INDEX["cases"]])
def test_symbol_case(rec):
    cid = rec["id"]
    sym = build(mx, rec["code"])
    assert sym.list_arguments() == rec["arguments"]
    assert sym.list_outputs() == rec["outputs"]
    assert sym.list_auxiliary_states() == rec["aux"]
    given = {k: tuple(v) for k, v in rec["given_shapes"].items()}
    arg_shapes, out_shapes, aux_shapes = sym.infer_shape(**given)
    assert [list(s) for s in arg_shapes] == rec["arg_shapes"]
    assert [list(s) for s in out_shapes] == rec["out_shapes"]
    assert [list(s) for s in aux_shapes] == rec["aux_shapes"]
    arg_types, out_types, aux_types = sym.infer_type(**rec["type_dict"])
    assert _names(arg_types) == rec["arg_types"]
    assert _names(out_types) == rec["out_types"]
    assert _names(aux_types) == rec["aux_types"]
    doc = json.loads(sym.tojson())
    assert [[n["op"], n["name"], n.get("attrs", {})] for n in doc["nodes"]] == rec["nodes"]
    assert doc["node_row_ptr"] == rec["node_row_ptr"]
    assert mx.sym.load_json(sym.tojson()).tojson() == sym.tojson()
    if not rec["values"]:
        return
    tol = tuple(rec["tol"]) if rec["tol"] else None
    types = dict(zip(rec["arguments"], rec["arg_types"]))
    exe = sym.simple_bind(mx.cpu(), grad_req=rec["grad_req"], type_dict=types, **given)
    for name in rec["arguments"]:
        exe.arg_dict[name][:] = VALUES[f"{cid}|in|{name}"]
    for name in rec["aux"]:
        exe.aux_dict[name][:] = VALUES[f"{cid}|auxin|{name}"]
    outs = exe.forward(is_train=rec["train"])
    assert len(outs) == len(rec["outputs"])
    for i, out in enumerate(outs):
        _close(out, VALUES[f"{cid}|out|{i}"], f"{cid} output {rec['outputs'][i]}", tol)
    if rec["backward"]:
        if rec["head_grad"]:
            exe.backward([mx.nd.array(VALUES[f"{cid}|hg|{i}"]) for i in range(len(outs))])
        else:
            exe.backward()
        for name in rec["arguments"]:
            if rec["grad_req"][name] != "null":
                _close(exe.grad_dict[name], VALUES[f"{cid}|grad|{name}"], f"{cid} gradient of {name}", tol)
    for name in rec["aux"]:
        _close(exe.aux_dict[name], VALUES[f"{cid}|auxout|{name}"], f"{cid} aux {name} after", tol)


@pytest.mark.parametrize("rec", INDEX["nd_cases"], ids=[c["id"] for c in INDEX["nd_cases"]])
def test_nd_case(rec):
    cid = rec["id"]
    env = {"mx": mx, "np": np}
    for name in rec["inputs"]:
        value = VALUES[f"{cid}|in|{name}"]
        env[name] = mx.nd.array(value, dtype=value.dtype)
    out = eval(rec["code"], env)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    assert len(outs) == rec["n_out"]
    for i, o in enumerate(outs):
        _close(o, VALUES[f"{cid}|out|{i}"], f"{cid} output {i}", tuple(rec["tol"]) if rec["tol"] else None)


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
