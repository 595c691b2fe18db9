"""fit: exact resume from checkpoints, atomic writes, callbacks, compile counts, lr changes."""
import os

import numpy as np
import pytest

import modjax as mx


def mlp():
    data = mx.sym.Variable("data")
    fc1 = mx.sym.FullyConnected(data, num_hidden=8, name="fc1")
    act = mx.sym.Activation(fc1, act_type="tanh", name="act")
    fc2 = mx.sym.FullyConnected(act, num_hidden=3, name="fc2")
    return mx.sym.SoftmaxOutput(fc2, name="softmax")


def data():
    rng = np.random.RandomState(3)
    return rng.randn(32, 6).astype(np.float32), rng.randint(0, 3, 32).astype(np.float32)


def make_opt():
    sched = mx.lr_scheduler.FactorScheduler(step=3, factor=0.5)
    return {"learning_rate": 0.05, "lr_scheduler": sched, "wd": 1e-3}


def fresh_params():
    rng = np.random.RandomState(0)
    return {"fc1_weight": mx.nd.array(rng.uniform(-.5, .5, (8, 6))), "fc1_bias": mx.nd.zeros((8,)),
            "fc2_weight": mx.nd.array(rng.uniform(-.5, .5, (3, 8))), "fc2_bias": mx.nd.zeros((3,))}


def test_resume_from_checkpoint_is_exact(tmp_path):
    x, y = data()
    it = mx.io.NDArrayIter(x, y, batch_size=8)
    straight = mx.mod.Module(mlp())
    straight.fit(it, optimizer="adam", optimizer_params=make_opt(), arg_params=fresh_params(),
                 num_epoch=4)
    expected = {k: v.asnumpy() for k, v in straight.get_params()[0].items()}

    first = mx.mod.Module(mlp())
    it.reset()
    first.fit(it, optimizer="adam", optimizer_params=make_opt(), arg_params=fresh_params(),
              num_epoch=2, epoch_end_callback=mx.callback.module_checkpoint(
                  first, str(tmp_path / "ck"), save_optimizer_states=True))
    assert sorted(os.listdir(tmp_path)) == ["ck-0001.params", "ck-0001.states", "ck-0002.params",
                                            "ck-0002.states", "ck-symbol.json"]
    resumed = mx.mod.Module.load(str(tmp_path / "ck"), 2, load_optimizer_states=True)
    it.reset()
    resumed.fit(it, optimizer="adam", optimizer_params=make_opt(), begin_epoch=2, num_epoch=4)
    for k, v in resumed.get_params()[0].items():
        np.testing.assert_allclose(v.asnumpy(), expected[k], rtol=1e-6, atol=1e-7, err_msg=k)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    x, y = data()
    mod = mx.mod.Module(mlp())
    mod.bind([("data", (8, 6))], [("softmax_label", (8,))])
    mod.init_params(arg_params=fresh_params())
    prefix = str(tmp_path / "m")
    mod.save_checkpoint(prefix, 1)
    before = (tmp_path / "m-0001.params").read_bytes()
    mod.set_params({k: v * 2 for k, v in fresh_params().items()}, {})

    def crash(*args):
        raise KeyboardInterrupt("killed mid-write")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        mod.save_checkpoint(prefix, 1)
    monkeypatch.undo()
    assert (tmp_path / "m-0001.params").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m-0001.params", "m-symbol.json"]  # no temp files left
    sym, args, _ = mx.model.load_checkpoint(prefix, 1)
    np.testing.assert_array_equal(args["fc1_weight"].asnumpy(), fresh_params()["fc1_weight"].asnumpy())


def test_callbacks_and_no_recompile():
    x, y = data()
    it = mx.io.NDArrayIter(x, y, batch_size=8)
    val = mx.io.NDArrayIter(x, y, batch_size=8)
    calls = []
    mod = mx.mod.Module(mlp())
    mod.fit(it, eval_data=val, num_epoch=2, optimizer_params={"learning_rate": 0.1},
            batch_end_callback=lambda p: calls.append(("batch", p.epoch, p.nbatch)),
            epoch_end_callback=lambda e, s, a, x_: calls.append(("epoch", e, sorted(a))),
            eval_end_callback=lambda p: calls.append(("eval_end", p.epoch, p.nbatch)))
    assert calls[:5] == [("batch", 0, i) for i in range(4)] + [
        ("epoch", 0, ["fc1_bias", "fc1_weight", "fc2_bias", "fc2_weight"])]
    assert calls[5] == ("eval_end", 0, 4)
    compiles = mod.compile_count
    assert compiles == 2  # the fused train step and the inference forward of score
    mod.fit(it, eval_data=val, num_epoch=2, optimizer_params={"learning_rate": 0.1},
            batch_end_callback=lambda p: None)
    assert mod.compile_count == compiles
    # without callbacks fit takes its fast path (K batches per dispatch): one executable more,
    # compiled once
    mod.fit(it, eval_data=val, num_epoch=2, optimizer_params={"learning_rate": 0.1})
    assert [key[0] for key, _ in mod.compile_log] == ["train_step", "forward", "train_epoch"]
    mod.fit(it, eval_data=val, num_epoch=2, optimizer_params={"learning_rate": 0.1})
    assert mod.compile_count == compiles + 1


