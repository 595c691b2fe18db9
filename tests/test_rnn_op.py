"""The fused RNN operator: MXNet 1.9.1 goldens (JSON, shapes, forward and gradients for every
mode, uni/bidirectional, 1-2 layers), agreement with the unfused cells through pack/unpack, and
the cuDNN-only features (sequence_length, state clipping, projection) against a numpy model."""
import json
import os
import sys
import warnings

import jax
import numpy as np
import pytest

import modjax as mx
from modjax.ops.registry import OpCtx, get_op
from modjax.ops.rnn import rnn_param_size

HERE = os.path.dirname(os.path.abspath(__file__))
GOLD = os.path.join(HERE, "golden", "rnn")
sys.path.insert(0, os.path.join(HERE, "golden"))
import rnn_cases as rc  # noqa: E402

with open(os.path.join(GOLD, "op.json")) as _f:
    OPS = json.load(_f)
ARRAYS = np.load(os.path.join(GOLD, "op.npz"))


@pytest.mark.parametrize("name", sorted(OPS))
def test_rnn_op_matches_mxnet(name):
    rec = OPS[name]
    sym, shapes = rc.op_symbol(mx, name)
    assert sym.tojson() == rec["json"]
    assert sym.list_arguments() == rec["arguments"]
    assert sym.list_outputs() == rec["outputs"]
    arg_shapes, out_shapes, _ = sym.infer_shape(**shapes)
    assert [list(s) for s in arg_shapes] == rec["arg_shapes"]
    assert [list(s) for s in out_shapes] == rec["out_shapes"]
    args = {k.split("/", 2)[2]: ARRAYS[k] for k in ARRAYS.files if k.startswith(name + "/arg/")}
    head_grads = [ARRAYS["%s/hg/%d" % (name, i)] for i in range(len(out_shapes))]
    outs, grads = rc.run(mx, sym, args, head_grads)
    for i, out in enumerate(outs):
        np.testing.assert_allclose(out, ARRAYS["%s/out/%d" % (name, i)], rtol=1e-5, atol=1e-6)
    for k in args:
        np.testing.assert_allclose(grads[k], ARRAYS["%s/grad/%s" % (name, k)], rtol=1e-4,
                                   atol=1e-5, err_msg=k)


# -- a numpy model of the operator (cuDNN semantics) ---------------------------------------------
def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_rnn(mode, x, params, h0, c0, layers, bi, hidden, proj=None, lens=None, clip=None):
    """Loop-by-loop reference: x (T, N, I). Returns y, hy, cy."""
    t_len, n, _ = x.shape
    dirs = 2 if bi else 1
    g = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}[mode]
    hs = proj or hidden
    lens = np.full(n, t_len) if lens is None else np.asarray(lens)
    off = 0

    def take(shape):
        nonlocal off
        size = int(np.prod(shape))
        out = params[off:off + size].reshape(shape)
        off += size
        return out

    w = {}
    for l in range(layers):
        for d in range(dirs):
            in_size = x.shape[2] if l == 0 else dirs * hs
            w[l, d] = [take((g * hidden, in_size)), take((g * hidden, hs))]
            if proj:
                w[l, d].append(take((hs, hidden)))
    for l in range(layers):
        for d in range(dirs):
            w[l, d] += [take((g * hidden,)), take((g * hidden,))]
    assert off == params.size
    hy, cy = np.zeros_like(h0), np.zeros_like(c0) if c0 is not None else None
    inp = x
    for l in range(layers):
        out = np.zeros((t_len, n, dirs * hs), np.float64)
        for d in range(dirs):
            wx, wh = w[l, d][0], w[l, d][1]
            wr = w[l, d][2] if proj else None
            bx, bh = w[l, d][-2], w[l, d][-1]
            k = l * dirs + d
            for b in range(n):
                h = h0[k, b].astype(np.float64)
                c = c0[k, b].astype(np.float64) if c0 is not None else None
                steps = range(lens[b]) if d == 0 else reversed(range(lens[b]))
                for t in steps:
                    xp = wx @ inp[t, b] + bx
                    hp = wh @ h + bh
                    if mode == "lstm":
                        i, f, gg, o = np.split(xp + hp, 4)
                        c = _sig(f) * c + _sig(i) * np.tanh(gg)
                        if clip is not None:
                            c = np.clip(c, *clip)
                        h = _sig(o) * np.tanh(c)
                        if wr is not None:
                            h = wr @ h
                    elif mode == "gru":
                        r = _sig(xp[:hidden] + hp[:hidden])
                        z = _sig(xp[hidden:2 * hidden] + hp[hidden:2 * hidden])
                        nn = np.tanh(xp[2 * hidden:] + r * hp[2 * hidden:])
                        h = (1 - z) * nn + z * h
                    else:
                        pre = xp + hp
                        h = np.tanh(pre) if mode == "rnn_tanh" else np.maximum(pre, 0)
                    out[t, b, d * hs:(d + 1) * hs] = h
                hy[k, b] = h
                if c is not None:
                    cy[k, b] = c
        inp = out
    return inp, hy, cy


