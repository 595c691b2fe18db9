"""mx.metric against goldens from MXNet 1.9.1 (tests/golden/gen_metric_sched.py) and error cases."""
from __future__ import annotations

import json
import logging
import math
import os
from collections import OrderedDict

import jax.numpy as jnp
import numpy as np
import pytest

from modjax import metric
from modjax.base import MXNetError

GOLDEN = json.load(open(os.path.join(os.path.dirname(__file__), "golden", "metric_sched.json")))


def _dec(e: dict) -> np.ndarray:
    return np.asarray(e["data"], dtype=e["dtype"]).reshape(e["shape"])


DATA = {k: [([_dec(x) for x in lab], [_dec(x) for x in pred]) for lab, pred in v]
        for k, v in GOLDEN["data"].items()}


def mean_abs(label, pred):
    return np.abs(label.reshape(pred.shape) - pred).mean()


def sum_count(label, pred):
    return float(np.abs(label.reshape(pred.shape) - pred).sum()), label.size


FEVALS = {"mean_abs": mean_abs, "sum_count": sum_count,
          "lambda": lambda label, pred: float(((label.reshape(pred.shape) - pred) ** 2).mean())}


def build(spec: dict) -> metric.EvalMetric:
    name, args, kwargs = spec["name"], list(spec["args"]), dict(spec["kwargs"])
    args = [FEVALS[a.split(":")[1]] if isinstance(a, str) and a.startswith("custom:") else a
            for a in args]
    if isinstance(name, str) and name.startswith("custom:"):
        return metric.CustomMetric(FEVALS[name.split(":")[1]], *args, **kwargs)
    if isinstance(name, str) and name.startswith("np:"):
        return metric.np(FEVALS[name.split(":")[1]], *args, **kwargs)
    return metric.create(name, *args, **kwargs)


def _convert(kind: str):
    if kind == "numpy":
        return lambda x: x
    if kind == "jax":
        return jnp.asarray
    from modjax.ndarray.ndarray import array
    return array


def assert_close(got, want, where: str = "") -> None:
    if isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), (where, got, want)
        for g, w in zip(got, want):
            assert_close(g, w, where)
    elif isinstance(want, str):
        assert got == want, (where, got, want)
    elif want is None or (isinstance(want, float) and math.isnan(want)):
        assert got is None if want is None else math.isnan(float(got)), (where, got, want)
    else:
        np.testing.assert_allclose(float(got), want, rtol=1e-6, atol=1e-12, err_msg=where)


def record(m, final=False):
    out = {"get": m.get(), "get_global": m.get_global()}
    if final:
        out.update(name_value=m.get_name_value(), global_name_value=m.get_global_name_value())
    return out


def run_case(case: dict, kind: str):
    conv = _convert(kind)
    m = build(case["spec"])
    results = [record(m)]
    for st in case["steps"]:
        if st[0] == "update":
            lab, pred = DATA[st[1]][st[2]]
            m.update([conv(x) for x in lab], [conv(x) for x in pred])
        elif st[0] == "add":
            m.add(build(st[1]))
        else:
            getattr(m, st[0])()
        results.append(record(m))
    return m, results, record(m, final=True)


CASES = {c["id"]: c for c in GOLDEN["metrics"]}


@pytest.mark.parametrize("kind", ["numpy", "jax", "ndarray"])
@pytest.mark.parametrize("cid", sorted(CASES))
def test_golden_metric(cid: str, kind: str) -> None:
    case = CASES[cid]
    m, results, final = run_case(case, kind)
    assert type(m).__name__ == case["type"]
    assert m.name == case["name"]
    assert len(results) == len(case["results"])
    for i, (got, want) in enumerate(zip(results, case["results"])):
        for key in want:
            assert_close(got[key], want[key], f"{cid} step {i} {key}")
    for key in ("name_value", "global_name_value"):
        assert_close(final[key], case["final"][key], f"{cid} final {key}")
    assert str(m) == case["final"]["str"]  # bit-identical values print identically
    if case["config"] is None:
        with pytest.raises(NotImplementedError):
            m.get_config()
    else:
        assert json.loads(json.dumps(m.get_config(), default=str)) == case["config"]


def test_registry_matches_mxnet() -> None:
    assert sorted(metric._REGISTRY) == GOLDEN["registry"]
    for name in GOLDEN["registry"]:
        assert metric.create(name.upper() if name.isalpha() else name, *(
            [None] if name == "perplexity" else [len] if name == "custommetric" else []),
            **({"top_k": 2} if "top" in name else {})) is not None


