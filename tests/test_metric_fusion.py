"""Metrics computed inside the fused train step, and fit's K-batches-per-dispatch fast path:
both must give exactly what the host path (MXNet's batch-by-batch loop) gives."""
import logging

import numpy as np
import pytest

import modjax as mx
from modjax.module import metric_fusion

logging.disable(logging.WARNING)


def mlp():
    data = mx.sym.Variable("data")
    fc1 = mx.sym.FullyConnected(data, num_hidden=16, name="fc1")
    act = mx.sym.Activation(fc1, act_type="relu", name="relu1")
    fc2 = mx.sym.FullyConnected(act, num_hidden=4, name="fc2")
    return mx.sym.SoftmaxOutput(fc2, name="softmax")


def data(n=76):
    rng = np.random.RandomState(3)
    return rng.rand(n, 6).astype(np.float32), rng.randint(0, 4, n).astype(np.float32)


class HostAccuracy(mx.metric.Accuracy):
    """A subclass: never fused (its update could differ), so it runs MXNet's host path."""


def kinds(mod):
    return [key[0] for key, _ in mod.compile_log]


def train_fit(handle, shuffle, steps_per_dispatch, metric, callbacks=None):
    x, y = data()
    np.random.seed(0)
    mx.random.seed(0)
    it = mx.io.NDArrayIter(x, y, batch_size=16, shuffle=shuffle, last_batch_handle=handle)
    mod = mx.mod.Module(mlp())
    seen = []
    speedo = mx.callback.Speedometer(16, frequent=2, auto_reset=True)
    cb = callbacks if callbacks is not None else speedo
    mod.fit(it, num_epoch=3, optimizer="sgd", optimizer_params={"learning_rate": 0.5, "momentum": 0.9},
            eval_metric=metric, batch_end_callback=cb, steps_per_dispatch=steps_per_dispatch)
    seen.append((metric.get_global(), metric.get(), getattr(metric, "num_inst", None)))
    return mod, mod.get_params()[0], seen


@pytest.mark.parametrize("handle,shuffle,spd", [("pad", False, None), ("pad", True, 2),
                                                ("discard", True, None), ("discard", False, 3)])
def test_fast_path_equals_batch_by_batch(handle, shuffle, spd):
    fast, fast_params, fast_seen = train_fit(handle, shuffle, spd, mx.metric.Accuracy())
    slow, slow_params, slow_seen = train_fit(handle, shuffle, 1, HostAccuracy())
    assert "train_epoch" in kinds(fast) and "train_epoch" not in kinds(slow)
    for name in slow_params:
        np.testing.assert_array_equal(fast_params[name].asnumpy(), slow_params[name].asnumpy())
    assert repr(fast_seen) == repr(slow_seen)  # nan == nan, as text


def test_callbacks_see_the_metric_after_each_batch():
    """A custom callback forces the batch-by-batch loop; the fused metric still reads exactly."""
    got = {}
    for metric in (mx.metric.Accuracy(), HostAccuracy()):
        calls = []

        def record(param, calls=calls):
            calls.append((param.epoch, param.nbatch, param.eval_metric.get(), param.eval_metric.num_inst))
        train_fit("pad", True, None, metric, callbacks=[record])
        got[type(metric)] = calls
    assert repr(got[mx.metric.Accuracy]) == repr(got[HostAccuracy])
    assert len(got[HostAccuracy]) == 15


def test_speedometer_keeps_the_fast_path_and_a_custom_callback_does_not():
    mod, _, _ = train_fit("pad", False, None, mx.metric.Accuracy())
    assert kinds(mod) == ["train_epoch"]
    mod, _, _ = train_fit("pad", False, None, mx.metric.Accuracy(), callbacks=[lambda p: None])
    assert kinds(mod) == ["train_step"]


def bound_module():
    """A bound, initialised module with an optimizer, and its 4-batch iterator."""
    x, y = data(64)
    it = mx.io.NDArrayIter(x, y, batch_size=16)
    mx.random.seed(1)
    mod = mx.mod.Module(mlp())
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params(mx.init.Xavier())
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.5})
    return mod, it


def intermediate(metric, skip=(), read_early=()):
    mod, it = bound_module()
    values = []
    for epoch in range(3):
        it.reset()
        for i, batch in enumerate(it):
            mod.forward(batch, is_train=True)
            mod.backward()
            mod.update()
            if (epoch, i) in read_early:
                values.append(metric.get())  # before this batch's update_metric
            if (epoch, i) not in skip:
                mod.update_metric(metric, batch.label)
        values.append((metric.get(), metric.num_inst))
    return mod, values


