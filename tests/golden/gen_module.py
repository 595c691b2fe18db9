"""Generate the Module goldens with real MXNet 1.9.1.

Run from the repository root:  ~/.mxnet-ref/bin/python tests/golden/gen_module.py
Runs the scenarios of module_cases.py with MXNet and saves their results to
tests/golden/module/; writes a checkpoint (and pickled optimizer states) with MXNet for modjax
to load, and checks that MXNet loads the checkpoint modjax writes (running this file with
--ours under modjax first).
"""
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "module")
sys.path.insert(0, HERE)
import module_cases as mc  # noqa: E402


def ours():
    """Under modjax: write a checkpoint for MXNet to load."""
    import modjax as mx
    x, y = mc.data()
    sym = mc.mlp(mx)
    mod = mx.mod.Module(sym)
    it = mx.io.NDArrayIter(x, y, batch_size=8)
    args, aux = mc.init_params(mx, sym, {"data": (8, 10)})
    mod.fit(it, optimizer="sgd", optimizer_params={"learning_rate": 0.1}, arg_params=args,
            aux_params=aux, num_epoch=1)
    mod.save_checkpoint(os.path.join(OUT, "ours"), 1)
    np.savez(os.path.join(OUT, "ours_expected.npz"),
             **{k: v.asnumpy() for k, v in mod.get_params()[0].items()},
             predict=mod.predict(mx.io.NDArrayIter(x, y, batch_size=8)).asnumpy())


def main():
    import mxnet as mx
    os.makedirs(OUT, exist_ok=True)
    results = {}
    x, y = mc.data()
    for name, (builder, dim, bs, opt, opt_params) in mc.FIT_CASES.items():
        xx, yy = mc.data(dim=dim, classes=4 if builder is mc.mlp else 3)
        args, aux, score = mc.fit_case(mx, builder, xx, yy, bs, opt, opt_params)
        np.savez(os.path.join(OUT, "fit_%s.npz" % name), **{"arg:" + k: v for k, v in args.items()},
                 **{"aux:" + k: v for k, v in aux.items()})
        results["fit_" + name] = {"score": score}
    merged, per_batch, iter_out, score = mc.predict_case(mx, x, y)
    np.savez(os.path.join(OUT, "predict.npz"), merged=merged,
             **{"batch%d" % i: b[0] for i, b in enumerate(per_batch)},
             **{"iter%d" % i: o[0] for i, o in enumerate(iter_out)})
    results["predict"] = {"iter_meta": [[o[1], o[2]] for o in iter_out], "score": score,
                          "n_batches": len(per_batch)}
    first, out = mc.states_case(mx)
    np.savez(os.path.join(OUT, "states.npz"), first=first[0], out=out)
    params, out, shapes = mc.fixed_and_reshape_case(mx, x, y)
    np.savez(os.path.join(OUT, "fixed.npz"), out=out, **params)
    results["fixed"] = {"data_shapes": shapes}
    outs, in_grads, params = mc.intermediate_case(mx, x, y)
    np.savez(os.path.join(OUT, "intermediate.npz"), **{"out%d" % i: o for i, o in enumerate(outs)},
             **{"ingrad%d" % i: g for i, g in enumerate(in_grads)}, **params)
    # a checkpoint and pickled optimizer states written by MXNet
    sym = mc.mlp(mx)
    mod = mx.mod.Module(sym)
    it = mx.io.NDArrayIter(x, y, batch_size=8)
    args, aux = mc.init_params(mx, sym, {"data": (8, 10)})
    mod.fit(it, optimizer="adam", optimizer_params={"learning_rate": 0.01}, arg_params=args,
            aux_params=aux, num_epoch=1)
    mod.save_checkpoint(os.path.join(OUT, "mxnet"), 3, save_optimizer_states=True)
    # MXNet's own resume: reload the checkpoint and its states, train one more epoch
    mod = mx.mod.Module.load(os.path.join(OUT, "mxnet"), 3, load_optimizer_states=True)
    mod.bind(it.provide_data, it.provide_label)
    mod.init_optimizer(optimizer="adam", optimizer_params={"learning_rate": 0.01})
    it.reset()
    for batch in it:
        mod.forward_backward(batch)
        mod.update()
    np.savez(os.path.join(OUT, "mxnet_expected.npz"),
             predict=mod.predict(mx.io.NDArrayIter(x, y, batch_size=8)).asnumpy(),
             **{k: v.asnumpy() for k, v in mod.get_params()[0].items()})
    # MXNet loads the checkpoint modjax writes
    venv = os.path.join(HERE, "..", "..", ".venv", "bin", "python")
    subprocess.check_call([venv, os.path.abspath(__file__), "--ours"])
    loaded = mx.mod.Module.load(os.path.join(OUT, "ours"), 1)
    loaded.bind(it.provide_data, it.provide_label, for_training=False)
    expected = np.load(os.path.join(OUT, "ours_expected.npz"))
    pred = loaded.predict(mx.io.NDArrayIter(x, y, batch_size=8)).asnumpy()
    np.testing.assert_allclose(pred, expected["predict"], rtol=1e-5, atol=1e-6)
    for k, v in loaded.get_params()[0].items():
        np.testing.assert_array_equal(v.asnumpy(), expected[k])
    results["mxnet_loads_ours"] = True
    for f in ("ours-symbol.json", "ours-0001.params", "ours_expected.npz"):
        os.remove(os.path.join(OUT, f))
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    print("wrote", OUT)


if __name__ == "__main__":
    if "--ours" in sys.argv:
        sys.path.insert(0, os.path.join(HERE, "..", ".."))
        ours()
    else:
        main()
