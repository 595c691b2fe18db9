"""The replay shared by the operator-golden tests (test_ops_golden.py, test_ops_more.py,
test_ops_nn.py): each golden folder that real MXNet 1.9.1 wrote with tests/golden/gen_ops*.py
(index.json and values.npz) is replayed through modjax: a symbol case's introspection
(arguments, outputs, aux states, inferred shapes and dtypes, JSON nodes and node_row_ptr), then
simple_bind, forward, backward and the arrays after the step; an ``mx.nd`` case's outputs.

``golden_tests`` makes a test file's two parametrized tests, ``test_symbol_case[<case id>]`` and
``test_nd_case[<case id>]``; its flags are the checks that differ between the files."""
import json
import os
import sys

import numpy as np
import pytest

import modjax as mx

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
sys.path.insert(0, GOLDEN)
from ops_cases_common import build  # noqa: E402  (the same code text builds the symbol in both)

RTOL, ATOL = 1e-5, 1e-6


def load(folder):
    """(index, values) of tests/golden/<folder>."""
    with open(os.path.join(GOLDEN, folder, "index.json")) as f:
        index = json.load(f)
    return index, np.load(os.path.join(GOLDEN, folder, "values.npz"))


def close(got, want, what, tol=None):
    rtol, atol = tol or (RTOL, ATOL)
    got = got.asnumpy() if hasattr(got, "asnumpy") else np.asarray(got)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol,
                               equal_nan=True, err_msg=what)


def type_names(types):
    return [np.dtype(t).name if t is not None else None for t in types]


def check_symbol_case(rec, values, json_roundtrip=False, args_after=False):
    """Replay one symbol case. ``json_roundtrip``: the symbol's JSON also survives load_json;
    ``args_after``: the arguments after the step are compared too."""
    cid = rec["id"]
    sym = build(mx, rec["code"])
    assert sym.list_arguments() == rec["arguments"]
    assert sym.list_outputs() == rec["outputs"]
    assert sym.list_auxiliary_states() == rec["aux"]
    given = {k: tuple(v) for k, v in rec["given_shapes"].items()}
    infer = sym.infer_shape_partial if rec["partial"] else sym.infer_shape
    arg_shapes, out_shapes, aux_shapes = infer(**given)
    assert [list(s) for s in arg_shapes] == rec["arg_shapes"]
    assert [list(s) for s in out_shapes] == rec["out_shapes"]
    assert [list(s) for s in aux_shapes] == rec["aux_shapes"]
    if not rec["partial"]:
        arg_types, out_types, aux_types = sym.infer_type(**rec["type_dict"])
        assert type_names(arg_types) == rec["arg_types"]
        assert type_names(out_types) == rec["out_types"]
        assert type_names(aux_types) == rec["aux_types"]
    doc = json.loads(sym.tojson())
    assert [[n["op"], n["name"], n.get("attrs", {})] for n in doc["nodes"]] == rec["nodes"]
    assert doc["node_row_ptr"] == rec["node_row_ptr"]
    if json_roundtrip:
        assert mx.sym.load_json(sym.tojson()).tojson() == sym.tojson()
    if not rec["values"]:
        return
    tol = tuple(rec["tol"]) if rec["tol"] else None
    types = dict(zip(rec["arguments"], rec["arg_types"]))
    exe = sym.simple_bind(mx.cpu(), grad_req=rec["grad_req"], type_dict=types, **given)
    for name in rec["arguments"]:
        exe.arg_dict[name][:] = values[f"{cid}|in|{name}"]
    for name in rec["aux"]:
        exe.aux_dict[name][:] = values[f"{cid}|auxin|{name}"]
    outs = exe.forward(is_train=rec["train"])
    assert len(outs) == len(rec["outputs"])
    for i, out in enumerate(outs):
        close(out, values[f"{cid}|out|{i}"], f"{cid} output {rec['outputs'][i]}", tol)
    if rec["backward"]:
        if rec["head_grad"]:
            exe.backward([mx.nd.array(values[f"{cid}|hg|{i}"]) for i in range(len(outs))])
        else:
            exe.backward()
        for name in rec["arguments"]:
            if rec["grad_req"][name] != "null":
                close(exe.grad_dict[name], values[f"{cid}|grad|{name}"], f"{cid} gradient of {name}", tol)
    for name in rec["aux"]:
        close(exe.aux_dict[name], values[f"{cid}|auxout|{name}"], f"{cid} aux {name} after", tol)
    if args_after:
        for name in rec["arguments"]:
            close(exe.arg_dict[name], values[f"{cid}|argout|{name}"], f"{cid} argument {name} after", tol)


def check_nd_case(rec, values, is_list=True):
    """Replay one ``mx.nd`` case. ``is_list``: whether the call returned a list is compared too."""
    cid = rec["id"]
    env = {"mx": mx, "np": np}
    for name in rec["inputs"]:
        value = values[f"{cid}|in|{name}"]
        env[name] = mx.nd.array(value, dtype=value.dtype)
    out = eval(rec["code"], env)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if is_list:
        assert isinstance(out, (list, tuple)) == rec["is_list"]
    assert len(outs) == rec["n_out"]
    tol = tuple(rec["tol"]) if rec["tol"] else None
    for i, o in enumerate(outs):
        close(o, values[f"{cid}|out|{i}"], f"{cid} output {i}", tol)


def _each(records):
    return pytest.mark.parametrize("rec", records, ids=[c["id"] for c in records])


def golden_tests(folder, json_roundtrip=False, args_after=False, is_list=True):
    """The tests replaying tests/golden/<folder>: ``test_symbol_case, test_nd_case`` (assign them
    to those names in the test module); the flags go to check_symbol_case and check_nd_case."""
    index, values = load(folder)

    @_each(index["cases"])
    def test_symbol_case(rec):
        check_symbol_case(rec, values, json_roundtrip=json_roundtrip, args_after=args_after)

    @_each(index["nd_cases"])
    def test_nd_case(rec):
        check_nd_case(rec, values, is_list=is_list)

    return test_symbol_case, test_nd_case
