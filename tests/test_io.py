"""mx.io against MXNet 1.9.1 goldens (tests/golden/io.json, written by gen_io.py) plus behaviour tests."""
import gzip
import json
import os
import struct
import threading

import numpy as np
import pytest

import modjax as mx
import modjax.io  # noqa: F401  (mx.io)
from modjax.base import MXNetError
from modjax.io.native import std_shuffle_order

from conftest import GOLDEN
import sys  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "golden"))
from io_cases import nd_inputs  # noqa: E402

with open(os.path.join(GOLDEN, "io.json")) as _f:
    G = json.load(_f)


def dec(e):
    return np.array(e["data"], dtype=e["dtype"]).reshape(e["shape"])


def desc(d):
    return {"name": d.name, "shape": list(d.shape), "dtype": np.dtype(d.dtype).name, "layout": d.layout}


def check_batch(got, want, exact_index=True):
    assert len(got.data) == len(want["data"])
    for a, e in zip(got.data, want["data"]):
        exp = dec(e)
        assert a.shape == exp.shape and np.dtype(a.dtype) == exp.dtype
        np.testing.assert_array_equal(a.asnumpy(), exp)
    assert len(got.label or []) == len(want["label"])
    for a, e in zip(got.label or [], want["label"]):
        exp = dec(e)
        assert a.shape == exp.shape and np.dtype(a.dtype) == exp.dtype
        np.testing.assert_array_equal(a.asnumpy(), exp)
    assert got.pad == want["pad"]
    if exact_index:
        if want["index"] is None:
            assert got.index is None
        else:
            np.testing.assert_array_equal(np.asarray(got.index), want["index"])


def check_epochs(it, epochs_out):
    for epoch in epochs_out:
        batches = list(it)
        assert len(batches) == len(epoch)
        for b, w in zip(batches, epoch):
            check_batch(b, w)
        it.reset()


# --- NDArrayIter ---------------------------------------------------------------------------------
@pytest.mark.parametrize("case", G["ndarrayiter"], ids=lambda c: "%s-%s-bs%d-%s" % (
    c["kind"], c["last_batch_handle"], c["batch_size"], "shuf" if c["shuffle"] else "noshuf"))
def test_ndarrayiter_golden(case):
    np.random.seed(case["seed"])
    data, label = nd_inputs(case["kind"])
    kw = {k: case[k] for k in ("data_name", "label_name") if k in case}
    it = mx.io.NDArrayIter(data, label, batch_size=case["batch_size"], shuffle=case["shuffle"],
                           last_batch_handle=case["last_batch_handle"], **kw)
    assert [desc(d) for d in it.provide_data] == case["provide_data"]
    assert [desc(d) for d in it.provide_label] == case["provide_label"]
    check_epochs(it, case["epochs_out"])


def test_ndarrayiter_manual_and_hard_reset():
    x, y = nd_inputs("single")
    it = mx.io.NDArrayIter(x, y, batch_size=3, last_batch_handle="discard")
    steps = G["ndarrayiter_manual"]["discard_manual"]
    n = 0
    while it.iter_next():
        w = steps[n]
        np.testing.assert_array_equal(it.getdata()[0].asnumpy(), dec(w["data"][0]))
        np.testing.assert_array_equal(it.getlabel()[0].asnumpy(), dec(w["label"][0]))
        assert it.getpad() == w["pad"]
        n += 1
    assert n == len(steps) == 4  # direct iter_next/getdata skip the discard check
    it = mx.io.NDArrayIter(x, y, batch_size=3, last_batch_handle="roll_over")
    first, second = G["ndarrayiter_manual"]["roll_over_hard_reset"]
    for b, w in zip(list(it), first):
        check_batch(b, w)
    it.hard_reset()
    got = list(it)
    assert len(got) == len(second)
    for b, w in zip(got, second):
        check_batch(b, w)


