"""mx.rnn cells against MXNet 1.9.1 goldens (tests/golden/gen_rnn.py): byte-identical JSON,
introspection and shapes of unrolled cells, forward/backward numerics, weight (un)packing and
rnn checkpoints; plus the step tags that let lowering run the steps as one lax.scan."""
import gzip
import json
import os
import sys
import warnings

import numpy as np
import pytest

import modjax as mx
from modjax.symbol.graph import topo_order

HERE = os.path.dirname(os.path.abspath(__file__))
GOLD = os.path.join(HERE, "golden", "rnn")
sys.path.insert(0, os.path.join(HERE, "golden"))
import rnn_cases as rc  # noqa: E402

with gzip.open(os.path.join(GOLD, "cells.json.gz")) as _f:
    CELLS = json.loads(_f.read().decode("utf-8"))
ARRAYS = np.load(os.path.join(GOLD, "cells.npz"))
PACK = np.load(os.path.join(GOLD, "pack.npz"))
MERGE = {"True": True, "False": False, "None": None}


def build(key):
    if key.startswith("bucketing_model"):
        t = int(key.split("/")[1])
        cell, sym = rc.bucketing_model(mx, t)
        return cell, sym, {"data": (rc.N, t), "softmax_label": (rc.N, t)}
    if key in rc.EXTRA:
        return rc.unroll(mx, **rc.EXTRA[key])
    name, layout, merge = key.split("/")
    return rc.unroll(mx, name, layout, MERGE[merge])


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("key", sorted(CELLS))
def test_unrolled_graph_matches_mxnet(key):
    rec = CELLS[key]
    _, sym, shapes = build(key)
    assert sym.tojson() == rec["json"]
    assert sym.list_arguments() == rec["arguments"]
    assert sym.list_outputs() == rec["outputs"]
    assert sym.list_auxiliary_states() == rec["aux"]
    arg_shapes, out_shapes, _ = sym.infer_shape(**shapes)
    assert [list(s) for s in arg_shapes] == rec["arg_shapes"]
    assert [list(s) for s in out_shapes] == rec["out_shapes"]


NUMERIC = sorted(k for k, r in CELLS.items() if "numerics" in r)


@pytest.mark.parametrize("key", NUMERIC)
def test_forward_backward_match_mxnet(key):
    rec = CELLS[key]
    train = rec["numerics"]["train"]
    _, sym, _ = build(key)
    args = {k[len(key) + 5:]: ARRAYS[k] for k in ARRAYS.files if k.startswith(key + "/arg/")}
    n_out = len(sym.list_outputs())
    head_grads = [ARRAYS["%s/hg/%d" % (key, i)] for i in range(n_out)]
    loss = key.startswith("bucketing_model")
    outs, grads = rc.run(mx, sym, args, head_grads, is_train=train, backward=train, loss=loss,
                         no_grad={"data", "softmax_label"} if loss else ())
    for i, out in enumerate(outs):
        np.testing.assert_allclose(out, ARRAYS["%s/out/%d" % (key, i)], rtol=1e-5, atol=1e-6)
    expected = {k[len(key) + 6:]: ARRAYS[k] for k in ARRAYS.files if k.startswith(key + "/grad/")}
    assert set(grads) == set(expected)
    for name, g in expected.items():
        np.testing.assert_allclose(grads[name], g, rtol=1e-4, atol=1e-5, err_msg=name)


PACK_CASES = sorted({k.split("/")[0] for k in PACK.files})


@pytest.mark.parametrize("name", PACK_CASES)
@pytest.mark.parametrize("kind", ["nd", "numpy"])
def test_unpack_pack_match_mxnet(name, kind):
    cell, _, _ = rc.unroll(mx, name, "NTC", True)
    wrap = mx.nd.array if kind == "nd" else np.asarray
    args = {k.split("/", 2)[2]: wrap(PACK[k]) for k in PACK.files if k.startswith(name + "/in/")}
    unpacked = cell.unpack_weights(args)
    expected = {k.split("/", 2)[2]: PACK[k] for k in PACK.files
                if k.startswith(name + "/unpacked/")}
    assert sorted(unpacked) == sorted(expected)
    for k, v in expected.items():
        got = unpacked[k].asnumpy() if kind == "nd" else unpacked[k]
        np.testing.assert_array_equal(got, v, err_msg=k)
    packed = cell.pack_weights(unpacked)
    for k in args:
        got = packed[k].asnumpy() if kind == "nd" else packed[k]
        np.testing.assert_array_equal(got, PACK["%s/packed/%s" % (name, k)])


def test_unpack_leaves_input_dict_alone_and_rejects_bad_size():
    cell = mx.rnn.FusedRNNCell(3, num_layers=2, mode="gru")
    args = {"gru_parameters": mx.nd.zeros((17,))}
    with pytest.raises(mx.MXNetError, match="Invalid parameters size 17"):
        cell.unpack_weights(args)
    assert list(args) == ["gru_parameters"]


