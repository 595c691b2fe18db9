"""mx.kv on one process: MXNet's KVStore semantics (values checked against MXNet 1.9.1 by hand)
and the kvstore argument of Module.fit / init_optimizer."""
import warnings

import numpy as np
import pytest

import modjax as mx


def _pull(kv, key, shape):
    out = mx.nd.zeros(shape)
    kv.pull(key, out=out)
    return out.asnumpy()


def test_create_known_types():
    for name in ("local", "device", "nccl", "local_allreduce_cpu", "dist_sync", "dist_device_sync"):
        kv = mx.kv.create(name)
        assert (kv.type, kv.rank, kv.num_workers) == (name, 0, 1)
    assert mx.kvstore.create().type == "local"
    assert mx.kv.create("LOCAL").type == "local"


def test_unknown_and_refused_types():
    with pytest.raises(mx.MXNetError, match="unknown kvstore type 'foo'; known types: local, device"):
        mx.kv.create("foo")
    with pytest.raises(mx.MXNetError, match="'dist_async' is not supported: asynchronous"):
        mx.kv.create("dist_async")
    with pytest.raises(mx.MXNetError, match="'horovod' is not supported"):
        mx.kv.create("horovod")
    with pytest.raises(TypeError):
        mx.kv.create(3)


def test_init_push_pull_sums_devices():
    kv = mx.kv.create("local")
    kv.init(3, mx.nd.ones((2, 3)))
    np.testing.assert_array_equal(_pull(kv, 3, (2, 3)), np.ones((2, 3)))
    kv.push(3, [mx.nd.ones((2, 3)) * 2, mx.nd.ones((2, 3)) * 3])  # one value per device
    outs = [mx.nd.zeros((2, 3)), mx.nd.zeros((2, 3))]
    kv.pull(3, out=outs)
    for o in outs:
        np.testing.assert_array_equal(o.asnumpy(), np.full((2, 3), 5.0))
    kv.push(3, mx.nd.ones((2, 3)) * 4)  # without an optimizer the sum replaces the value
    np.testing.assert_array_equal(_pull(kv, 3, (2, 3)), np.full((2, 3), 4.0))


def test_lists_of_keys():
    kv = mx.kv.create("local")
    kv.init([1, 2], [mx.nd.ones(2), mx.nd.ones(2) * 2])
    kv.push([1, 2], [[mx.nd.ones(2), mx.nd.ones(2)], [mx.nd.ones(2) * 5]])
    outs = [[mx.nd.zeros(2)], [mx.nd.zeros(2), mx.nd.zeros(2)]]
    kv.pull([1, 2], out=outs)
    assert [o.asnumpy()[0] for o in outs[0]] == [2.0]
    assert [o.asnumpy()[0] for o in outs[1]] == [5.0, 5.0]
    kv.broadcast(7, mx.nd.ones(2) * 9, out=[mx.nd.zeros(2)])
    np.testing.assert_array_equal(_pull(kv, 7, (2,)), [9.0, 9.0])


def test_optimizer_on_kvstore():
    """MXNet 1.9.1: SGD(lr=0.1) on 'w'=1: push 1 -> 0.9; push [1, 1] -> 0.7; pushpull 1 -> 0.6."""
    kv = mx.kv.create("local")
    assert kv.is_capable("optimizer")
    kv.init("w", mx.nd.ones((4, 2)))
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1))
    kv.push("w", mx.nd.ones((4, 2)))
    np.testing.assert_allclose(_pull(kv, "w", (4, 2)), 0.9, rtol=1e-6)
    kv.push("w", [mx.nd.ones((4, 2)), mx.nd.ones((4, 2))])
    np.testing.assert_allclose(_pull(kv, "w", (4, 2)), 0.7, rtol=1e-6)
    out = mx.nd.zeros((4, 2))
    kv.pushpull("w", mx.nd.ones((4, 2)), out=out)
    np.testing.assert_allclose(out.asnumpy(), 0.6, rtol=1e-6)


