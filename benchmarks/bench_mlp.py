"""MLP 784-256-256-10, batch 128, SGD with momentum: Module.fit, the intermediate API
(forward/backward/update/update_metric) and a hand-written jax.jit + optax step, in one run.

    python benchmarks/bench_mlp.py [--batches 200] [--rounds 7]

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


def fit_runner(x, y, steps_per_dispatch=None):
    """A function that runs one more epoch of Module.fit (compiled on the first call)."""
    it = mx.io.NDArrayIter(x, y, batch_size=BATCH)
    mod = mx.mod.Module(mlp_symbol())
    metric = mx.metric.create("acc")

    def epoch():
        mod.fit(it, num_epoch=1, optimizer="sgd", optimizer_params=OPT, eval_metric=metric,
                steps_per_dispatch=steps_per_dispatch)
        jax.block_until_ready(mod._state.params)
    epoch()
    epoch.module = mod
    return epoch


def intermediate_runner(x, y):
    """One epoch of forward/backward/update/update_metric per call."""
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
        metric.get()
    epoch()
    epoch()  # the first update_metric call fuses the metric: a second compile, once
    return epoch


def handwritten_runner(x, y):
    """One epoch of a hand-written jax.jit + optax step with donated buffers per call."""
    key = jax.random.key(0)
    k1, k2, k3 = jax.random.split(key, 3)
    params = {
        "w1": jax.random.uniform(k1, (HID, IN), minval=-0.01, maxval=0.01), "b1": jnp.zeros(HID),
        "w2": jax.random.uniform(k2, (HID, HID), minval=-0.01, maxval=0.01), "b2": jnp.zeros(HID),
        "w3": jax.random.uniform(k3, (OUT, HID), minval=-0.01, maxval=0.01), "b3": jnp.zeros(OUT),
    }
    tx = optax.sgd(0.01, momentum=0.9)
    state = {"p": params, "s": tx.init(params)}

    def loss_fn(p, xb, yb):
        h = jax.nn.relu(xb @ p["w1"].T + p["b1"])
        h = jax.nn.relu(h @ p["w2"].T + p["b2"])
        logits = h @ p["w3"].T + p["b3"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb.astype(jnp.int32)).mean(), logits

    def step(p, s, xb, yb):
        (_, logits), g = jax.value_and_grad(loss_fn, has_aux=True)(p, xb, yb)
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s, logits

    step = jax.jit(step, donate_argnums=(0, 1))
    xs = [jnp.asarray(x[i:i + BATCH]) for i in range(0, len(x), BATCH)]
    ys = [jnp.asarray(y[i:i + BATCH]) for i in range(0, len(y), BATCH)]

    def epoch():
        p, s = state["p"], state["s"]
        for xb, yb in zip(xs, ys):
            p, s, _ = step(p, s, xb, yb)
        jax.block_until_ready(p)
        state["p"], state["s"] = p, s
    epoch()
    return epoch


def measure(runners, rounds, samples):
    """Best samples/s of each runner over ``rounds`` interleaved epochs (the machine's noise
    hits every runner alike; the best epoch is the least disturbed one)."""
    best = {name: 0.0 for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            tic = time.perf_counter()
            run()
            best[name] = max(best[name], samples / (time.perf_counter() - tic))
    return best


def main():
    logging.disable(logging.WARNING)  # fit's "already initialized" notices on the repeat runs
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    x, y = make_data(args.batches)
    fit = fit_runner(x, y)
    runners = {"hand": handwritten_runner(x, y), "fit": fit,
               "fit1": fit_runner(x, y, steps_per_dispatch=1), "inter": intermediate_runner(x, y)}
    compiles = fit.module.compile_count
    best = measure(runners, args.rounds, len(x))
    assert fit.module.compile_count == compiles, "repeated fit epochs recompiled"
    hand = best["hand"]
    print(f"device: {jax.devices()[0]}; best epoch of {args.rounds} interleaved rounds")
    print(f"hand-written jax.jit+optax step      : {hand:10.0f} samples/s ({hand / BATCH:.0f} steps/s)")
    print(f"Module.fit                           : {best['fit']:10.0f} samples/s  ratio to hand-written "
          f"{best['fit'] / hand:.3f}")
    print(f"Module.fit, batch by batch (spd=1)   : {best['fit1']:10.0f} samples/s  ratio to hand-written "
          f"{best['fit1'] / hand:.3f}")
    print(f"intermediate API                     : {best['inter']:10.0f} samples/s  ratio to fit "
          f"{best['inter'] / best['fit']:.3f}")
    print(f"executables compiled by fit: {compiles} (none after the first epoch)")


if __name__ == "__main__":
    main()