def test_load_rnn_checkpoint_written_by_mxnet(tmp_path):
    stack, sym = rc.bucketing_model(mx, 4)
    loaded_sym, arg, aux = mx.rnn.load_rnn_checkpoint(stack, os.path.join(GOLD, "ckpt"), 2)
    expected = np.load(os.path.join(GOLD, "ckpt_expected.npz"))
    assert sorted(arg) == sorted(expected.files)
    for k in expected.files:
        np.testing.assert_array_equal(arg[k].asnumpy(), expected[k])
    assert aux == {}
    assert loaded_sym.tojson() == sym.tojson()
    # on disk the weights are per gate, as MXNet writes them
    raw = mx.nd.load(os.path.join(GOLD, "ckpt-0002.params"))
    assert "arg:lstm_l0_i2h_f_weight" in raw and "arg:lstm_l0_i2h_weight" not in raw
    # saving again gives the same keys and values
    prefix = str(tmp_path / "again")
    mx.rnn.save_rnn_checkpoint(stack, prefix, 2, loaded_sym, arg, aux)
    again = mx.nd.load(prefix + "-0002.params")
    assert sorted(again) == sorted(raw)
    for k in raw:
        np.testing.assert_array_equal(again[k].asnumpy(), raw[k].asnumpy())
    with open(prefix + "-symbol.json") as f, open(os.path.join(GOLD, "ckpt-symbol.json")) as g:
        assert f.read() == g.read()


def test_fused_checkpoint_loads_into_unfused_cells():
    fused = mx.rnn.FusedRNNCell(3, num_layers=2, mode="gru", bidirectional=True, prefix="fg_")
    prefix = os.path.join(GOLD, "fused")
    _, arg, _ = mx.rnn.load_rnn_checkpoint(fused, prefix, 1)
    expected = np.load(os.path.join(GOLD, "fused_expected.npz"))["fg_parameters"]
    np.testing.assert_array_equal(arg["fg_parameters"].asnumpy(), expected)
    unfused = fused.unfuse()
    _, uarg, _ = mx.rnn.load_rnn_checkpoint(unfused, prefix, 1)
    assert sorted(uarg) == sorted("fg_%s%d_%s_%s" % (d, l, k, t) for d in "lr" for l in range(2)
                                  for k in ("i2h", "h2h") for t in ("weight", "bias"))
    # same network, same numbers
    data = np.random.RandomState(0).uniform(-1, 1, (3, rc.N, 2)).astype(np.float32)
    with mx.name.NameManager():
        f_out, _ = fused.unroll(3, mx.sym.Variable("data"), layout="TNC", merge_outputs=True)
        u_out, _ = unfused.unroll(3, mx.sym.Variable("data"), layout="TNC", merge_outputs=True)
    f_args = {"data": data, "fg_parameters": arg["fg_parameters"].asnumpy()}
    u_args = dict({k: v.asnumpy() for k, v in uarg.items()}, data=data)
    f_res, _ = rc.run(mx, f_out, f_args, None, is_train=False, backward=False)
    u_res, _ = rc.run(mx, u_out, u_args, None, is_train=False, backward=False)
    np.testing.assert_allclose(f_res[0], u_res[0], rtol=1e-5, atol=1e-6)


def test_do_rnn_checkpoint_period(tmp_path):
    cell = mx.rnn.LSTMCell(2, prefix="c_")
    out, _ = cell.unroll(2, mx.sym.Variable("data"), merge_outputs=True)
    args = {"c_i2h_weight": mx.nd.ones((8, 3)), "c_i2h_bias": mx.nd.zeros((8,)),
            "c_h2h_weight": mx.nd.ones((8, 2)), "c_h2h_bias": mx.nd.zeros((8,))}
    cb = mx.rnn.do_rnn_checkpoint(cell, str(tmp_path / "m"), period=2)
    for epoch in range(4):
        cb(epoch, out, args, {})
    assert sorted(os.listdir(tmp_path)) == ["m-0002.params", "m-0004.params", "m-symbol.json"]
    saved = mx.nd.load(str(tmp_path / "m-0004.params"))
    assert "arg:c_i2h_o_weight" in saved and saved["arg:c_i2h_o_weight"].shape == (2, 3)


# -- step tags for the scan lowering ------------------------------------------------------------
def _tags(sym):
    return {n.name: n.step_tag for n in topo_order([h for h, _ in sym._heads]) if n.op is not None}


