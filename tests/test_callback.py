"""mx.callback and mx.monitor against MXNet 1.9.1 goldens (tests/golden/io.json, from gen_io.py)."""
import json
import logging
import os
import time

import numpy as np
import pytest

import modjax as mx
import modjax.callback  # noqa: F401  (mx.callback)
import modjax.monitor  # noqa: F401  (mx.monitor)

from conftest import GOLDEN
import sys  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "golden"))
from io_cases import Clock, FakeMetric  # noqa: E402

with open(os.path.join(GOLDEN, "io.json")) as _f:
    G = json.load(_f)


SCENARIOS = {
    "speedometer_auto": (lambda: mx.callback.Speedometer(4, frequent=2), ["accuracy"]),
    "speedometer_noreset": (lambda: mx.callback.Speedometer(4, frequent=2, auto_reset=False),
                            ["accuracy", "cross-entropy"]),
    "speedometer_nometric": (lambda: mx.callback.Speedometer(8, frequent=3), None),
    "log_train_metric": (lambda: mx.callback.log_train_metric(2, auto_reset=True), ["accuracy"]),
    "progress_bar": (lambda: mx.callback.ProgressBar(total=7, length=10), ["accuracy"]),
    "log_validation": (lambda: mx.callback.LogValidationMetricsCallback(), ["accuracy", "mse"]),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_callback_log_lines_golden(name, monkeypatch, caplog):
    make, names = SCENARIOS[name]
    monkeypatch.setattr(time, "time", Clock())
    cb = make()
    metric = FakeMetric(names) if names else None
    with caplog.at_level(logging.INFO):
        for epoch in range(2):
            for nbatch in range(7):
                cb(mx.callback.BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=metric, locals=None))
    want = G["callbacks"][name]
    assert [r.getMessage() for r in caplog.records] == want["lines"]
    assert (metric.resets if metric else 0) == want["resets"]
    assert (metric.calls if metric else 0) == want["calls"]
    assert all(r.name == "root" for r in caplog.records)


def test_speedometer_zero_elapsed_is_inf(monkeypatch, caplog):
    monkeypatch.setattr(time, "time", lambda: 5.0)
    cb = mx.callback.Speedometer(2, frequent=1)
    with caplog.at_level(logging.INFO):
        for n in range(2):
            cb(mx.callback.BatchEndParam(0, n, None, None))
    assert caplog.records[-1].getMessage() == "Iter[0] Batch [1]\tSpeed: inf samples/sec"


def test_batch_end_param_is_models():
    from modjax import model
    assert mx.callback.BatchEndParam is model.BatchEndParam
    p = mx.callback.BatchEndParam(epoch=1, nbatch=2, eval_metric=None, locals={})
    assert (p.epoch, p.nbatch) == (1, 2)


def test_do_checkpoint_calls_save_checkpoint_one_based(monkeypatch):
    from modjax import model
    calls = []
    monkeypatch.setattr(model, "save_checkpoint",
                        lambda prefix, epoch, sym, arg, aux, remove_amp_cast=True:
                        calls.append((prefix, epoch, sym, arg, aux)))
    cb = mx.callback.do_checkpoint("pre", period=2)
    for epoch in range(5):
        cb(epoch, "SYM", {"w": 1}, {"a": 2})
    assert calls == [("pre", 2, "SYM", {"w": 1}, {"a": 2}), ("pre", 4, "SYM", {"w": 1}, {"a": 2})]
    calls.clear()
    cb = mx.callback.do_checkpoint("p0", period=0)  # clamped to 1
    cb(0, "S", {}, {})
    assert calls == [("p0", 1, "S", {}, {})]


def test_module_checkpoint():
    class Mod:
        def __init__(self):
            self.calls = []

        def save_checkpoint(self, prefix, epoch, save_optimizer_states=False):
            self.calls.append((prefix, epoch, save_optimizer_states))

    mod = Mod()
    cb = mx.callback.module_checkpoint(mod, "m", period=3, save_optimizer_states=True)
    for epoch in range(7):
        cb(epoch)
    assert mod.calls == [("m", 3, True), ("m", 6, True)]


def test_log_validation_skips_missing_metric(caplog):
    with caplog.at_level(logging.INFO):
        mx.callback.LogValidationMetricsCallback()(mx.callback.BatchEndParam(0, 0, None, None))
    assert caplog.records == []


# --- monitor ---------------------------------------------------------------------------------------
def _fc_executor():
    g = G["monitor"]
    dec = lambda e: np.array(e["data"], dtype=e["dtype"]).reshape(e["shape"])  # noqa: E731
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=2, name="fc")
    return fc.bind(mx.cpu(), {"data": mx.nd.array(dec(g["x"])), "fc_weight": mx.nd.array(dec(g["w"])),
                              "fc_bias": mx.nd.array(dec(g["b"]))})


def _same_entries(got, want):
    assert len(got) == len(want)
    for (gs, gn, gv), (ws, wn, wv) in zip(got, want):
        assert (gs, gn) == (ws, wn)
        assert gv.endswith("\t")
        np.testing.assert_allclose(float(gv), float(wv), rtol=1e-6)


@pytest.mark.parametrize("kind", ["default", "sorted_weight"])
def test_monitor_golden(kind):
    kw = {} if kind == "default" else {"pattern": ".*weight|.*output", "sort": True}
    exe = _fc_executor()
    mon = mx.monitor.Monitor(2, **kw)
    mon.install(exe)
    for want in G["monitor"]["results"][kind]:
        mon.tic()
        exe.forward(is_train=False)
        _same_entries(mon.toc(), want)


def test_monitor_custom_stat_and_print(caplog):
    class FakeSym:
        def list_arguments(self):
            return ["a_weight", "b"]

        def list_auxiliary_states(self):
            return ["c_moving_mean"]

    class FakeExe:
        def __init__(self):
            self._symbol = FakeSym()
            self.arg_arrays = [mx.nd.array(np.array([3.0, 4.0])), mx.nd.array(np.ones((2, 2)))]
            self.aux_arrays = [mx.nd.array(np.array([2.0]))]
            self.cb = None

        def set_monitor_callback(self, cb, monitor_all=False):
            self.cb, self.monitor_all = cb, monitor_all

    exe = FakeExe()
    mon = mx.monitor.Monitor(1, stat_func=lambda x: x * 2, pattern=".*", monitor_all=True)
    mon.install(exe)
    assert exe.cb is mon.stat_helper and exe.monitor_all is True
    exe.cb("ignored_output", mx.nd.array(np.array([1.0])))  # not activated yet
    mon.tic()
    exe.cb("out", mx.nd.array(np.array([1.5])))
    with caplog.at_level(logging.INFO):
        mon.toc_print()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "Batch: {:7d} {:30s} {:s}".format(1, "out", "3.0\t")
    assert lines[1] == "Batch: {:7d} {:30s} {:s}".format(1, "a_weight", "[6. 8.]\t")
    assert lines[3].split()[2] == "c_moving_mean" and len(lines) == 4
    assert mon.toc() == []  # deactivated after toc