def _op_run(mode, layers, bi, hidden, t_len=5, n=3, i=2, proj=None, lens=None, clip=None,
            seed=0, is_train=False, p=0.0, key=None, extra=None):
    rng = np.random.RandomState(seed)
    kw = dict(state_size=hidden, num_layers=layers, bidirectional=bi, mode=mode,
              state_outputs=True, projection_size=proj, p=p)
    if lens is not None:
        kw["use_sequence_length"] = True
    if clip is not None:
        kw.update(lstm_state_clip_min=clip[0], lstm_state_clip_max=clip[1])
    kw.update(extra or {})
    data = mx.sym.Variable("data")
    sym = mx.sym.RNN(data, name="rnn", **kw)
    arg_shapes, _, _ = sym.infer_shape(data=(t_len, n, i))
    args = {}
    for name, shape in zip(sym.list_arguments(), arg_shapes):
        args[name] = rng.uniform(-0.8, 0.8, size=shape).astype(np.float32)
    if lens is not None:
        args["rnn_sequence_length"] = np.asarray(lens, np.float32)
    op = get_op("RNN")
    p_ = op.parse({k: str(v) for k, v in kw.items() if v is not None})
    inputs = [jax.numpy.asarray(args[k]) for k in sym.list_arguments()]
    outs, _ = op.forward(p_, inputs, [], OpCtx(is_train=is_train, key=key))
    return args, [np.asarray(o) for o in outs]


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("bi", [False, True])
def test_sequence_length_against_numpy(mode, bi):
    lens = [5, 2, 3]
    args, outs = _op_run(mode, 2, bi, 3, lens=lens, seed=1)
    c0 = args.get("rnn_state_cell")
    y, hy, cy = np_rnn(mode, args["data"], args["rnn_parameters"], args["rnn_state"], c0, 2, bi, 3,
                       lens=lens)
    np.testing.assert_allclose(outs[0], y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outs[1], hy, rtol=1e-5, atol=1e-5)
    if mode == "lstm":
        np.testing.assert_allclose(outs[2], cy, rtol=1e-5, atol=1e-5)
    assert np.all(outs[0][2:, 1] == 0) and np.all(outs[0][3:, 2] == 0)


def test_full_lengths_equal_no_lengths():
    _, with_len = _op_run("gru", 2, True, 3, lens=[5, 5, 5], seed=2)
    _, plain = _op_run("gru", 2, True, 3, seed=2)
    for a, b in zip(with_len, plain):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_state_clipping_against_numpy():
    args, outs = _op_run("lstm", 2, True, 4, clip=(-0.2, 0.3), seed=3)
    y, hy, cy = np_rnn("lstm", args["data"], args["rnn_parameters"], args["rnn_state"],
                       args["rnn_state_cell"], 2, True, 4, clip=(-0.2, 0.3))
    np.testing.assert_allclose(outs[0], y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outs[2], cy, rtol=1e-5, atol=1e-5)
    assert outs[2].max() <= 0.3 + 1e-7 and outs[2].min() >= -0.2 - 1e-7


