"""LAMB against MXNet 1.9.1 (classic update and the fused face)."""
import json
import os
import sys

import jax
import numpy as np

import modjax as mx

HERE = os.path.join(os.path.dirname(__file__), "golden")
sys.path.insert(0, HERE)


def test_lamb_matches_mxnet():
    import gen_lamb as g
    gold = json.load(open(os.path.join(HERE, "lamb.json")))
    for cfg, expected in zip(g.cfgs, gold):
        opt = mx.optimizer.create("lamb", **cfg)
        w = mx.nd.array(g.w0)
        state = opt.create_state(0, w)
        for grad in g.grads:
            opt.update(0, w, mx.nd.array(grad), state)
        np.testing.assert_allclose(w.asnumpy(), expected, rtol=1e-5, atol=1e-6)
        init, step = mx.optimizer.create("lamb", **cfg).as_pure_update(["w"])
        params = {"w": jax.numpy.asarray(g.w0)}
        s = init(params)
        for grad in g.grads:
            params, s = jax.jit(step)(params, {"w": jax.numpy.asarray(grad)}, s)
        np.testing.assert_allclose(np.asarray(params["w"]), expected, rtol=1e-5, atol=1e-6)
