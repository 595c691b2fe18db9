"""Write tests/golden/io.json from real MXNet 1.9.1 (mx.io, mx.callback, mx.monitor).

Run with the MXNet reference venv (never from the project venv)::

    /root/.mxnet-ref/bin/python tests/golden/gen_io.py

Every input is built from small deterministic recipes that tests/test_io.py and
tests/test_callback.py rebuild themselves (arange data, CSV texts and idx bytes stored here).
Batches are recorded as ``{"data": [...], "label": [...], "pad": p, "index": ...}`` per epoch;
``reset()`` is called between epochs.
"""
import json
import logging
import os
import struct
import tempfile
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")
os.environ["MXNET_SUBGRAPH_BACKEND"] = "NONE"  # keep operator names (no sg_mkldnn_*)
import mxnet as mx  # noqa: E402
from io_cases import Clock, FakeMetric, nd_inputs  # noqa: E402,F401

HERE = os.path.dirname(os.path.abspath(__file__))


def enc(a):
    a = np.asarray(a)
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.ravel().tolist()}


def desc(d):
    return {"name": d.name, "shape": list(d.shape), "dtype": np.dtype(d.dtype).name, "layout": d.layout}


def rec_batch(b):
    return {"data": [enc(x.asnumpy()) for x in b.data],
            "label": [enc(x.asnumpy()) for x in (b.label or [])],
            "pad": b.pad,
            "index": None if b.index is None else np.asarray(b.index).tolist()}


def run_epochs(it, epochs):
    out = []
    for _ in range(epochs):
        out.append([rec_batch(b) for b in it])
        it.reset()
    return out


# --- NDArrayIter ---------------------------------------------------------------------------------



ND_CASES = []
for kind in ("single", "dict", "list_nolabel"):
    for mode in ("pad", "discard", "roll_over"):
        for shuffle in (False, True):
            ND_CASES.append(dict(kind=kind, batch_size=3, last_batch_handle=mode, shuffle=shuffle, seed=42,
                                 epochs=3))
ND_CASES += [
    dict(kind="single", batch_size=4, last_batch_handle="roll_over", shuffle=False, seed=0, epochs=4),
    dict(kind="single", batch_size=25, last_batch_handle="pad", shuffle=False, seed=0, epochs=2),
    dict(kind="single", batch_size=5, last_batch_handle="pad", shuffle=False, seed=0, epochs=2),
    dict(kind="single", batch_size=5, last_batch_handle="roll_over", shuffle=True, seed=7, epochs=3),
    dict(kind="img", batch_size=2, last_batch_handle="pad", shuffle=True, seed=3, epochs=2,
         data_name="img", label_name="lab"),
    dict(kind="img", batch_size=3, last_batch_handle="roll_over", shuffle=False, seed=0, epochs=3),
]


def nd_case(case):
    np.random.seed(case["seed"])
    data, label = nd_inputs(case["kind"])
    kw = {k: case[k] for k in ("data_name", "label_name") if k in case}
    it = mx.io.NDArrayIter(data, label, batch_size=case["batch_size"], shuffle=case["shuffle"],
                           last_batch_handle=case["last_batch_handle"], **kw)
    res = dict(case)
    res["provide_data"] = [desc(d) for d in it.provide_data]
    res["provide_label"] = [desc(d) for d in it.provide_label]
    res["epochs_out"] = run_epochs(it, case["epochs"])
    return res


def nd_manual():
    """iter_next/getdata/getlabel/getpad driven by hand (no discard check) and hard_reset."""
    x, y = nd_inputs("single")
    out = {}
    it = mx.io.NDArrayIter(x, y, batch_size=3, last_batch_handle="discard")
    steps = []
    while it.iter_next():
        steps.append({"data": [enc(a.asnumpy()) for a in it.getdata()],
                      "label": [enc(a.asnumpy()) for a in it.getlabel()], "pad": it.getpad()})
    out["discard_manual"] = steps
    it = mx.io.NDArrayIter(x, y, batch_size=3, last_batch_handle="roll_over")
    first = [rec_batch(b) for b in it]
    it.hard_reset()
    out["roll_over_hard_reset"] = [first, [rec_batch(b) for b in it]]
    return out


