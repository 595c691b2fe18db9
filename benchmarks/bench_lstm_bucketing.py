"""PTB-style bucketed LSTM language model: BucketingModule.fit against a hand-written lax.scan
model with the same shapes, in one run.

Vocabulary 10000, embedding 200, 2 LSTM layers of 200, batch 32, buckets 10..60, SGD. Prints
padded tokens/s of both and their ratio, compile seconds and compiles per bucket (from a cold,
temporary cache unless MODJAX_COMPILATION_CACHE_DIR is set), and (with --cache) how fast a
second process reaches its first batch with the warm cache (JAX's compilation cache and
modjax's executable store) compared with a cold first process. Both are timed from just after
``import modjax`` (which the cache does not change) to the end of the first trained batch.

    python benchmarks/bench_lstm_bucketing.py [--batches 60] [--cache]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

import numpy as np

VOCAB, EMBED, HIDDEN, LAYERS, BATCH = 10000, 200, 200, 2, 32
BUCKETS = [10, 20, 30, 40, 50, 60]


def corpus(n_sentences, seed=0):
    rng = np.random.RandomState(seed)
    lengths = rng.randint(5, 61, size=n_sentences)
    return [list(rng.randint(1, VOCAB, size=n)) for n in lengths]


def sym_gen_factory(mx):
    stack = mx.rnn.SequentialRNNCell()
    for i in range(LAYERS):
        stack.add(mx.rnn.LSTMCell(num_hidden=HIDDEN, prefix="lstm_l%d_" % i))

    def sym_gen(seq_len):
        data = mx.sym.Variable("data")
        label = mx.sym.Variable("softmax_label")
        embed = mx.sym.Embedding(data=data, input_dim=VOCAB, output_dim=EMBED, name="embed")
        stack.reset()
        outputs, _ = stack.unroll(seq_len, inputs=embed, merge_outputs=True)
        pred = mx.sym.Reshape(outputs, shape=(-1, HIDDEN))
        pred = mx.sym.FullyConnected(data=pred, num_hidden=VOCAB, name="pred")
        label = mx.sym.Reshape(label, shape=(-1,))
        pred = mx.sym.SoftmaxOutput(data=pred, label=label, name="softmax")
        return pred, ("data",), ("softmax_label",)
    return sym_gen


def run_modjax(sentences, n_batches, first_batch_only=False):
    import modjax as mx
    t_start = time.perf_counter()
    random.seed(0)  # the iterator shuffles its batches with `random` and rows with numpy (as
    np.random.seed(0)  # MXNet): the same first bucket in every process
    mx.random.seed(0)
    it = mx.rnn.BucketSentenceIter(sentences, BATCH, buckets=BUCKETS, invalid_label=0)
    mod = mx.mod.BucketingModule(sym_gen_factory(mx), default_bucket_key=it.default_bucket_key)
    opt = {"learning_rate": 0.01, "momentum": 0.0, "wd": 0.0}
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params(mx.init.Xavier(factor_type="in", magnitude=2.34))
    mod.init_optimizer(optimizer="sgd", optimizer_params=opt)
    batches = list(it)
    compile_s = {}
    seen = set()
    for batch in batches:  # first visit of every bucket: compile (timed) and one step
        if batch.bucket_key in seen:
            continue
        seen.add(batch.bucket_key)
        before = mod.compile_count
        tic = time.perf_counter()
        mod.forward_backward(batch)
        mod.update()
        mod.get_outputs()[0].wait_to_read()
        bucket = mod.buckets[batch.bucket_key]
        compile_s[batch.bucket_key] = (sum(sec for _, sec in bucket.compile_log),
                                       time.perf_counter() - tic, mod.compile_count - before,
                                       bucket.load_count)
        if first_batch_only:
            return time.perf_counter() - t_start
    compiles_before = mod.compile_count
    timed = [batches[i % len(batches)] for i in range(n_batches)]
    metric = mx.metric.create("perplexity", ignore_label=0)
    tic = time.perf_counter()
    for batch in timed:
        mod.forward_backward(batch)
        mod.update()
        mod.update_metric(metric, batch.label)
    metric.get()
    dt = time.perf_counter() - tic
    tokens = sum(b.data[0].shape[0] * b.data[0].shape[1] for b in timed)
    return {"tokens_per_s": tokens / dt, "compile": compile_s,
            "recompiles_on_revisit": mod.compile_count - compiles_before, "timed": timed}


def run_handwritten(timed):
    import jax
    import jax.numpy as jnp
    import optax
    key = jax.random.key(0)
    ks = jax.random.split(key, 8)
    params = {"embed": jax.random.normal(ks[0], (VOCAB, EMBED)) * 0.05,
              "pred_w": jax.random.normal(ks[1], (VOCAB, HIDDEN)) * 0.05, "pred_b": jnp.zeros(VOCAB)}
    for i in range(LAYERS):
        fan = EMBED if i == 0 else HIDDEN
        params["l%d_wx" % i] = jax.random.normal(ks[2 + i], (4 * HIDDEN, fan)) * 0.05
        params["l%d_wh" % i] = jax.random.normal(ks[4 + i], (4 * HIDDEN, HIDDEN)) * 0.05
        params["l%d_b" % i] = jnp.zeros(4 * HIDDEN)
    tx = optax.sgd(0.01)
    opt_state = tx.init(params)

    def loss_fn(p, tokens, labels):
        x = p["embed"][tokens]  # (N, T, E)
        for i in range(LAYERS):
            def step(carry, xt, i=i):
                h, c = carry
                g = xt @ p["l%d_wx" % i].T + h @ p["l%d_wh" % i].T + p["l%d_b" % i]
                gi, gf, gg, go = jnp.split(g, 4, axis=-1)
                c = jax.nn.sigmoid(gf) * c + jax.nn.sigmoid(gi) * jnp.tanh(gg)
                h = jax.nn.sigmoid(go) * jnp.tanh(c)
                return (h, c), h
            zeros = jnp.zeros((x.shape[0], HIDDEN))
            _, hs = jax.lax.scan(step, (zeros, zeros), jnp.swapaxes(x, 0, 1))
            x = jnp.swapaxes(hs, 0, 1)
        logits = x.reshape(-1, HIDDEN) @ p["pred_w"].T + p["pred_b"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels.reshape(-1)).sum()

    @jax.jit
    def step(p, s, tokens, labels):
        g = jax.grad(loss_fn)(p, tokens, labels)
        g = jax.tree_util.tree_map(lambda v: v / tokens.shape[0], g)
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s

    step = jax.jit(step.__wrapped__ if hasattr(step, "__wrapped__") else step, donate_argnums=(0, 1))
    data = [(jnp.asarray(b.data[0].asnumpy(), jnp.int32), jnp.asarray(b.label[0].asnumpy(), jnp.int32))
            for b in timed]
    for tokens, labels in {d[0].shape: d for d in data}.values():  # compile every bucket first
        params, opt_state = step(params, opt_state, tokens, labels)
    jax.block_until_ready(params)
    tic = time.perf_counter()
    for tokens, labels in data:
        params, opt_state = step(params, opt_state, tokens, labels)
    jax.block_until_ready(params)
    dt = time.perf_counter() - tic
    return sum(t.size for t, _ in data) / dt


def first_batch_child(cache_dir):
    """Child process: time from start to the first trained batch, with a given cache dir."""
    os.environ["MODJAX_COMPILATION_CACHE_DIR"] = cache_dir
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    print(json.dumps({"first_batch_s": run_modjax(corpus(400), 0, first_batch_only=True)}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--cache", action="store_true", help="also time a second, warm process")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        first_batch_child(args.child)
        return
    if "MODJAX_COMPILATION_CACHE_DIR" not in os.environ:  # compile times: from a cold cache
        cold = tempfile.TemporaryDirectory(prefix="bench-lstm-")  # removed at exit
        os.environ["MODJAX_COMPILATION_CACHE_DIR"] = cold.name
    result = run_modjax(corpus(2000), args.batches)
    hand = run_handwritten(result["timed"])
    print(f"hand-written lax.scan model : {hand:10.0f} padded tokens/s")
    print(f"BucketingModule             : {result['tokens_per_s']:10.0f} padded tokens/s  "
          f"ratio {result['tokens_per_s'] / hand:.3f}")
    for key in sorted(result["compile"]):
        secs, first, n, loaded = result["compile"][key]
        print(f"bucket {key:3d}: compile {secs:5.2f} s ({n} compile, {loaded} loaded), first step "
              f"in all {first:5.2f} s")
    print(f"compiles when buckets are revisited: {result['recompiles_on_revisit']}")
    if args.cache:
        with tempfile.TemporaryDirectory() as cache_dir:
            times = []
            for _ in range(2):
                out = subprocess.run([sys.executable, __file__, "--child", cache_dir], check=True,
                                     capture_output=True, text=True).stdout
                times.append(json.loads(out.strip().splitlines()[-1])["first_batch_s"])
        print(f"first batch: cold process {times[0]:.2f} s, warm-cache process {times[1]:.2f} s "
              f"(ratio {times[1] / times[0]:.2f})")


if __name__ == "__main__":
    main()
