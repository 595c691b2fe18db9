"""mx.rnn scenarios shared by the golden generator (MXNet 1.9.1) and the tests (modjax).

Every builder is a function of ``mx`` (either library), so both sides build the same graphs.
Shapes stay tiny: T=3 steps, batch 2, 3-5 features.
"""
import numpy as np

T, N = 3, 2


def _seq(mx, *cells):
    stack = mx.rnn.SequentialRNNCell()
    for c in cells:
        stack.add(c)
    return stack


# name -> (builder, input feature size)
CELLS = {
    "rnn_tanh": (lambda mx: mx.rnn.RNNCell(4), 3),
    "rnn_relu": (lambda mx: mx.rnn.RNNCell(4, activation="relu", prefix="relu_"), 3),
    "lstm": (lambda mx: mx.rnn.LSTMCell(4), 3),
    "lstm_fb": (lambda mx: mx.rnn.LSTMCell(3, prefix="lfb_", forget_bias=2.5), 3),
    "gru": (lambda mx: mx.rnn.GRUCell(4), 3),
    "seq_lstm2": (lambda mx: _seq(mx, mx.rnn.LSTMCell(4, prefix="lstm_l0_"),
                                  mx.rnn.LSTMCell(4, prefix="lstm_l1_")), 3),
    "seq_gru_rnn": (lambda mx: _seq(mx, mx.rnn.GRUCell(3, prefix="g0_"),
                                    mx.rnn.RNNCell(4, prefix="r1_")), 3),
    "bi_lstm": (lambda mx: mx.rnn.BidirectionalCell(mx.rnn.LSTMCell(3, prefix="l_"),
                                                    mx.rnn.LSTMCell(3, prefix="r_")), 3),
    "bi_gru": (lambda mx: mx.rnn.BidirectionalCell(mx.rnn.GRUCell(3, prefix="gl_"),
                                                   mx.rnn.GRUCell(2, prefix="gr_"),
                                                   output_prefix="gbi_"), 3),
    "dropout_stack": (lambda mx: _seq(mx, mx.rnn.LSTMCell(4, prefix="d0_"),
                                      mx.rnn.DropoutCell(0.5, prefix="drop_"),
                                      mx.rnn.LSTMCell(4, prefix="d1_")), 3),
    "residual": (lambda mx: mx.rnn.ResidualCell(mx.rnn.LSTMCell(4, prefix="res_")), 4),
    "residual_gru_seq": (lambda mx: _seq(mx, mx.rnn.GRUCell(4, prefix="rg0_"),
                                         mx.rnn.ResidualCell(mx.rnn.GRUCell(4, prefix="rg1_"))), 4),
    "zoneout": (lambda mx: mx.rnn.ZoneoutCell(mx.rnn.LSTMCell(4, prefix="zo_"), 0.3, 0.4), 3),
    "fused_lstm": (lambda mx: mx.rnn.FusedRNNCell(4, num_layers=2, mode="lstm",
                                                  get_next_state=True), 3),
    "fused_lstm_bi": (lambda mx: mx.rnn.FusedRNNCell(3, num_layers=2, mode="lstm",
                                                     bidirectional=True, prefix="lstm_"), 3),
    "fused_gru": (lambda mx: mx.rnn.FusedRNNCell(4, num_layers=2, mode="gru",
                                                 get_next_state=True), 3),
    "fused_gru_bi": (lambda mx: mx.rnn.FusedRNNCell(3, num_layers=2, mode="gru",
                                                    bidirectional=True, get_next_state=True), 3),
    "fused_rnn_tanh": (lambda mx: mx.rnn.FusedRNNCell(4, num_layers=2, mode="rnn_tanh"), 3),
    "fused_rnn_tanh_bi": (lambda mx: mx.rnn.FusedRNNCell(3, num_layers=2, mode="rnn_tanh",
                                                         bidirectional=True,
                                                         get_next_state=True), 3),
    "fused_relu_dropout": (lambda mx: mx.rnn.FusedRNNCell(3, num_layers=2, mode="rnn_relu",
                                                          dropout=0.25, prefix="fr_"), 3),
    "unfused_lstm_bi": (lambda mx: mx.rnn.FusedRNNCell(3, num_layers=2, mode="lstm",
                                                       bidirectional=True).unfuse(), 3),
    "unfused_gru_dropout": (lambda mx: mx.rnn.FusedRNNCell(3, num_layers=2, mode="gru",
                                                           dropout=0.5, prefix="ug_").unfuse(), 3),
}

