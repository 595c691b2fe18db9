"""Python custom operators (mx.operator): MXNet's custom softmax example trained in a Module and
checked against the built-in SoftmaxOutput; kwargs as strings; aux states; need_top_grad; JSON;
errors."""
import json
import logging

import numpy as np
import pytest

import modjax as mx


class Softmax(mx.operator.CustomOp):
    """MXNet's documented example (example/numpy-ops/custom_softmax.py)."""

    def forward(self, is_train, req, in_data, out_data, aux):
        x = in_data[0].asnumpy()
        y = np.exp(x - x.max(axis=1).reshape((x.shape[0], 1)))
        y /= y.sum(axis=1).reshape((x.shape[0], 1))
        self.assign(out_data[0], req[0], mx.nd.array(y))

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        lab = in_data[1].asnumpy().ravel().astype(np.int64)
        y = out_data[0].asnumpy()
        y[np.arange(lab.shape[0]), lab] -= 1.0
        self.assign(in_grad[0], req[0], mx.nd.array(y))


@mx.operator.register("test_softmax")
class SoftmaxProp(mx.operator.CustomOpProp):
    def __init__(self):
        super(SoftmaxProp, self).__init__(need_top_grad=False)

    def list_arguments(self):
        return ["data", "label"]

    def list_outputs(self):
        return ["output"]

    def infer_shape(self, in_shape):
        return [in_shape[0], (in_shape[0][0],)], [in_shape[0]], []

    def infer_type(self, in_type):
        return in_type, [in_type[0]], []

    def create_operator(self, ctx, shapes, dtypes):
        return Softmax()


class Scale(mx.operator.CustomOp):
    """y = k·x (+ a running count of training forwards in its aux state); uses the head grad."""

    def __init__(self, k):
        super(Scale, self).__init__()
        self.k = k

    def forward(self, is_train, req, in_data, out_data, aux):
        self.assign(out_data[0], req[0], in_data[0] * self.k)
        if is_train:
            aux[0][:] = aux[0] + 1

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        self.assign(in_grad[0], req[0], out_grad[0] * self.k)


SEEN_KWARGS = []


@mx.operator.register("test_scale")
class ScaleProp(mx.operator.CustomOpProp):
    def __init__(self, k="1"):
        super(ScaleProp, self).__init__(need_top_grad=True)
        SEEN_KWARGS.append(k)
        self.k = float(k)

    def list_auxiliary_states(self):
        return ["count"]

    def infer_shape(self, in_shape):
        return in_shape, [in_shape[0]], [[1]]

    def create_operator(self, ctx, shapes, dtypes):
        return Scale(self.k)


def _data(n=40, seed=0):
    rng = np.random.RandomState(seed)
    label = rng.randint(0, 3, n)
    centers = np.array([[2.0, 0.0], [-2.0, 1.0], [0.0, -2.5]], np.float32)
    x = (centers[label] + 0.4 * rng.randn(n, 2)).astype(np.float32)
    return x, label.astype(np.float32)


def _net(custom):
    fc = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3, name="fc")
    if custom:
        return mx.sym.Custom(fc, op_type="test_softmax", name="softmax")
    return mx.sym.SoftmaxOutput(fc, name="softmax")


def test_names_shapes_and_json():
    sym = _net(True)
    assert sym.list_arguments() == ["data", "fc_weight", "fc_bias", "softmax_label"]
    assert sym.list_outputs() == ["softmax_output"]
    args, outs, aux = sym.infer_shape(data=(5, 2))
    assert args == [(5, 2), (3, 2), (3,), (5,)] and outs == [(5, 3)] and aux == []
    assert sym.infer_type(data=np.float32, softmax_label=np.float32)[1] == [np.float32]
    node = json.loads(sym.tojson())["nodes"][-1]
    assert node["op"] == "Custom" and node["attrs"] == {"op_type": "test_softmax"}
    again = mx.sym.load_json(sym.tojson())
    assert again.tojson() == sym.tojson()
    s = mx.sym.Custom(mx.sym.var("x"), op_type="test_scale", k=3)
    assert s.name == "custom0" and s.list_auxiliary_states() == ["custom0_count"]
    assert s.attr("k") == "3" and SEEN_KWARGS[-1] == "3"  # kwargs arrive as strings