def test_intermediate_api_fuses_after_the_first_update_metric():
    skip = {(0, 2), (1, 0), (2, 3)}
    early = {(1, 1), (2, 3)}
    fused_mod, fused = intermediate(mx.metric.Accuracy(), skip, early)
    host_mod, host = intermediate(HostAccuracy(), skip, early)
    assert repr(fused) == repr(host)
    assert [k[-1] is not None for k in fused_mod._execs._table if k[0] == "train_step"] == [False, True]
    assert [k[-1] is not None for k in host_mod._execs._table if k[0] == "train_step"] == [False]


def two_accuracies(cls):
    comp = mx.metric.CompositeEvalMetric()
    comp.add(cls())
    comp.add(cls(name="acc2"))
    return comp


def test_composite_of_accuracies_is_fused_and_children_read_directly():
    fused_comp, host_comp = two_accuracies(mx.metric.Accuracy), two_accuracies(HostAccuracy)
    fast, _, _ = train_fit("pad", False, None, fused_comp)
    train_fit("pad", False, 1, host_comp)
    assert "train_epoch" in kinds(fast)
    child, ref_child = fused_comp.get_metric(1), host_comp.get_metric(1)
    assert (child.get_global(), child.global_num_inst) == (ref_child.get_global(), ref_child.global_num_inst)
    assert fused_comp.get_global() == host_comp.get_global()


def test_a_composite_with_a_host_only_child_is_not_fused():
    comp = mx.metric.CompositeEvalMetric(["acc", "ce"])
    mod, _, seen = train_fit("pad", False, None, comp)
    assert kinds(mod) == ["train_step"]
    ref = mx.metric.CompositeEvalMetric([HostAccuracy(), "ce"])
    _, _, ref_seen = train_fit("pad", False, 1, ref)
    assert repr(seen) == repr(ref_seen)


def test_running_sums_rebase_before_int32_overflow(monkeypatch):
    monkeypatch.setattr(metric_fusion, "_REBASE_AT", 40)
    skip = {(0, 1), (2, 2)}
    _, fused = intermediate(mx.metric.Accuracy(), skip, {(1, 3)})
    _, host = intermediate(HostAccuracy(), skip, {(1, 3)})
    assert repr(fused) == repr(host)
    monkeypatch.setattr(metric_fusion, "_REBASE_AT", 40)
    fast, _, fast_seen = train_fit("pad", True, 2, mx.metric.Accuracy())
    _, _, slow_seen = train_fit("pad", True, 1, HostAccuracy())
    assert repr(fast_seen) == repr(slow_seen)  # nan == nan, as text


def test_bucketing_module_fuses_accuracy_in_every_bucket_with_one_compile_each():
    def sym_gen(key):
        data = mx.sym.Variable("data")
        fc = mx.sym.FullyConnected(data, num_hidden=4, name="fc")
        return mx.sym.SoftmaxOutput(fc, name="softmax"), ("data",), ("softmax_label",)
    rng = np.random.RandomState(0)
    batches = [mx.io.DataBatch([mx.nd.array(rng.rand(8, 5))], [mx.nd.array(rng.randint(0, 4, 8))],
                               bucket_key=k, provide_data=[mx.io.DataDesc("data", (8, 5))],
                               provide_label=[mx.io.DataDesc("softmax_label", (8,))])
               for k in (1, 2, 1, 2, 1)]

    class Iter(mx.io.DataIter):
        def __init__(self):
            super().__init__(8)
            self.i = 0
            self.provide_data = batches[0].provide_data
            self.provide_label = batches[0].provide_label

        def reset(self):
            self.i = 0

        def next(self):
            if self.i == len(batches):
                raise StopIteration
            self.i += 1
            return batches[self.i - 1]
    results = []
    for metric in (mx.metric.Accuracy(), HostAccuracy()):
        mx.random.seed(0)
        mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=1)
        mod.fit(Iter(), num_epoch=2, eval_metric=metric, optimizer_params={"learning_rate": 0.3})
        results.append((metric.get_global(), mod.get_params()[0]["fc_weight"].asnumpy()))
        for module in mod._buckets.values():
            assert [k[0] for k, _ in module.compile_log] == ["train_step"]
            fused = [k[-1] is not None for k in module._execs._table if k[0] == "train_step"]
            assert fused == [isinstance(metric, HostAccuracy) is False]
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_a_child_read_directly_sees_the_composites_fused_updates():
    reads = {}
    for cls in (mx.metric.Accuracy, HostAccuracy):
        comp = two_accuracies(cls)
        mod, it = bound_module()
        got = []
        for _ in range(2):
            it.reset()
            for batch in it:
                mod.forward_backward(batch)
                mod.update()
                mod.update_metric(comp, batch.label)
                got.append((comp.get_metric(1).get(), comp.get_metric(0).num_inst))
        reads[cls] = got
    assert reads[mx.metric.Accuracy] == reads[HostAccuracy]
    assert reads[HostAccuracy][-1][1] == 128
