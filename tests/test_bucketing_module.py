"""BucketingModule against MXNet 1.9.1: shared parameters, per-bucket executables, checkpoints."""
import json
import os
import re
import sys

import numpy as np
import pytest

import modjax as mx

HERE = os.path.join(os.path.dirname(__file__), "golden")
OUT = os.path.join(HERE, "bucketing")
sys.path.insert(0, HERE)
import bucketing_cases as bc  # noqa: E402

with open(os.path.join(OUT, "results.json")) as f:
    RESULTS = json.load(f)


@pytest.fixture(scope="module")
def trained():
    return bc.train(mx)


def test_training_over_buckets_matches_mxnet(trained):
    mod, params, outputs, perplexity = trained
    gold = np.load(os.path.join(OUT, "train.npz"))
    for i, out in enumerate(outputs):
        np.testing.assert_allclose(out, gold["out%d" % i], rtol=1e-4, atol=1e-6)
    for k, v in params.items():
        np.testing.assert_allclose(v, gold[k], rtol=1e-4, atol=1e-6, err_msg=k)
    assert perplexity[1] == pytest.approx(RESULTS["perplexity"][1], rel=1e-5)


def test_one_parameter_state_and_one_scan_per_bucket(trained):
    mod = trained[0]
    assert sorted(mod.buckets) == RESULTS["buckets"]
    states = {id(m._state) for m in mod.buckets.values()}
    assert len(states) == 1  # no per-bucket copies of the weights or the optimizer state
    for key, module in mod.buckets.items():
        assert len(module._graph.loop_regions) == 1 and module._graph.loop_regions[0].length == key
    assert mod.compile_count == 3  # per bucket: only the fused train step (it returns the outputs)


def test_checkpoint_layout_and_load(trained, tmp_path):
    mod = trained[0]
    prefix = str(tmp_path / "bk")
    mod.save_checkpoint(prefix, 1)
    expected = [f for f in RESULTS["files"] if f.startswith("bk")]
    assert sorted(os.listdir(tmp_path)) == expected
    for key in (3, 5, 8):
        ours = open("%s-%d-symbol.json" % (prefix, key)).read()
        theirs = open(os.path.join(OUT, "bk-%d-symbol.json" % key)).read()
        # MXNet calls sym_gen outside a fresh NameManager here, so its auto-generated names
        # depend on the process's history; modjax writes the names every bucket trains with
        assert re.sub(r'"name": "([a-z_]+?)\d+"', r'"name": "\1"', ours) == \
            re.sub(r'"name": "([a-z_]+?)\d+"', r'"name": "\1"', theirs)
        with mx.name.NameManager():
            assert ours == bc.sym_gen_factory(mx)(key)[0].tojson()
    assert open(prefix + ".buckets", "rb").read() == open(os.path.join(OUT, "bk.buckets"), "rb").read()
    # MXNet's checkpoint loads into a fresh BucketingModule
    loaded = mx.mod.BucketingModule.load(os.path.join(OUT, "bk"), 1, sym_gen=bc.sym_gen_factory(mx),
                                         default_bucket_key=8)
    loaded.bind([mx.io.DataDesc("data", (bc.BATCH, 8))], [mx.io.DataDesc("softmax_label", (bc.BATCH, 8))],
                for_training=False)
    gold = np.load(os.path.join(OUT, "train.npz"))
    for k, v in loaded.get_params()[0].items():
        np.testing.assert_allclose(v.asnumpy(), gold[k], rtol=1e-6, err_msg=k)


def test_precompile_buckets_ahead_and_in_background():
    mod = mx.mod.BucketingModule(bc.sym_gen_factory(mx), default_bucket_key=8)
    mod.bind([mx.io.DataDesc("data", (bc.BATCH, 8))], [mx.io.DataDesc("softmax_label", (bc.BATCH, 8))])
    mod.init_params(arg_params=bc.params(mx))
    mod.init_optimizer(optimizer="sgd")
    descs = [(k, [mx.io.DataDesc("data", (bc.BATCH, k))], [mx.io.DataDesc("softmax_label", (bc.BATCH, k))])
             for k in (3, 5)]
    assert mod.precompile(descs[:1]) == 2
    future = mod.precompile(descs[1:], background=True)
    assert future.result(timeout=120) == 2
    compiled = mod.compile_count
    for batch in bc.batches(mx):
        if batch.bucket_key != 8:
            mod.forward(batch, is_train=True)
            mod.backward()
            mod.update()
    assert mod.compile_count == compiled  # the buckets were ready before their first batch


def test_errors():
    with pytest.raises(mx.MXNetError, match="default_bucket_key is required"):
        mx.mod.BucketingModule(bc.sym_gen_factory(mx))
    mod = mx.mod.BucketingModule(bc.sym_gen_factory(mx), default_bucket_key=8)
    with pytest.raises(mx.MXNetError, match=r"forward: the module is not bound"):
        mod.forward(bc.batches(mx)[0])
    with pytest.raises(mx.MXNetError, match=r"bk.buckets' does not exist"):
        mx.mod.BucketingModule.load("/nonexistent/bk", 1, sym_gen=bc.sym_gen_factory(mx),
                                    default_bucket_key=8)


def test_bad_buckets():
    base = bc.sym_gen_factory(mx)

    def picky(key):
        if key > 8:
            raise ValueError("sequence too long")
        return base(key)

    def inconsistent(key):
        sym, d, l = base(key)
        if key == 3:  # a different hidden size in one bucket
            flat = mx.sym.Reshape(mx.sym.Variable("data"), shape=(-1, 1))
            sym = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(flat, num_hidden=bc.VOCAB, name="pred"),
                                       mx.sym.Reshape(mx.sym.Variable("softmax_label"), shape=(-1,)),
                                       name="softmax")
        return sym, d, l
    for gen, key, pattern in ((picky, 9, r"sym_gen rejected bucket_key 9: ValueError: sequence too long"),
                              (inconsistent, 3, r"bucket 3 \(data shapes \[\(4, 3\)\]\) does not fit.*"
                                                r"'pred_weight' would need shape \(12, 1\), but the parameters have \(12, 5\)")):
        mod = mx.mod.BucketingModule(gen, default_bucket_key=8)
        mod.bind([mx.io.DataDesc("data", (bc.BATCH, 8))], [mx.io.DataDesc("softmax_label", (bc.BATCH, 8))])
        mod.init_params(arg_params=bc.params(mx))
        x = mx.nd.zeros((bc.BATCH, key))
        batch = mx.io.DataBatch([x], [x], bucket_key=key, provide_data=[mx.io.DataDesc("data", x.shape)],
                                provide_label=[mx.io.DataDesc("softmax_label", x.shape)])
        with pytest.raises(mx.MXNetError, match=pattern):
            mod.forward(batch)
