"""Data parallelism's overhead: Module.fit steps of an MLP 784-256-256-10 (global batch 128,
SGD momentum) on 1, 2 and 4 fake CPU devices (one subprocess each, XLA_FLAGS), and on
2 processes x 1 device under ``kvstore='dist_sync'`` (``python -m modjax.launch``, gloo).

    python benchmarks/bench_data_parallel.py [--batches 100] [--epochs 3] [--devices 1,2,4]
    python benchmarks/bench_data_parallel.py --gpu [--batch 4096]   # on a machine with GPUs

Fake CPU devices share the same cores, so the runs do the same arithmetic: the ratio of step
times (N devices / 1 device) is the cost of sharding (splitting the batch, the gradient
all-reduce, the in-flight bound), not a speed-up. ``--gpu`` times the same model on every GPU
count from 1 to all (samples/s is the real throughput there). Prints a table and one JSON line
per run; nothing is asserted.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IN, HID, OUT = 784, 256, 10


def worker(n_devices: int, batch: int, n_batches: int, epochs: int, platform: str) -> dict:
    """Time fit on ``n_devices`` local devices (or, under the launcher, this process's share)."""
    import numpy as np
    import modjax as mx
    kv = mx.kv.create("dist_sync")
    nw, rank = kv.num_workers, kv.rank
    per = batch // nw
    sym = mx.sym.Variable("data")
    for i, h in enumerate((HID, HID)):
        sym = mx.sym.Activation(mx.sym.FullyConnected(sym, num_hidden=h, name=f"fc{i + 1}"),
                                act_type="relu")
    sym = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(sym, num_hidden=OUT, name="fc3"),
                               name="softmax")
    rng = np.random.RandomState(rank)
    x = rng.rand(n_batches * per, IN).astype(np.float32)
    y = rng.randint(0, OUT, n_batches * per).astype(np.float32)
    ctx = [mx.Context(platform, i) for i in range(n_devices)]
    mod = mx.mod.Module(sym, context=ctx)
    it = mx.io.NDArrayIter(x, y, batch_size=per)
    opt = {"learning_rate": 0.01, "momentum": 0.9}
    mod.fit(it, num_epoch=1, kvstore=kv, optimizer="sgd", optimizer_params=opt)  # compiles
    kv.barrier()
    tic = time.perf_counter()
    mod.fit(it, num_epoch=epochs, kvstore=kv, optimizer="sgd", optimizer_params=opt)
    mod.get_params()  # waits for the last step
    dt = time.perf_counter() - tic
    steps = epochs * n_batches
    return {"processes": nw, "devices": n_devices * nw, "platform": platform, "batch": batch,
            "samples_per_s": steps * batch / dt, "step_ms": 1000 * dt / steps}


def _run(cmd: list, env: dict, timeout: float) -> dict | None:
    try:
        proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"timed out: {' '.join(cmd)}", file=sys.stderr)
        return None
    lines = [ln for ln in proc.stdout.splitlines() if "RESULT " in ln]
    if proc.returncode != 0 or not lines:
        print(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}"
              f"{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(lines[0].split("RESULT ", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=128, help="global batch size")
    parser.add_argument("--devices", default="1,2,4")
    parser.add_argument("--gpu", action="store_true", help="real GPUs instead of fake CPU devices")
    parser.add_argument("--no-dist", action="store_true", help="skip the 2-process run")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--platform", default="cpu", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        res = worker(args.worker, args.batch, args.batches, args.epochs, args.platform)
        print("RESULT " + json.dumps(res), flush=True)
        return
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    me = [sys.executable, os.path.abspath(__file__), "--batches", str(args.batches),
          "--epochs", str(args.epochs), "--batch", str(args.batch)]
    runs = []
    if args.gpu:
        import jax
        counts = range(1, len(jax.devices("gpu")) + 1)
        for n in counts:
            runs.append((f"{n} GPU", _run(me + ["--worker", str(n), "--platform", "gpu"], env, 900)))
    else:
        flags = "--xla_cpu_collective_call_terminate_timeout_seconds=60"
        for n in [int(d) for d in args.devices.split(",")]:
            env_n = dict(env, JAX_PLATFORMS="cpu",
                         XLA_FLAGS=f"--xla_force_host_platform_device_count={n} {flags}")
            runs.append((f"{n} fake CPU device(s)", _run(me + ["--worker", str(n)], env_n, 900)))
        if not args.no_dist:
            env_d = dict(env, JAX_PLATFORMS="cpu",
                         XLA_FLAGS=f"--xla_force_host_platform_device_count=1 {flags}")
            cmd = [sys.executable, "-m", "modjax.launch", "-n", "2", "--timeout", "850"] + me + \
                ["--worker", "1"]
            runs.append(("2 processes x 1 CPU device (gloo)", _run(cmd, env_d, 900)))
    base = next((r for _, r in runs if r), None)
    print(f"MLP {IN}-{HID}-{HID}-{OUT}, global batch {args.batch}, {args.batches} batches x "
          f"{args.epochs} epochs")
    print(f"{'setup':<36}{'samples/s':>12}{'step ms':>10}{'vs first':>10}")
    for label, r in runs:
        if r is None:
            print(f"{label:<36}{'failed':>12}")
            continue
        ratio = r["step_ms"] / base["step_ms"]
        print(f"{label:<36}{r['samples_per_s']:>12.0f}{r['step_ms']:>10.2f}{ratio:>9.2f}x")
    for label, r in runs:
        print(json.dumps({"setup": label, **(r or {"failed": True})}))


if __name__ == "__main__":
    main()