def test_ndarrayiter_ndarray_inputs_keep_dtype_and_numpy_becomes_float32():
    x = mx.nd.array(np.arange(12, dtype=np.int32).reshape(6, 2), dtype="int32")
    it = mx.io.NDArrayIter(x, np.arange(6, dtype=np.int64), batch_size=4)
    assert it.provide_data[0].dtype is np.int32 and it.provide_label[0].dtype is np.float32
    b = it.next()
    assert b.data[0].dtype == np.int32 and b.label[0].dtype == np.float32
    assert b.data[0].context == mx.cpu()
    assert b.index is None and b.bucket_key is None


def test_ndarrayiter_list_names_sorted_like_mxnet():
    arrays = [np.full((4, 1), i, np.float32) for i in range(11)]
    it = mx.io.NDArrayIter(arrays, batch_size=2)
    names = [d.name for d in it.provide_data]
    assert names[:3] == ["_0_data", "_10_data", "_1_data"]
    b = it.next()
    assert b.data[1].asnumpy()[0, 0] == 10 and b.label == [] and it.provide_label == []


def test_ndarrayiter_pad_tiles_small_data():
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    it = mx.io.NDArrayIter(x, batch_size=205)
    b = it.next()
    assert b.pad == 195
    np.testing.assert_array_equal(b.data[0].asnumpy()[:, 0], np.concatenate([np.tile(np.arange(10), 20),
                                                                              np.arange(5)]))


def test_ndarrayiter_shuffle_matches_idx():
    np.random.seed(11)
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    it = mx.io.NDArrayIter(x, np.arange(20), batch_size=1, shuffle=True)
    for i, b in enumerate(it):
        np.testing.assert_array_equal(b.data[0].asnumpy()[0], x[it.idx[i]])
        assert b.label[0].asnumpy()[0] == it.idx[i]


def test_ndarrayiter_layout_tnc_slices_batch_axis():
    x = np.arange(2 * 7 * 3, dtype=np.float32).reshape(2, 7, 3)
    it = mx.io.NDArrayIter(x, np.arange(7), batch_size=3, layout="TNC")
    assert it.provide_data[0].shape == (2, 3, 3) and it.provide_label[0].shape == (3,)
    batches = list(it)
    assert len(batches) == 3 and batches[-1].pad == 2
    np.testing.assert_array_equal(batches[-1].data[0].asnumpy(), x[:, [6, 0, 1], :])
    np.testing.assert_array_equal(batches[-1].label[0].asnumpy(), [6, 0, 1])


def test_ndarrayiter_errors():
    with pytest.raises(MXNetError, match=r"same number of samples.*'data' has 10.*'softmax_label' has 7"):
        mx.io.NDArrayIter(np.zeros((10, 2)), np.zeros(7), batch_size=3)
    with pytest.raises(MXNetError, match=r"'_1_data' has 4"):
        mx.io.NDArrayIter([np.zeros((5, 2)), np.zeros((4, 2))], batch_size=3)
    with pytest.raises(MXNetError, match="last_batch_handle must be one of"):
        mx.io.NDArrayIter(np.zeros((10, 2)), batch_size=3, last_batch_handle="wrap")
    with pytest.raises(MXNetError, match="batch_size must be a positive integer"):
        mx.io.NDArrayIter(np.zeros((10, 2)), batch_size=0)
    with pytest.raises(MXNetError, match="must be given"):
        mx.io.NDArrayIter(None)
    with pytest.raises(TypeError, match="Input must be NDArray"):
        mx.io.NDArrayIter((np.zeros(3), np.zeros(3)))
    with pytest.raises(TypeError, match="Invalid type"):
        mx.io.NDArrayIter({"data": object()})