@pytest.mark.parametrize("bi", [False, True])
def test_projection_against_numpy(bi):
    args, outs = _op_run("lstm", 2, bi, 4, proj=2, seed=4, lens=[4, 5, 1])
    assert outs[0].shape == (5, 3, 2 * (2 if bi else 1))
    assert outs[1].shape == (2 * (2 if bi else 1), 3, 2) and outs[2].shape[-1] == 4
    y, hy, cy = np_rnn("lstm", args["data"], args["rnn_parameters"], args["rnn_state"],
                       args["rnn_state_cell"], 2, bi, 4, proj=2, lens=[4, 5, 1])
    for got, want in zip(outs, (y, hy, cy)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_projection_param_size_matches_mxnet_formula():
    sym = mx.sym.RNN(mx.sym.Variable("data"), state_size=4, num_layers=2, mode="lstm",
                     projection_size=2, use_sequence_length=True, state_outputs=True, name="rnn")
    arg_shapes, out_shapes, _ = sym.infer_shape(data=(5, 3, 6))
    # values MXNet 1.9.1's infer_shape gives for this symbol
    assert arg_shapes == [(5, 3, 6), (272,), (2, 3, 2), (2, 3, 4), (3,)]
    assert out_shapes == [(5, 3, 2), (2, 3, 2), (2, 3, 4)]


def test_dropout_between_layers():
    key = jax.random.PRNGKey(0)
    _, infer = _op_run("lstm", 3, False, 4, p=0.5, seed=5, is_train=False)
    _, plain = _op_run("lstm", 3, False, 4, seed=5, is_train=True, key=key)
    np.testing.assert_allclose(infer[0], plain[0], rtol=1e-6)
    _, a = _op_run("lstm", 3, False, 4, p=0.5, seed=5, is_train=True, key=key)
    _, b = _op_run("lstm", 3, False, 4, p=0.5, seed=5, is_train=True, key=key)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(a[0], plain[0])
    # the first layer sees no dropout: its final state is unchanged
    np.testing.assert_allclose(a[1][0], plain[1][0], rtol=1e-6)
    assert not np.allclose(a[1][2], plain[1][2])


def test_parameter_errors():
    with pytest.raises(mx.MXNetError, match="together"):
        _op_run("lstm", 1, False, 3, extra=dict(lstm_state_clip_min=-1.0))
    with pytest.raises(mx.MXNetError, match="only supported for mode='lstm'"):
        _op_run("gru", 1, False, 3, proj=2)
    sym = mx.sym.RNN(mx.sym.Variable("data"), state_size=3, num_layers=1, mode="gru", name="r")
    exe = sym.simple_bind(mx.cpu(), data=(2, 2, 2))
    assert exe.arg_dict["r_parameters"].shape == (3 * 3 * (2 + 3 + 2),)
    with pytest.raises(mx.MXNetError, match="parameters must have shape"):
        mx.nd.RNN(mx.nd.ones((2, 2, 2)), mx.nd.ones((10,)), mx.nd.ones((1, 2, 3)), state_size=3,
                  num_layers=1, mode="gru")


def test_scan_not_unrolled():
    """The operator reaches XLA as a loop: its jaxpr does not grow with the sequence length."""
    op = get_op("RNN")
    p = op.parse(dict(state_size="3", num_layers="2", mode="lstm", bidirectional="True"))

    def count(t_len):
        size = rnn_param_size(p, 2)
        xs = [jax.ShapeDtypeStruct(s, np.float32) for s in
              [(t_len, 2, 2), (size,), (4, 2, 3), (4, 2, 3)]]
        jaxpr = jax.make_jaxpr(lambda *a: op.forward(p, list(a), [], OpCtx())[0])(*xs)
        return len(str(jaxpr)), "scan" in str(jaxpr)

    short, long_ = count(3), count(40)
    assert short[1] and long_[1]
    assert abs(short[0] - long_[0]) < 200


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_fused_equals_unfused_cells(mode):
    """Fused RNN vs the unfused stack with the same weights (pack/unpack), forward and grads."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fused = mx.rnn.FusedRNNCell(3, num_layers=2, mode=mode, bidirectional=True, prefix="f_",
                                    get_next_state=True)
        unfused = fused.unfuse()
        with mx.name.NameManager():
            f_out, f_states = fused.unroll(4, mx.sym.Variable("data"), merge_outputs=True)
            u_out, u_states = unfused.unroll(4, mx.sym.Variable("data"), merge_outputs=True)
    rng = np.random.RandomState(9)
    data = rng.uniform(-1, 1, (2, 4, 2)).astype(np.float32)
    shapes, _, _ = f_out.infer_shape(data=data.shape)
    vec = rng.uniform(-0.5, 0.5, shapes[1]).astype(np.float32)
    u_params = {k: v for k, v in unfused.pack_weights(fused.unpack_weights(
        {"f_parameters": vec})).items()}
    u_args = dict(u_params, data=data)
    f_args = {"data": data, "f_parameters": vec}
    hg = [rng.normal(size=(2, 4, 6)).astype(np.float32)]
    f_res, f_grad = rc.run(mx, f_out, f_args, hg)
    u_res, u_grad = rc.run(mx, u_out, u_args, hg)
    np.testing.assert_allclose(f_res[0], u_res[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f_grad["data"], u_grad["data"], rtol=1e-4, atol=1e-5)
    back = fused.pack_weights(unfused.unpack_weights({k: u_grad[k] for k in u_params}))
    np.testing.assert_allclose(f_grad["f_parameters"], back["f_parameters"], rtol=1e-4, atol=1e-5)
