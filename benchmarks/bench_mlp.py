"""MLP 784-256-256-10, batch 128, SGD with momentum: Module.fit, the intermediate API
(forward/backward/update/update_metric) and a hand-written jax.jit + optax step, in one run.

    python benchmarks/bench_mlp.py [--batches 200] [--epochs 3]

Prints samples/s of each and the ratios the README quotes. No timing is asserted anywhere.
"""
import argparse
import logging
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax

import modjax as mx

BATCH, IN, HID, OUT = 128, 784, 256, 10


def mlp_symbol():
    data = mx.sym.Variable("data")
    fc1 = mx.sym.FullyConnected(data, num_hidden=HID, name="fc1")
    act1 = mx.sym.Activation(fc1, act_type="relu", name="relu1")
    fc2 = mx.sym.FullyConnected(act1, num_hidden=HID, name="fc2")
    act2 = mx.sym.Activation(fc2, act_type="relu", name="relu2")
    fc3 = mx.sym.FullyConnected(act2, num_hidden=OUT, name="fc3")
    return mx.sym.SoftmaxOutput(fc3, name="softmax")


def make_data(n_batches):
    rng = np.random.RandomState(0)
    x = rng.rand(n_batches * BATCH, IN).astype(np.float32)
    y = rng.randint(0, OUT, size=n_batches * BATCH).astype(np.float32)
    return x, y


OPT = {"learning_rate": 0.01, "momentum": 0.9}


def bench_fit(x, y, epochs, steps_per_dispatch=1):
    it = mx.io.NDArrayIter(x, y, batch_size=BATCH)
    mod = mx.mod.Module(mlp_symbol())
    mod.fit(it, num_epoch=1, optimizer="sgd", optimizer_params=OPT,  # warm-up epoch compiles
            steps_per_dispatch=steps_per_dispatch)
    compiles = mod.compile_count
    tic = time.perf_counter()
    mod.fit(it, num_epoch=epochs, optimizer="sgd", optimizer_params=OPT,
            steps_per_dispatch=steps_per_dispatch)
    dt = time.perf_counter() - tic
    assert mod.compile_count == compiles, "repeated fit epochs recompiled"
    return epochs * len(x) / dt, mod.compile_count


def bench_intermediate(x, y, epochs):
    it = mx.io.NDArrayIter(x, y, batch_size=BATCH)
    mod = mx.mod.Module(mlp_symbol())
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params(mx.init.Uniform(0.01))
    mod.init_optimizer(optimizer="sgd", optimizer_params=OPT)
    metric = mx.metric.create("acc")

    def epoch():
        it.reset()
        for batch in it:
            mod.forward(batch, is_train=True)
            mod.backward()
            mod.update()
            mod.update_metric(metric, batch.label)
    epoch()
    tic = time.perf_counter()
    for _ in range(epochs):
        epoch()
    return epochs * len(x) / (time.perf_counter() - tic)


def bench_handwritten(x, y, epochs):
    key = jax.random.key(0)
    k1, k2, k3 = jax.random.split(key, 3)
    params = {
        "w1": jax.random.uniform(k1, (HID, IN), minval=-0.01, maxval=0.01), "b1": jnp.zeros(HID),
        "w2": jax.random.uniform(k2, (HID, HID), minval=-0.01, maxval=0.01), "b2": jnp.zeros(HID),
        "w3": jax.random.uniform(k3, (OUT, HID), minval=-0.01, maxval=0.01), "b3": jnp.zeros(OUT),
    }
    tx = optax.sgd(0.01, momentum=0.9)
    opt_state = tx.init(params)

    def loss_fn(p, xb, yb):
        h = jax.nn.relu(xb @ p["w1"].T + p["b1"])
        h = jax.nn.relu(h @ p["w2"].T + p["b2"])
        logits = h @ p["w3"].T + p["b3"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb.astype(jnp.int32)).mean(), logits

    @jax.jit
    def step(p, s, xb, yb):
        (_, logits), g = jax.value_and_grad(loss_fn, has_aux=True)(p, xb, yb)
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s, logits

    step = jax.jit(step, donate_argnums=(0, 1))
    xs = [jnp.asarray(x[i:i + BATCH]) for i in range(0, len(x), BATCH)]
    ys = [jnp.asarray(y[i:i + BATCH]) for i in range(0, len(y), BATCH)]

    def epoch(p, s):
        for xb, yb in zip(xs, ys):
            p, s, _ = step(p, s, xb, yb)
        return p, s
    params, opt_state = epoch(params, opt_state)
    jax.block_until_ready(params)
    tic = time.perf_counter()
    for _ in range(epochs):
        params, opt_state = epoch(params, opt_state)
    jax.block_until_ready(params)
    return epochs * len(x) / (time.perf_counter() - tic)


def main():
    logging.disable(logging.WARNING)  # fit's "already initialized" notices on the repeat runs
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    x, y = make_data(args.batches)
    hand = bench_handwritten(x, y, args.epochs)
    fit, compiles = bench_fit(x, y, args.epochs)
    inter = bench_intermediate(x, y, args.epochs)
    scan10, _ = bench_fit(x, y, args.epochs, steps_per_dispatch=10)
    print(f"device: {jax.devices()[0]}")
    print(f"hand-written jax.jit+optax step : {hand:10.0f} samples/s ({hand / BATCH:.0f} steps/s)")
    print(f"Module.fit                      : {fit:10.0f} samples/s  ratio to hand-written {fit / hand:.3f}")
    print(f"intermediate API                : {inter:10.0f} samples/s  ratio to fit {inter / fit:.3f}")
    print(f"Module.fit, 10 steps/dispatch   : {scan10:10.0f} samples/s  ratio to hand-written {scan10 / hand:.3f}")
    print(f"executables compiled by fit: {compiles} (none after the first epoch)")


if __name__ == "__main__":
    main()