def test_str_and_doc_examples() -> None:
    m = metric.Accuracy()
    m.update([np.array([0, 1, 1])], [np.array([[0.3, 0.7], [0, 1.], [0.4, 0.6]])])
    assert m.get() == ("accuracy", pytest.approx(2 / 3))
    assert str(m) == "EvalMetric: {'accuracy': %r}" % (2 / 3)
    f1 = metric.F1()
    f1.update([np.array([0., 1., 1.])], [np.array([[0.3, 0.7], [0., 1.], [0.4, 0.6]])])
    assert f1.get() == ("f1", pytest.approx(0.8))
    perp = metric.Perplexity(ignore_label=None)
    perp.update([np.array([0, 1, 1])], [np.array([[0.3, 0.7], [0, 1.], [0.4, 0.6]], np.float32)])
    assert perp.get()[1] == pytest.approx(1.7710976285155853, rel=1e-6)
    mse = metric.MSE()  # per-batch averaging: batches with errors 1 and 9 -> 5, not 6.33
    mse.update([np.zeros(2)], [np.ones(2)])
    mse.update([np.zeros(4)], [np.full(4, 3.0)])
    assert mse.get() == ("mse", 5.0)


def test_empty_metrics_are_nan() -> None:
    for m in [metric.Accuracy(), metric.MSE(), metric.Perplexity(None), metric.PCC(),
              metric.F1(average="micro"), metric.PearsonCorrelation(average="micro")]:
        assert math.isnan(m.get()[1]) and math.isnan(m.get_global()[1])
    assert metric.CompositeEvalMetric().get() == ([], [])


def test_local_vs_global() -> None:
    m = metric.create("acc")
    m.update([np.array([0, 1])], [np.array([[1., 0.], [0., 1.]])])
    m.update([np.array([0, 1])], [np.array([[1., 0.], [1., 0.]])])
    m.reset_local()
    m.update([np.array([0, 1])], [np.array([[1., 0.], [0., 1.]])])
    assert m.get()[1] == 1.0 and m.get_global()[1] == pytest.approx(5 / 6)
    m.reset()
    assert math.isnan(m.get_global()[1])


class _NoGlobal(metric.EvalMetric):
    def update(self, labels, preds):
        self.sum_metric += 1.0
        self.num_inst += 2


def test_user_subclass_without_global_stats() -> None:
    m = _NoGlobal("mine")
    m.update([], [])
    assert m.get() == m.get_global() == ("mine", 0.5)
    assert m.get_global_name_value() == [("mine", 0.5)]
    assert m.get_config() == {"metric": "_NoGlobal", "name": "mine", "output_names": None,
                              "label_names": None}


def test_update_dict_selects_names() -> None:
    m = metric.Accuracy(output_names=["b_output"], label_names=["b_label"])
    labels = OrderedDict([("a_label", np.array([0, 0])), ("b_label", np.array([1, 1]))])
    preds = OrderedDict([("a_output", np.array([[1., 0.], [1., 0.]])),
                         ("b_output", np.array([[0., 1.], [1., 0.]]))])
    m.update_dict(labels, preds)
    assert m.get()[1] == 0.5
    comp = metric.CompositeEvalMetric(["acc", metric.Accuracy(name="acc2")],
                                      output_names=["b_output"], label_names=["b_label"])
    comp.update_dict(labels, preds)
    assert comp.get() == (["accuracy", "acc2"], [0.5, 0.5])
    plain = metric.Accuracy()
    plain.update_dict(OrderedDict([("l", np.array([1]))]), OrderedDict([("o", np.array([[0., 1.]]))]))
    assert plain.get()[1] == 1.0


def test_create_forms() -> None:
    acc = metric.Accuracy(axis=0)
    assert metric.create(acc) is acc
    assert isinstance(metric.create("MSE"), metric.MSE)
    assert isinstance(metric.create("ACC"), metric.Accuracy)
    assert metric.create("top_k_accuracy", top_k=3).name == "top_k_accuracy_3"
    assert metric.create("ce", eps=1e-3).eps == 1e-3
    comp = metric.create(["acc", "mse", metric.F1()])
    assert isinstance(comp, metric.CompositeEvalMetric)
    assert [type(c).__name__ for c in comp.metrics] == ["Accuracy", "MSE", "F1"]
    custom = metric.create(mean_abs)
    assert isinstance(custom, metric.CustomMetric) and custom.name == "mean_abs"
    assert metric.create(lambda l, p: 0.0).name == "custom(<lambda>)"
    assert metric.create(metric.MAE).name == "mae"  # a class is instantiated, not wrapped
    assert metric.create('["perplexity", {"ignore_label": -1}]').ignore_label == -1
    assert metric.create('{"metric": "acc", "axis": 0}').axis == 0
    cfg = metric.create("perplexity", -1, axis=1, name="ppl").get_config()
    again = metric.create(**cfg)
    # as in MXNet, Perplexity's config keeps ignore_label but not axis
    assert (again.ignore_label, again.axis, again.name) == (-1, -1, "ppl")
    comp2 = metric.create(comp.get_config())
    assert [type(c).__name__ for c in comp2.metrics] == ["Accuracy", "MSE", "F1"]
    assert metric.np(mean_abs).name == "mean_abs"
    assert metric.np(mean_abs, name="other").name == "other"