# --- CSVIter ---------------------------------------------------------------------------------------
CSV_FILES = {
    "d.csv": "\n".join(",".join("%g" % (1.5 * (r * 6 + c + 1)) for c in range(6)) for r in range(8)) + "\n",
    "di.csv": "\n".join(",".join(str(r * 6 + c + 1) for c in range(6)) for r in range(8)) + "\n",
    "l1.csv": "\n".join(str(r) for r in range(8)) + "\n",
    "l2.csv": "\n".join("%d,%d" % (2 * r, 2 * r + 1) for r in range(8)) + "\n",
}
CSV_CASES = [
    dict(data_csv="d.csv", data_shape=[2, 3], batch_size=3),
    dict(data_csv="d.csv", data_shape=[2, 3], batch_size=3, round_batch=False),
    dict(data_csv="d.csv", data_shape=[6], batch_size=3, label_csv="l2.csv", label_shape=[2]),
    dict(data_csv="d.csv", data_shape=[6], batch_size=3, label_csv="l1.csv"),
    dict(data_csv="d.csv", data_shape=[6], batch_size=4),
    dict(data_csv="d.csv", data_shape=[6], batch_size=5, round_batch=False),
    dict(data_csv="d.csv", data_shape=[6], batch_size=10),
    dict(data_csv="di.csv", data_shape=[2, 3], batch_size=3, dtype="int32"),
    dict(data_csv="di.csv", data_shape=[6], batch_size=3, dtype="int64", label_csv="l1.csv"),
    dict(data_csv="d.csv", data_shape=[6], batch_size=3, dtype="int32"),
    dict(data_csv="d.csv", data_shape=[6, 1], batch_size=3, label_csv="l2.csv", label_shape=[2, 1]),
    dict(data_csv="l1.csv", data_shape=[1], batch_size=3, label_csv="l1.csv", label_shape=[1, 1]),
]


def csv_cases(folder):
    out = []
    for case in CSV_CASES:
        kw = dict(case)
        kw["data_csv"] = os.path.join(folder, kw["data_csv"])
        if "label_csv" in kw:
            kw["label_csv"] = os.path.join(folder, kw["label_csv"])
        kw["data_shape"] = tuple(kw["data_shape"])
        if "label_shape" in kw:
            kw["label_shape"] = tuple(kw["label_shape"])
        it = mx.io.CSVIter(**kw)
        res = {"kwargs": case, "provide_data": [desc(d) for d in it.provide_data],
               "provide_label": [desc(d) for d in it.provide_label], "batch_size": it.batch_size}
        epochs = run_epochs(it, 3)
        if case.get("round_batch") is False and case["batch_size"] > 8:
            epochs = None  # uninitialised filler rows: nothing to compare
        res["epochs_out"] = epochs
        out.append(res)
    return out


# --- MNISTIter -------------------------------------------------------------------------------------
def mnist_arrays():
    rs = np.random.RandomState(7)
    img = rs.randint(0, 256, size=(11, 4, 3)).astype(np.uint8)
    lab = rs.randint(0, 10, size=11).astype(np.uint8)
    return img, lab


MNIST_CASES = [
    dict(batch_size=3, shuffle=False),
    dict(batch_size=3),  # default shuffle=True, seed=0
    dict(batch_size=2, shuffle=True, seed=3, flat=True),
    dict(batch_size=4, shuffle=True, seed=12345),
    dict(batch_size=1, shuffle=False, num_parts=3, part_index=1),
    dict(batch_size=2, shuffle=True, seed=1, num_parts=2, part_index=1),
]


def mnist_cases(folder):
    img, lab = mnist_arrays()
    ip, lp = os.path.join(folder, "img.idx"), os.path.join(folder, "lab.idx")
    with open(ip, "wb") as f:
        f.write(struct.pack(">iiii", 2051, *img.shape) + img.tobytes())
    with open(lp, "wb") as f:
        f.write(struct.pack(">ii", 2049, len(lab)) + lab.tobytes())
    out = []
    for case in MNIST_CASES:
        it = mx.io.MNISTIter(image=ip, label=lp, silent=True, **case)
        out.append({"kwargs": case, "provide_data": [desc(d) for d in it.provide_data],
                    "provide_label": [desc(d) for d in it.provide_label], "batch_size": it.batch_size,
                    "epochs_out": run_epochs(it, 2)})
    return {"images": enc(img), "labels": enc(lab), "cases": out}


# --- ResizeIter / PrefetchingIter --------------------------------------------------------------------
def resize_case():
    x = np.arange(12 * 2, dtype=np.float32).reshape(12, 2)
    it = mx.io.ResizeIter(mx.io.NDArrayIter(x, np.arange(12), batch_size=5), 5)
    return {"epochs_out": run_epochs(it, 2), "provide_data": [desc(d) for d in it.provide_data]}


