"""float16 / bfloat16 training with float32 master weights (``multi_precision=True``), and compute
in low precision the MXNet way: ``mx.sym.Cast`` the data (the parameters follow its dtype) and
cast the last layer back to float32 before the loss."""
import jax
import numpy as np
import pytest

import modjax as mx


def _mlp(dtype):
    data = mx.sym.Variable("data")
    if dtype != "float32":
        data = mx.sym.Cast(data, dtype=dtype)
    net = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=16, name="fc1"), act_type="relu")
    net = mx.sym.FullyConnected(net, num_hidden=4, name="fc2")
    if dtype != "float32":
        net = mx.sym.Cast(net, dtype="float32")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def _train(dtype, multi_precision=True, optimizer="sgd"):
    rng = np.random.RandomState(0)
    x, y = rng.randn(64, 10).astype(np.float32), rng.randint(0, 4, 64).astype(np.float32)
    prng = np.random.RandomState(1)
    args = {"fc1_weight": mx.nd.array(prng.uniform(-.3, .3, (16, 10))), "fc1_bias": mx.nd.zeros(16),
            "fc2_weight": mx.nd.array(prng.uniform(-.3, .3, (4, 16))), "fc2_bias": mx.nd.zeros(4)}
    params = {"learning_rate": 0.1, "multi_precision": multi_precision}
    if optimizer == "sgd":
        params["momentum"] = 0.9
    mod = mx.mod.Module(_mlp(dtype))
    mod.fit(mx.io.NDArrayIter(x, y, batch_size=16), optimizer=optimizer, optimizer_params=params,
            arg_params=args, num_epoch=3)
    return mod


def _master(mod, name):
    """SGD-momentum's multi-precision state is (momentum, float32 master) as in MXNet."""
    return mod._state.opt_state.states[name]


@pytest.mark.parametrize("dtype,tol", [("float16", 2e-3), ("bfloat16", 2e-2)])
def test_low_precision_params_with_float32_masters(dtype, tol):
    ref = {k: v.asnumpy() for k, v in _train("float32").get_params()[0].items()}
    mod = _train(dtype)
    arg = mod.get_params()[0]
    for name, value in arg.items():
        assert np.dtype(value.dtype) == np.dtype(jax.numpy.dtype(dtype)), name
        momentum, master = _master(mod, name)
        assert master.dtype == np.float32 and momentum.dtype == np.float32
        # the weights are the rounded master copies, and track float32 training
        np.testing.assert_array_equal(np.asarray(master).astype(value.dtype), value.asnumpy())
        np.testing.assert_allclose(np.asarray(master), ref[name], atol=tol)


def test_without_multi_precision_the_state_stays_low_precision():
    mod = _train("float16", multi_precision=False)
    assert mod._state.opt_state.states["fc1_weight"].dtype == np.float16


def test_adam_multi_precision_bfloat16():
    mod = _train("bfloat16", optimizer="adam")
    master, _ = _master(mod, "fc1_weight")  # Adam's layout: (float32 master, (mean, var))
    assert master.dtype == np.float32


def _tiny_steps(dtype, multi_precision, steps=20):
    """w = 1, gradient 1, lr 1e-4: each update is below half a float16/bfloat16 ulp of 1."""
    data = mx.sym.Cast(mx.sym.Variable("data"), dtype=dtype)
    loss = mx.sym.MakeLoss(mx.sym.sum(mx.sym.FullyConnected(data, num_hidden=1, no_bias=True,
                                                            name="fc")))
    mod = mx.mod.Module(loss, label_names=None)
    mod.bind([("data", (1, 1))])
    mod.init_params(arg_params={"fc_weight": mx.nd.ones((1, 1))})
    mod.init_optimizer(optimizer="sgd", optimizer_params={
        "learning_rate": 1e-4, "rescale_grad": 1.0, "multi_precision": multi_precision})
    batch = mx.io.DataBatch([mx.nd.ones((1, 1))])
    for _ in range(steps):
        mod.forward_backward(batch)
        mod.update()
    return float(mod.get_params()[0]["fc_weight"].asnumpy().astype(np.float32)[0, 0])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_master_weights_keep_updates_smaller_than_an_ulp(dtype):
    assert _tiny_steps(dtype, multi_precision=False) == 1.0  # every update rounds away
    moved = _tiny_steps(dtype, multi_precision=True, steps=80)  # the master reaches 0.992
    assert moved < 1.0 and moved == pytest.approx(0.992, abs=4e-3)


def test_low_precision_checkpoint_roundtrip(tmp_path):
    mod = _train("bfloat16")
    prefix = str(tmp_path / "bf16")
    mod.save_checkpoint(prefix, 3, save_optimizer_states=True)
    _, arg, _ = mx.model.load_checkpoint(prefix, 3)
    assert np.dtype(arg["fc1_weight"].dtype) == np.dtype(jax.numpy.bfloat16)
    loaded = mx.mod.Module.load(prefix, 3, load_optimizer_states=True)
    loaded.bind([("data", (16, 10))], [("softmax_label", (16,))])
    loaded.init_optimizer(optimizer="sgd", optimizer_params={
        "learning_rate": 0.1, "momentum": 0.9, "multi_precision": True, "rescale_grad": 1 / 16})
    _, master = _master(loaded, "fc1_weight")
    np.testing.assert_array_equal(np.asarray(master), np.asarray(_master(mod, "fc1_weight")[1]))
