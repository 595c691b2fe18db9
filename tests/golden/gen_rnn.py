"""Generate the mx.rnn goldens with real MXNet 1.9.1.

Run from the repository root:  ~/.mxnet-ref/bin/python tests/golden/gen_rnn.py
Writes tests/golden/rnn/: cells.json.gz (per unrolled cell: tojson, introspection, inferred
shapes), cells.npz (arguments, head gradients, outputs and gradients for some variants), op.json
and op.npz (the fused RNN operator), pack.npz (unpack/pack of cell weights), iter.json and
iter.npz (BucketSentenceIter batches), encode.json (encode_sentences), and an rnn checkpoint
written by MXNet (ckpt-symbol.json, ckpt-0002.params, ckpt_expected.npz).
Scenarios are in rnn_cases.py; tests/test_rnn_*.py and test_bucket_sentence_iter.py replay them.
"""
import contextlib
import gzip
import io
import json
import os
import random
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "rnn")
sys.path.insert(0, HERE)
import rnn_cases as rc  # noqa: E402

warnings.simplefilter("ignore")


def describe(sym, shapes):
    arg_shapes, out_shapes, aux_shapes = sym.infer_shape(**shapes)
    return dict(json=sym.tojson(), arguments=sym.list_arguments(), outputs=sym.list_outputs(),
                aux=sym.list_auxiliary_states(), arg_shapes=[list(s) for s in arg_shapes],
                out_shapes=[list(s) for s in out_shapes])


def numerics(mx, key, sym, shapes, arrays, seed, is_train=True, backward=True, loss=False,
             int_inputs=None):
    args, head_grads = rc.random_args(sym, shapes, seed, int_inputs)
    outs, grads = rc.run(mx, sym, args, head_grads, is_train=is_train, backward=backward,
                         loss=loss, no_grad=set(int_inputs or ()))
    for k, v in args.items():
        arrays["%s/arg/%s" % (key, k)] = v
    for i, (o, g) in enumerate(zip(outs, head_grads)):
        arrays["%s/out/%d" % (key, i)] = o
        arrays["%s/hg/%d" % (key, i)] = g
    for k, v in grads.items():
        arrays["%s/grad/%s" % (key, k)] = v


def cells(mx):
    records, arrays = {}, {}
    seed = 10
    for name in rc.CELLS:
        for vi, (layout, merge) in enumerate(rc.VARIANTS):
            key = "%s/%s/%s" % (name, layout, merge)
            _, sym, shapes = rc.unroll(mx, name, layout, merge)
            records[key] = describe(sym, shapes)
            if vi in rc.NUMERIC_VARIANTS:
                seed += 1
                infer = name in rc.INFERENCE_ONLY
                numerics(mx, key, sym, shapes, arrays, seed, is_train=not infer,
                         backward=not infer)
                records[key]["numerics"] = dict(seed=seed, train=not infer)
    for key, kw in rc.EXTRA.items():
        _, sym, shapes = rc.unroll(mx, **kw)
        records[key] = describe(sym, shapes)
        seed += 1
        numerics(mx, key, sym, shapes, arrays, seed)
        records[key]["numerics"] = dict(seed=seed, train=True)
    for t in (3, 5):
        key = "bucketing_model/%d" % t
        _, sym = rc.bucketing_model(mx, t)
        shapes = {"data": (rc.N, t), "softmax_label": (rc.N, t)}
        records[key] = describe(sym, shapes)
        seed += 1
        numerics(mx, key, sym, shapes, arrays, seed, loss=True,
                 int_inputs={"data": 11, "softmax_label": 11})
        records[key]["numerics"] = dict(seed=seed, train=True)
    return records, arrays


def op_cases(mx):
    records, arrays = {}, {}
    for i, name in enumerate(rc.OP_CASES):
        sym, shapes = rc.op_symbol(mx, name)
        records[name] = describe(sym, shapes)
        numerics(mx, name, sym, shapes, arrays, 100 + i)
    return records, arrays


def packing(mx):
    """unpack_weights / pack_weights of fused and per-step cells on arange-like values."""
    arrays = {}
    for name in ("fused_lstm", "fused_lstm_bi", "fused_gru_bi", "fused_rnn_tanh", "lstm", "gru",
                 "rnn_tanh", "seq_lstm2", "bi_lstm"):
        cell, sym, shapes = rc.unroll(mx, name, "NTC", True)
        arg_shapes, _, _ = sym.infer_shape(**shapes)
        rng = np.random.RandomState(7)
        args = {k: mx.nd.array(rng.uniform(-1, 1, size=s)) for k, s in
                zip(sym.list_arguments(), arg_shapes) if k != "data" and "begin_state" not in k}
        unpacked = cell.unpack_weights(args)
        packed = cell.pack_weights(unpacked)
        for k, v in args.items():
            arrays["%s/in/%s" % (name, k)] = v.asnumpy()
        for k, v in unpacked.items():
            arrays["%s/unpacked/%s" % (name, k)] = v.asnumpy()
        for k, v in packed.items():
            arrays["%s/packed/%s" % (name, k)] = v.asnumpy()
    return arrays


