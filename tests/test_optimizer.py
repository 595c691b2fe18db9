"""mx.optimizer vs MXNet 1.9.1 goldens (tests/golden/gen_optimizer_init.py): the classic
``update()`` face, the fused ``as_optax`` face under jax.jit, states round trips, errors."""
import json
import os
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import modjax.optimizer as opt_mod
from modjax import lr_scheduler
from modjax.base import MXNetError
from modjax.ndarray.ndarray import NDArray, array
from modjax.optimizer import optax_face

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "optimizer_init.npz"))
CASES = json.loads(GOLDEN["cases_json"].tobytes())
NAMES = ["fc_weight", "fc_bias", "bn_gamma"]
INIT = {n: GOLDEN["opt/inputs/init/" + n] for n in NAMES}
GRADS = [{n: GOLDEN["opt/inputs/grad%d/%s" % (k, n)] for n in NAMES} for k in range(5)]
RTOL, ATOL = 1e-5, 1e-6


def make(case):
    _, name, kw, lr_mult, wd_mult, sched = case
    kw = dict(kw)
    if sched:
        kw["lr_scheduler"] = lr_scheduler.FactorScheduler(**sched)
    opt = opt_mod.create(name, param_idx2name=dict(enumerate(NAMES)), **kw)
    if lr_mult:
        opt.set_lr_mult(lr_mult)
    if wd_mult:
        opt.set_wd_mult(wd_mult)
    return opt


def expected(case_name):
    return {n: GOLDEN["opt/%s/final/%s" % (case_name, n)] for n in NAMES}


def run_classic(opt, steps=range(5), weights=None, states=None):
    weights = weights or {n: array(INIT[n]) for n in NAMES}
    states = states or {i: opt.create_state_multi_precision(i, weights[n])
                        for i, n in enumerate(NAMES)}
    for k in steps:
        for i, n in enumerate(NAMES):
            opt.update(i, weights[n], array(GRADS[k][n]), states[i])
    return weights, states


def jitted_step(tx):
    @jax.jit
    def step(params, grads, state):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state
    return step


def jax_grads(k):
    return {n: jnp.asarray(GRADS[k][n]) for n in NAMES}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_classic_update_matches_mxnet(case):
    opt = make(case)
    weights, _ = run_classic(opt)
    for n, want in expected(case[0]).items():
        np.testing.assert_allclose(weights[n].asnumpy(), want, rtol=RTOL, atol=ATOL, err_msg=n)
    assert opt.num_update == int(GOLDEN["opt/%s/num_update" % case[0]])


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_optax_face_matches_mxnet_under_jit(case):
    opt = make(case)
    tx = opt.as_optax(NAMES)
    params = {n: jnp.asarray(INIT[n]) for n in NAMES}
    state = tx.init(params)
    step = jitted_step(tx)
    for k in range(5):
        params, state = step(params, jax_grads(k), state)
    for n, want in expected(case[0]).items():
        np.testing.assert_allclose(np.asarray(params[n]), want, rtol=RTOL, atol=ATOL, err_msg=n)
    begin = case[2].get("begin_num_update", 0)
    assert opt_mod.get_count(state) == begin + 5


def test_pure_update_face_matches():
    case = next(c for c in CASES if c[0] == "adam_sched_begin")
    init, step = make(case).as_pure_update(NAMES)
    params = {n: jnp.asarray(INIT[n]) for n in NAMES}
    state = init(params)
    step = jax.jit(step)
    for k in range(5):
        params, state = step(params, jax_grads(k), state)
    for n, want in expected(case[0]).items():
        np.testing.assert_allclose(np.asarray(params[n]), want, rtol=RTOL, atol=ATOL)


