"""A bucketed LSTM language model, MXNet's example/rnn/bucketing/lstm_bucketing.py on modjax.

The corpus (examples/data/python_docstrings.txt.gz) is 5,000 English sentences from the
docstrings of Python's standard library (PSF license), shipped with the repository; nothing is
downloaded. Apart from the import line and the corpus reader this is MXNet 1.x code.

    python examples/lstm_bucketing.py [--num-epochs 3]
"""
import argparse
import gzip
import logging
import os

import numpy as np

import modjax as mx

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--num-layers", type=int, default=2)
parser.add_argument("--num-hidden", type=int, default=128)
parser.add_argument("--num-embed", type=int, default=128)
parser.add_argument("--num-epochs", type=int, default=5)
parser.add_argument("--lr", type=float, default=0.05)
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--disp-batches", type=int, default=50)
parser.add_argument("--auto-buckets", type=int, default=0,
                    help="choose this many bucket lengths from the data (modjax extension)")


def tokenize_text(fname, vocab=None, invalid_label=-1, start_label=0):
    with gzip.open(fname, "rt") as f:
        lines = [line.split() for line in f.read().splitlines() if line.strip()]
    sentences, vocab = mx.rnn.encode_sentences(lines, vocab=vocab, invalid_label=invalid_label,
                                               start_label=start_label)
    return sentences, vocab


def main():
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    mx.random.seed(0)
    np.random.seed(0)
    here = os.path.dirname(os.path.abspath(__file__))
    sentences, vocab = tokenize_text(os.path.join(here, "data", "python_docstrings.txt.gz"),
                                     start_label=1, invalid_label=0)
    split = int(len(sentences) * 0.9)
    train_sent, val_sent = sentences[:split], sentences[split:]
    if args.auto_buckets:
        data_train = mx.rnn.BucketSentenceIter(train_sent, args.batch_size, buckets=None,
                                               num_buckets=args.auto_buckets, invalid_label=0)
        buckets = data_train.buckets
        print("automatic buckets %s, padding %.1f%%" % (buckets, 100 * data_train.padding_fraction))
    else:
        buckets = [10, 20, 30, 40, 50, 60]
        data_train = mx.rnn.BucketSentenceIter(train_sent, args.batch_size, buckets=buckets,
                                               invalid_label=0)
    data_val = mx.rnn.BucketSentenceIter(val_sent, args.batch_size, buckets=buckets, invalid_label=0)

    stack = mx.rnn.SequentialRNNCell()
    for i in range(args.num_layers):
        stack.add(mx.rnn.LSTMCell(num_hidden=args.num_hidden, prefix="lstm_l%d_" % i))

    def sym_gen(seq_len):
        data = mx.sym.Variable("data")
        label = mx.sym.Variable("softmax_label")
        embed = mx.sym.Embedding(data=data, input_dim=len(vocab) + 1, output_dim=args.num_embed,
                                 name="embed")
        stack.reset()
        outputs, states = stack.unroll(seq_len, inputs=embed, merge_outputs=True)
        pred = mx.sym.Reshape(outputs, shape=(-1, args.num_hidden))
        pred = mx.sym.FullyConnected(data=pred, num_hidden=len(vocab) + 1, name="pred")
        label = mx.sym.Reshape(label, shape=(-1,))
        pred = mx.sym.SoftmaxOutput(data=pred, label=label, name="softmax")
        return pred, ("data",), ("softmax_label",)

    model = mx.mod.BucketingModule(sym_gen=sym_gen, default_bucket_key=data_train.default_bucket_key,
                                   context=mx.cpu())
    model.fit(train_data=data_train, eval_data=data_val,
              eval_metric=mx.metric.Perplexity(0), optimizer="sgd",
              optimizer_params={"learning_rate": args.lr, "momentum": 0.0, "wd": 0.00001},
              initializer=mx.init.Xavier(factor_type="in", magnitude=2.34),
              num_epoch=args.num_epochs,
              batch_end_callback=mx.callback.Speedometer(args.batch_size, args.disp_batches,
                                                         auto_reset=False))
    print("validation perplexity: %.2f" % dict(model.score(data_val, mx.metric.Perplexity(0)))["perplexity"])
    print("executables compiled: %d for %d buckets" % (model.compile_count, len(model.buckets)))


if __name__ == "__main__":
    main()
