"""Write tests/golden/metric_sched.json from real MXNet 1.9.1.

Run with the MXNet reference venv (never from the project venv)::

    /root/.mxnet-ref/bin/python tests/golden/gen_metric_sched.py

Metric cases: a metric spec (``create`` name, args, kwargs), a sequence of
updates (lists of label / prediction arrays) and optional ``reset_local`` steps;
after every step the get / get_global / name-value results are recorded.
Scheduler cases: a class name, its kwargs and the lr for num_update 1..60.
"""
import json
import logging
import os
import warnings

import numpy as np

warnings.filterwarnings("ignore")
import mxnet as mx  # noqa: E402

logging.disable(logging.CRITICAL)
HERE = os.path.dirname(os.path.abspath(__file__))
RS = np.random.RandomState(1234)


def probs(n, k):
    """Rows of positive probabilities without ties."""
    x = RS.rand(n, k).astype(np.float32) + 0.05
    return (x / x.sum(axis=1, keepdims=True)).astype(np.float32)


def labels(n, k, shape2=False):
    y = RS.randint(0, k, size=n).astype(np.float32)
    return y.reshape(n, 1) if shape2 else y


def enc(a):
    a = np.asarray(a)
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.ravel().tolist()}


def jsonable(v):
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (np.generic,)):
        return v.item()
    return v


# --- data ------------------------------------------------------------------------------------------
MC = [(labels(6, 4), probs(6, 4)), (labels(3, 4), probs(3, 4)), (labels(5, 4), probs(5, 4))]
MC2 = [(l.reshape(-1, 1), p) for l, p in MC]
BIN = [
    (np.array([0, 1, 1, 0, 1, 0, 1, 1], np.float32), probs(8, 2)),
    (np.array([1, 1, 0, 0], np.float32), probs(4, 2)),
    (np.array([0, 0, 0, 0, 0], np.float32), probs(5, 2)),  # one class only
    (np.array([1, 0, 1], np.float32), np.array([[.9, .1], [.8, .2], [.7, .3]], np.float32)),
]
BIN2 = [(l.reshape(-1, 1), p) for l, p in BIN]
REG = [(RS.randn(2).astype(np.float32), RS.randn(2).astype(np.float32)),
       (RS.randn(4).astype(np.float32), RS.randn(4).astype(np.float32)),
       (RS.randn(3).astype(np.float32), RS.randn(3).astype(np.float32))]
REG2 = [(l.reshape(-1, 1), p.reshape(-1, 1)) for l, p in REG]
REG_MIX = [(l, p.reshape(-1, 1)) for l, p in REG]
REG_2D = [(RS.randn(3, 2).astype(np.float32), RS.randn(3, 2).astype(np.float32)),
          (RS.randn(4, 2).astype(np.float32), RS.randn(4, 2).astype(np.float32))]
MSE_DOC = [(np.array([0, 0], np.float32), np.array([1, 1], np.float32)),
           (np.array([0, 0, 0, 0], np.float32), np.array([3, 3, 3, 3], np.float32))]
PERP_IGN = [(np.array([0, -1, 2, 1, -1, 3], np.float32), probs(6, 4)),
            (np.array([3, 3, -1], np.float32), probs(3, 4))]
PERP_ZERO = [(np.array([0, 1, 1], np.float32),
              np.array([[0.3, 0.7], [0., 1.], [0.4, 0.6]], np.float32)),
             (np.array([1, 0], np.float32), np.array([[1.0, 0.0], [0.0, 1.0]], np.float32))]
CLASS_IDX = [(np.array([0, 1, 2, 2], np.float32), np.array([0, 1, 1, 2], np.float32)),
             (np.array([3, 1], np.float32), np.array([3, 0], np.float32))]
PCC_GROW = [(np.array([0, 1, 1, 0], np.float32), probs(4, 2)),
            (np.array([2, 4, 1, 0, 3], np.float32), probs(5, 5)),
            (np.array([4, 4, 0], np.float32), probs(3, 5))]
PCC_DEGEN = [(np.array([1, 1, 1], np.float32), np.array([[0, 1], [0, 1], [0, 1]], np.float32))]
LOSS = [(None, RS.rand(4).astype(np.float32)), (None, RS.rand(2, 3).astype(np.float32))]
TOPK_1D = [(np.array([2, 0, 1, 3], np.float32), RS.rand(4).astype(np.float32))]
AXIS0 = [(np.array([1, 0, 2, 1], np.float32), probs(3, 4))]
TWO_OUT = [([l, l2], [p, p2]) for (l, p), (l2, p2) in zip(MC, MC[1:] + MC[:1])]

