"""Replay the operator goldens made by real MXNet 1.9.1 (tests/golden/gen_ops.py) through
modjax: introspection (arguments, outputs, aux states, inferred shapes and dtypes, JSON nodes
and node_row_ptr), then simple_bind, forward, backward, and the arrays after the step.
Dropout's randomness is checked by its statistics instead of values."""
import json
import os
import sys

import numpy as np
import pytest

import modjax as mx

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
sys.path.insert(0, GOLDEN)
from gen_ops import build  # noqa: E402  (the same code text builds the symbol in both)

with open(os.path.join(GOLDEN, "ops", "index.json")) as _f:
    INDEX = json.load(_f)
VALUES = np.load(os.path.join(GOLDEN, "ops", "values.npz"))
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
    infer = sym.infer_shape_partial if rec["partial"] else sym.infer_shape
    arg_shapes, out_shapes, aux_shapes = infer(**given)
    assert [list(s) for s in arg_shapes] == rec["arg_shapes"]
    assert [list(s) for s in out_shapes] == rec["out_shapes"]
    assert [list(s) for s in aux_shapes] == rec["aux_shapes"]
    if not rec["partial"]:
        arg_types, out_types, aux_types = sym.infer_type(**rec["type_dict"])
        assert _names(arg_types) == rec["arg_types"]
        assert _names(out_types) == rec["out_types"]
        assert _names(aux_types) == rec["aux_types"]
    doc = json.loads(sym.tojson())
    assert [[n["op"], n["name"], n.get("attrs", {})] for n in doc["nodes"]] == rec["nodes"]
    assert doc["node_row_ptr"] == rec["node_row_ptr"]
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
    for name in rec["arguments"]:
        _close(exe.arg_dict[name], VALUES[f"{cid}|argout|{name}"], f"{cid} argument {name} after", tol)


@pytest.mark.parametrize("rec", INDEX["nd_cases"], ids=[c["id"] for c in INDEX["nd_cases"]])
def test_nd_case(rec):
    cid = rec["id"]
    env = {"mx": mx, "np": np}
    for name in rec["inputs"]:
        value = VALUES[f"{cid}|in|{name}"]
        env[name] = mx.nd.array(value, dtype=value.dtype)
    out = eval(rec["code"], env)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    assert isinstance(out, (list, tuple)) == rec["is_list"]
    assert len(outs) == rec["n_out"]
    tol = tuple(rec["tol"]) if rec["tol"] else None
    for i, o in enumerate(outs):
        _close(o, VALUES[f"{cid}|out|{i}"], f"{cid} output {i}", tol)


# -- Dropout: statistics and mask rules (values cannot match MXNet's random stream) --------------
def _dropout_exe(shape, **kwargs):
    sym = mx.sym.Dropout(mx.sym.var("x"), name="drop", **kwargs)
    exe = sym.simple_bind(mx.cpu(), x=shape)
    exe.arg_dict["x"][:] = np.ones(shape, np.float32)
    return exe


def test_dropout_training_statistics_and_gradient():
    exe = _dropout_exe((200, 100), p=0.3)
    y = exe.forward(is_train=True)[0].asnumpy()
    scale = np.float32(1) / (np.float32(1) - np.float32(0.3))
    assert set(np.unique(y)) <= {0.0, scale}
    assert abs((y == 0).mean() - 0.3) < 0.02
    exe.backward(mx.nd.ones((200, 100)))
    np.testing.assert_array_equal(exe.grad_dict["x"].asnumpy(), y)  # dy·m/(1-p) with dy = x = 1
    y2 = exe.forward(is_train=True)[0].asnumpy()
    assert (y2 != y).any()  # a fresh mask each step


def test_dropout_axes_share_the_mask():
    exe = _dropout_exe((300, 6), p=0.5, axes=(1,))
    y = exe.forward(is_train=True)[0].asnumpy()
    rows = y[:, 0]
    assert ((y == rows[:, None]).all())
    assert 0.35 < (rows == 0).mean() < 0.65


