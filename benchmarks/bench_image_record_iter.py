"""ImageRecordIter throughput (images/s): modjax vs MXNet 1.9.1 on the same generated .rec file.

Writes N generated JPEGs (default 2,000 of 256x256) into a temporary ``.rec``/``.idx`` with
``mx.recordio``, then reads full epochs with ``ImageRecordIter`` (random 224x224 crop, random
mirror, mean/std normalisation, float32 NCHW) using 1 and 2 decode threads. When the MXNet
reference venv (``~/.mxnet-ref``, see ``../shared/tools/mxnet-reference.sh``) exists, MXNet's
``ImageRecordIter`` reads the same file with the same arguments in a subprocess.

    python benchmarks/bench_image_record_iter.py [--images 2000] [--epochs 2] [--batch-size 64]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import modjax as mx  # noqa: E402

ITER_ARGS = dict(data_shape=(3, 224, 224), rand_crop=True, rand_mirror=True, mean_r=123.68,
                 mean_g=116.28, mean_b=103.53, std_r=58.395, std_g=57.12, std_b=57.375,
                 shuffle=False, prefetch_buffer=4)

MX_SCRIPT = r"""
import json, resource, sys, time, logging
import mxnet as mx
args = json.loads(sys.argv[1])
res = {}
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
for threads in args["threads"]:
    it = mx.io.ImageRecordIter(path_imgrec=args["rec"], path_imgidx=args["idx"],
                               batch_size=args["batch_size"], preprocess_threads=threads,
                               verbose=False, **args["iter"])
    best, best_cpu = 0.0, 1e9
    for epoch in range(args["epochs"]):
        it.reset()
        n, tic, c0 = 0, time.perf_counter(), cpu()
        for batch in it:
            batch.data[0].wait_to_read()
            n += batch.data[0].shape[0] - batch.pad
        best = max(best, n / (time.perf_counter() - tic))
        best_cpu = min(best_cpu, (cpu() - c0) / n * 1e3)
    res[str(threads)] = [best, best_cpu]
print("RESULT " + json.dumps(res))
"""


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def make_images(n: int, size: int, seed: int = 0) -> list[bytes]:
    """``n`` JPEG-encoded synthetic photos: smooth color fields, shapes and mild noise."""
    from PIL import Image, ImageDraw
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    out = []
    for i in range(n):
        a, b, c = rng.uniform(0, 2 * np.pi, 3)
        base = np.stack([np.sin(xx * 3 + a), np.cos(yy * 4 + b), np.sin((xx + yy) * 2 + c)], -1)
        img = ((base * 0.5 + 0.5) * 200 + rng.normal(0, 6, (size, size, 3))).clip(0, 255)
        pil = Image.fromarray(img.astype(np.uint8))
        draw = ImageDraw.Draw(pil)
        for _ in range(3):
            x0, y0 = rng.integers(0, size - 40, 2)
            w, h = rng.integers(20, 120, 2)
            draw.ellipse([int(x0), int(y0), int(x0 + w), int(y0 + h)],
                         fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
        buf = io.BytesIO()
        pil.save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def write_rec(folder: str, images: list[bytes]) -> tuple[str, str]:
    rec, idx = os.path.join(folder, "bench.rec"), os.path.join(folder, "bench.idx")
    writer = mx.recordio.MXIndexedRecordIO(idx, rec, "w")
    for i, jpg in enumerate(images):
        writer.write_idx(i, mx.recordio.pack(mx.recordio.IRHeader(0, float(i % 10), i, 0), jpg))
    writer.close()
    return rec, idx


def bench_modjax(rec: str, idx: str, threads: int, epochs: int,
                 batch_size: int) -> tuple[float, float]:
    """(best images/s, lowest CPU ms per image) over ``epochs`` full epochs."""
    it = mx.io.ImageRecordIter(path_imgrec=rec, path_imgidx=idx, batch_size=batch_size,
                               preprocess_threads=threads, verbose=False, **ITER_ARGS)
    best, best_cpu = 0.0, 1e9
    try:
        for _ in range(epochs):
            it.reset()
            n, tic, c0 = 0, time.perf_counter(), _cpu()
            for batch in it:
                batch.data[0].wait_to_read()
                n += batch.data[0].shape[0] - batch.pad
            best = max(best, n / (time.perf_counter() - tic))
            best_cpu = min(best_cpu, (_cpu() - c0) / n * 1e3)
    finally:
        it.close()
    return best, best_cpu


def bench_mxnet(rec: str, idx: str, threads: list[int], epochs: int,
                batch_size: int) -> dict | None:
    py = os.path.expanduser("~/.mxnet-ref/bin/python")
    if not os.path.exists(py):
        return None
    payload = json.dumps({"rec": rec, "idx": idx, "threads": threads, "epochs": epochs,
                          "batch_size": batch_size, "iter": ITER_ARGS})
    env = dict(os.environ, OMP_NUM_THREADS=str(max(threads)))
    proc = subprocess.run([py, "-c", MX_SCRIPT, payload], capture_output=True, text=True,
                          env=env, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return {int(k): tuple(v) for k, v in json.loads(line[7:]).items()}
    print("MXNet run failed:\n" + proc.stdout[-2000:] + proc.stderr[-2000:], file=sys.stderr)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=2, help="best epoch of this many is reported")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--no-mxnet", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tic = time.perf_counter()
        rec, idx = write_rec(tmp, make_images(args.images, args.size))
        print(f"wrote {args.images} JPEGs of {args.size}x{args.size} "
              f"({os.path.getsize(rec) / 2**20:.1f} MiB) in {time.perf_counter() - tic:.1f}s; "
              f"{os.cpu_count()} CPUs; batch {args.batch_size}, crop 224, mirror, mean/std")
        ours = {t: bench_modjax(rec, idx, t, args.epochs, args.batch_size) for t in args.threads}
        theirs = None if args.no_mxnet else bench_mxnet(rec, idx, args.threads, args.epochs,
                                                         args.batch_size)
    print(f"{'threads':>8} {'modjax img/s':>13} {'MXNet img/s':>12} {'ratio':>6}   "
          f"{'modjax CPU ms/img':>17} {'MXNet CPU ms/img':>16}")
    for t in args.threads:
        ref = theirs.get(t) if theirs else None
        ratio = f"{ours[t][0] / ref[0]:5.2f}x" if ref else "     -"
        ref_s = f"{ref[0]:12.0f}" if ref else f"{'(not run)':>12}"
        ref_c = f"{ref[1]:16.3f}" if ref else f"{'-':>16}"
        print(f"{t:>8} {ours[t][0]:13.0f} {ref_s} {ratio}   {ours[t][1]:17.3f} {ref_c}")


if __name__ == "__main__":
    main()