def test_optimizer_states_roundtrip(tmp_path):
    kv = mx.kv.create("device")
    with pytest.raises(mx.MXNetError, match="Cannot save states"):
        kv.save_optimizer_states(str(tmp_path / "x.states"))
    kv.init(0, mx.nd.ones(3))
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1, momentum=0.9))
    kv.push(0, mx.nd.ones(3))
    fname = str(tmp_path / "kv.states")
    kv.save_optimizer_states(fname)
    kv.push(0, mx.nd.ones(3))
    after_two = _pull(kv, 0, (3,))
    kv2 = mx.kv.create("device")
    kv2.init(0, mx.nd.ones(3) * 0.9)
    kv2.set_optimizer(mx.optimizer.SGD(learning_rate=0.1, momentum=0.9))
    kv2.load_optimizer_states(fname)
    kv2.push(0, mx.nd.ones(3))
    np.testing.assert_allclose(_pull(kv2, 0, (3,)), after_two, rtol=1e-6)  # momentum restored


def test_row_sparse_pull_dense_semantics():
    kv = mx.kv.create("local")
    kv.init("e", mx.nd.array(np.arange(8, dtype=np.float32).reshape(4, 2)))
    out = mx.nd.ones((4, 2))
    kv.row_sparse_pull("e", out=out, row_ids=mx.nd.array([0, 2]))
    np.testing.assert_array_equal(out.asnumpy(), [[0, 1], [0, 0], [4, 5], [0, 0]])
    with pytest.raises(mx.MXNetError, match="row_ids is required"):
        kv.row_sparse_pull("e", out=out)


def test_errors():
    kv = mx.kv.create("local")
    kv.init(3, mx.nd.ones(2))
    with pytest.raises(mx.MXNetError, match="duplicate init of key 3"):
        kv.init(3, mx.nd.ones(2))
    with pytest.raises(mx.MXNetError, match="key 5 has not been inited"):
        kv.pull(5, out=mx.nd.zeros(2))
    with pytest.raises(mx.MXNetError, match="key 9 has not been inited"):
        kv.push(9, mx.nd.ones(2))
    with pytest.raises(mx.MXNetError, match="mixed key types are not allowed"):
        kv.init("x", mx.nd.ones(2))
    with pytest.raises(mx.MXNetError, match="holds shape"):
        kv.push(3, mx.nd.ones(5))
    with pytest.raises(mx.MXNetError, match="Unknown capability"):
        kv.is_capable("foo")


def test_gradient_compression_is_accepted_as_a_no_op():
    with pytest.raises(mx.MXNetError, match="not supported for this type of kvstore"):
        mx.kv.create("local").set_gradient_compression({"type": "2bit"})
    kv = mx.kv.create("device")
    with pytest.warns(UserWarning, match="has no effect"):
        kv.set_gradient_compression({"type": "2bit", "threshold": 0.5})
    with pytest.raises(mx.MXNetError, match="Unknown type for gradient compression 3bit"):
        kv.set_gradient_compression({"type": "3bit"})
    with pytest.raises(mx.MXNetError, match="Required parameter type"):
        kv.set_gradient_compression({"threshold": 1})


def test_barrier_is_a_no_op_on_one_process():
    mx.kv.create("dist_sync").barrier()


def _fit(kvstore, batch_size=8):
    rng = np.random.RandomState(0)
    x, y = rng.randn(32, 5).astype(np.float32), rng.randint(0, 3, 32).astype(np.float32)
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3,
                                                     name="fc"), name="softmax")
    mod = mx.mod.Module(net)
    args = {"fc_weight": mx.nd.array(rng.uniform(-.3, .3, (3, 5))), "fc_bias": mx.nd.zeros(3)}
    mod.fit(mx.io.NDArrayIter(x, y, batch_size=batch_size), kvstore=kvstore, arg_params=args,
            optimizer_params={"learning_rate": 0.1}, num_epoch=2)
    return mod


@pytest.mark.parametrize("kvstore", ["device", None, "dist_sync", "kvobj"])
def test_fit_with_any_kvstore_on_one_process_is_the_same(kvstore):
    ref = _fit("local").get_params()[0]
    mod = _fit(mx.kv.create("dist_device_sync") if kvstore == "kvobj" else kvstore)
    assert mod._state.optimizer.rescale_grad == pytest.approx(1 / 8)
    for k, v in mod.get_params()[0].items():
        np.testing.assert_array_equal(v.asnumpy(), ref[k].asnumpy())


def test_fit_with_a_bad_kvstore():
    with pytest.raises(mx.MXNetError, match="unknown kvstore type 'dist_foo'"):
        _fit("dist_foo")
    with pytest.raises(mx.MXNetError, match="'dist_async' is not supported"):
        _fit("dist_async")
    with pytest.raises(TypeError, match="kvstore must be KVStore, str or None"):
        _fit(3)


def test_no_warning_for_local_kvstore_on_one_process():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mx.kv.create("local")