def prefetch_case():
    x = np.arange(10 * 2, dtype=np.float32).reshape(10, 2)
    a = mx.io.NDArrayIter({"data": x}, np.arange(10), batch_size=4)
    b = mx.io.NDArrayIter({"data": x * 2}, {"lab": np.arange(10) + 1}, batch_size=4)
    it = mx.io.PrefetchingIter([a, b], rename_data=[{"data": "d1"}, {"data": "d2"}])
    res = {"provide_data": [desc(d) for d in it.provide_data],
           "provide_label": [desc(d) for d in it.provide_label], "batch_size": it.batch_size,
           "epochs_out": run_epochs(it, 2)}
    return res


# --- callbacks -------------------------------------------------------------------------------------






class ListHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def callback_logs():
    handler = ListHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    real_time = time.time
    out = {}
    scenarios = {
        "speedometer_auto": (lambda: mx.callback.Speedometer(4, frequent=2), ["accuracy"]),
        "speedometer_noreset": (lambda: mx.callback.Speedometer(4, frequent=2, auto_reset=False),
                                ["accuracy", "cross-entropy"]),
        "speedometer_nometric": (lambda: mx.callback.Speedometer(8, frequent=3), None),
        "log_train_metric": (lambda: mx.callback.log_train_metric(2, auto_reset=True), ["accuracy"]),
        "progress_bar": (lambda: mx.callback.ProgressBar(total=7, length=10), ["accuracy"]),
        "log_validation": (lambda: mx.callback.LogValidationMetricsCallback(), ["accuracy", "mse"]),
    }
    try:
        for name, (make, names) in scenarios.items():
            time.time = Clock()
            cb = make()
            metric = FakeMetric(names) if names else None
            handler.lines = []
            for epoch in range(2):
                for nbatch in range(7):
                    cb(mx.model.BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=metric, locals=None))
            out[name] = {"lines": handler.lines, "resets": metric.resets if metric else 0,
                         "calls": metric.calls if metric else 0}
    finally:
        time.time = real_time
        root.removeHandler(handler)
    return out


# --- monitor ---------------------------------------------------------------------------------------
def monitor_case():
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=2, name="fc")
    x = np.arange(6, dtype=np.float32).reshape(3, 2) / 4 - 0.5
    w = np.array([[0.5, -1.0], [2.0, 0.25]], np.float32)
    bias = np.array([0.1, -0.3], np.float32)
    exe = fc.bind(mx.cpu(), {"data": mx.nd.array(x), "fc_weight": mx.nd.array(w), "fc_bias": mx.nd.array(bias)})
    res = {}
    for kw_name, kw in (("default", {}), ("sorted_weight", {"pattern": ".*weight|.*output", "sort": True})):
        mon = mx.monitor.Monitor(2, **kw)
        mon.install(exe)
        steps = []
        for _ in range(3):
            mon.tic()
            exe.forward(is_train=False)
            steps.append([list(e) for e in mon.toc()])
        res[kw_name] = steps
    return {"x": enc(x), "w": enc(w), "b": enc(bias), "results": res}


def main():
    golden = {"ndarrayiter": [nd_case(c) for c in ND_CASES], "ndarrayiter_manual": nd_manual()}
    with tempfile.TemporaryDirectory() as tmp:
        for fname, text in CSV_FILES.items():
            with open(os.path.join(tmp, fname), "w") as f:
                f.write(text)
        golden["csv_files"] = CSV_FILES
        golden["csviter"] = csv_cases(tmp)
        golden["mnist"] = mnist_cases(tmp)
    golden["resize"] = resize_case()
    golden["prefetch"] = prefetch_case()
    golden["callbacks"] = callback_logs()
    golden["monitor"] = monitor_case()
    golden["databatch_str"] = [str(mx.io.DataBatch([mx.nd.zeros((2, 3))])),
                               str(mx.io.DataBatch([mx.nd.zeros((2, 3))], [mx.nd.zeros((4, 5))]))]
    golden["datadesc_repr"] = repr(mx.io.DataDesc("data", (2, 3)))
    with open(os.path.join(HERE, "io.json"), "w") as f:
        json.dump(golden, f, indent=None, separators=(",", ":"))
    print("wrote", os.path.join(HERE, "io.json"))


if __name__ == "__main__":
    main()