# every dataset: a list of batches, each batch ([labels...], [preds...])
DATA = {}
for _k, _v in list(globals().items()):
    if _k.isupper() and isinstance(_v, list) and _k not in ("DATA", "TWO_OUT"):
        DATA[_k] = [([l] if l is not None else [], [p]) for l, p in _v]
DATA["TWO_OUT"] = TWO_OUT
DATA["EXTRA_OUT"] = [([l], [p, p]) for l, p in REG]
DATA["REG_TWO"] = [([REG[0][0], REG[1][0]], [REG[0][1], REG[1][1]]), ([REG[2][0]], [REG[2][1]])]
DATA["BIN_TWO"] = [([BIN[0][0], BIN[1][0]], [BIN[0][1], BIN[1][1]]),
                   ([BIN[2][0], BIN[3][0]], [BIN[2][1], BIN[3][1]])]


def single(name, lo=0, hi=None):
    """Update steps for batches lo..hi of dataset ``name``."""
    return [("update", name, i) for i in range(len(DATA[name]))[lo:hi]]


CASES = []


def case(cid, spec, steps, **extra):
    CASES.append(dict(id=cid, spec=spec, steps=steps, **extra))


def S(_name, *args, **kwargs):
    return {"name": _name, "args": list(args), "kwargs": kwargs}


cls_names = ["acc", "accuracy", "ce", "crossentropy", "nll_loss", "negativeloglikelihood"]
for n in cls_names:
    case(f"{n}-mc", S(n), single("MC"))
    case(f"{n}-mc-n1", S(n), single("MC2"))
case("acc-two-outputs", S("acc"), single("TWO_OUT"))
case("acc-class-index", S("acc"), single("CLASS_IDX"))
case("acc-axis0", S("acc", axis=0), single("AXIS0"))
case("acc-reset-local", S("acc"), single("MC", 0, 2) + [("reset_local",)] + single("MC", 2))
case("ce-eps", S("ce", eps=1e-3), single("PERP_ZERO"))
for n in ["top_k_accuracy", "topkaccuracy", "top_k_acc"]:
    case(f"{n}-2", S(n, top_k=2), single("MC"))
    case(f"{n}-3-n1", S(n, top_k=3), single("MC2"))
case("topk-1d", S("top_k_acc", top_k=2), single("TOPK_1D"))
case("topk-4of4", S("top_k_acc", top_k=4), single("MC"))
for avg in ["macro", "micro"]:
    for n in ["f1", "mcc"]:
        case(f"{n}-{avg}", S(n, average=avg), single("BIN"))
        case(f"{n}-{avg}-n1", S(n, average=avg), single("BIN2", 0, 2))
        case(f"{n}-{avg}-reset-local", S(n, average=avg),
             single("BIN", 0, 2) + [("reset_local",)] + single("BIN", 2))
    for n in ["pearsonr", "pearsoncorrelation"]:
        case(f"{n}-{avg}", S(n, average=avg), single("REG"))
        case(f"{n}-{avg}-2d", S(n, average=avg), single("REG_2D"))
        case(f"{n}-{avg}-reset-local", S(n, average=avg),
             single("REG", 0, 2) + [("reset_local",)] + single("REG", 2))
for n in ["mae", "mse", "rmse"]:
    case(f"{n}-n", S(n), single("REG"))
    case(f"{n}-n1", S(n), single("REG2"))
    case(f"{n}-mixed", S(n), single("REG_MIX"))
    case(f"{n}-2d", S(n), single("REG_2D"))
    case(f"{n}-doc", S(n), single("MSE_DOC"))
for n in ["perplexity"]:
    case("perplexity-none", S(n, None), single("MC"))
    case("perplexity-none-n1", S(n, ignore_label=None), single("MC2"))
    case("perplexity-ignore", S(n, -1), single("PERP_IGN"))
    case("perplexity-ignore3", S(n, 3), single("PERP_IGN"))
    case("perplexity-zero-prob", S(n, None), single("PERP_ZERO"))
    case("perplexity-axis1", S(n, None, axis=1), single("MC"))