# unroll variants: (layout, merge_outputs); fused cells cannot take per-step lists
VARIANTS = [("NTC", True), ("NTC", False), ("TNC", True), ("TNC", None)]
# cells whose forward is random in training (numerics in inference only, no gradients)
INFERENCE_ONLY = {"dropout_stack", "zoneout", "fused_relu_dropout", "unfused_gru_dropout"}
# (cell, variant index) pairs that also get forward/backward numerics
NUMERIC_VARIANTS = (0, 3)


def flatten(states):
    out = []
    for s in states:
        out += flatten(s) if isinstance(s, (list, tuple)) else [s]
    return out


def unroll(mx, name, layout="NTC", merge=True, length=T, list_inputs=False, begin=None):
    """(symbol of outputs + states, data shapes) for the unrolled cell ``name``."""
    builder, feat = CELLS[name]
    with mx.name.NameManager():
        cell = builder(mx)
        if list_inputs:
            inputs = [mx.sym.Variable("x%d" % i) for i in range(length)]
            shapes = {"x%d" % i: (N, feat) for i in range(length)}
        else:
            inputs = mx.sym.Variable("data")
            shapes = {"data": (N, length, feat) if layout == "NTC" else (length, N, feat)}
        begin_state = cell.begin_state(func=mx.sym.Variable) if begin == "var" else None
        outputs, states = cell.unroll(length, inputs, begin_state=begin_state, layout=layout,
                                      merge_outputs=merge)
        outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        # a final state that is also an output is listed once: MXNet's executor keeps only the
        # last head gradient of a repeated head (modjax sums them)
        seen = {o.list_outputs()[0] for o in outs}
        extra = [s for s in flatten(states) if s.list_outputs()[0] not in seen]
        sym = mx.sym.Group(outs + extra)
    return cell, sym, shapes


EXTRA = {
    # name -> kwargs of unroll
    "lstm_list": dict(name="lstm", list_inputs=True, merge=False),
    "gru_list_merge": dict(name="gru", list_inputs=True, merge=True),
    "lstm_begin_var": dict(name="lstm", begin="var", merge=True),
    "fused_gru_begin_var": dict(name="fused_gru", begin="var", layout="TNC", merge=True),
    "bi_lstm_list": dict(name="bi_lstm", list_inputs=True, merge=None),
}


def bucketing_model(mx, seq_len, vocab=11, embed=5, hidden=4, layers=2):
    """lstm_bucketing.py's sym_gen: Embedding, a stack of LSTMCells, FC, SoftmaxOutput."""
    with mx.name.NameManager():
        stack = mx.rnn.SequentialRNNCell()
        for i in range(layers):
            stack.add(mx.rnn.LSTMCell(num_hidden=hidden, prefix="lstm_l%d_" % i))
        data = mx.sym.Variable("data")
        label = mx.sym.Variable("softmax_label")
        emb = mx.sym.Embedding(data=data, input_dim=vocab, output_dim=embed, name="embed")
        stack.reset()
        outputs, _ = stack.unroll(seq_len, inputs=emb, merge_outputs=True)
        pred = mx.sym.Reshape(outputs, shape=(-1, hidden))
        pred = mx.sym.FullyConnected(data=pred, num_hidden=vocab, name="pred")
        label = mx.sym.Reshape(label, shape=(-1,))
        return stack, mx.sym.SoftmaxOutput(data=pred, label=label, name="softmax")


