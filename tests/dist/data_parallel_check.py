"""Run in a subprocess with 4 fake CPU devices: a context list trains the same params as one device.

Prints one JSON line of results; the test asserts on them.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "golden"))

import numpy as np  # noqa: E402

import modjax as mx  # noqa: E402
import bucketing_cases as bc  # noqa: E402


def mlp_params(contexts):
    rng = np.random.RandomState(0)
    x = rng.randn(64, 10).astype(np.float32)
    y = rng.randint(0, 4, 64).astype(np.float32)
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, num_hidden=16, name="fc1")
    net = mx.sym.Activation(net, act_type="relu")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(net, num_hidden=4, name="fc2"), name="softmax")
    prng = np.random.RandomState(1)
    args = {"fc1_weight": mx.nd.array(prng.uniform(-.3, .3, (16, 10))), "fc1_bias": mx.nd.zeros(16),
            "fc2_weight": mx.nd.array(prng.uniform(-.3, .3, (4, 16))), "fc2_bias": mx.nd.zeros(4)}
    mod = mx.mod.Module(net, context=contexts)
    it = mx.io.NDArrayIter(x, y, batch_size=16)
    mod.fit(it, optimizer="sgd", optimizer_params={"learning_rate": 0.1, "momentum": 0.9},
            arg_params=args, num_epoch=3)
    outs = mod.get_outputs(merge_multi_context=False)
    score = mod.score(mx.io.NDArrayIter(x, y, batch_size=16), "acc")
    return {k: v.asnumpy() for k, v in mod.get_params()[0].items()}, [len(o) for o in outs], \
        [tuple(p.shape) for p in outs[0]], score


def lstm_params(contexts):
    mod = mx.mod.BucketingModule(bc.sym_gen_factory(mx), default_bucket_key=8, context=contexts)
    mod.bind([mx.io.DataDesc("data", (bc.BATCH, 8))], [mx.io.DataDesc("softmax_label", (bc.BATCH, 8))])
    mod.init_params(arg_params=bc.params(mx))
    mod.init_optimizer(optimizer="adam", optimizer_params={"learning_rate": 0.05})
    for batch in bc.batches(mx):
        mod.forward_backward(batch)
        mod.update()
    return {k: v.asnumpy() for k, v in mod.get_params()[0].items()}


def main():
    import jax
    one, four = [mx.cpu(0)], [mx.cpu(i) for i in range(4)]
    p1, _, _, s1 = mlp_params(one)
    p4, n_parts, part_shapes, s4 = mlp_params(four)
    l1, l4 = lstm_params(one), lstm_params(four)
    errors = {}
    try:
        mx.mod.Module(mx.sym.Variable("data") * 2, label_names=None, context=four,
                      work_load_list=[1, 1, 1, 2])
    except mx.MXNetError as err:
        errors["work_load_list"] = str(err)
    try:
        mod = mx.mod.Module(mx.sym.Variable("data") * 2, label_names=None, context=four)
        mod.bind([("data", (6, 3))], for_training=False)
    except mx.MXNetError as err:
        errors["uneven_batch"] = str(err)
    try:
        mx.cpu(7).jax_device
    except mx.MXNetError as err:
        errors["missing_device"] = str(err)
    print(json.dumps({
        "devices": len(jax.devices()),
        "mlp_max_diff": max(float(np.abs(p1[k] - p4[k]).max()) for k in p1),
        "lstm_max_diff": max(float(np.abs(l1[k] - l4[k]).max()) for k in l1),
        "n_parts": n_parts, "part_shapes": part_shapes, "score": [s1[0][1], s4[0][1]],
        "errors": errors}))


if __name__ == "__main__":
    main()