def test_register_and_alias(recwarn) -> None:
    @metric.register
    @metric.alias("my_alias_metric")
    class MyMetricForTest(metric.Loss):
        pass

    assert isinstance(metric.create("mymetricfortest"), MyMetricForTest)
    assert isinstance(metric.create("MY_ALIAS_METRIC"), MyMetricForTest)
    metric.register(MyMetricForTest, "my_alias_metric")
    assert any("overriding" in str(w.message) for w in recwarn.list)
    for name in ("mymetricfortest", "my_alias_metric"):
        del metric._REGISTRY[name]
    with pytest.raises(MXNetError, match="Can only register subclass of EvalMetric"):
        metric.register(dict)


def test_custom_metric_behaviour() -> None:
    m = metric.CustomMetric(sum_count)
    m.update([np.array([1., 2.]), np.array([0.])], [np.array([1.5, 2.]), np.array([1.])])
    assert m.get() == ("sum_count", pytest.approx(1.5 / 3))
    with pytest.raises(NotImplementedError, match="cannot be serialized"):
        m.get_config()
    extra = metric.np(mean_abs, allow_extra_outputs=True)
    extra.update([np.array([1.])], [np.array([2.]), np.array([[5., 6.]])])
    assert extra.get() == ("mean_abs", 1.0)


def test_composite_get_metric_returns_error() -> None:
    comp = metric.CompositeEvalMetric(["acc"])
    assert isinstance(comp.get_metric(0), metric.Accuracy)
    err = comp.get_metric(5)
    assert isinstance(err, ValueError) and isinstance(err, MXNetError)
    assert "Metric index 5 is out of range 0 and 1" in str(err)


def test_loss_accepts_single_array() -> None:
    m = metric.Loss()
    m.update(None, np.array([1., 2., 3.], np.float32))
    m.update(None, [jnp.ones((2, 2))])
    assert m.get() == ("loss", pytest.approx(10 / 7))


# --- error cases -----------------------------------------------------------------------------------
def test_unknown_metric_name() -> None:
    with pytest.raises(MXNetError) as ei:
        metric.create("no_such_metric")
    msg = str(ei.value)
    assert "'no_such_metric' is not registered" in msg
    assert "Known metrics:" in msg and "accuracy" in msg and "nll_loss" in msg


@pytest.mark.parametrize("name,args", [("acc", ()), ("ce", ()), ("mse", ()), ("f1", ()),
                                       ("pearsonr", ()), ("top_k_acc", (2,)), ("pcc", ())])
def test_label_pred_count_mismatch(name: str, args: tuple) -> None:
    m = metric.create(name, *args)
    lab = np.array([0., 1.])
    pred = np.array([[0.2, 0.8], [0.6, 0.4]])
    with pytest.raises(metric.MetricShapeError) as ei:
        m.update([lab, lab], [pred])
    assert isinstance(ei.value, ValueError) and isinstance(ei.value, MXNetError)
    assert "Shape of labels 2 does not match shape of predictions 1" in str(ei.value)


def test_shape_mismatches() -> None:
    with pytest.raises(metric.MetricShapeError, match=r"Shape of labels 3 does not match shape "
                                                      r"of predictions 2"):
        metric.Accuracy().update([np.array([0, 1, 1])], [np.array([[0.1, 0.9], [0.8, 0.2]])])
    with pytest.raises(metric.MetricShapeError, match=r"Shape of labels \(3,\) does not match "
                                                      r"shape of predictions \(3, 1\)"):
        metric.PearsonCorrelation().update([np.zeros(3)], [np.zeros((3, 1))])
    with pytest.raises(metric.MetricShapeError, match="shape mismatch"):
        metric.Perplexity(None).update([np.zeros(3)], [np.ones((2, 4))])
    with pytest.raises(metric.MetricShapeError):
        metric.Perplexity(None).update([np.zeros(3)], [])
    with pytest.raises(metric.MetricShapeError, match="2 labels for 3 predictions"):
        metric.CrossEntropy().update([np.zeros(2)], [np.ones((3, 2))])
    with pytest.raises(metric.MetricShapeError, match="no more than 2 dims"):
        metric.TopKAccuracy(top_k=2).update([np.zeros(2)], [np.ones((2, 3, 4))])
    assert issubclass(metric.MetricShapeError, ValueError)


def test_value_errors() -> None:
    with pytest.raises(metric.MetricValueError, match="Please use Accuracy if top_k is no more"):
        metric.create("top_k_accuracy")
    with pytest.raises(TypeError):
        metric.create("perplexity")  # ignore_label is a required positional argument
    for name in ("f1", "mcc"):
        with pytest.raises(ValueError, match="currently only supports binary classification"):
            metric.create(name).update([np.array([0, 1, 2])], [np.ones((3, 3))])
    with pytest.raises(metric.MetricValueError, match="already an instance"):
        metric.create(metric.Accuracy(), axis=0)
    with pytest.raises(metric.MetricValueError, match="metric must be"):
        metric.create(42)


def test_metrics_do_not_log(caplog) -> None:
    with caplog.at_level(logging.INFO):
        metric.Accuracy().update([np.array([0])], [np.array([[1., 0.]])])
    assert not caplog.records