# fused RNN operator cases: name -> (mode, layers, bidirectional, H, I)
OP_CASES = {
    "lstm_uni": ("lstm", 2, False, 4, 3),
    "lstm_bi": ("lstm", 2, True, 3, 3),
    "gru_uni": ("gru", 2, False, 4, 3),
    "gru_bi": ("gru", 2, True, 3, 2),
    "rnn_tanh_uni": ("rnn_tanh", 2, False, 4, 3),
    "rnn_tanh_bi": ("rnn_tanh", 2, True, 3, 3),
    "rnn_relu_uni": ("rnn_relu", 1, False, 4, 3),
    "rnn_relu_bi": ("rnn_relu", 2, True, 2, 3),
    "lstm_1layer_nostate": ("lstm", 1, False, 5, 4),
}


def op_symbol(mx, name):
    mode, layers, bi, h, i = OP_CASES[name]
    state_outputs = name != "lstm_1layer_nostate"
    data = mx.sym.Variable("data")
    sym = mx.sym.RNN(data, state_size=h, num_layers=layers, bidirectional=bi, mode=mode,
                     state_outputs=state_outputs, name="rnn")
    return sym, {"data": (4, N, i)}


def random_args(sym, shapes, seed, int_inputs=None):
    """Fixed values for every argument: uniform(-0.5, 0.5), integer ids for ``int_inputs``."""
    rng = np.random.RandomState(seed)
    arg_shapes, out_shapes, _ = sym.infer_shape(**shapes)
    args = {}
    for name, shape in zip(sym.list_arguments(), arg_shapes):
        if int_inputs and name in int_inputs:
            args[name] = rng.randint(0, int_inputs[name], size=shape).astype(np.float32)
        else:
            args[name] = rng.uniform(-0.5, 0.5, size=shape).astype(np.float32)
    head_grads = [rng.normal(size=s).astype(np.float32) for s in out_shapes]
    return args, head_grads


def run(mx, sym, args, head_grads, is_train=True, backward=True, loss=False, no_grad=()):
    """Forward (and backward) through an Executor; (outputs, {arg: grad})."""
    shapes = {k: v.shape for k, v in args.items()}
    req = {k: ("null" if (k in no_grad or not backward) else "write") for k in args}
    exe = sym.simple_bind(mx.cpu(), grad_req=req, **shapes)
    for k, v in args.items():
        exe.arg_dict[k][:] = v
    outs = [o.asnumpy() for o in exe.forward(is_train=is_train)]
    grads = {}
    if backward:
        if loss:
            exe.backward()
        else:
            exe.backward([mx.nd.array(g) for g in head_grads])
        grads = {k: v.asnumpy() for k, v in exe.grad_dict.items() if v is not None}
    return outs, grads


def corpus(seed=3, n=60, vocab=20, max_len=12):
    rng = np.random.RandomState(seed)
    lens = rng.randint(1, max_len + 1, size=n)
    return [[int(x) for x in rng.randint(1, vocab, size=k)] for k in lens]


# BucketSentenceIter cases: name -> kwargs (sentences from corpus())
ITER_CASES = {
    "explicit_nt": dict(batch_size=5, buckets=[4, 8, 12]),
    "explicit_tn_discard": dict(batch_size=4, buckets=[3, 6, 9], layout="TN", invalid_label=0,
                                data_name="words", label_name="next"),
    "default_buckets": dict(batch_size=3),
    "int32_unsorted": dict(batch_size=6, buckets=[10, 5, 12], dtype="int32"),
}

ENCODE_CASES = {
    "new_vocab": dict(sentences=[["a", "b", "c"], ["b", "d"], ["e", "a"]]),
    "invalid0_start0": dict(sentences=[["a", "b"], ["b", "c"]], invalid_label=0, start_label=0),
    "start5": dict(sentences=[["x", "y"], ["z", "x", "w"]], start_label=5, invalid_label=6,
                   invalid_key="<eos>"),
    "unknown_token": dict(sentences=[["a", "x", "y"], ["a", "b"]], vocab={"a": 1, "b": 2},
                          unknown_token="<unk>"),
    "known_only": dict(sentences=[["a", "b"], ["b"]], vocab={"a": 3, "b": 4}),
}
