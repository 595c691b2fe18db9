"""Replay the operator goldens made by real MXNet 1.9.1 (tests/golden/gen_ops.py) through
modjax: introspection (arguments, outputs, aux states, inferred shapes and dtypes, JSON nodes
and node_row_ptr), then simple_bind, forward, backward, and the arrays after the step.
Dropout's randomness is checked by its statistics instead of values."""
import numpy as np

import modjax as mx
from ops_replay import golden_tests  # tests/ops_replay.py

test_symbol_case, test_nd_case = golden_tests("ops", args_after=True)


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
