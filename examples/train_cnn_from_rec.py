"""Train a small CNN with ``Module.fit`` from a RecordIO dataset built with im2rec.

Everything is generated (nothing is downloaded): a folder of 32x32 JPEGs in four classes
(disc, square, horizontal stripes, vertical stripes; random colors, sizes and noise), one
sub-folder per class. ``python -m modjax.tools.im2rec`` lists it (``--list --recursive``,
train/val split) and packs it into ``.rec``/``.idx`` files, then ``mx.io.ImageRecordIter``
feeds ``fit`` with random crops and mirrors, decoded in worker threads while the model trains.
Apart from the import line and the tool's module path, this is MXNet 1.x code.

    python examples/train_cnn_from_rec.py [--epochs 6] [--per-class 150] [--keep DIR]
"""
import argparse
import logging
import os
import shutil
import tempfile

import numpy as np

import modjax as mx
from modjax.tools import im2rec

CLASSES = ["disc", "square", "hstripes", "vstripes"]


def make_image_folder(root: str, per_class: int, size: int = 32, seed: int = 0) -> None:
    """Write ``per_class`` JPEGs per class under ``root/<class>/``."""
    from PIL import Image, ImageDraw
    rng = np.random.RandomState(seed)
    for label, name in enumerate(CLASSES):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            bg = tuple(int(v) for v in rng.randint(0, 120, 3))
            fg = tuple(int(v) for v in rng.randint(130, 256, 3))
            img = Image.new("RGB", (size, size), bg)
            draw = ImageDraw.Draw(img)
            r = rng.randint(7, 13)
            cx, cy = rng.randint(r + 1, size - r - 1, 2)
            if name == "disc":
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fg)
            elif name == "square":
                draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fg)
            else:
                step = rng.randint(4, 7)
                for k in range(0, size, step):
                    half = k + step // 2
                    box = [0, k, size, half] if name == "hstripes" else [k, 0, half, size]
                    draw.rectangle(box, fill=fg)
            arr = np.asarray(img).astype(np.float32) + rng.normal(0, 12, (size, size, 3))
            Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(
                os.path.join(root, name, f"{i:04d}.jpg"), quality=90)


def build_rec(workdir: str, per_class: int) -> str:
    """Generate the images and pack them with im2rec; returns the dataset prefix."""
    root = os.path.join(workdir, "images")
    make_image_folder(root, per_class)
    prefix = os.path.join(workdir, "shapes")
    im2rec.main(["--list", "--recursive", "--train-ratio", "0.8", prefix, root])
    im2rec.main(["--quality", "95", "--num-thread", "2", prefix, root])  # every shapes*.lst
    return prefix


def cnn(num_classes: int):
    data = mx.sym.Variable("data")
    net = mx.sym.Convolution(data=data, kernel=(3, 3), pad=(1, 1), num_filter=16, name="conv1")
    net = mx.sym.Activation(data=net, act_type="relu", name="relu1")
    net = mx.sym.Pooling(data=net, pool_type="max", kernel=(2, 2), stride=(2, 2), name="pool1")
    net = mx.sym.Convolution(data=net, kernel=(3, 3), pad=(1, 1), num_filter=32, name="conv2")
    net = mx.sym.Activation(data=net, act_type="relu", name="relu2")
    net = mx.sym.Pooling(data=net, pool_type="max", kernel=(2, 2), stride=(2, 2), name="pool2")
    net = mx.sym.Flatten(data=net)
    net = mx.sym.FullyConnected(data=net, num_hidden=64, name="fc1")
    net = mx.sym.Activation(data=net, act_type="relu", name="relu3")
    net = mx.sym.FullyConnected(data=net, num_hidden=num_classes, name="fc2")
    return mx.sym.SoftmaxOutput(data=net, name="softmax")


def main() -> float:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--per-class", type=int, default=150)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--keep", help="build the dataset in this folder and keep it")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    mx.random.seed(42)
    workdir = args.keep or tempfile.mkdtemp(prefix="modjax-rec-")
    os.makedirs(workdir, exist_ok=True)
    try:
        prefix = build_rec(workdir, args.per_class)
        common = dict(data_shape=(3, 28, 28), batch_size=args.batch_size, scale=1.0 / 255,
                      mean_r=128, mean_g=128, mean_b=128, preprocess_threads=2)
        train = mx.io.ImageRecordIter(path_imgrec=prefix + "_train.rec",
                                      path_imgidx=prefix + "_train.idx", shuffle=True,
                                      rand_crop=True, rand_mirror=True, **common)
        val = mx.io.ImageRecordIter(path_imgrec=prefix + "_val.rec", round_batch=False, **common)
        mod = mx.mod.Module(cnn(len(CLASSES)), context=mx.cpu())
        mod.fit(train, eval_data=val, num_epoch=args.epochs, optimizer="adam",
                optimizer_params={"learning_rate": 0.003}, initializer=mx.init.Xavier(),
                batch_end_callback=mx.callback.Speedometer(args.batch_size, 10))
        acc = dict(mod.score(val, "acc"))["accuracy"]
        print(f"validation accuracy after {args.epochs} epochs: {acc:.3f}")
        train.close()
        val.close()
        return acc
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