case("pcc-binary", S("pcc"), single("BIN"))
case("pcc-grow", S("pcc"), single("PCC_GROW") + [("reset_local",)] + single("PCC_GROW", 1))
case("pcc-degenerate", S("pcc"), single("PCC_DEGEN"))
case("pcc-class-index", S("pcc"), single("CLASS_IDX"))
for n in ["loss", "torch", "caffe"]:
    case(f"{n}", S(n), single("LOSS"))
case("loss-named", S("loss", name="my-loss"), single("LOSS"))
case("composite", S(["acc", "ce", "f1"]), single("BIN"))
case("composite-name", S("composite"), [("add", S("mse")), ("add", S("mae"))] + single("REG"))
case("compositeevalmetric", S("compositeevalmetric"), [("add", S("acc"))] + single("MC"))
case("custom-float", S("custom:mean_abs"), single("REG"))
case("custom-tuple", S("custom:sum_count"), single("REG"))
case("custom-lambda", S("custom:lambda"), single("REG"))
case("custom-named", S("custom:mean_abs", name="myname"), single("REG"))
case("custommetric-registry", S("custommetric", "custom:mean_abs"), single("REG"))
case("np-wrapper", S("np:mean_abs"), single("REG"))
case("custom-extra-outputs", S("custom:mean_abs", allow_extra_outputs=True),
     single("EXTRA_OUT"))
for n in ["ce", "nll_loss", "top_k_acc:2", "perplexity:None"]:
    nm, *a = n.split(":")
    case(f"{nm}-two-outputs", S(nm, *[None if x == "None" else int(x) for x in a]), single("TWO_OUT"))
for n in ["mse", "mae", "rmse", "pearsonr", "loss"]:
    case(f"{n}-two-outputs", S(n), single("REG_TWO"))
for n in ["f1", "mcc", "pcc"]:
    case(f"{n}-two-outputs", S(n), single("BIN_TWO"))
    case(f"{n}-micro-two-outputs", S(n, average="micro") if n != "pcc" else S(n), single("BIN_TWO"))
case("pcc-n1", S("pcc"), single("BIN2"))
case("composite-bin", S(["f1", "mcc", "pcc", "acc"]), single("BIN") + [("reset_local",)] +
     single("BIN", 1))
case("empty-acc", S("acc"), [])
case("empty-f1", S("f1"), [])
case("empty-perplexity", S("perplexity", None), [])


def mean_abs(label, pred):
    return np.abs(label.reshape(pred.shape) - pred).mean()


def sum_count(label, pred):
    return float(np.abs(label.reshape(pred.shape) - pred).sum()), label.size


FEVALS = {"mean_abs": mean_abs, "sum_count": sum_count,
          "lambda": lambda label, pred: float(((label.reshape(pred.shape) - pred) ** 2).mean())}


def build(spec):
    name, args, kwargs = spec["name"], list(spec["args"]), dict(spec["kwargs"])
    args = [FEVALS[a.split(":")[1]] if isinstance(a, str) and a.startswith("custom:") else a
            for a in args]
    if isinstance(name, str) and name.startswith("custom:"):
        return mx.metric.CustomMetric(FEVALS[name.split(":")[1]], *args, **kwargs)
    if isinstance(name, str) and name.startswith("np:"):
        return mx.metric.np(FEVALS[name.split(":")[1]], *args, **kwargs)
    return mx.metric.create(name, *args, **kwargs)


def nd(xs):
    return [mx.nd.array(x, dtype=x.dtype) for x in xs]


def record(m, final=False):
    out = {"get": jsonable(m.get()), "get_global": jsonable(m.get_global())}
    if final:
        out.update(name_value=jsonable(m.get_name_value()),
                   global_name_value=jsonable(m.get_global_name_value()), str=str(m))
    return out


def run_metric(c):
    m = build(c["spec"])
    results = [record(m)]
    for st in c["steps"]:
        if st[0] == "update":
            lab, pred = DATA[st[1]][st[2]]
            m.update(nd(lab), nd(pred))
        elif st[0] == "add":
            m.add(build(st[1]))
        else:
            getattr(m, st[0])()
        results.append(record(m))
    final = record(m, final=True)
    try:
        cfg = json.loads(json.dumps(m.get_config(), default=str))
    except NotImplementedError:
        cfg = None
    return {"id": c["id"], "spec": c["spec"], "steps": [list(x) for x in c["steps"]],
            "results": results, "final": final, "config": cfg, "name": m.name, "type": type(m).__name__}