def test_step_scope_tags_only_cell_steps():
    cell = mx.rnn.LSTMCell(3, prefix="p_")
    with mx.name.NameManager():
        out, _ = cell.unroll(3, mx.sym.Variable("data"), merge_outputs=True)
    tags = _tags(out)
    for name in ("split0", "p_begin_state_0", "p_begin_state_1", "concat0", "expand_dims0"):
        assert tags[name] is None, name
    regions = {tags["p_t%d_i2h" % t][0] for t in range(3)}
    assert len(regions) == 1
    for t in range(3):
        for suffix in ("i2h", "h2h", "slice", "i", "f", "c", "o", "state", "out"):
            assert tags["p_t%d_%s" % (t, suffix)][1] == t
    # a second unroll (another bucket) gets a fresh region
    with mx.name.NameManager():
        out2, _ = cell.unroll(2, mx.sym.Variable("data"), merge_outputs=True)
    assert _tags(out2)["p_t0_i2h"][0] not in regions


def test_step_scope_regions_per_child_and_direction():
    cell = mx.rnn.BidirectionalCell(mx.rnn.GRUCell(2, prefix="l_"), mx.rnn.GRUCell(2, prefix="r_"))
    with mx.name.NameManager():
        out, _ = cell.unroll(3, mx.sym.Variable("data"), merge_outputs=True)
    tags = _tags(out)
    assert tags["l_t0__i2h"][0] is not tags["r_t0__i2h"][0]
    assert tags["bi_out"] is None and tags["reverse0"] is None
    fused = mx.rnn.FusedRNNCell(2, num_layers=1)
    out, _ = fused.unroll(3, mx.sym.Variable("data"), merge_outputs=True)
    assert all(t is None for t in _tags(out).values())


# -- API details ---------------------------------------------------------------------------------
def test_params_state_info_and_begin_state_counter():
    cell = mx.rnn.LSTMCell(5, prefix="x_")
    assert cell.state_info == [{"shape": (0, 5), "__layout__": "NC"}] * 2
    assert cell.state_shape == [(0, 5), (0, 5)]
    assert sorted(cell.params._params) == ["x_h2h_bias", "x_h2h_weight", "x_i2h_bias",
                                           "x_i2h_weight"]
    names = [s.name for s in cell.begin_state()] + [s.name for s in cell.begin_state()]
    assert names == ["x_begin_state_0", "x_begin_state_1", "x_begin_state_2", "x_begin_state_3"]
    cell.reset()
    assert cell.begin_state()[0].name == "x_begin_state_0"
    fused = mx.rnn.FusedRNNCell(4, num_layers=3, bidirectional=True, mode="gru")
    assert fused.state_info == [{"shape": (6, 0, 4), "__layout__": "LNC"}]
    assert fused._parameter.name == "gru_parameters"


def test_modifier_cell_guards_base_cell():
    base = mx.rnn.LSTMCell(3)
    res = mx.rnn.ResidualCell(base)
    with pytest.raises(mx.MXNetError, match="modifier"):
        base.begin_state()
    assert len(res.begin_state()) == 2
    assert res.params is base.params
    with pytest.raises(mx.MXNetError, match="unfuse"):
        mx.rnn.ZoneoutCell(mx.rnn.FusedRNNCell(3))
    with pytest.raises(NotImplementedError):
        mx.rnn.FusedRNNCell(3)(mx.sym.Variable("x"), [])


def test_unroll_input_checks():
    cell = mx.rnn.GRUCell(3)
    with pytest.raises(mx.MXNetError, match="3 input steps for length 2"):
        cell.unroll(2, [mx.sym.Variable("a")] * 3)
    with pytest.raises(mx.MXNetError, match="grouped symbol"):
        cell.unroll(2, mx.sym.Group([mx.sym.Variable("a"), mx.sym.Variable("b")]))
    with pytest.raises(mx.MXNetError, match="deprecated"):
        cell.unroll(2, None)


def test_shared_params_across_cells():
    params = mx.rnn.RNNParams("shared_")
    a = mx.rnn.RNNCell(3, prefix="a_", params=params)
    b = mx.rnn.RNNCell(3, prefix="b_", params=params)
    with mx.name.NameManager():
        out_a, _ = a.unroll(2, mx.sym.Variable("data"), merge_outputs=True)
        out_b, _ = b.unroll(2, out_a, merge_outputs=True)
    assert out_b.list_arguments() == ["data", "shared_i2h_weight", "shared_i2h_bias",
                                      "shared_h2h_weight", "shared_h2h_bias"]


@pytest.mark.parametrize("name,regions", [("lstm", 1), ("gru", 1), ("seq_lstm2", 2),
                                          ("bi_gru", 2), ("dropout_stack", 3), ("residual", 1),
                                          ("unfused_lstm_bi", 4), ("zoneout", 1)])
def test_every_unroll_lowers_to_scans(name, regions):
    """Each tagged unroll passes the loop lowering's checks (T alike steps): one scan each."""
    from modjax.symbol.lower import LoweredGraph
    for layout, merge in (("NTC", True), ("TNC", None)):
        _, sym, _ = rc.unroll(mx, name, layout, merge)
        assert [r.length for r in LoweredGraph(sym).loop_regions] == [rc.T] * regions
