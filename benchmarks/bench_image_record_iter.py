"""ImageRecordIter throughput (images/s): modjax vs MXNet 1.9.1 on the same generated .rec file.

Writes N generated JPEGs (default 2,000 of 256x256) into a temporary ``.rec``/``.idx`` with
``mx.recordio``, then reads full epochs with ``ImageRecordIter`` (random 224x224 crop, random
mirror, mean/std normalisation, float32 NCHW, batch 64) with 1 and 2 decode threads. When the
MXNet reference venv (``~/.mxnet-ref``, see ``../shared/tools/mxnet-reference.sh``) exists,
MXNet's ``ImageRecordIter`` reads the same file with the same arguments in a subprocess, in both
of its modes (``ctx='gpu'``, its default, with a prefetch thread; ``ctx='cpu'``, synchronous),
and the faster one is reported.

Runs are interleaved (one epoch of every configuration per round) and the best epoch of each
is kept, so that load from other processes hits both libraries alike. CPU time per image
(user + system, all threads) is printed too: it does not depend on free cores.

    python benchmarks/bench_image_record_iter.py [--images 2000] [--rounds 4] [--batch-size 64]
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

# A small server: builds MXNet iterators, then runs one epoch per "threads ctx" line on stdin.
MX_SERVER = r"""
import json, resource, sys, time
import mxnet as mx
args = json.loads(sys.argv[1])
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
iters = {}
for threads in args["threads"]:
    for ctx in ("gpu", "cpu"):
        iters[f"{threads} {ctx}"] = mx.io.ImageRecordIter(
            path_imgrec=args["rec"], path_imgidx=args["idx"], batch_size=args["batch_size"],
            preprocess_threads=threads, verbose=False, ctx=ctx, **args["iter"])
print("READY", flush=True)
for line in sys.stdin:
    it = iters[line.strip()]
    it.reset()
    n, tic, c0 = 0, time.perf_counter(), cpu()
    for batch in it:
        batch.data[0].wait_to_read()
        n += batch.data[0].shape[0] - batch.pad
    print("RESULT " + json.dumps([n / (time.perf_counter() - tic), (cpu() - c0) / n * 1e3]),
          flush=True)
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
    for _ in range(n):
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


def epoch_modjax(it: mx.io.ImageRecordIter) -> tuple[float, float]:
    """(images/s, CPU ms per image) of one full epoch."""
    it.reset()
    n, tic, c0 = 0, time.perf_counter(), _cpu()
    for batch in it:
        batch.data[0].wait_to_read()
        n += batch.data[0].shape[0] - batch.pad
    return n / (time.perf_counter() - tic), (_cpu() - c0) / n * 1e3


class MXNetServer:
    """MXNet's ImageRecordIter in the reference venv, one epoch per request."""

    def __init__(self, rec: str, idx: str, threads: list[int], batch_size: int):
        py = os.path.expanduser("~/.mxnet-ref/bin/python")
        payload = json.dumps({"rec": rec, "idx": idx, "threads": threads,
                              "batch_size": batch_size, "iter": ITER_ARGS})
        self.proc = subprocess.Popen([py, "-c", MX_SERVER, payload], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._expect("READY")

    def _expect(self, prefix: str) -> str:
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the MXNet benchmark process exited")
            if line.startswith(prefix):
                return line[len(prefix):].strip()

    def epoch(self, threads: int, ctx: str) -> tuple[float, float]:
        self.proc.stdin.write(f"{threads} {ctx}\n")
        self.proc.stdin.flush()
        return tuple(json.loads(self._expect("RESULT ")))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=4, help="epochs per configuration (best kept)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--no-mxnet", action="store_true")
    args = ap.parse_args()
    have_mx = not args.no_mxnet and os.path.exists(os.path.expanduser("~/.mxnet-ref/bin/python"))
    with tempfile.TemporaryDirectory() as tmp:
        tic = time.perf_counter()
        rec, idx = write_rec(tmp, make_images(args.images, args.size))
        print(f"wrote {args.images} JPEGs of {args.size}x{args.size} "
              f"({os.path.getsize(rec) / 2**20:.1f} MiB) in {time.perf_counter() - tic:.1f}s; "
              f"{os.cpu_count()} CPUs; batch {args.batch_size}, random 224 crop, mirror, mean/std")
        ours = {t: mx.io.ImageRecordIter(path_imgrec=rec, path_imgidx=idx,
                                         batch_size=args.batch_size, preprocess_threads=t,
                                         verbose=False, **ITER_ARGS) for t in args.threads}
        server = MXNetServer(rec, idx, args.threads, args.batch_size) if have_mx else None
        best: dict = {}

        def keep(key: tuple, res: tuple) -> None:
            old = best.get(key, (0.0, 1e9))
            best[key] = (max(old[0], res[0]), min(old[1], res[1]))

        for _ in range(args.rounds):
            for t in args.threads:
                keep(("modjax", t), epoch_modjax(ours[t]))
                if server is not None:
                    for ctx in ("gpu", "cpu"):
                        keep(("mxnet", t, ctx), server.epoch(t, ctx))
        for it in ours.values():
            it.close()
        if server is not None:
            server.close()
    print(f"{'threads':>8} {'modjax img/s':>13} {'MXNet img/s':>12} {'ratio':>6}   "
          f"{'modjax CPU ms/img':>17} {'MXNet CPU ms/img':>16}   MXNet by ctx (gpu / cpu)")
    for t in args.threads:
        mine = best[("modjax", t)]
        if server is None:
            print(f"{t:>8} {mine[0]:13.0f} {'(not run)':>12} {'-':>6}   {mine[1]:17.3f}")
            continue
        g, c = best[("mxnet", t, "gpu")], best[("mxnet", t, "cpu")]
        ref = max(g, c, key=lambda r: r[0])
        print(f"{t:>8} {mine[0]:13.0f} {ref[0]:12.0f} {mine[0] / ref[0]:5.2f}x   "
              f"{mine[1]:17.3f} {ref[1]:16.3f}   {g[0]:.0f} / {c[0]:.0f}")


if __name__ == "__main__":
    main()
