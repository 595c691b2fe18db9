"""Training under ``kvstore='dist_sync'``, run by ``python -m modjax.launch -n 2`` (and, as the
single-process reference, imported by tests/test_multiprocess.py).

    dist_fit_check.py fit OUT_DIR        # MLP fit + bucketed LSTM + KVStore API; writes
                                         # OUT_DIR/rank<r>.npz and OUT_DIR/rank<r>.json
    dist_fit_check.py disagree           # processes build different models: bind must refuse
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "golden"))

import numpy as np  # noqa: E402

import modjax as mx  # noqa: E402
import bucketing_cases as bc  # noqa: E402

GLOBAL_BATCH = 16


def shard(x, rank, nw, batch):
    """This worker's rows of every global batch (rows [b*batch + rank*per, ... + per))."""
    per = batch // nw
    idx = np.concatenate([np.arange(b * batch + rank * per, b * batch + (rank + 1) * per)
                          for b in range(len(x) // batch)])
    return x[idx]


def mlp_symbol(act="relu", hidden=16):
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, num_hidden=hidden, name="fc1")
    net = mx.sym.Activation(net, act_type=act)
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(net, num_hidden=4, name="fc2"), name="softmax")


def mlp(rank, nw, ckpt_prefix=None):
    """fit an MLP for 3 epochs (kvstore='dist_sync') on this worker's share of each batch."""
    rng = np.random.RandomState(0)
    x = rng.randn(64, 10).astype(np.float32)
    y = rng.randint(0, 4, 64).astype(np.float32)
    prng = np.random.RandomState(1 + rank)  # different per worker: process 0's values must win
    args = {"fc1_weight": mx.nd.array(prng.uniform(-.3, .3, (16, 10))), "fc1_bias": mx.nd.zeros(16),
            "fc2_weight": mx.nd.array(prng.uniform(-.3, .3, (4, 16))), "fc2_bias": mx.nd.zeros(4)}
    per = GLOBAL_BATCH // nw
    xs, ys = shard(x, rank, nw, GLOBAL_BATCH), shard(y, rank, nw, GLOBAL_BATCH)
    mod = mx.mod.Module(mlp_symbol())
    metric = mx.metric.create("acc")
    callbacks = [mx.callback.do_checkpoint(ckpt_prefix)] if ckpt_prefix else None
    mod.fit(mx.io.NDArrayIter(xs, ys, batch_size=per), eval_metric=metric, kvstore="dist_sync",
            optimizer="sgd", optimizer_params={"learning_rate": 0.1, "momentum": 0.9},
            arg_params=args, num_epoch=3, epoch_end_callback=callbacks)
    train_acc = metric.get()[1]
    score = mod.score(mx.io.NDArrayIter(xs, ys, batch_size=per), "ce")[0][1]
    out_shape = list(mod.get_outputs()[0].shape)
    if ckpt_prefix:
        mod.save_checkpoint(ckpt_prefix + "-mod", 3, save_optimizer_states=True)
    params = {k: v.asnumpy() for k, v in mod.get_params()[0].items()}
    return params, {"train_acc": train_acc, "score_ce": score, "out_shape": out_shape,
                    "rescale_grad": mod._state.optimizer.rescale_grad}


def lstm(rank, nw):
    """A bucketed LSTM (buckets 8, 3, 5) with Adam, dist_sync, each worker on half of each batch."""
    per = bc.BATCH // nw
    mod = mx.mod.BucketingModule(bc.sym_gen_factory(mx), default_bucket_key=8)
    mod.bind([mx.io.DataDesc("data", (per, 8))], [mx.io.DataDesc("softmax_label", (per, 8))])
    mod.init_params(arg_params=bc.params(mx))
    mod.init_optimizer(kvstore="dist_sync", optimizer="adam", optimizer_params={"learning_rate": 0.05})
    metric = mx.metric.create("perplexity", ignore_label=None)
    for batch in bc.batches(mx):
        x = batch.data[0].asnumpy()[rank * per:(rank + 1) * per]
        y = batch.label[0].asnumpy()[rank * per:(rank + 1) * per]
        local = mx.io.DataBatch([mx.nd.array(x)], [mx.nd.array(y)], bucket_key=batch.bucket_key,
                                provide_data=[mx.io.DataDesc("data", x.shape)],
                                provide_label=[mx.io.DataDesc("softmax_label", y.shape)])
        mod.forward_backward(local)
        mod.update()
        mod.update_metric(metric, local.label)
    return {k: v.asnumpy() for k, v in mod.get_params()[0].items()}, metric.get()[1]


def kv_api(kv):
    """KVStore semantics across workers: init takes process 0's value, push sums over workers
    (and over the values of one push), an optimizer applies the summed push."""
    rank, nw = kv.rank, kv.num_workers
    kv.init(3, mx.nd.ones((2, 3)) * (rank + 10))
    first = mx.nd.zeros((2, 3))
    kv.pull(3, out=first)
    kv.push(3, [mx.nd.ones((2, 3)) * (rank + 1), mx.nd.ones((2, 3))])  # two "devices"
    out = [mx.nd.zeros((2, 3)), mx.nd.zeros((2, 3))]
    kv.pull(3, out=out)
    kv2 = mx.kv.create("dist_device_sync")
    kv2.init("w", mx.nd.ones((4,)))
    kv2.set_optimizer(mx.optimizer.SGD(learning_rate=0.1))
    kv2.push("w", mx.nd.ones((4,)))
    w = mx.nd.zeros((4,))
    kv2.pull("w", out=w)
    kv.barrier()
    return {"rank": rank, "num_workers": nw, "type": kv.type, "init": float(first.asnumpy()[0, 0]),
            "pushed_sum": [float(o.asnumpy()[0, 0]) for o in out], "updated": float(w.asnumpy()[0])}


def random_init(rank):
    """Workers draw different random values (different seeds): process 0's draw must win."""
    mx.random.seed(100 + rank)
    mod = mx.mod.Module(mlp_symbol())
    mod.bind([("data", (4, 10))], for_training=False)
    mod.init_params(mx.init.Xavier())
    return float(sum(np.abs(v.asnumpy()).sum() for v in mod.get_params()[0].values()))


def run_fit(out_dir):
    kv = mx.kv.create("dist_sync")
    rank, nw = kv.rank, kv.num_workers
    ckpt_dir = os.path.join(out_dir, f"ckpt_rank{rank}")  # process 1 must leave its dir empty
    os.makedirs(ckpt_dir, exist_ok=True)
    mlp_params, info = mlp(rank, nw, os.path.join(ckpt_dir, "mlp"))
    lstm_params, ppl = lstm(rank, nw)
    info.update(kv_api(kv), lstm_ppl=ppl, ckpt_files=sorted(os.listdir(ckpt_dir)),
                random_init=random_init(rank))
    np.savez(os.path.join(out_dir, f"rank{rank}.npz"),
             **{"mlp/" + k: v for k, v in mlp_params.items()},
             **{"lstm/" + k: v for k, v in lstm_params.items()})
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(info, f)
    print("done", rank, flush=True)


def run_disagree():
    """Process 1 builds a different model: bind must fail on every process with a clear error."""
    rank = mx.kv.create("dist_sync").rank
    for label, sym in (("act", mlp_symbol("tanh" if rank else "relu")),
                       ("shape", mlp_symbol(hidden=8 if rank else 16))):
        mod = mx.mod.Module(sym)
        try:
            mod.bind([("data", (4, 10))], [("softmax_label", (4,))])
            print(f"NO ERROR {label}", flush=True)
        except mx.MXNetError as err:
            print(f"ERROR {label}: {err}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "fit":
        run_fit(sys.argv[2])
    else:
        run_disagree()
