"""Misuse of the Module API raises MXNetError saying what to call first."""
import numpy as np
import pytest

import modjax as mx
from modjax.base import MXNetError, ShapeError


def mlp():
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=3, name="fc")
    return mx.sym.SoftmaxOutput(fc, name="softmax")


def batch(n=4, dim=5, label=True):
    x = mx.nd.array(np.ones((n, dim)))
    return mx.io.DataBatch([x], [mx.nd.array(np.zeros(n))] if label else [])


def bound(for_training=True):
    mod = mx.mod.Module(mlp())
    mod.bind([("data", (4, 5))], [("softmax_label", (4,))], for_training=for_training)
    return mod


def test_calls_before_bind():
    mod = mx.mod.Module(mlp())
    with pytest.raises(MXNetError, match=r"forward: the module is not bound; call bind\(\) first"):
        mod.forward(batch())
    with pytest.raises(MXNetError, match=r"call bind\(\) first"):
        mod.init_params()
    with pytest.raises(MXNetError, match=r"data_shapes: the module is not bound"):
        mod.data_shapes


def test_calls_before_init_params_and_optimizer():
    mod = bound()
    with pytest.raises(MXNetError, match=r"get_params: parameters are not initialized; call init_params"):
        mod.get_params()
    with pytest.raises(MXNetError, match=r"call init_params"):
        mod.init_optimizer()
    mod.init_params()
    with pytest.raises(MXNetError, match=r"update: the optimizer is not initialized; call init_optimizer"):
        mod.update()


def test_backward_and_outputs_before_forward():
    mod = bound()
    mod.init_params()
    with pytest.raises(MXNetError, match=r"backward: no training forward.*call forward"):
        mod.backward()
    with pytest.raises(MXNetError, match=r"get_outputs: no outputs yet; call forward\(\) first"):
        mod.get_outputs()
    inference = bound(for_training=False)
    inference.init_params()
    inference.forward(batch())
    with pytest.raises(MXNetError, match=r"re-bind with for_training=True"):
        inference.backward()


def test_update_without_gradients():
    mod = bound()
    mod.init_params()
    mod.init_optimizer()
    mod.forward(batch(), is_train=False)
    with pytest.raises(MXNetError, match=r"update: no gradients; call forward\(is_train=True\) and backward"):
        mod.update()


def test_training_without_labels():
    mod = mx.mod.Module(mlp())
    with pytest.raises(MXNetError, match=r"loss needs labels \['softmax_label'\] but no label_shapes"):
        mod.bind([("data", (4, 5))], for_training=True)
    mod = bound()
    mod.init_params()
    with pytest.raises(MXNetError, match=r"the batch has no label"):
        mod.forward(batch(label=False), is_train=True)
    with pytest.raises(MXNetError, match=r"'softmax_label' is the label of loss head 'softmax'"):
        mx.mod.Module(mlp(), label_names=["lbl"])


def test_names_do_not_match():
    with pytest.raises(MXNetError, match=r"data_names=\['x'\].*not found"):
        mx.mod.Module(mlp(), data_names=["x"])
    mod = bound(for_training=False)
    mod.init_params()
    it = mx.io.NDArrayIter({"img": np.ones((8, 5))}, batch_size=4)
    with pytest.raises(MXNetError, match=r"predict: the iterator provides data \['img'\], the module "
                                         r"expects \['data'\]"):
        mod.predict(it)


def test_batch_that_does_not_fit_the_parameters():
    mod = bound()
    mod.init_params()
    with pytest.raises(ShapeError, match=r"inputs 'data' \(4, 7\) do not fit the module's parameters "
                                         r"\(bound with data \(4, 5\)\).*'fc_weight' would need shape "
                                         r"\(3, 7\), but the parameters have \(3, 5\)"):
        mod.forward(batch(dim=7), is_train=False)
    assert mod.data_shapes[0].shape == (4, 5)
    mod.forward(batch(n=6), is_train=False)  # a new batch size is fine: forward reshapes
    assert mod.get_outputs()[0].shape == (6, 3)


def test_unknown_optimizer_and_metric():
    mod = bound()
    mod.init_params()
    with pytest.raises(MXNetError, match=r"Cannot find optimizer nosuchopt"):
        mod.init_optimizer(optimizer="nosuchopt")
    with pytest.raises(MXNetError, match=r"nosuchmetric"):
        mx.metric.create("nosuchmetric")


def test_corrupt_checkpoint(tmp_path):
    mod = bound()
    mod.init_params()
    mod.save_checkpoint(str(tmp_path / "m"), 1)
    raw = (tmp_path / "m-0001.params").read_bytes()
    (tmp_path / "m-0001.params").write_bytes(raw[:-7])
    with pytest.raises(MXNetError, match=r"m-0001.params"):
        mx.mod.Module.load(str(tmp_path / "m"), 1)
    with pytest.raises(MXNetError, match=r"does not exist"):
        mx.mod.Module.load(str(tmp_path / "m"), 2)
    (tmp_path / "m-symbol.json").write_text("{broken")
    with pytest.raises(MXNetError, match=r"m-symbol.json: malformed symbol JSON"):
        mx.model.load_checkpoint(str(tmp_path / "m"), 1)