# --- DataDesc / DataBatch / DataIter ---------------------------------------------------------------
def test_datadesc_and_databatch_formats():
    d = mx.io.DataDesc("data", (2, 3))
    assert repr(d) == G["datadesc_repr"]
    assert d == ("data", (2, 3)) and tuple(d) == ("data", (2, 3))
    name, shape = d
    assert (name, shape, d.dtype, d.layout) == ("data", (2, 3), np.float32, "NCHW")
    assert mx.io.DataDesc.get_batch_axis(None) == 0
    assert mx.io.DataDesc.get_batch_axis("TNC") == 1 and mx.io.DataDesc.get_batch_axis("CHW") == -1
    descs = mx.io.DataDesc.get_list([("a", (1,)), ("b", (2,))], [("a", np.int32), ("b", np.float16)])
    assert [(x.name, x.dtype) for x in descs] == [("a", np.int32), ("b", np.float16)]
    assert mx.io.DataDesc.get_list([("a", (1,))], None)[0].dtype is np.float32
    assert str(mx.io.DataBatch([mx.nd.zeros((2, 3))])) == G["databatch_str"][0]
    assert str(mx.io.DataBatch([mx.nd.zeros((2, 3))], [mx.nd.zeros((4, 5))])) == G["databatch_str"][1]
    with pytest.raises(MXNetError, match="list of NDArrays"):
        mx.io.DataBatch(mx.nd.zeros((2, 3)))


def test_dataiter_base_protocol():
    class Counter(mx.io.DataIter):
        def __init__(self):
            super().__init__(batch_size=2)
            self.n = 0

        def iter_next(self):
            self.n += 1
            return self.n <= 3

        def getdata(self):
            return [mx.nd.array(np.full((2,), self.n))]

        def getlabel(self):
            return []

        def getpad(self):
            return 0

    it = Counter()
    assert iter(it) is it and it.batch_size == 2 and it.getindex() is None
    assert [b.data[0].asnumpy()[0] for b in it] == [1, 2, 3]
    base = mx.io.DataIter()
    assert base.batch_size == 0 and base.getdata() is None and base.reset() is None
    with pytest.raises(StopIteration):
        base.next()


# --- ResizeIter / PrefetchingIter --------------------------------------------------------------------
def test_resize_iter_golden():
    x = np.arange(12 * 2, dtype=np.float32).reshape(12, 2)
    it = mx.io.ResizeIter(mx.io.NDArrayIter(x, np.arange(12), batch_size=5), 5)
    assert [desc(d) for d in it.provide_data] == G["resize"]["provide_data"]
    assert it.batch_size == 5
    check_epochs(it, G["resize"]["epochs_out"])


def test_prefetching_iter_golden_and_rename():
    x = np.arange(10 * 2, dtype=np.float32).reshape(10, 2)
    a = mx.io.NDArrayIter({"data": x}, np.arange(10), batch_size=4)
    b = mx.io.NDArrayIter({"data": x * 2}, {"lab": np.arange(10) + 1}, batch_size=4)
    it = mx.io.PrefetchingIter([a, b], rename_data=[{"data": "d1"}, {"data": "d2"}])
    g = G["prefetch"]
    assert [desc(d) for d in it.provide_data] == g["provide_data"]
    assert [desc(d) for d in it.provide_label] == g["provide_label"]
    assert it.batch_size == g["batch_size"]
    check_epochs(it, g["epochs_out"])
    it.close()


def test_prefetching_iter_equals_wrapped_iter_and_uses_a_thread():
    np.random.seed(5)
    x = np.random.rand(23, 3).astype(np.float32)
    y = np.arange(23)
    ref = mx.io.NDArrayIter(x, y, batch_size=4, last_batch_handle="roll_over")
    seen_threads = set()

    class Spy(mx.io.NDArrayIter):
        def next(self):
            seen_threads.add(threading.current_thread().name)
            return super().next()

    pre = mx.io.PrefetchingIter(Spy(x, y, batch_size=4, last_batch_handle="roll_over"))
    assert pre.provide_data == ref.provide_data and pre.provide_label == ref.provide_label
    for _ in range(3):
        want, got = list(ref), list(pre)
        assert len(want) == len(got) > 0
        for w, g_ in zip(want, got):
            np.testing.assert_array_equal(w.data[0].asnumpy(), g_.data[0].asnumpy())
            np.testing.assert_array_equal(w.label[0].asnumpy(), g_.label[0].asnumpy())
            assert w.pad == g_.pad and g_.provide_data == pre.provide_data
        ref.reset()
        pre.reset()
    assert seen_threads and threading.current_thread().name not in seen_threads
    pre.close()
    assert not any(t.is_alive() for t in pre.prefetch_threads)


