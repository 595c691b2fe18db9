"""Model builders shared by the golden generator (run with MXNet) and the tests (modjax).

Each builder takes the ``mx`` module, so the same code builds the graph in both libraries.
"""


def mlp(mx):
    data = mx.sym.Variable("data")
    fc1 = mx.sym.FullyConnected(data=data, name="fc1", num_hidden=16)
    act1 = mx.sym.Activation(data=fc1, name="relu1", act_type="relu")
    fc2 = mx.sym.FullyConnected(data=act1, name="fc2", num_hidden=8)
    act2 = mx.sym.Activation(data=fc2, name="relu2", act_type="relu")
    fc3 = mx.sym.FullyConnected(data=act2, name="fc3", num_hidden=4)
    return mx.sym.SoftmaxOutput(data=fc3, name="softmax")


def cnn_bn(mx):
    data = mx.sym.Variable("data")
    conv1 = mx.sym.Convolution(data=data, kernel=(3, 3), num_filter=4, pad=(1, 1), name="conv1")
    bn1 = mx.sym.BatchNorm(data=conv1, name="bn1", fix_gamma=False, eps=2e-5)
    act1 = mx.sym.Activation(data=bn1, act_type="relu", name="relu1")
    pool1 = mx.sym.Pooling(data=act1, pool_type="max", kernel=(2, 2), stride=(2, 2), name="pool1")
    conv2 = mx.sym.Convolution(data=pool1, kernel=(3, 3), num_filter=6, no_bias=True, name="conv2")
    bn2 = mx.sym.BatchNorm(data=conv2, name="bn2")
    act2 = mx.sym.Activation(data=bn2, act_type="tanh", name="tanh2")
    pool2 = mx.sym.Pooling(data=act2, pool_type="avg", global_pool=True, kernel=(1, 1), name="pool2")
    flat = mx.sym.Flatten(data=pool2, name="flat")
    fc = mx.sym.FullyConnected(data=flat, num_hidden=5, name="fc")
    return mx.sym.SoftmaxOutput(data=fc, name="softmax")


def lstm_by_hand(mx, seq_len=3, num_hidden=6, vocab=10, embed=5):
    """An LSTM unrolled by hand with per-step FullyConnected ops (as example/rnn/old did)."""
    data = mx.sym.Variable("data")
    label = mx.sym.Variable("softmax_label")
    embed_w = mx.sym.Variable("embed_weight")
    i2h_w, i2h_b = mx.sym.Variable("l0_i2h_weight"), mx.sym.Variable("l0_i2h_bias")
    h2h_w, h2h_b = mx.sym.Variable("l0_h2h_weight"), mx.sym.Variable("l0_h2h_bias")
    emb = mx.sym.Embedding(data=data, input_dim=vocab, weight=embed_w, output_dim=embed, name="embed")
    steps = mx.sym.SliceChannel(data=emb, num_outputs=seq_len, axis=1, squeeze_axis=1, name="slice")
    h = mx.sym.Variable("l0_init_h")
    c = mx.sym.Variable("l0_init_c")
    outs = []
    for t in range(seq_len):
        i2h = mx.sym.FullyConnected(data=steps[t], weight=i2h_w, bias=i2h_b, num_hidden=4 * num_hidden,
                                    name="t%d_i2h" % t)
        h2h = mx.sym.FullyConnected(data=h, weight=h2h_w, bias=h2h_b, num_hidden=4 * num_hidden,
                                    name="t%d_h2h" % t)
        gates = mx.sym.SliceChannel(i2h + h2h, num_outputs=4, name="t%d_slice" % t)
        in_gate = mx.sym.Activation(gates[0], act_type="sigmoid")
        in_transform = mx.sym.Activation(gates[1], act_type="tanh")
        forget_gate = mx.sym.Activation(gates[2], act_type="sigmoid")
        out_gate = mx.sym.Activation(gates[3], act_type="sigmoid")
        c = (forget_gate * c) + (in_gate * in_transform)
        h = out_gate * mx.sym.Activation(c, act_type="tanh")
        outs.append(h)
    concat = mx.sym.Concat(*outs, dim=0)
    pred = mx.sym.FullyConnected(data=concat, num_hidden=vocab, name="pred")
    label_t = mx.sym.transpose(data=label)
    label_r = mx.sym.Reshape(data=label_t, shape=(-1,))
    return mx.sym.SoftmaxOutput(data=pred, label=label_r, name="softmax")


def misc_ops(mx):
    """Symbol arithmetic, scalar ops, Group and internals."""
    a = mx.sym.Variable("a")
    b = mx.sym.Variable("b", shape=(2, 3), lr_mult=0.5)
    x = (a + b) * 2 - b / 4
    y = 1 - x ** 2 + abs(a) % 3
    z = mx.sym.broadcast_add(a, mx.sym.sum(b, axis=1, keepdims=True))
    return mx.sym.Group([y, mx.sym.BlockGrad(z), mx.sym.MakeLoss(mx.sym.mean(x))])


MODELS = {
    "mlp": (mlp, {"data": (4, 10)}),
    "cnn_bn": (cnn_bn, {"data": (2, 3, 8, 8)}),
    "lstm_by_hand": (lstm_by_hand, {"data": (2, 3), "softmax_label": (2, 3), "l0_init_h": (2, 6),
                                   "l0_init_c": (2, 6)}),
    "misc_ops": (misc_ops, {"a": (2, 3)}),
}

# A pre-NNVM (MXNet 0.8-era) file: "param" dicts, [node, index] pairs, no BatchNorm aux inputs,
# hidden keys written bare ("lr_mult"), and an op-level weight_lr_mult.
LEGACY_JSON = """{
  "nodes": [
    {"op": "null", "param": {}, "name": "data", "inputs": [], "backward_source_id": -1},
    {"op": "null", "param": {}, "name": "fc1_weight", "inputs": [], "backward_source_id": -1,
     "attr": {"lr_mult": "0.2"}},
    {"op": "null", "param": {}, "name": "fc1_bias", "inputs": [], "backward_source_id": -1},
    {"op": "FullyConnected", "param": {"no_bias": "False", "num_hidden": "6"}, "name": "fc1",
     "inputs": [[0, 0], [1, 0], [2, 0]], "backward_source_id": -1,
     "attr": {"ctx_group": "stage1", "weight_lr_mult": "0.5"}},
    {"op": "null", "param": {}, "name": "bn_gamma", "inputs": [], "backward_source_id": -1},
    {"op": "null", "param": {}, "name": "bn_beta", "inputs": [], "backward_source_id": -1},
    {"op": "BatchNorm", "param": {"eps": "0.001", "fix_gamma": "True", "momentum": "0.9",
     "use_global_stats": "False"}, "name": "bn", "inputs": [[3, 0], [4, 0], [5, 0]],
     "backward_source_id": -1},
    {"op": "Activation", "param": {"act_type": "relu"}, "name": "relu", "inputs": [[6, 0]],
     "backward_source_id": -1},
    {"op": "null", "param": {}, "name": "softmax_label", "inputs": [], "backward_source_id": -1},
    {"op": "Softmax", "param": {"grad_scale": "1", "multi_output": "False"}, "name": "softmax",
     "inputs": [[7, 0], [8, 0]], "backward_source_id": -1}
  ],
  "arg_nodes": [0, 1, 2, 4, 5, 8],
  "heads": [[9, 0]]
}"""
