"""Module scenarios shared by the golden generator (MXNet) and the tests (modjax).

Every scenario is a function of ``mx`` (either library) and numpy data, so both sides run the
same script; parameters start from fixed numpy values, never from a random initializer.
"""
import numpy as np


def data(n=40, dim=(10,), classes=4, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.uniform(-1, 1, size=(n,) + dim).astype(np.float32)
    y = rng.randint(0, classes, size=n).astype(np.float32)
    return x, y


def init_params(mx, sym, shapes, seed=1):
    """Deterministic parameters for every argument that is not an input, and aux states."""
    rng = np.random.RandomState(seed)
    arg_shapes, _, aux_shapes = sym.infer_shape(**shapes)
    args = {}
    for name, shape in zip(sym.list_arguments(), arg_shapes):
        if name in shapes or name.endswith("label"):
            continue
        args[name] = mx.nd.array(rng.uniform(-0.3, 0.3, size=shape).astype(np.float32))
    aux = {name: mx.nd.array(rng.uniform(0.5, 1.5, size=shape).astype(np.float32))
           for name, shape in zip(sym.list_auxiliary_states(), aux_shapes)}
    return args, aux


def mlp(mx):
    data = mx.sym.Variable("data")
    fc1 = mx.sym.FullyConnected(data, num_hidden=16, name="fc1")
    act1 = mx.sym.Activation(fc1, act_type="relu", name="relu1")
    fc2 = mx.sym.FullyConnected(act1, num_hidden=4, name="fc2")
    return mx.sym.SoftmaxOutput(fc2, name="softmax")


def cnn_bn(mx):
    data = mx.sym.Variable("data")
    conv = mx.sym.Convolution(data, kernel=(3, 3), num_filter=4, pad=(1, 1), name="conv1")
    bn = mx.sym.BatchNorm(conv, name="bn1", fix_gamma=False)
    act = mx.sym.Activation(bn, act_type="relu", name="relu1")
    pool = mx.sym.Pooling(act, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool1")
    bn2 = mx.sym.BatchNorm(pool, name="bn2")  # fix_gamma=True: gamma is written to 1
    flat = mx.sym.Flatten(bn2)
    fc = mx.sym.FullyConnected(flat, num_hidden=3, name="fc")
    return mx.sym.SoftmaxOutput(fc, name="softmax")


def fit_case(mx, builder, x, y, batch_size, optimizer, optimizer_params, num_epoch=2,
             metrics=("acc", "ce", "mse")):
    """fit for ``num_epoch`` epochs from fixed params; returns params, aux and scores."""
    sym = builder(mx)
    train = mx.io.NDArrayIter(x, y, batch_size=batch_size, shuffle=False)
    shapes = {"data": (batch_size,) + x.shape[1:]}
    args, aux = init_params(mx, sym, shapes)
    mod = mx.mod.Module(sym, context=mx.cpu())
    mod.fit(train, eval_data=None, optimizer=optimizer, optimizer_params=optimizer_params,
            arg_params=args, aux_params=aux, num_epoch=num_epoch, eval_metric="acc")
    arg_out, aux_out = mod.get_params()
    val = mx.io.NDArrayIter(x, y, batch_size=batch_size, shuffle=False)
    score = mod.score(val, list(metrics))
    return ({k: v.asnumpy() for k, v in arg_out.items()}, {k: v.asnumpy() for k, v in aux_out.items()},
            [(n, float(v)) for n, v in score])


def predict_case(mx, x, y):
    """predict/iter_predict with a padded last batch (40 samples, batch 16)."""
    sym = mlp(mx)
    it = mx.io.NDArrayIter(x, y, batch_size=16, last_batch_handle="pad")
    args, aux = init_params(mx, sym, {"data": (16,) + x.shape[1:]})
    mod = mx.mod.Module(sym)
    mod.bind(it.provide_data, it.provide_label, for_training=False)
    mod.set_params(args, aux)
    merged = mod.predict(it).asnumpy()
    per_batch = [[o.asnumpy() for o in outs] for outs in mod.predict(it, merge_batches=False)]
    iter_out = [(outs[0].asnumpy(), nbatch, batch.pad) for outs, nbatch, batch in mod.iter_predict(it)]
    score = mod.score(it, "acc")
    return merged, per_batch, iter_out, score


def states_case(mx):
    """A symbol with a state input: set_states/get_states and a forward that uses it."""
    data = mx.sym.Variable("data")
    state = mx.sym.Variable("state")
    fc = mx.sym.FullyConnected(data, num_hidden=3, name="fc")
    out = mx.sym.MakeLoss(fc + state, name="out")
    mod = mx.mod.Module(out, data_names=["data"], label_names=None, state_names=["state"])
    mod.bind([("data", (2, 4))], for_training=True)
    args, _ = init_params(mx, out, {"data": (2, 4), "state": (2, 3)})
    mod.init_params(arg_params=args)
    mod.set_states(value=0.5)
    first = [s.asnumpy() for s in mod.get_states(merge_multi_context=False)[0]]
    mod.set_states(states=[[mx.nd.array(np.arange(6).reshape(2, 3))]])
    batch = mx.io.DataBatch([mx.nd.array(np.ones((2, 4)))], [])
    mod.forward(batch, is_train=False)
    return first, mod.get_outputs()[0].asnumpy()


def fixed_and_reshape_case(mx, x, y):
    """fixed_param_names (fc1 frozen) and a forward at a new batch size (auto-reshape)."""
    sym = mlp(mx)
    mod = mx.mod.Module(sym, fixed_param_names=["fc1_weight", "fc1_bias"])
    it = mx.io.NDArrayIter(x, y, batch_size=8)
    args, aux = init_params(mx, sym, {"data": (8,) + x.shape[1:]})
    mod.fit(it, optimizer="sgd", optimizer_params={"learning_rate": 0.5, "wd": 0.01},
            arg_params=args, aux_params=aux, num_epoch=1)
    params = {k: v.asnumpy() for k, v in mod.get_params()[0].items()}
    batch = mx.io.DataBatch([mx.nd.array(x[:5])], [mx.nd.array(y[:5])])
    mod.forward(batch, is_train=False)
    return params, mod.get_outputs()[0].asnumpy(), [list(d.shape) for d in mod.data_shapes]


def intermediate_case(mx, x, y):
    """forward/backward/update by hand, with input gradients, for 3 batches (Adam)."""
    sym = mlp(mx)
    mod = mx.mod.Module(sym)
    mod.bind([("data", (8,) + x.shape[1:])], [("softmax_label", (8,))], inputs_need_grad=True)
    args, aux = init_params(mx, sym, {"data": (8,) + x.shape[1:]})
    mod.init_params(arg_params=args, aux_params=aux)
    mod.init_optimizer(optimizer="adam", optimizer_params={"learning_rate": 0.05, "wd": 0.001})
    outs, in_grads = [], []
    for i in range(3):
        batch = mx.io.DataBatch([mx.nd.array(x[8 * i:8 * i + 8])], [mx.nd.array(y[8 * i:8 * i + 8])])
        mod.forward(batch, is_train=True)
        outs.append(mod.get_outputs()[0].asnumpy())
        mod.backward()
        in_grads.append(mod.get_input_grads()[0].asnumpy())
        mod.update()
    return outs, in_grads, {k: v.asnumpy() for k, v in mod.get_params()[0].items()}


FIT_CASES = {
    "mlp_sgd_mom": (mlp, (10,), 8, "sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3}),
    "mlp_adam_clip": (mlp, (10,), 8, "adam", {"learning_rate": 0.01, "wd": 1e-4, "clip_gradient": 0.05}),
    "cnn_bn_sgd": (cnn_bn, (2, 6, 6), 4, "sgd", {"learning_rate": 0.05, "momentum": 0.9, "wd": 1e-3}),
}