def test_prefetching_iter_mismatch_and_errors():
    a = mx.io.NDArrayIter(np.zeros((8, 2)), batch_size=4)
    b = mx.io.NDArrayIter(np.zeros((12, 2)), batch_size=4)
    it = mx.io.PrefetchingIter([a, b])
    it.next()
    it.next()
    with pytest.raises(MXNetError, match="Number of entry mismatches"):
        it.next()
    it.close()

    class Broken(mx.io.NDArrayIter):
        def next(self):
            raise ValueError("disk on fire")

    it = mx.io.PrefetchingIter(Broken(np.zeros((4, 2)), batch_size=2))
    with pytest.raises(ValueError, match="disk on fire"):
        it.next()
    it.close()
    with pytest.raises(MXNetError, match="at least one"):
        mx.io.PrefetchingIter([])


# --- CSVIter -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv")
    for fname, text in G["csv_files"].items():
        (folder / fname).write_text(text)
    return folder


@pytest.mark.parametrize("case", G["csviter"], ids=lambda c: json.dumps(c["kwargs"], sort_keys=True))
def test_csviter_golden(case, csv_dir):
    kw = dict(case["kwargs"])
    kw["data_csv"] = str(csv_dir / kw["data_csv"])
    if "label_csv" in kw:
        kw["label_csv"] = str(csv_dir / kw["label_csv"])
    it = mx.io.CSVIter(**kw)
    want_dtype = np.dtype(kw.get("dtype", "float32"))
    # jax without x64 stores int64 as int32: compare values, dtypes only where jax can hold them
    exact = want_dtype != np.int64
    got = [desc(d) for d in it.provide_data + it.provide_label]
    want = case["provide_data"] + case["provide_label"]
    for g_, w in zip(got, want):
        assert (g_["name"], g_["shape"]) == (w["name"], w["shape"])
        assert g_["dtype"] == w["dtype"] or not exact
    assert it.batch_size == case["batch_size"]
    if case["epochs_out"] is None:
        return
    for epoch in case["epochs_out"]:
        batches = list(it)
        assert len(batches) == len(epoch)
        for b, w in zip(batches, epoch):
            assert b.pad == w["pad"]
            np.testing.assert_array_equal(np.asarray(b.index), w["index"])
            for arr, e in ((b.data[0], w["data"][0]), (b.label[0], w["label"][0])):
                assert arr.shape == tuple(e["shape"])
                assert np.dtype(arr.dtype) == np.dtype(e["dtype"]) or not exact
                np.testing.assert_array_equal(arr.asnumpy(), dec(e))
        it.reset()


def test_csviter_directory_and_errors(csv_dir, tmp_path):
    sub = tmp_path / "parts"
    sub.mkdir()
    (sub / "a.csv").write_text("1,2\n3,4\n")
    (sub / "b.csv").write_text("5,6\n")
    it = mx.io.CSVIter(data_csv=str(sub), data_shape=(2,), batch_size=3)
    np.testing.assert_array_equal(it.next().data[0].asnumpy(), [[1, 2], [3, 4], [5, 6]])
    with pytest.raises(MXNetError, match="nonexist.csv"):
        mx.io.CSVIter(data_csv=str(tmp_path / "nonexist.csv"), data_shape=(2,), batch_size=1)
    with pytest.raises(MXNetError, match=r"do not match size of shape: specified shape=\[3\], the csv row-length=6"):
        mx.io.CSVIter(data_csv=str(csv_dir / "d.csv"), data_shape=(3,), batch_size=3)
    for bad in ("float64", "uint8", "float16"):
        with pytest.raises(MXNetError, match=f"{bad} is not supported for CSVIter"):
            mx.io.CSVIter(data_csv=str(csv_dir / "d.csv"), data_shape=(6,), batch_size=3, dtype=bad)
    with pytest.raises(MXNetError, match="Required parameter batch_size"):
        mx.io.CSVIter(data_csv=str(csv_dir / "d.csv"), data_shape=(6,))
    with pytest.raises(TypeError, match="only accept keyword arguments"):
        mx.io.CSVIter(str(csv_dir / "d.csv"))
    with pytest.raises(MXNetError, match="bigger than batch size"):
        mx.io.CSVIter(data_csv=str(csv_dir / "d.csv"), data_shape=(6,), batch_size=20)


