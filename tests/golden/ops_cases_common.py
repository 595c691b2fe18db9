"""The case machinery shared by the operator-golden generators (gen_ops.py, gen_ops_more.py,
gen_ops_nn.py), which run it with real MXNet 1.9.1; the replay side (tests/ops_replay.py) uses
``build`` from here so that the same code text builds the symbol in both libraries.

A generator makes a ``Goldens("<folder>")``, declares its cases with its ``case`` and ``nd_case``,
and calls its ``main``, which writes tests/golden/<folder>/index.json (one record per case: the
symbol's construction code, given shapes and dtypes, introspection, JSON nodes) and
tests/golden/<folder>/values.npz (inputs, outputs, head and input gradients, auxiliary states and
arguments after the step). With case ids on the command line it only runs those and writes
nothing (debugging).

A case's ``code`` is a Python expression (or a block that assigns ``out``) evaluated with ``mx``
(the library), ``V`` (``mx.sym.var``, one node per name) and ``OP`` (an operator by name, from
``mx.sym`` or MXNet's ``mx.sym._internal``) in scope: see ``build``. A case's ``inputs`` give
arguments (and may give auxiliary states); the arguments not given get normal random values of
their inferred shapes, the auxiliary states uniform ones. Each case draws from its own random
stream, seeded by the CRC of its id.
"""
import json
import os
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


# -- input makers: each is rng -> array ---------------------------------------------------------
def N(*shape, scale=1.0):
    return lambda r: (r.randn(*shape) * scale).astype(np.float32)


def U(lo, hi, *shape):
    return lambda r: r.uniform(lo, hi, size=shape).astype(np.float32)


def I(lo, hi, *shape, dtype=np.float32):  # integer-valued (ties and exact equality)
    return lambda r: r.randint(lo, hi, size=shape).astype(dtype)


def A(values, dtype=np.float32):
    return lambda r: np.array(values, dtype=dtype)


class Goldens:
    """The symbol cases and ``mx.nd`` cases of one golden folder (tests/golden/<folder>)."""

    def __init__(self, folder):
        self.out = os.path.join(HERE, folder)
        self.cases = []
        self.nd_cases = []

    def case(self, cid, code, inputs=None, train=True, backward=True, head_grad=True, grad_req=None,
             tol=None, values=True, partial=False, native=False):
        """One symbol case. ``head_grad`` False: backward() without out_grads (loss heads).
        ``partial``: only shape inference from some of the inputs (infer_shape_partial), no values.
        ``native``: run with oneDNN off (see gen_ops_nn.py)."""
        self.cases.append(dict(id=cid, code=code, inputs=inputs or {}, train=train, backward=backward,
                               head_grad=head_grad, grad_req=grad_req, tol=tol,
                               values=values and not partial, partial=partial, native=native))

    def nd_case(self, cid, code, inputs, tol=None):
        """An ``mx.nd`` call; ``inputs`` become NDArrays bound to their names."""
        self.nd_cases.append(dict(id=cid, code=code, inputs=inputs, tol=tol))

    def main(self, only=None, done=None, store=None):
        """Run every case (or, ``only``, the cases with those ids: default the command line's) and
        write the folder. ``done``: records already made (by id), whose arrays are in ``store``."""
        import mxnet as mx
        only = set(sys.argv[1:]) if only is None else only
        done = done or {}
        store = {} if store is None else store
        os.makedirs(self.out, exist_ok=True)
        records, nd_records, failed = [], [], []
        for run, cases, kind, made in ((run_case, self.cases, "case", records),
                                       (run_nd_case, self.nd_cases, "nd case", nd_records)):
            for c in cases:
                if only and c["id"] not in only:
                    continue
                if c["id"] in done:
                    made.append(done[c["id"]])
                    continue
                try:
                    made.append(run(mx, c, store))
                except Exception as err:  # report every failing case, then stop
                    failed.append(c["id"])
                    print("%s %s failed: %s" % (kind, c["id"], str(err).strip().splitlines()[-1]))
        if failed:
            raise SystemExit("failed cases: %s" % failed)
        if only:
            return
        with open(os.path.join(self.out, "index.json"), "w") as f:
            json.dump({"mxnet_version": mx.__version__, "cases": records, "nd_cases": nd_records}, f,
                      indent=1, sort_keys=True)
        np.savez_compressed(os.path.join(self.out, "values.npz"), **store)
        size = sum(os.path.getsize(os.path.join(self.out, n)) for n in os.listdir(self.out))
        print("%d symbol cases, %d nd cases, %d arrays, %.0f kB" % (len(records), len(nd_records),
                                                                    len(store), size / 1024))


def build(mx, code):
    """The symbol of a case's code, built under a fresh NameManager (counters from 0)."""
    made = {}

    def V(name):  # one variable node per name, however often the code mentions it
        if name not in made:
            made[name] = mx.sym.var(name)
        return made[name]

    env = {"mx": mx, "V": V, "np": np, "OP": lambda n: getattr(mx.sym, n, None)
           or getattr(mx.sym._internal, n)}
    with mx.name.NameManager():
        if "\n" in code.strip():
            exec(code, env)
            return env["out"]
        return eval(code, env)


