"""BucketingModule scenario shared by the golden generator (MXNet) and the tests (modjax)."""
import contextlib

import numpy as np

VOCAB, EMBED, HIDDEN, BATCH = 12, 6, 5, 4


def sym_gen_factory(mx):
    graph = getattr(mx.symbol, "graph", None)  # modjax tags the steps of the unrolled loop

    def sym_gen(seq_len):
        data = mx.sym.Variable("data")
        label = mx.sym.Variable("softmax_label")
        embed = mx.sym.Embedding(data, input_dim=VOCAB, output_dim=EMBED, name="embed")
        steps = mx.sym.SliceChannel(embed, num_outputs=seq_len, axis=1, squeeze_axis=True)
        w = {n: mx.sym.Variable("lstm_" + n) for n in ("i2h_weight", "i2h_bias", "h2h_weight", "h2h_bias")}
        h = mx.sym.zeros(shape=(0, HIDDEN), name="lstm_begin_state_0")
        c = mx.sym.zeros(shape=(0, HIDDEN), name="lstm_begin_state_1")
        region = object()
        outs = []
        for t in range(seq_len):
            scope = graph.step_scope(region, t) if graph else contextlib.nullcontext()
            with scope:
                gates = mx.sym.FullyConnected(steps[t], weight=w["i2h_weight"], bias=w["i2h_bias"],
                                              num_hidden=4 * HIDDEN, name="lstm_t%d_i2h" % t) + \
                    mx.sym.FullyConnected(h, weight=w["h2h_weight"], bias=w["h2h_bias"],
                                          num_hidden=4 * HIDDEN, name="lstm_t%d_h2h" % t)
                sl = mx.sym.SliceChannel(gates, num_outputs=4, name="lstm_t%d_slice" % t)
                i = mx.sym.Activation(sl[0], act_type="sigmoid")
                f = mx.sym.Activation(sl[1], act_type="sigmoid")
                g = mx.sym.Activation(sl[2], act_type="tanh")
                o = mx.sym.Activation(sl[3], act_type="sigmoid")
                c = f * c + i * g
                h = o * mx.sym.Activation(c, act_type="tanh")
            outs.append(mx.sym.expand_dims(h, axis=1))
        merged = mx.sym.Reshape(mx.sym.Concat(*outs, dim=1), shape=(-1, HIDDEN))
        pred = mx.sym.FullyConnected(merged, num_hidden=VOCAB, name="pred")
        out = mx.sym.SoftmaxOutput(pred, mx.sym.Reshape(label, shape=(-1,)), name="softmax")
        return out, ("data",), ("softmax_label",)
    return sym_gen


def batches(mx, seed=0):
    """Batches of three lengths (bucket keys 3, 5, 8), in a fixed order."""
    rng = np.random.RandomState(seed)
    out = []
    for key in (8, 3, 5, 8, 3, 5):
        x = rng.randint(0, VOCAB, size=(BATCH, key)).astype(np.float32)
        y = rng.randint(0, VOCAB, size=(BATCH, key)).astype(np.float32)
        out.append(mx.io.DataBatch([mx.nd.array(x)], [mx.nd.array(y)], bucket_key=key,
                                   provide_data=[mx.io.DataDesc("data", x.shape)],
                                   provide_label=[mx.io.DataDesc("softmax_label", y.shape)]))
    return out


def params(mx):
    rng = np.random.RandomState(1)
    shapes = {"embed_weight": (VOCAB, EMBED), "lstm_i2h_weight": (4 * HIDDEN, EMBED),
              "lstm_i2h_bias": (4 * HIDDEN,), "lstm_h2h_weight": (4 * HIDDEN, HIDDEN),
              "lstm_h2h_bias": (4 * HIDDEN,), "pred_weight": (VOCAB, HIDDEN), "pred_bias": (VOCAB,)}
    return {k: mx.nd.array(rng.uniform(-0.3, 0.3, s).astype(np.float32)) for k, s in shapes.items()}


def train(mx):
    """Bind the default bucket (8), train on the batches with SGD momentum, return params/outputs."""
    mod = mx.mod.BucketingModule(sym_gen_factory(mx), default_bucket_key=8)
    mod.bind([mx.io.DataDesc("data", (BATCH, 8))], [mx.io.DataDesc("softmax_label", (BATCH, 8))])
    mod.init_params(arg_params=params(mx))
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.5, "momentum": 0.9,
                                                          "wd": 1e-3})
    metric = mx.metric.create("perplexity", ignore_label=None)
    outputs = []
    for batch in batches(mx):
        mod.forward(batch, is_train=True)
        mod.backward()
        mod.update()
        mod.update_metric(metric, batch.label)
        outputs.append(mod.get_outputs()[0].asnumpy())
    arg, _ = mod.get_params()
    return mod, {k: v.asnumpy() for k, v in arg.items()}, outputs, metric.get()