def test_csviter_string_shapes_and_names(csv_dir):
    it = mx.io.CSVIter(data_csv=str(csv_dir / "d.csv"), data_shape="(2,3)", batch_size=4,
                       data_name="x", label_name="y")
    assert [(d.name, d.shape) for d in it.provide_data + it.provide_label] == [("x", (4, 2, 3)),
                                                                                ("y", (4,))]
    assert it.iter_next() and it.getdata().shape == (4, 2, 3)
    assert it.iter_next() and it.getdata().asnumpy()[0, 0, 0] == 37.5  # row 4
    assert not it.iter_next()


# --- MNISTIter -----------------------------------------------------------------------------------
def write_mnist(folder, gz=False):
    img, lab = dec(G["mnist"]["images"]), dec(G["mnist"]["labels"])
    ib = struct.pack(">iiii", 2051, *img.shape) + img.tobytes()
    lb = struct.pack(">ii", 2049, len(lab)) + lab.tobytes()
    if gz:
        ib, lb = gzip.compress(ib), gzip.compress(lb)
    ip, lp = folder / ("img.idx" + (".gz" if gz else "")), folder / ("lab.idx" + (".gz" if gz else ""))
    ip.write_bytes(ib)
    lp.write_bytes(lb)
    return str(ip), str(lp)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("case", G["mnist"]["cases"], ids=lambda c: json.dumps(c["kwargs"], sort_keys=True))
def test_mnistiter_golden(case, gz, tmp_path):
    ip, lp = write_mnist(tmp_path, gz)
    it = mx.io.MNISTIter(image=ip, label=lp, silent=True, **case["kwargs"])
    assert [desc(d) for d in it.provide_data] == case["provide_data"]
    assert [desc(d) for d in it.provide_label] == case["provide_label"]
    assert it.batch_size == case["batch_size"]
    check_epochs(it, case["epochs_out"])


def test_mnistiter_scaling_logging_and_errors(tmp_path, caplog):
    ip, lp = write_mnist(tmp_path)
    img = dec(G["mnist"]["images"])
    with caplog.at_level("INFO"):
        it = mx.io.MNISTIter(image=ip, label=lp, batch_size=3, shuffle=False, flat=True)
    assert "MNISTIter: load 11 images, shuffle=0, shape=[3,12]" in caplog.text
    np.testing.assert_array_equal(it.next().data[0].asnumpy(), img[:3].reshape(3, -1) / 256.0)
    with pytest.raises(MXNetError, match="no_such_images"):
        mx.io.MNISTIter(image=str(tmp_path / "no_such_images"), label=lp)
    with pytest.raises(MXNetError, match="no_such_labels"):
        mx.io.MNISTIter(image=ip, label=str(tmp_path / "no_such_labels"))
    with pytest.raises(MXNetError, match="magic number"):
        mx.io.MNISTIter(image=lp, label=lp)
    with pytest.raises(MXNetError, match="part_index"):
        mx.io.MNISTIter(image=ip, label=lp, num_parts=2, part_index=2)
    with pytest.raises(MXNetError, match="no complete batch"):
        mx.io.MNISTIter(image=ip, label=lp, batch_size=30, silent=True)


def test_std_shuffle_order_matches_libstdcxx():
    # orders observed from MXNet 1.9.1's MNISTIter on 10 samples (seed 0 and 3)
    assert std_shuffle_order(10, 0) == [0, 2, 3, 5, 9, 1, 6, 8, 4, 7]
    assert std_shuffle_order(10, 3) == [6, 5, 3, 0, 7, 8, 2, 4, 9, 1]
    assert sorted(std_shuffle_order(1000, 42)) == list(range(1000))


def test_unavailable_iterators():
    with pytest.raises(MXNetError, match="sparse"):
        mx.io.LibSVMIter(data_libsvm="x")
