"""Generate the Symbol goldens with real MXNet 1.9.1.

Run from the repository root:  ~/.mxnet-ref/bin/python tests/golden/gen_symbol.py
Writes tests/golden/symbol/: for each model in symbol_models.MODELS, MXNet's JSON, its
introspection, and forward/backward values; the legacy-JSON upgrade result; and it checks that
MXNet loads the JSON modjax writes (produced by running this file with --ours under modjax).
"""
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "symbol")
sys.path.insert(0, HERE)
import symbol_models  # noqa: E402


def input_values(name, shape, rng):
    if name == "data" and len(shape) == 2 and shape[1] == 3:  # token ids for the LSTM
        return rng.randint(0, 10, size=shape).astype(np.float32)
    if name.endswith("label"):
        return rng.randint(0, 4, size=shape).astype(np.float32)
    return rng.uniform(-1, 1, size=shape).astype(np.float32)


def dump_ours():
    import modjax as mx
    for name, (builder, _) in symbol_models.MODELS.items():
        with open(os.path.join(OUT, "ours_%s.json" % name), "w") as f:
            with mx.name.NameManager():
                f.write(builder(mx).tojson())


def main():
    import mxnet as mx
    os.makedirs(OUT, exist_ok=True)
    index = {}
    for name, (builder, shapes) in symbol_models.MODELS.items():
        with mx.name.NameManager():
            sym = builder(mx)
        arg_shapes, out_shapes, aux_shapes = sym.infer_shape(**shapes)
        arg_types, out_types, aux_types = sym.infer_type(**{k: np.float32 for k in shapes})
        entry = {
            "arguments": sym.list_arguments(), "outputs": sym.list_outputs(),
            "aux": sym.list_auxiliary_states(), "inputs": sym.list_inputs(),
            "internals": sym.get_internals().list_outputs(),
            "arg_shapes": [list(s) for s in arg_shapes], "out_shapes": [list(s) for s in out_shapes],
            "aux_shapes": [list(s) for s in aux_shapes],
            "arg_types": [np.dtype(t).name for t in arg_types],
            "attr_dict": sym.attr_dict(), "shapes": {k: list(v) for k, v in shapes.items()},
        }
        with open(os.path.join(OUT, "%s.json" % name), "w") as f:
            f.write(sym.tojson())
        # numerics: forward in both modes, backward with a fixed head gradient
        rng = np.random.RandomState(42)
        grad_req = {a: ("null" if name == "lstm_by_hand" and a == "data" else "write")
                    for a in sym.list_arguments()}
        exe = sym.simple_bind(mx.cpu(), grad_req=grad_req, **shapes)
        values = {}
        for arg, arr in zip(sym.list_arguments(), exe.arg_arrays):
            v = input_values(arg, arr.shape, rng)
            if arg.endswith("gamma"):
                v = v + 1.5
            arr[:] = v
            values["arg:" + arg] = v
        for aux, arr in zip(sym.list_auxiliary_states(), exe.aux_arrays):
            v = rng.uniform(0.5, 1.5, size=arr.shape).astype(np.float32)
            arr[:] = v
            values["aux:" + aux] = v
        for i, out in enumerate(exe.forward(is_train=False)):
            values["infer_out%d" % i] = out.asnumpy()
        outs = exe.forward(is_train=True)
        for i, out in enumerate(outs):
            values["train_out%d" % i] = out.asnumpy()
        head = [mx.nd.array(rng.uniform(-1, 1, size=o.shape)) for o in outs]
        for i, h in enumerate(head):
            values["head%d" % i] = h.asnumpy()
        exe.backward(head)
        for arg, g in zip(sym.list_arguments(), exe.grad_arrays):
            if g is not None:
                values["grad:" + arg] = g.asnumpy()
        for aux, arr in zip(sym.list_auxiliary_states(), exe.aux_arrays):
            values["aux_after:" + aux] = arr.asnumpy()
        for arg, arr in zip(sym.list_arguments(), exe.arg_arrays):
            values["arg_after:" + arg] = arr.asnumpy()
        np.savez(os.path.join(OUT, "%s.npz" % name), **values)
        index[name] = entry
    legacy = mx.sym.load_json(symbol_models.LEGACY_JSON)
    index["legacy"] = {"tojson": legacy.tojson(), "arguments": legacy.list_arguments(),
                       "aux": legacy.list_auxiliary_states(), "outputs": legacy.list_outputs(),
                       "attr_dict": legacy.attr_dict()}
    # the other direction: MXNet loads what modjax writes
    venv = os.path.join(HERE, "..", "..", ".venv", "bin", "python")
    subprocess.check_call([venv, os.path.abspath(__file__), "--ours"])
    for name in symbol_models.MODELS:
        with open(os.path.join(OUT, "ours_%s.json" % name)) as f:
            ours = f.read()
        theirs = open(os.path.join(OUT, "%s.json" % name)).read()
        loaded = mx.sym.load_json(ours)
        assert loaded.list_arguments() == index[name]["arguments"], name
        assert loaded.tojson() == theirs, "MXNet re-saves our %s differently" % name
        assert ours == theirs, "our %s JSON differs from MXNet's" % name
        index[name]["mxnet_loads_ours"] = True
        os.remove(os.path.join(OUT, "ours_%s.json" % name))
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
    print("wrote", OUT)


if __name__ == "__main__":
    if "--ours" in sys.argv:
        sys.path.insert(0, os.path.join(HERE, "..", ".."))
        dump_ours()
    else:
        main()