def test_set_learning_rate_takes_effect():
    x, y = data()
    results = []
    for lr_after in (0.1, 0.0):
        mod = mx.mod.Module(mlp())
        mod.bind([("data", (8, 6))], [("softmax_label", (8,))])
        mod.init_params(arg_params=fresh_params())
        mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.1})
        b = mx.io.DataBatch([mx.nd.array(x[:8])], [mx.nd.array(y[:8])])
        mod.forward_backward(b)
        mod.update()
        mod._state.optimizer.set_learning_rate(lr_after)
        before = mod.get_params()[0]["fc1_weight"].asnumpy()
        mod.forward_backward(b)
        mod.update()
        results.append(np.abs(mod.get_params()[0]["fc1_weight"].asnumpy() - before).max())
    assert results[0] > 1e-4 and results[1] == 0.0


def test_user_optimizer_with_classic_update():
    """An MXNet-style optimizer subclass (create_state/update on NDArrays) trains a Module."""
    @mx.optimizer.register
    class HalfSGD(mx.optimizer.Optimizer):
        def create_state(self, index, weight):
            return None

        def update(self, index, weight, grad, state):
            lr = self._get_lr(index)
            weight[:] = weight - 0.5 * lr * (grad * self.rescale_grad)

    x, y = data()
    b = mx.io.DataBatch([mx.nd.array(x[:8])], [mx.nd.array(y[:8])])
    results = []
    for opt, lr in (("halfsgd", 0.2), ("sgd", 0.1)):
        mod = mx.mod.Module(mlp())
        mod.bind([("data", (8, 6))], [("softmax_label", (8,))])
        mod.init_params(arg_params=fresh_params())
        mod.init_optimizer(optimizer=opt, optimizer_params={"learning_rate": lr})
        for _ in range(3):
            mod.forward_backward(b)
            mod.update()
        results.append(mod.get_params()[0]["fc1_weight"].asnumpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6, atol=1e-7)


def test_monitor_reports_internals_and_weights():
    x, y = data()
    it = mx.io.NDArrayIter(x, y, batch_size=8)
    mon = mx.monitor.Monitor(2, pattern=".*")
    mod = mx.mod.Module(mlp())
    mod.fit(it, num_epoch=1, optimizer_params={"learning_rate": 0.1}, monitor=mon,
            arg_params=fresh_params())
    mod.forward(mx.io.DataBatch([mx.nd.array(x[:8])], [mx.nd.array(y[:8])]), is_train=False)
    mon.tic()
    mod.forward(mx.io.DataBatch([mx.nd.array(x[:8])], [mx.nd.array(y[:8])]), is_train=False)
    names = [name for _, name, _ in mon.toc()]
    assert "fc1_output" in names and "softmax_output" in names  # internal outputs
    assert "fc1_weight" in names and "data" in names  # arguments, as MXNet's toc adds them


@pytest.mark.parametrize("k", [3, 4])
def test_steps_per_dispatch_gives_the_same_training(k):
    x, y = data()
    results = []
    for steps in (1, k):
        it = mx.io.NDArrayIter(x, y, batch_size=8)
        metric = mx.metric.create("acc")
        seen = []
        mod = mx.mod.Module(mlp())
        mod.fit(it, optimizer="adam", optimizer_params=make_opt(), arg_params=fresh_params(),
                num_epoch=2, eval_metric=metric, steps_per_dispatch=steps,
                batch_end_callback=lambda p: seen.append((p.epoch, p.nbatch)))
        results.append(({n: v.asnumpy() for n, v in mod.get_params()[0].items()},
                        metric.get(), seen, mod.compile_count))
    (p1, m1, s1, c1), (pk, mk, sk, ck) = results
    for n in p1:
        np.testing.assert_allclose(pk[n], p1[n], rtol=1e-5, atol=1e-6, err_msg=n)
    assert mk == pytest.approx(m1) and sk == s1
    assert c1 == 1 and ck == (2 if k == 3 else 1)  # the scan (and for 3, the single step left over)


def test_grad_req_add_accumulates_over_backward_calls():
    x, y = data()
    b = mx.io.DataBatch([mx.nd.array(x[:8])], [mx.nd.array(y[:8])])
    grads = {}
    for req in ("write", "add"):
        mod = mx.mod.Module(mlp())
        mod.bind([("data", (8, 6))], [("softmax_label", (8,))], inputs_need_grad=True, grad_req=req)
        mod.init_params(arg_params=fresh_params())
        for _ in range(3):
            mod.forward_backward(b)
            grads[req] = mod.get_input_grads()[0].asnumpy()
    np.testing.assert_allclose(grads["add"], 3 * grads["write"], rtol=1e-5, atol=1e-7)