def test_dropout_modes():
    exe = _dropout_exe((50, 50), p=0.5)
    np.testing.assert_array_equal(exe.forward(is_train=False)[0].asnumpy(), np.ones((50, 50)))
    always = _dropout_exe((50, 50), p=0.5, mode="always")
    assert (always.forward(is_train=False)[0].asnumpy() == 0).any()
    zero = _dropout_exe((50, 50), p=0.0)
    np.testing.assert_array_equal(zero.forward(is_train=True)[0].asnumpy(), np.ones((50, 50)))
    nd_out = mx.nd.Dropout(mx.nd.ones((20, 20)), p=0.5)  # mx.nd calls are inference by default
    np.testing.assert_array_equal(nd_out.asnumpy(), np.ones((20, 20)))


# -- behaviour MXNet 1.9.1's CPU build cannot produce goldens for ---------------------------------
def test_convolution_channels_last_matches_channels_first():
    """NHWC (weight (F, kh, kw, C/g)) equals NCHW on transposed arrays (MXNet's oneDNN path
    rejects NHWC, so there is no golden)."""
    rng = np.random.RandomState(0)
    x, w, b = rng.randn(2, 6, 5, 6), rng.randn(6, 2, 3, 2), rng.randn(6)
    kw = dict(kernel=(3, 2), num_filter=6, num_group=3, stride=(1, 2), pad=(1, 0))
    ref = mx.nd.Convolution(mx.nd.array(x), mx.nd.array(w), mx.nd.array(b), **kw).asnumpy()
    out = mx.nd.Convolution(mx.nd.array(x.transpose(0, 2, 3, 1)), mx.nd.array(w.transpose(0, 2, 3, 1)),
                            mx.nd.array(b), layout="NHWC", **kw).asnumpy()
    np.testing.assert_allclose(out.transpose(0, 3, 1, 2), ref, rtol=1e-5, atol=1e-5)
    sym = mx.sym.Convolution(mx.sym.var("data"), layout="NHWC", name="c", **kw)
    assert sym.infer_shape(data=(2, 5, 6, 6))[0][1] == (6, 3, 2, 2)


def test_pooling_same_convention_1d():
    """'same' (1-D only; MXNet 1.9.1 fails on it with an index error): ceil(x/s) windows from 0,
    running off the end."""
    x = np.arange(7, dtype=np.float32).reshape(1, 1, 7)
    out = mx.nd.Pooling(mx.nd.array(x), kernel=(3,), stride=(2,), pooling_convention="same")
    np.testing.assert_array_equal(out.asnumpy().ravel(), [2, 4, 6, 6])
    s = mx.sym.Pooling(mx.sym.var("x"), kernel=(3,), stride=(2,), pooling_convention="same")
    assert s.infer_shape(x=(1, 1, 7))[1] == [(1, 1, 4)]


def test_zeros_batch_follows_the_bound_shape():
    """A ``_zeros(shape=(0, H))`` begin state takes the batch size of each bind and reshape."""
    data = mx.sym.var("data")
    h = mx.sym.FullyConnected(mx.sym.zeros((0, 4)), num_hidden=3, name="h2h")
    sym = mx.sym.FullyConnected(data, num_hidden=3, name="i2h") + h
    exe = sym.simple_bind(mx.cpu(), data=(2, 5))
    assert exe.forward()[0].shape == (2, 3)
    exe2 = exe.reshape(data=(7, 5), allow_up_sizing=True)
    out = exe2.forward()[0]
    assert out.shape == (7, 3)
    w = exe2.arg_dict["h2h_bias"].asnumpy()
    np.testing.assert_allclose(out.asnumpy(), np.broadcast_to(w, (7, 3)) + exe2.arg_dict["i2h_bias"].asnumpy())


def test_positional_parameters_follow_the_inputs():
    """MXNet's generated functions take parameters positionally after the inputs."""
    x = mx.nd.array([[-1.0, 0.5, 2.0]])
    np.testing.assert_array_equal(mx.nd.clip(x, 0, 1).asnumpy(), [[0, 0.5, 1]])
    s = mx.sym.clip(mx.sym.var("x"), 0, 6, name="relu6")
    assert s.attr("a_min") == "0" and s.attr("a_max") == "6"