def iterators(mx):
    records, arrays = {}, {}
    sents = rc.corpus()
    for name, kw in rc.ITER_CASES.items():
        kw = dict(kw)
        if "buckets" in kw:
            kw["buckets"] = list(kw["buckets"])
        random.seed(5)
        np.random.seed(5)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            it = mx.rnn.BucketSentenceIter(sents, **kw)
        rec = dict(printed=buf.getvalue(), buckets=list(it.buckets),
                   default_bucket_key=it.default_bucket_key,
                   provide_data=[[d.name, list(d.shape), d.layout] for d in it.provide_data],
                   provide_label=[[d.name, list(d.shape), d.layout] for d in it.provide_label],
                   epochs=[])
        for epoch in range(2):
            if epoch:
                it.reset()
            batches = []
            for b, batch in enumerate(it):
                k = "%s/%d/%d" % (name, epoch, b)
                arrays[k + "/data"] = batch.data[0].asnumpy()
                arrays[k + "/label"] = batch.label[0].asnumpy()
                batches.append(dict(bucket_key=batch.bucket_key, pad=batch.pad,
                                    dtype=str(batch.data[0].dtype.__name__
                                              if hasattr(batch.data[0].dtype, "__name__")
                                              else batch.data[0].dtype),
                                    provide_data=[[d.name, list(d.shape), d.layout]
                                                  for d in batch.provide_data],
                                    provide_label=[[d.name, list(d.shape), d.layout]
                                                   for d in batch.provide_label]))
            rec["epochs"].append(batches)
        records[name] = rec
    enc = {}
    for name, kw in rc.ENCODE_CASES.items():
        kw = dict(kw)
        if "vocab" in kw:
            kw["vocab"] = dict(kw["vocab"])
        res, vocab = mx.rnn.encode_sentences(**kw)
        enc[name] = dict(result=res, vocab=vocab)
    try:
        mx.rnn.encode_sentences([["a", "zz"]], vocab={"a": 1})
        enc["unknown_error"] = None
    except AssertionError as err:
        enc["unknown_error"] = str(err)
    return records, arrays, enc


def checkpoint(mx):
    """A 2-layer LSTM language model saved with save_rnn_checkpoint (per-gate weights)."""
    stack, sym = rc.bucketing_model(mx, 4)
    shapes = {"data": (rc.N, 4), "softmax_label": (rc.N, 4)}
    args, _ = rc.random_args(sym, shapes, 77, {"data": 11, "softmax_label": 11})
    params = {k: mx.nd.array(v) for k, v in args.items() if k not in shapes}
    prefix = os.path.join(OUT, "ckpt")
    mx.rnn.save_rnn_checkpoint(stack, prefix, 2, sym, params, {})
    np.savez(os.path.join(OUT, "ckpt_expected.npz"), **{k: v.asnumpy() for k, v in params.items()})
    # and a fused cell's checkpoint (fused names unpack to l0_/r0_ gate blocks)
    fused = mx.rnn.FusedRNNCell(3, num_layers=2, mode="gru", bidirectional=True, prefix="fg_")
    with mx.name.NameManager():
        out, _ = fused.unroll(3, mx.sym.Variable("data"), layout="TNC", merge_outputs=True)
    fargs, _ = rc.random_args(out, {"data": (3, rc.N, 2)}, 78)
    fparams = {"fg_parameters": mx.nd.array(fargs["fg_parameters"])}
    mx.rnn.save_rnn_checkpoint([fused], os.path.join(OUT, "fused"), 1, out, fparams, {})
    np.savez(os.path.join(OUT, "fused_expected.npz"), fg_parameters=fargs["fg_parameters"])


def main():
    import mxnet as mx
    os.makedirs(OUT, exist_ok=True)
    records, arrays = cells(mx)
    with gzip.GzipFile(os.path.join(OUT, "cells.json.gz"), "wb", mtime=0) as f:
        f.write(json.dumps(records, indent=0, sort_keys=True).encode("utf-8"))
    np.savez_compressed(os.path.join(OUT, "cells.npz"), **arrays)
    records, arrays = op_cases(mx)
    with open(os.path.join(OUT, "op.json"), "w") as f:
        json.dump(records, f, indent=0, sort_keys=True)
    np.savez_compressed(os.path.join(OUT, "op.npz"), **arrays)
    np.savez_compressed(os.path.join(OUT, "pack.npz"), **packing(mx))
    records, arrays, enc = iterators(mx)
    with open(os.path.join(OUT, "iter.json"), "w") as f:
        json.dump(records, f, indent=0, sort_keys=True)
    np.savez_compressed(os.path.join(OUT, "iter.npz"), **arrays)
    with open(os.path.join(OUT, "encode.json"), "w") as f:
        json.dump(enc, f, indent=0, sort_keys=True)
    checkpoint(mx)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
