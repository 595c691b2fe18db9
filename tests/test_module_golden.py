"""Module against real MXNet 1.9.1: fit, score, predict, states, fixed params, reshape, the
intermediate API and checkpoints (goldens from tests/golden/gen_module.py)."""
import json
import os
import shutil
import sys

import numpy as np
import pytest

import modjax as mx

HERE = os.path.join(os.path.dirname(__file__), "golden")
OUT = os.path.join(HERE, "module")
sys.path.insert(0, HERE)
import module_cases as mc  # noqa: E402

with open(os.path.join(OUT, "results.json")) as f:
    RESULTS = json.load(f)


@pytest.mark.parametrize("name", sorted(mc.FIT_CASES))
def test_fit_matches_mxnet(name):
    builder, dim, bs, opt, opt_params = mc.FIT_CASES[name]
    x, y = mc.data(dim=dim, classes=4 if builder is mc.mlp else 3)
    args, aux, score = mc.fit_case(mx, builder, x, y, bs, opt, opt_params)
    gold = np.load(os.path.join(OUT, "fit_%s.npz" % name))
    for key in gold.files:
        kind, pname = key.split(":", 1)
        got = (args if kind == "arg" else aux)[pname]
        np.testing.assert_allclose(got, gold[key], rtol=2e-4, atol=2e-5, err_msg=key)
    for (n1, v1), (n2, v2) in zip(score, RESULTS["fit_" + name]["score"]):
        assert n1 == n2
        assert v1 == pytest.approx(v2, rel=1e-4, abs=1e-5)


def test_predict_iter_predict_and_score_with_padding():
    x, y = mc.data()
    merged, per_batch, iter_out, score = mc.predict_case(mx, x, y)
    gold = np.load(os.path.join(OUT, "predict.npz"))
    assert merged.shape == (40, 4)
    np.testing.assert_allclose(merged, gold["merged"], rtol=1e-5, atol=1e-6)
    assert len(per_batch) == RESULTS["predict"]["n_batches"]
    for i, b in enumerate(per_batch):
        np.testing.assert_allclose(b[0], gold["batch%d" % i], rtol=1e-5, atol=1e-6)
    assert [[o[1], o[2]] for o in iter_out] == RESULTS["predict"]["iter_meta"]
    assert iter_out[-1][0].shape[0] == 8  # pad (8) removed from the last batch of 16
    assert score[0][1] == pytest.approx(RESULTS["predict"]["score"][0][1], rel=1e-6)


def test_states():
    first, out = mc.states_case(mx)
    gold = np.load(os.path.join(OUT, "states.npz"))
    np.testing.assert_allclose(first[0], gold["first"])
    np.testing.assert_allclose(out, gold["out"], rtol=1e-5, atol=1e-6)


def test_fixed_params_and_auto_reshape():
    x, y = mc.data()
    params, out, shapes = mc.fixed_and_reshape_case(mx, x, y)
    gold = np.load(os.path.join(OUT, "fixed.npz"))
    for k, v in params.items():
        np.testing.assert_allclose(v, gold[k], rtol=1e-5, atol=1e-6, err_msg=k)
    np.testing.assert_allclose(out, gold["out"], rtol=1e-5, atol=1e-6)
    assert shapes == RESULTS["fixed"]["data_shapes"]


def test_intermediate_api_with_input_grads():
    x, y = mc.data()
    outs, in_grads, params = mc.intermediate_case(mx, x, y)
    gold = np.load(os.path.join(OUT, "intermediate.npz"))
    for i in range(3):
        np.testing.assert_allclose(outs[i], gold["out%d" % i], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(in_grads[i], gold["ingrad%d" % i], rtol=1e-4, atol=1e-6)
    for k, v in params.items():
        np.testing.assert_allclose(v, gold[k], rtol=1e-4, atol=1e-6, err_msg=k)


def test_load_mxnet_checkpoint_and_pickled_states(tmp_path):
    for f in ("mxnet-symbol.json", "mxnet-0003.params", "mxnet-0003.states"):
        shutil.copy(os.path.join(OUT, f), tmp_path / f)
    prefix = str(tmp_path / "mxnet")
    x, y = mc.data()
    it = mx.io.NDArrayIter(x, y, batch_size=8)
    mod = mx.mod.Module.load(prefix, 3, load_optimizer_states=True)
    mod.bind(it.provide_data, it.provide_label)
    with pytest.raises(mx.MXNetError, match="allow_pickle=True"):
        mod.init_optimizer(optimizer="adam", optimizer_params={"learning_rate": 0.01})
    mod = mx.mod.Module.load(prefix, 3)
    mod.bind(it.provide_data, it.provide_label)
    mod.init_optimizer(optimizer="adam", optimizer_params={"learning_rate": 0.01})
    mod.load_optimizer_states(prefix + "-0003.states", allow_pickle=True)
    for batch in it:
        mod.forward_backward(batch)
        mod.update()
    gold = np.load(os.path.join(OUT, "mxnet_expected.npz"))
    for k, v in mod.get_params()[0].items():
        np.testing.assert_allclose(v.asnumpy(), gold[k], rtol=1e-4, atol=1e-6, err_msg=k)
    pred = mod.predict(mx.io.NDArrayIter(x, y, batch_size=8)).asnumpy()
    np.testing.assert_allclose(pred, gold["predict"], rtol=1e-4, atol=1e-6)


def test_mxnet_loaded_our_checkpoint():
    assert RESULTS["mxnet_loads_ours"] is True