def test_optax_state_layout_matches_create_state():
    opt = opt_mod.create("rmsprop", centered=True)
    state = opt.as_optax(NAMES).init({n: jnp.asarray(INIT[n]) for n in NAMES})
    assert isinstance(state, opt_mod.MXNetOptState)
    classic = opt.create_state(0, array(INIT["fc_weight"]))
    assert isinstance(classic, tuple) and len(classic) == len(state.states["fc_weight"]) == 3
    assert int(state.count) == 0 and state.glob == {}
    assert opt_mod.create("sgd").as_optax(NAMES).init(
        {n: jnp.asarray(INIT[n]) for n in NAMES}).states["fc_bias"] is None


def test_lr_override_in_state_takes_effect_without_recompiling():
    traces = []
    opt = opt_mod.create("sgd", learning_rate=0.1, momentum=0.9,
                         param_idx2name=dict(enumerate(NAMES)))
    tx = opt.as_optax(NAMES)

    @jax.jit
    def step(params, grads, state):
        traces.append(1)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    params = {n: jnp.asarray(INIT[n]) for n in NAMES}
    state = tx.init(params)
    for k in range(5):
        if k == 2:
            state = opt_mod.set_lr(state, 0.05)
        params, state = step(params, jax_grads(k), state)
    assert len(traces) == 1
    assert opt_mod.get_lr(state) == pytest.approx(0.05)

    ref = opt_mod.create("sgd", learning_rate=0.1, momentum=0.9,
                         param_idx2name=dict(enumerate(NAMES)))
    weights, states = run_classic(ref, steps=range(2))
    ref.set_learning_rate(0.05)
    weights, _ = run_classic(ref, steps=range(2, 5), weights=weights, states=states)
    for n in NAMES:
        np.testing.assert_allclose(np.asarray(params[n]), weights[n].asnumpy(), rtol=RTOL,
                                   atol=ATOL)


def test_count_can_be_overwritten_and_scheduler_reads_it():
    opt = opt_mod.create("sgd", lr_scheduler=lr_scheduler.FactorScheduler(step=2, factor=0.5,
                                                                          base_lr=1.0))
    tx = opt.as_optax(["w"])
    params = {"w": jnp.zeros((2,))}
    state = opt_mod.set_count(tx.init(params), 4)
    params, state = jitted_step(tx)(params, {"w": jnp.ones((2,))}, state)
    # update 5 uses lr = 1.0 * 0.5 ** floor(4 / 2) = 0.25
    np.testing.assert_allclose(np.asarray(params["w"]), [-0.25, -0.25], rtol=1e-6)
    assert opt_mod.get_count(state) == 5 and opt_mod.get_lr(state) == pytest.approx(0.25)


def test_updater_states_round_trip_resumes_exactly():
    case = next(c for c in CASES if c[0] == "adam_sched_begin")
    opt = make(case)
    upd = opt_mod.get_updater(opt)
    weights = {n: array(INIT[n]) for n in NAMES}
    for k in range(2):
        for i, n in enumerate(NAMES):
            upd(i, array(GRADS[k][n]), weights[n])
    blob = upd.get_states()
    assert isinstance(blob, bytes) and not blob.startswith(b"\x80")
    upd2 = opt_mod.get_updater(make(case))
    upd2.set_states(blob)
    assert upd2.optimizer.num_update == opt.num_update == 5
    for k in range(2, 5):
        for i, n in enumerate(NAMES):
            upd2(i, array(GRADS[k][n]), weights[n])
    for n, want in expected(case[0]).items():
        np.testing.assert_allclose(weights[n].asnumpy(), want, rtol=RTOL, atol=ATOL)


