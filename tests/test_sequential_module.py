"""SequentialModule and PythonLossModule against MXNet 1.9.1."""
import json
import os
import sys

import numpy as np
import pytest

import modjax as mx

HERE = os.path.join(os.path.dirname(__file__), "golden")
OUT = os.path.join(HERE, "sequential")
sys.path.insert(0, HERE)
import sequential_cases as sc  # noqa: E402

with open(os.path.join(OUT, "results.json")) as f:
    RESULTS = json.load(f)


def test_sequential_fit_matches_mxnet():
    params, score, out_shapes = sc.sequential(mx)
    gold = np.load(os.path.join(OUT, "sequential.npz"))
    assert sorted(params) == sorted(gold.files)
    for k in gold.files:
        np.testing.assert_allclose(params[k], gold[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert score[0][1] == pytest.approx(RESULTS["score"][0][1])
    assert [[n, list(s)] for n, s in out_shapes] == RESULTS["output_shapes"]


def test_python_loss_module_matches_mxnet():
    params = sc.python_loss(mx)
    gold = np.load(os.path.join(OUT, "python_loss.npz"))
    for k in gold.files:
        np.testing.assert_allclose(params[k], gold[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_sequential_errors():
    with pytest.raises(mx.MXNetError, match='Unknown meta "take_label", a typo?'):
        mx.mod.SequentialModule().add(mx.mod.Module(mx.sym.Variable("data") * 2, label_names=None),
                                      take_label=True)
    with pytest.raises(mx.MXNetError, match="Attempting to bind an empty SequentialModule"):
        mx.mod.SequentialModule().bind([("data", (2, 3))])
    loss = mx.mod.PythonLossModule()
    with pytest.raises(mx.MXNetError, match="out_grads should be None"):
        loss.backward(out_grads=[mx.nd.zeros((2, 3))])
