"""Unrolled cells tagged with step_scope lower to one lax.scan with the same numbers."""
import numpy as np
import pytest

import modjax as mx
from modjax.symbol.graph import step_scope
from modjax.symbol.lower import LoweredGraph


def lstm(seq_len, hidden=5, tagged=True, dropout=0.0):
    with mx.name.NameManager():
        return _lstm(seq_len, hidden, tagged, dropout)


def _lstm(seq_len, hidden, tagged, dropout):
    data = mx.sym.Variable("data")
    steps = mx.sym.SliceChannel(data, num_outputs=seq_len, axis=1, squeeze_axis=True, name="split")
    w = {n: mx.sym.Variable("l0_" + n) for n in ("i2h_weight", "i2h_bias", "h2h_weight", "h2h_bias")}
    h = mx.sym.zeros(shape=(0, hidden), name="begin_h")
    c = mx.sym.zeros(shape=(0, hidden), name="begin_c")
    region = object()
    outs = []
    for t in range(seq_len):
        scope = step_scope(region, t) if tagged else _null()
        with scope:
            x = steps[t]
            if dropout:
                x = mx.sym.Dropout(x, p=dropout)
            gates = mx.sym.FullyConnected(x, weight=w["i2h_weight"], bias=w["i2h_bias"],
                                          num_hidden=4 * hidden, name="t%d_i2h" % t) + \
                mx.sym.FullyConnected(h, weight=w["h2h_weight"], bias=w["h2h_bias"],
                                      num_hidden=4 * hidden, name="t%d_h2h" % t)
            sl = mx.sym.SliceChannel(gates, num_outputs=4, name="t%d_slice" % t)
            i, f = mx.sym.Activation(sl[0], act_type="sigmoid"), mx.sym.Activation(sl[1], act_type="sigmoid")
            g, o = mx.sym.Activation(sl[2], act_type="tanh"), mx.sym.Activation(sl[3], act_type="sigmoid")
            c = f * c + i * g
            h = o * mx.sym.Activation(c, act_type="tanh")
        outs.append(mx.sym.expand_dims(h, axis=1))
    merged = mx.sym.Concat(*outs, dim=1)
    pred = mx.sym.FullyConnected(mx.sym.Reshape(merged, shape=(-1, hidden)), num_hidden=7, name="pred")
    return mx.sym.Group([mx.sym.SoftmaxOutput(pred, name="softmax"), mx.sym.BlockGrad(c)])


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def run(sym, seq_len, batch=3, feat=4):
    rng = np.random.RandomState(0)
    exe = sym.simple_bind(mx.cpu(), data=(batch, seq_len, feat), softmax_label=(batch * seq_len,))
    for name, arr in exe.arg_dict.items():
        arr[:] = rng.randint(0, 7, arr.shape) if name == "softmax_label" else rng.uniform(-.5, .5, arr.shape)
    outs = [o.asnumpy() for o in exe.forward(is_train=True)]
    exe.backward()
    return outs, {k: v.asnumpy() for k, v in exe.grad_dict.items() if v is not None}


def test_tagged_unroll_is_one_scan_with_identical_results():
    seq_len = 6
    tagged, plain = lstm(seq_len), lstm(seq_len, tagged=False)
    assert tagged.tojson() == plain.tojson()  # the tags are invisible in the graph
    assert len(LoweredGraph(tagged).loop_regions) == 1
    assert LoweredGraph(tagged).loop_regions[0].length == seq_len
    assert LoweredGraph(plain).loop_regions == []
    (o1, g1), (o2, g2) = run(tagged, seq_len), run(plain, seq_len)
    for a, b in zip(o1, o2):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for k in g2:
        np.testing.assert_allclose(g1[k], g2[k], rtol=1e-4, atol=1e-6, err_msg=k)


def test_compiled_program_does_not_grow_with_length():
    import jax
    sizes = []
    for seq_len in (4, 16):
        graph = LoweredGraph(lstm(seq_len))
        args = {n: jax.ShapeDtypeStruct(s, np.float32) for n, s in zip(
            graph.arg_names, lstm(seq_len).infer_shape(data=(2, seq_len, 4),
                                                       softmax_label=(2 * seq_len,))[0])}
        text = jax.jit(graph.run, static_argnames="is_train").lower(args, {}, None, is_train=True).as_text()
        sizes.append(text.count("dot_general"))
    assert sizes[0] == sizes[1]  # one step's matmuls, whatever the length


def test_dropout_inside_the_loop_uses_fresh_masks():
    sym = lstm(5, dropout=0.5)
    assert len(LoweredGraph(sym).loop_regions) == 1
    outs, grads = run(sym, 5)
    assert np.isfinite(outs[0]).all() and np.isfinite(grads["l0_i2h_weight"]).all()


def test_executors_of_tagged_and_plain_graphs_do_not_share_lowering():
    from modjax.executor import _compiled_for
    tagged, plain = lstm(4), lstm(4, tagged=False)
    assert len(_compiled_for(tagged).graph.loop_regions) == 1
    assert _compiled_for(plain).graph.loop_regions == []
    assert _compiled_for(lstm(4)) is _compiled_for(tagged)  # an equal tagged graph reuses it