def test_gradients_match_softmax_output_and_module_fit():
    x, y = _data()
    rng = np.random.RandomState(3)
    w, b = rng.randn(3, 2).astype(np.float32) * 0.1, np.zeros(3, np.float32)
    grads = []
    for custom in (True, False):
        exe = _net(custom).simple_bind(mx.cpu(), data=x.shape, grad_req={"data": "null",
                                       "fc_weight": "write", "fc_bias": "write",
                                       "softmax_label": "null"})
        for k, v in (("data", x), ("softmax_label", y), ("fc_weight", w), ("fc_bias", b)):
            exe.arg_dict[k][:] = v
        out = exe.forward(is_train=True)[0].asnumpy()
        exe.backward()  # a loss head: no head gradient (need_top_grad=False)
        grads.append((out, exe.grad_dict["fc_weight"].asnumpy(), exe.grad_dict["fc_bias"].asnumpy()))
    for got, want in zip(*grads):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

    params = []
    for custom in (True, False):
        it = mx.io.NDArrayIter(x, y, batch_size=20, label_name="softmax_label")
        mod = mx.mod.Module(_net(custom), context=mx.cpu())
        mod.fit(it, num_epoch=4, optimizer="sgd", optimizer_params={"learning_rate": 0.5},
                arg_params={"fc_weight": mx.nd.array(w), "fc_bias": mx.nd.array(b)},
                eval_metric="acc")
        score = dict(mod.score(mx.io.NDArrayIter(x, y, batch_size=20, label_name="softmax_label"),
                               "acc"))
        assert score["accuracy"] > 0.9
        params.append({k: v.asnumpy() for k, v in mod.get_params()[0].items()})
    for k in params[0]:
        np.testing.assert_allclose(params[0][k], params[1][k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_head_gradient_aux_state_and_nd():
    s = mx.sym.Custom(mx.sym.var("x"), op_type="test_scale", k=2.5, name="sc") * mx.sym.var("z")
    exe = s.simple_bind(mx.cpu(), x=(2, 3), z=(2, 3))
    rng = np.random.RandomState(0)
    x, z, g = (rng.randn(2, 3).astype(np.float32) for _ in range(3))
    exe.arg_dict["x"][:] = x
    exe.arg_dict["z"][:] = z
    out = exe.forward(is_train=True)[0].asnumpy()
    np.testing.assert_allclose(out, 2.5 * x * z, rtol=1e-6)
    exe.backward(mx.nd.array(g))
    np.testing.assert_allclose(exe.grad_dict["x"].asnumpy(), 2.5 * z * g, rtol=1e-6)
    np.testing.assert_allclose(exe.grad_dict["z"].asnumpy(), 2.5 * x * g, rtol=1e-6)
    assert exe.aux_dict["sc_count"].asnumpy().tolist() == [1.0]  # updated by the training step
    exe.forward(is_train=False)
    exe.backward(mx.nd.array(g))
    with pytest.raises(mx.MXNetError, match="head_gradient"):  # need_top_grad: not a loss head
        exe.forward(is_train=True)
        exe.backward()
    nd_out = mx.nd.Custom(mx.nd.array(x), mx.nd.zeros((1,)), op_type="test_scale", k=4)
    np.testing.assert_allclose(nd_out.asnumpy(), 4 * x, rtol=1e-6)


def test_errors(caplog):
    with pytest.raises(mx.MXNetError, match="'no_such_custom_op' is not registered"):
        mx.sym.Custom(mx.sym.var("x"), op_type="no_such_custom_op")
    text = json.dumps({"nodes": [{"op": "null", "name": "x", "inputs": []},
                                 {"op": "Custom", "name": "c", "attrs": {"op_type": "later_op"},
                                  "inputs": [[0, 0, 0]]}],
                       "arg_nodes": [0], "node_row_ptr": [0, 1, 2], "heads": [[1, 0, 0]]})
    with pytest.raises(mx.MXNetError, match="later_op"):
        mx.sym.load_json(text)

    @mx.operator.register("later_op")
    class LaterProp(mx.operator.CustomOpProp):
        def create_operator(self, ctx, shapes, dtypes):
            return Scale(-1.0)

    loaded = mx.sym.load_json(text)
    assert loaded.list_arguments() == ["x"]
    exe = loaded.simple_bind(mx.cpu(), x=(2,))
    exe.arg_dict["x"][:] = np.array([1.0, 2.0], np.float32)
    assert exe.forward()[0].asnumpy().tolist() == [-1.0, -2.0]
    with pytest.raises(mx.MXNetError, match="does not take the arguments"):
        mx.sym.Custom(mx.sym.var("x"), op_type="test_softmax", bogus=1)
    with pytest.raises(mx.MXNetError, match="CustomOpProp subclass"):
        mx.operator.register("bad")(object)
    with caplog.at_level(logging.WARNING):
        mx.operator.register("later_op")(ScaleProp)
    assert "overriding" in caplog.text

    @mx.operator.register("test_picky")
    class PickyProp(mx.operator.CustomOpProp):
        def infer_shape(self, in_shape):
            if len(in_shape[0]) != 2:
                raise ValueError("data must be 2-D")
            return in_shape, in_shape, []

    with pytest.raises(mx.MXNetError, match="infer_shape failed.*data must be 2-D"):
        mx.sym.Custom(mx.sym.var("d"), op_type="test_picky").infer_shape(d=(4,))