def _type_names(types):
    return None if types is None else [np.dtype(t).name for t in types]


def run_case(mx, c, store):
    """The record of a symbol case; its arrays go into ``store``."""
    rng = np.random.RandomState(zlib.crc32(c["id"].encode()))
    sym = build(mx, c["code"])
    given = {k: f(rng) for k, f in c["inputs"].items()}
    args, aux = sym.list_arguments(), sym.list_auxiliary_states()
    shapes = {k: v.shape for k, v in given.items() if k in args}
    types = {k: v.dtype for k, v in given.items() if k in args}
    infer = sym.infer_shape_partial if c["partial"] else sym.infer_shape
    arg_shapes, out_shapes, aux_shapes = infer(**shapes)
    arg_types, out_types, aux_types = (None, None, None) if c["partial"] else sym.infer_type(**types)
    values = {}
    for name, shape, dtype in zip(args, arg_shapes, arg_types or [None] * len(args)):
        if c["partial"]:
            break
        values[name] = given[name] if name in given else rng.randn(*shape).astype(dtype)
    aux_values = {}
    for name, shape, dtype in zip(aux, aux_shapes, aux_types or []):
        low = 0.5 if name.endswith("moving_var") else -1.0
        aux_values[name] = given[name] if name in given else rng.uniform(low, 1.5, size=shape).astype(dtype)
    req = c["grad_req"] or {}
    reqs = {n: req.get(n, "write" if np.issubdtype(values[n].dtype, np.floating) else "null")
            for n in values}
    if not c["backward"]:
        reqs = {n: "null" for n in args}
    j = json.loads(sym.tojson())
    rec = dict(id=c["id"], code=c["code"], train=c["train"], backward=c["backward"], partial=c["partial"],
               head_grad=c["head_grad"], values=c["values"], tol=c["tol"],
               given_shapes={k: list(v) for k, v in shapes.items()},
               type_dict={k: np.dtype(v).name for k, v in types.items()},
               grad_req=reqs, arguments=args, outputs=sym.list_outputs(), aux=aux,
               arg_shapes=[list(s) for s in arg_shapes], out_shapes=[list(s) for s in out_shapes],
               aux_shapes=[list(s) for s in aux_shapes],
               arg_types=_type_names(arg_types), out_types=_type_names(out_types),
               aux_types=_type_names(aux_types),
               node_row_ptr=j["node_row_ptr"],
               nodes=[[n["op"], n["name"], n.get("attrs", {})] for n in j["nodes"]])
    if not c["values"]:
        return rec
    exe = sym.simple_bind(mx.cpu(), grad_req=reqs, type_dict={n: values[n].dtype for n in args},
                          **{n: values[n].shape for n in args})
    for name in args:
        exe.arg_dict[name][:] = values[name]
        store["%s|in|%s" % (c["id"], name)] = values[name]
    for name in aux:
        exe.aux_dict[name][:] = aux_values[name]
        store["%s|auxin|%s" % (c["id"], name)] = aux_values[name]
    outs = exe.forward(is_train=c["train"])
    for i, o in enumerate(outs):
        store["%s|out|%d" % (c["id"], i)] = o.asnumpy()
    if c["backward"]:
        if c["head_grad"]:
            # integer outputs get zero head gradients: MXNet passes them through (Cast to int),
            # jax has no gradients through integers
            hg = [(rng.randn(*o.shape) * np.issubdtype(o.dtype, np.floating)).astype(o.dtype)
                  for o in outs]
            for i, g in enumerate(hg):
                store["%s|hg|%d" % (c["id"], i)] = g
            exe.backward([mx.nd.array(g, dtype=g.dtype) for g in hg])
        else:
            exe.backward()
        for name in args:
            if reqs[name] != "null":
                store["%s|grad|%s" % (c["id"], name)] = exe.grad_dict[name].asnumpy()
    for name in aux:
        store["%s|auxout|%s" % (c["id"], name)] = exe.aux_dict[name].asnumpy()
    for name in args:
        store["%s|argout|%s" % (c["id"], name)] = exe.arg_dict[name].asnumpy()
    return rec


def run_nd_case(mx, c, store):
    """The record of an ``mx.nd`` case; its arrays go into ``store``."""
    rng = np.random.RandomState(zlib.crc32(c["id"].encode()))
    given = {k: f(rng) for k, f in c["inputs"].items()}
    env = {"mx": mx, "np": np, **{k: mx.nd.array(v, dtype=v.dtype) for k, v in given.items()}}
    out = eval(c["code"], env)
    outs = out if isinstance(out, (list, tuple)) else [out]
    for k, v in given.items():
        store["%s|in|%s" % (c["id"], k)] = v
    for i, o in enumerate(outs):
        store["%s|out|%d" % (c["id"], i)] = o.asnumpy()
    return dict(id=c["id"], code=c["code"], inputs=sorted(given), n_out=len(outs),
                is_list=isinstance(out, (list, tuple)), tol=c["tol"])