def test_get_states_dump_optimizer_restores_settings():
    opt = opt_mod.create("nadam", learning_rate=0.03, wd=0.01,
                         param_idx2name=dict(enumerate(NAMES)),
                         lr_scheduler=lr_scheduler.FactorScheduler(step=3, factor=0.5,
                                                                       base_lr=0.03))
    opt.set_lr_mult({"fc_bias": 2.0})
    upd = opt_mod.get_updater(opt)
    upd(0, array(GRADS[0]["fc_weight"]), array(INIT["fc_weight"]))
    upd2 = opt_mod.get_updater(opt_mod.create("sgd"))
    upd2.set_states(upd.get_states(dump_optimizer=True))
    new = upd2.optimizer
    assert type(new).__name__ == "Nadam"
    assert new.wd == 0.01 and new.lr_mult == {"fc_bias": 2.0}
    assert new.idx2name == dict(enumerate(NAMES)) and new.wd_mult == opt.wd_mult
    assert isinstance(new.lr_scheduler, lr_scheduler.FactorScheduler)
    assert new.lr_scheduler.base_lr == pytest.approx(0.03)
    assert new.m_schedule == pytest.approx(opt.m_schedule) and new.num_update == 1


def test_optax_state_converts_to_updater_and_back():
    case = next(c for c in CASES if c[0] == "nadam")
    tx = make(case).as_optax(NAMES)
    params = {n: jnp.asarray(INIT[n]) for n in NAMES}
    state = tx.init(params)
    step = jitted_step(tx)
    for k in range(2):
        params, state = step(params, jax_grads(k), state)
    saver = opt_mod.get_updater(make(case))
    opt_mod.optax_state_to_updater(saver, state, NAMES, indices=[0, 1, 2])
    loader_opt = make(case)
    loader = opt_mod.get_updater(loader_opt)
    loader.set_states(saver.get_states())
    state2 = opt_mod.updater_to_optax_state(loader, params, NAMES, indices=[0, 1, 2])
    tx2 = loader_opt.as_optax(NAMES)
    step2 = jitted_step(tx2)
    for k in range(2, 5):
        params, state2 = step2(params, jax_grads(k), state2)
    for n, want in expected(case[0]).items():
        np.testing.assert_allclose(np.asarray(params[n]), want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", ["sgd_plain", "sgd_mom", "adam", "rmsprop_centered"])
def test_load_mxnet_pickled_states(case):
    blob = GOLDEN["pickled/" + case].tobytes()
    states = opt_mod.load_mxnet_pickled_states(blob, allow_pickle=True)
    assert sorted(states) == [0, 1, 2]
    for i, st in states.items():
        parts = st if isinstance(st, tuple) else (st,)
        for j, p in enumerate(parts):
            key = "pickled/%s/state/%d/%d" % (case, i, j)
            if p is None:
                assert key not in GOLDEN.files
            else:
                np.testing.assert_array_equal(p.asnumpy(), GOLDEN[key])
    upd = opt_mod.get_updater(opt_mod.create("sgd"))
    upd.set_states(states)
    assert set(upd.states) == {0, 1, 2}


def test_pickle_is_never_loaded_implicitly():
    blob = GOLDEN["pickled/sgd_mom"].tobytes()
    upd = opt_mod.get_updater(opt_mod.create("sgd"))
    with pytest.raises(MXNetError, match="load_mxnet_pickled_states"):
        upd.set_states(blob)
    with pytest.raises(MXNetError, match="allow_pickle=True"):
        opt_mod.load_mxnet_pickled_states(blob)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    with pytest.raises(MXNetError, match="not allowed"):
        opt_mod.load_mxnet_pickled_states(pickle.dumps({0: Evil()}), allow_pickle=True)
    with pytest.raises(MXNetError, match="not a modjax optimizer states"):
        upd.set_states(b"\x81\xa1a\x01")


def test_create_and_registry():
    assert type(opt_mod.create("SGD")).__name__ == "SGD"
    assert isinstance(opt_mod.Optimizer.create_optimizer("adam", learning_rate=0.1),
                      opt_mod.Adam)
    for name in ["sgd", "ccsgd", "nag", "signum", "dcasgd", "sgld", "test", "adam", "adagrad",
                 "adadelta", "rmsprop", "ftrl", "adamax", "nadam", "ftml"]:
        assert name in opt_mod.Optimizer.opt_registry
    with pytest.raises(opt_mod.UnknownOptimizerError, match="Cannot find optimizer nosuch") as e:
        opt_mod.create("nosuch")
    assert isinstance(e.value, MXNetError) and isinstance(e.value, ValueError)
    assert "sgd" in str(e.value) and "adam" in str(e.value)

    @opt_mod.register
    class MyOpt(opt_mod.Optimizer):
        def _rule(self, w, g, state, lr, wd, t, glob):
            return w - lr * g, state, glob
    assert isinstance(opt_mod.create("myopt"), MyOpt)
    w = array(np.ones(3, np.float32))
    opt_mod.create("myopt", learning_rate=0.5).update(0, w, array(np.ones(3, np.float32)), None)
    np.testing.assert_allclose(w.asnumpy(), 0.5)


def test_defaults_and_learning_rate():
    assert opt_mod.create("sgd").lr == 0.01 and opt_mod.create("adam").lr == 0.001
    assert opt_mod.create("ftrl").lr == 0.1 and opt_mod.create("adamax").lr == 0.002
    sched = lr_scheduler.FactorScheduler(step=1, factor=0.5, base_lr=1.0)
    opt = opt_mod.create("sgd", lr_scheduler=sched)
    with pytest.raises(UserWarning):
        opt.set_learning_rate(0.1)
    opt.num_update = 3
    assert opt.learning_rate == pytest.approx(0.25)
    with pytest.warns(UserWarning, match="overwritten"):
        opt_mod.create("sgd", learning_rate=0.3,
                       lr_scheduler=lr_scheduler.FactorScheduler(step=1, base_lr=1.0))
    plain = opt_mod.create("sgd", learning_rate=0.2)
    plain.set_learning_rate(0.4)
    assert plain.learning_rate == 0.4


class FakeSym:
    """Duck-typed Symbol: attr_dict() and list_arguments() only."""

    def attr_dict(self):
        return {"fc1_weight": {"__lr_mult__": "0.0"}, "fc1_bias": {"__lr_mult__": "1.0"},
                "fc2_weight": {"__wd_mult__": "0.5"}, "fc2_bias": {"__wd_mult__": "0.5"},
                "unused": {"__lr_mult__": "9"}}

    def list_arguments(self):
        return ["data", "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias"]


def test_lr_wd_mult_rules():
    names = ["fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias", "bn_gamma", "bn_beta"]
    opt = opt_mod.create("sgd", wd=0.1, sym=FakeSym(), param_idx2name=dict(enumerate(names)))
    assert opt.lr_mult == {"fc1_weight": 0.0, "fc1_bias": 1.0}
    assert opt.wd_mult == {"fc1_bias": 0.0, "bn_beta": 0.0, "fc2_weight": 0.5, "fc2_bias": 0.5}
    assert [opt._get_wd(i) for i in range(6)] == pytest.approx([0.1, 0, 0.05, 0.05, 0.1, 0])
    assert opt._get_lr(0) == 0.0 and opt._get_lr(4) == 0.01
    opt.set_lr_mult({2: 3.0})  # index keys still work
    assert opt._get_lr(2) == pytest.approx(0.03)
    # the optax face bakes the same multipliers in
    tx = opt.as_optax(names)
    params = {n: jnp.ones((2,)) for n in names}
    new, _ = jitted_step(tx)(params, {n: jnp.zeros((2,)) for n in names}, tx.init(params))
    np.testing.assert_allclose(np.asarray(new["fc2_weight"]), 1 - 0.03 * 0.05, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(new["bn_beta"]), 1.0)
    np.testing.assert_allclose(np.asarray(new["fc1_weight"]), 1.0)


def test_multi_precision_float16():
    w16 = (INIT["fc_weight"]).astype(np.float16)
    g16 = GRADS[0]["fc_weight"].astype(np.float16)
    opt = opt_mod.create("sgd", learning_rate=0.1, momentum=0.9, multi_precision=True)
    w = array(w16)
    state = opt.create_state_multi_precision(0, w)
    assert isinstance(state, tuple) and state[1].dtype == np.float32  # (mom, master) as MXNet
    for _ in range(3):
        opt.update_multi_precision(0, w, array(g16), state)
    ref = opt_mod.create("sgd", learning_rate=0.1, momentum=0.9)
    w32 = array(w16.astype(np.float32))
    s32 = ref.create_state(0, w32)
    for _ in range(3):
        ref.update(0, w32, array(g16.astype(np.float32)), s32)
    assert w.dtype == np.float16
    np.testing.assert_array_equal(w.asnumpy(), w32.asnumpy().astype(np.float16))
    np.testing.assert_allclose(state[1].asnumpy(), w32.asnumpy(), rtol=1e-6)
    tx = opt_mod.create("sgd", learning_rate=0.1, momentum=0.9,
                        multi_precision=True).as_optax(["w"])
    params = {"w": jnp.asarray(w16)}
    st = tx.init(params)
    step = jitted_step(tx)
    for _ in range(3):
        params, st = step(params, {"w": jnp.asarray(g16)}, st)
    assert params["w"].dtype == jnp.float16
    np.testing.assert_array_equal(np.asarray(params["w"]), w.asnumpy())


def test_sgld_noise_distribution_both_faces():
    from modjax import random as mxrandom
    mxrandom.seed(1)
    lr = 0.01
    opt = opt_mod.create("sgld", learning_rate=lr)
    w = array(np.zeros((100, 100), np.float32))
    opt.update(0, w, array(np.zeros((100, 100), np.float32)), None)
    tx = opt_mod.create("sgld", learning_rate=lr).as_optax(["w"])
    params = {"w": jnp.zeros((100, 100))}
    params, _ = jitted_step(tx)(params, {"w": jnp.zeros((100, 100))}, tx.init(params))
    for sample in (w.asnumpy(), np.asarray(params["w"])):
        assert abs(sample.mean()) < 0.01
        assert sample.std() == pytest.approx(np.sqrt(lr), rel=0.05)


def test_update_accepts_lists_and_updater_creates_states_lazily():
    opt = opt_mod.create("sgd", learning_rate=0.1, momentum=0.9)
    upd = opt_mod.get_updater(opt)
    ws = [array(INIT[n]) for n in NAMES]
    upd([0, 1, 2], [array(GRADS[0][n]) for n in NAMES], ws)
    assert set(upd.states) == {0, 1, 2} and opt.num_update == 1
    assert all(isinstance(s, NDArray) for s in upd.states.values())


def test_optax_update_requires_params():
    tx = opt_mod.create("sgd").as_optax(["w"])
    state = tx.init({"w": jnp.zeros(2)})
    with pytest.raises(MXNetError, match="need params"):
        tx.update({"w": jnp.zeros(2)}, state)
    with pytest.raises(MXNetError, match="not in the params dict"):
        tx.init({"v": jnp.zeros(2)})
    assert isinstance(optax_face.find_opt_state((optax.EmptyState(), state)),
                      opt_mod.MXNetOptState)


def test_optax_state_from_mxnet_pickled_states():
    blob = GOLDEN["pickled/adam"].tobytes()
    states = opt_mod.load_mxnet_pickled_states(blob, allow_pickle=True)
    opt = opt_mod.create("adam")
    tx = opt.as_optax(NAMES)
    state = tx.init({n: jnp.asarray(INIT[n]) for n in NAMES})
    state = opt.optax_state_from_mxnet(states, state, NAMES, NAMES)
    for i, n in enumerate(NAMES):
        for j in range(2):
            np.testing.assert_array_equal(np.asarray(state.states[n][j]),
                                          GOLDEN["pickled/adam/state/%d/%d" % (i, j)])
    with pytest.raises(MXNetError, match="layout"):
        opt_mod.create("sgd", momentum=0.9).optax_state_from_mxnet(
            states, opt_mod.create("sgd", momentum=0.9).as_optax(NAMES).init(
                {n: jnp.asarray(INIT[n]) for n in NAMES}), NAMES, NAMES)
