"""Symbols against real MXNet 1.9.1: introspection, byte-identical JSON both ways, MXNet's JSON
loaded and evaluated, and the legacy (0.8-era) JSON upgrade."""
import json
import os
import sys

import numpy as np
import pytest

import modjax as mx

HERE = os.path.join(os.path.dirname(__file__), "golden")
OUT = os.path.join(HERE, "symbol")
sys.path.insert(0, HERE)
import symbol_models  # noqa: E402

with open(os.path.join(OUT, "index.json")) as f:
    INDEX = json.load(f)

MODELS = sorted(symbol_models.MODELS)


def build(name):
    with mx.name.NameManager():
        return symbol_models.MODELS[name][0](mx)


@pytest.mark.parametrize("name", MODELS)
def test_introspection(name):
    sym, gold = build(name), INDEX[name]
    assert sym.list_arguments() == gold["arguments"]
    assert sym.list_outputs() == gold["outputs"]
    assert sym.list_auxiliary_states() == gold["aux"]
    assert sym.list_inputs() == gold["inputs"]
    assert sym.get_internals().list_outputs() == gold["internals"]
    shapes = {k: tuple(v) for k, v in gold["shapes"].items()}
    arg, out, aux = sym.infer_shape(**shapes)
    assert [list(s) for s in arg] == gold["arg_shapes"]
    assert [list(s) for s in out] == gold["out_shapes"]
    assert [list(s) for s in aux] == gold["aux_shapes"]
    arg_t, _, _ = sym.infer_type(**{k: np.float32 for k in shapes})
    assert [np.dtype(t).name for t in arg_t] == gold["arg_types"]
    assert sym.attr_dict() == gold["attr_dict"]


@pytest.mark.parametrize("name", MODELS)
def test_json_is_byte_identical_and_mxnet_loads_ours(name):
    with open(os.path.join(OUT, name + ".json")) as f:
        theirs = f.read()
    assert build(name).tojson() == theirs
    assert mx.sym.load_json(theirs).tojson() == theirs
    assert INDEX[name]["mxnet_loads_ours"] is True


@pytest.mark.parametrize("name", MODELS)
def test_mxnet_json_evaluates_like_mxnet(name):
    """Load MXNet's file, bind with MXNet's values, compare outputs, gradients and aux states."""
    sym = mx.sym.load(os.path.join(OUT, name + ".json"))
    gold = np.load(os.path.join(OUT, name + ".npz"))
    shapes = {k: tuple(v) for k, v in INDEX[name]["shapes"].items()}
    grad_req = {a: "write" if "grad:" + a in gold.files else "null" for a in sym.list_arguments()}
    exe = sym.simple_bind(mx.cpu(), grad_req=grad_req, **shapes)
    for a in sym.list_arguments():
        exe.arg_dict[a][:] = gold["arg:" + a]
    for a in sym.list_auxiliary_states():
        exe.aux_dict[a][:] = gold["aux:" + a]
    tol = dict(rtol=1e-4, atol=1e-5)
    for i, out in enumerate(exe.forward(is_train=False)):
        np.testing.assert_allclose(out.asnumpy(), gold["infer_out%d" % i], **tol)
    outs = exe.forward(is_train=True)
    for i, out in enumerate(outs):
        np.testing.assert_allclose(out.asnumpy(), gold["train_out%d" % i], **tol)
    exe.backward([mx.nd.array(gold["head%d" % i]) for i in range(len(outs))])
    for a in sym.list_arguments():
        if "grad:" + a in gold.files:
            np.testing.assert_allclose(exe.grad_dict[a].asnumpy(), gold["grad:" + a], err_msg=a, **tol)
        np.testing.assert_allclose(exe.arg_dict[a].asnumpy(), gold["arg_after:" + a], err_msg=a, **tol)
    for a in sym.list_auxiliary_states():
        np.testing.assert_allclose(exe.aux_dict[a].asnumpy(), gold["aux_after:" + a], err_msg=a, **tol)


def test_legacy_json_upgrade():
    legacy = mx.sym.load_json(symbol_models.LEGACY_JSON)
    gold = INDEX["legacy"]
    assert legacy.list_arguments() == gold["arguments"]
    assert legacy.list_auxiliary_states() == gold["aux"]
    assert legacy.list_outputs() == gold["outputs"]
    assert legacy.attr_dict() == gold["attr_dict"]
    assert legacy.tojson() == gold["tojson"]