SCHED = [
    ("FactorScheduler", dict(step=2, factor=0.5, base_lr=1.0)),
    ("FactorScheduler", dict(step=7, factor=0.9, stop_factor_lr=1e-8, base_lr=0.1)),
    ("FactorScheduler", dict(step=3, factor=0.1, stop_factor_lr=1e-4, base_lr=1.0)),
    ("FactorScheduler", dict(step=1, factor=0.8, stop_factor_lr=0.05, base_lr=1.0)),
    ("FactorScheduler", dict(step=5)),
    ("FactorScheduler", dict(step=10, factor=0.5, base_lr=1.0, warmup_steps=12,
                             warmup_begin_lr=0.1)),
    ("FactorScheduler", dict(step=4, factor=0.5, base_lr=1.0, warmup_steps=10,
                             warmup_begin_lr=0.2, warmup_mode="constant")),
    ("FactorScheduler", dict(step=100, factor=0.1, stop_factor_lr=1e-4, base_lr=1.0,
                             warmup_steps=20, warmup_begin_lr=0.1, warmup_mode="constant")),
    ("MultiFactorScheduler", dict(step=[2, 5], factor=0.1, base_lr=1.0)),
    ("MultiFactorScheduler", dict(step=[10, 20, 30, 45], factor=0.5, base_lr=0.3)),
    ("MultiFactorScheduler", dict(step=[15, 25], factor=0.1, base_lr=0.1, warmup_steps=10,
                                  warmup_begin_lr=0.05)),
    ("MultiFactorScheduler", dict(step=[3, 8], factor=0.5, base_lr=1.0, warmup_steps=6,
                                  warmup_begin_lr=0.0, warmup_mode="constant")),
    ("MultiFactorScheduler", dict(step=[5])),
    ("PolyScheduler", dict(max_update=4, base_lr=1.0)),
    ("PolyScheduler", dict(max_update=50, base_lr=0.5, pwr=1.5, final_lr=0.01)),
    ("PolyScheduler", dict(max_update=40, base_lr=3.0, pwr=2, warmup_steps=10)),
    ("PolyScheduler", dict(max_update=45, base_lr=1.0, pwr=3, final_lr=0.1, warmup_steps=8,
                           warmup_begin_lr=0.1, warmup_mode="constant")),
    ("PolyScheduler", dict(max_update=30, base_lr=1.0, pwr=0.5, warmup_steps=30)),
    ("PolyScheduler", dict(max_update=20, base_lr=1.0, warmup_steps=25, warmup_begin_lr=0.2)),
    ("CosineScheduler", dict(max_update=4, base_lr=1.0, warmup_steps=2)),
    ("CosineScheduler", dict(max_update=50, base_lr=3.0, final_lr=0.1)),
    ("CosineScheduler", dict(max_update=40, base_lr=0.8, final_lr=0.0, warmup_steps=10,
                             warmup_begin_lr=0.01)),
    ("CosineScheduler", dict(max_update=55, base_lr=1.0, final_lr=0.2, warmup_steps=5,
                             warmup_begin_lr=0.5, warmup_mode="constant")),
    ("CosineScheduler", dict(max_update=10, base_lr=1.0, warmup_steps=20)),
]


def run_sched(cls, kw):
    s = getattr(mx.lr_scheduler, cls)(**kw)
    out = {"cls": cls, "kwargs": kw, "lr": []}
    for t in range(1, 61):
        try:
            out["lr"].append(float(s(t)))
        except ZeroDivisionError as e:  # max_update == warmup_steps
            out.update(error_at=t, error=type(e).__name__)
            break
    return out


def main():
    out = {"mxnet_version": mx.__version__,
           "registry": sorted(mx.registry.get_registry(mx.metric.EvalMetric)),
           "data": {k: [[[enc(x) for x in lab], [enc(x) for x in pred]] for lab, pred in v]
                    for k, v in DATA.items()},
           "metrics": [run_metric(c) for c in CASES],
           "schedulers": [run_sched(c, k) for c, k in SCHED]}
    path = os.path.join(HERE, "metric_sched.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print("wrote", path, os.path.getsize(path), "bytes;", len(out["metrics"]), "metric cases,",
          len(out["schedulers"]), "scheduler cases")


if __name__ == "__main__":
    main()
