"""Train an MLP and a CNN on the UCI handwritten digits with the MXNet Module API on modjax.

The data (1,797 8x8 grey images, examples/digits.npz) is the UCI "Optical Recognition of
Handwritten Digits" test set as shipped by scikit-learn; it comes with this repository, so
nothing is downloaded. The script is plain MXNet 1.x code apart from the import line.

    python examples/train_digits.py [--epochs 10]
"""
import argparse
import logging
import os

import numpy as np

import modjax as mx


def load_digits():
    here = os.path.dirname(os.path.abspath(__file__))
    with np.load(os.path.join(here, "digits.npz")) as f:
        images = f["images"].astype(np.float32) / 16.0  # pixel values are 0..16
        labels = f["labels"].astype(np.float32)
    rng = np.random.RandomState(0)
    order = rng.permutation(len(labels))
    images, labels = images[order], labels[order]
    split = 1500
    return (images[:split], labels[:split]), (images[split:], labels[split:])


def mlp():
    data = mx.sym.Variable("data")
    data = mx.sym.Flatten(data=data)
    fc1 = mx.sym.FullyConnected(data=data, name="fc1", num_hidden=128)
    act1 = mx.sym.Activation(data=fc1, name="relu1", act_type="relu")
    fc2 = mx.sym.FullyConnected(data=act1, name="fc2", num_hidden=64)
    act2 = mx.sym.Activation(data=fc2, name="relu2", act_type="relu")
    fc3 = mx.sym.FullyConnected(data=act2, name="fc3", num_hidden=10)
    return mx.sym.SoftmaxOutput(data=fc3, name="softmax")


def cnn():
    data = mx.sym.Variable("data")
    conv1 = mx.sym.Convolution(data=data, kernel=(3, 3), pad=(1, 1), num_filter=16, name="conv1")
    bn1 = mx.sym.BatchNorm(data=conv1, fix_gamma=False, name="bn1")
    act1 = mx.sym.Activation(data=bn1, act_type="relu", name="relu1")
    pool1 = mx.sym.Pooling(data=act1, pool_type="max", kernel=(2, 2), stride=(2, 2), name="pool1")
    conv2 = mx.sym.Convolution(data=pool1, kernel=(3, 3), pad=(1, 1), num_filter=32, name="conv2")
    act2 = mx.sym.Activation(data=conv2, act_type="relu", name="relu2")
    pool2 = mx.sym.Pooling(data=act2, pool_type="avg", kernel=(2, 2), stride=(2, 2), name="pool2")
    flat = mx.sym.Flatten(data=pool2)
    fc = mx.sym.FullyConnected(data=flat, num_hidden=10, name="fc")
    return mx.sym.SoftmaxOutput(data=fc, name="softmax")


def train(name, symbol, train_x, train_y, val_x, val_y, epochs):
    train_iter = mx.io.NDArrayIter(train_x, train_y, batch_size=50, shuffle=True)
    val_iter = mx.io.NDArrayIter(val_x, val_y, batch_size=50)
    mod = mx.mod.Module(symbol, context=mx.cpu())
    mod.fit(train_iter, eval_data=val_iter, optimizer="sgd",
            optimizer_params={"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-4},
            initializer=mx.init.Xavier(), eval_metric="acc", num_epoch=epochs,
            batch_end_callback=mx.callback.Speedometer(50, 10))
    score = dict(mod.score(val_iter, ["acc", "ce"]))
    print("%s: validation accuracy %.4f, cross-entropy %.4f" % (name, score["accuracy"],
                                                                score["cross-entropy"]))
    return score["accuracy"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    mx.random.seed(0)
    np.random.seed(0)
    (tx, ty), (vx, vy) = load_digits()
    train("MLP", mlp(), tx, ty, vx, vy, args.epochs)
    train("CNN", cnn(), tx[:, None], ty, vx[:, None], vy, args.epochs)


if __name__ == "__main__":
    main()
