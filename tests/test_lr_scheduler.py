"""mx.lr_scheduler: stateful calls and the pure ``as_schedule`` form against MXNet 1.9.1 goldens."""
from __future__ import annotations

import json
import logging
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from modjax import lr_scheduler as lrs
from modjax.base import MXNetError

GOLDEN = json.load(open(os.path.join(os.path.dirname(__file__), "golden", "metric_sched.json")))
SCHED = GOLDEN["schedulers"]
IDS = [f"{i}-{c['cls']}" for i, c in enumerate(SCHED)]
T = np.arange(1, 61)


def make(case: dict) -> lrs.LRScheduler:
    return getattr(lrs, case["cls"])(**case["kwargs"])


def pure_values(sched: lrs.LRScheduler, ts=T) -> np.ndarray:
    fn = jax.jit(jax.vmap(sched.as_schedule()))
    return np.asarray(fn(jnp.asarray(ts)))


@pytest.mark.parametrize("case", SCHED, ids=IDS)
def test_stateful_matches_mxnet(case: dict) -> None:
    s = make(case)
    got = [s(t) for t in range(1, len(case["lr"]) + 1)]
    np.testing.assert_allclose(got, case["lr"], rtol=1e-12, atol=0)
    if "error_at" in case:  # max_update == warmup_steps divides by zero, as in MXNet
        with pytest.raises(ZeroDivisionError):
            s(case["error_at"])


@pytest.mark.parametrize("case", SCHED, ids=IDS)
def test_pure_schedule_float32_matches_mxnet(case: dict) -> None:
    got = pure_values(make(case))
    assert got.dtype == np.float32
    n = len(case["lr"])
    np.testing.assert_allclose(got[:n], case["lr"], rtol=1e-6, atol=1e-9)
    if "error_at" in case:
        assert np.isnan(got[case["error_at"] - 1:]).all()


@pytest.mark.parametrize("case", SCHED, ids=IDS)
def test_pure_schedule_float64_matches_mxnet(case: dict) -> None:
    with jax.enable_x64(True):
        got = pure_values(make(case))
        assert got.dtype == np.float64
    n = len(case["lr"])
    np.testing.assert_allclose(got[:n], case["lr"], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case", SCHED, ids=IDS)
def test_pure_and_stateful_agree_one_call_at_a_time(case: dict) -> None:
    s = make(case)
    pure = jax.jit(make(case).as_schedule())
    for t in range(1, len(case["lr"]) + 1):
        assert float(pure(t)) == pytest.approx(s(t), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("cls,kw", [
    ("FactorScheduler", dict(step=3, factor=0.5, base_lr=1.0, warmup_steps=4)),
    ("FactorScheduler", dict(step=2, factor=0.7, stop_factor_lr=0.1, base_lr=1.0)),
    ("MultiFactorScheduler", dict(step=[4, 9, 20], factor=0.5, base_lr=1.0, warmup_steps=2)),
    ("PolyScheduler", dict(max_update=30, base_lr=1.0, warmup_steps=5)),
    ("CosineScheduler", dict(max_update=30, base_lr=1.0, final_lr=0.1)),
])
def test_pure_schedule_resumes_from_current_state(cls: str, kw: dict) -> None:
    """as_schedule taken mid-training continues exactly where the stateful scheduler is."""
    s, ref = getattr(lrs, cls)(**kw), getattr(lrs, cls)(**kw)
    want = [ref(t) for t in range(1, 50)]
    for t in range(1, 13):
        s(t)
    got = pure_values(s, np.arange(13, 50))
    np.testing.assert_allclose(got, want[12:], rtol=1e-6, atol=1e-9)


def test_factor_slow_decay_beyond_table() -> None:
    s = lrs.FactorScheduler(step=1, factor=0.9999, stop_factor_lr=1e-8, base_lr=1.0)
    ts = np.array([1, 2, 100, 4096, 4097, 4098, 6000, 9000])
    ref = lrs.FactorScheduler(step=1, factor=0.9999, stop_factor_lr=1e-8, base_lr=1.0)
    want = {t: None for t in ts}
    for t in range(1, ts.max() + 1):
        v = ref(t)
        if t in want:
            want[t] = v
    np.testing.assert_allclose(pure_values(s, ts), [want[t] for t in ts], rtol=1e-6)


def test_factor_negative_and_odd_settings() -> None:
    for kw in [dict(step=2, factor=-0.5, base_lr=1.0), dict(step=2.5, factor=0.5, base_lr=1.0),
               dict(step=1, factor=1.0, stop_factor_lr=0.5, base_lr=0.1)]:
        s, ref = lrs.FactorScheduler(**kw), lrs.FactorScheduler(**kw)
        want = [ref(t) for t in T]
        np.testing.assert_allclose(pure_values(s), want, rtol=1e-6, err_msg=str(kw))


def test_mxnet_unit_test_values() -> None:
    """The values asserted by MXNet's tests/python/unittest/test_optimizer.py."""
    s = lrs.FactorScheduler(step=100, factor=0.1, stop_factor_lr=1e-4, base_lr=1,
                            warmup_steps=20, warmup_begin_lr=0.1, warmup_mode="constant")
    assert [s(0), s(10), s(21), s(101), s(201), s(1000)] == pytest.approx(
        [0.1, 0.1, 1, 0.1, 0.01, 1e-4])
    s = lrs.MultiFactorScheduler(step=[15, 25], factor=0.1, base_lr=0.1, warmup_steps=10,
                                 warmup_begin_lr=0.05, warmup_mode="linear")
    assert [s(0), s(5), s(15), s(16), s(20), s(26), s(100)] == pytest.approx(
        [0.05, 0.075, 0.1, 0.01, 0.01, 0.001, 0.001])
    s = lrs.PolyScheduler(max_update=1000, base_lr=3, pwr=2, final_lr=0, warmup_steps=100,
                          warmup_begin_lr=0, warmup_mode="linear")
    assert s(0) == 0 and s(50) == pytest.approx(1.5) and s(100) == pytest.approx(3)
    assert s(101) < s(100) and s(500) < 1.6 and s(1000) == pytest.approx(0)
    s = lrs.CosineScheduler(max_update=1000, base_lr=3, final_lr=0.1)
    assert s(0) == pytest.approx(3) and s(1000) == pytest.approx(0.1) and s(500) > 1.5


def test_reference_tables() -> None:
    f = lrs.FactorScheduler(step=2, factor=0.5, base_lr=1.0)
    assert [f(k) for k in range(1, 9)] == [1, 1, .5, .5, .25, .25, .125, .125]
    m = lrs.MultiFactorScheduler(step=[2, 5], factor=0.1, base_lr=1.0)
    assert [m(k) for k in range(1, 8)] == pytest.approx([1, 1, .1, .1, .1, .01, .01])
    p = lrs.PolyScheduler(max_update=4, base_lr=1.0)
    assert [p(k) for k in range(0, 7)] == pytest.approx([1, .5625, .25, .0625, 0, 0, 0])
    c = lrs.CosineScheduler(max_update=4, base_lr=1.0, warmup_steps=2)
    assert [c(k) for k in range(0, 8)] == pytest.approx([0, .5, 1, .5, 0, 0, 0, 0])
    pure = jax.jit(jax.vmap(lrs.CosineScheduler(max_update=4, base_lr=1.0, warmup_steps=2)
                            .as_schedule()))
    np.testing.assert_allclose(pure(jnp.arange(8)), [0, .5, 1, .5, 0, 0, 0, 0], atol=1e-7)


def test_factor_scheduler_logs(caplog) -> None:
    s = lrs.FactorScheduler(step=2, factor=0.5, stop_factor_lr=0.2, base_lr=1.0)
    with caplog.at_level(logging.INFO):
        for t in range(1, 9):
            s(t)
    msgs = [r.getMessage() for r in caplog.records]
    assert msgs == ["Update[3]: Change learning rate to 5.00000e-01",
                    "Update[5]: Change learning rate to 2.50000e-01",
                    "Update[7]: now learning rate arrived at 2.00000e-01, will not change in "
                    "the future"]
    m = lrs.MultiFactorScheduler(step=[1, 2], factor=0.5, base_lr=1.0)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        m(5)  # a jump applies both milestones at once, logging each
    assert [r.getMessage() for r in caplog.records] == [
        "Update[5]: Change learning rate to 5.00000e-01",
        "Update[5]: Change learning rate to 2.50000e-01"]


def test_warmup_final_lr_is_captured_at_construction() -> None:
    """An optimizer overriding base_lr changes the decay, not the warmup target (as in MXNet)."""
    s = lrs.FactorScheduler(step=10, factor=0.5, base_lr=1.0, warmup_steps=4)
    s.base_lr = 0.2
    want = [s.get_warmup_lr(t) if t < 4 else None for t in range(1, 4)]
    pure = pure_values(s, np.arange(1, 30))
    np.testing.assert_allclose(pure[:3], want, rtol=1e-6)
    np.testing.assert_allclose(pure[3:], [s(t) for t in range(4, 30)], rtol=1e-6)
    assert s(3) == pytest.approx(0.75)
    p = lrs.PolyScheduler(max_update=10, base_lr=1.0)
    p.base_lr = 5.0  # ignored by Poly: it decays from base_lr_orig
    assert p(5) == pytest.approx(0.25) and float(p.as_schedule()(5)) == pytest.approx(0.25)


def test_optax_schedule_offsets_count() -> None:
    s = lrs.MultiFactorScheduler(step=[2, 4], factor=0.1, base_lr=1.0)
    sched = s.optax_schedule()
    assert [float(sched(c)) for c in range(5)] == pytest.approx([1, 1, .1, .1, .01])
    assert float(s.optax_schedule(begin_num_update=2)(0)) == pytest.approx(0.1)
    opt = optax.sgd(learning_rate=sched)
    params = jnp.zeros(())
    state = opt.init(params)

    @jax.jit
    def step(params, state):
        updates, state = opt.update(jnp.ones(()), state, params)
        return optax.apply_updates(params, updates), state

    for _ in range(5):
        params, state = step(params, state)
    assert float(params) == pytest.approx(-(1 + 1 + .1 + .1 + .01), rel=1e-6)


def test_base_scheduler_is_abstract() -> None:
    s = lrs.LRScheduler(base_lr=0.1, warmup_steps=5, warmup_begin_lr=0.0)
    with pytest.raises(NotImplementedError):
        s(1)
    with pytest.raises(NotImplementedError):
        s.as_schedule()
    assert s.get_warmup_lr(1) == pytest.approx(0.02)
    assert lrs.LRScheduler(0.1, 5, 0.05, "constant").get_warmup_lr(4) == 0.05


@pytest.mark.parametrize("make_bad,phrase", [
    (lambda: lrs.LRScheduler(base_lr=0.1, warmup_begin_lr=0.2),
     "Base lr has to be higher than warmup_begin_lr"),
    (lambda: lrs.LRScheduler(warmup_steps=-1), "Warmup steps has to be positive or 0"),
    (lambda: lrs.LRScheduler(warmup_steps=2.5), "warmup_steps must be an int"),
    (lambda: lrs.LRScheduler(warmup_mode="cosine"), "Supports only linear and constant modes"),
    (lambda: lrs.FactorScheduler(step=0), "Schedule step must be greater or equal than 1 round"),
    (lambda: lrs.FactorScheduler(step=2, factor=1.5), "Factor must be no more than 1"),
    (lambda: lrs.MultiFactorScheduler(step=[3, 3]), "Schedule step must be an increasing"),
    (lambda: lrs.MultiFactorScheduler(step=[0, 3]), "greater or equal than 1 round"),
    (lambda: lrs.MultiFactorScheduler(step=5), "non-empty list"),
    (lambda: lrs.MultiFactorScheduler(step=[2], factor=2), "Factor must be no more than 1"),
    (lambda: lrs.PolyScheduler(max_update=0), "maximum number of updates must be strictly"),
    (lambda: lrs.PolyScheduler(max_update=10.0), "max_update must be an int"),
    (lambda: lrs.CosineScheduler(max_update=-3), "maximum number of updates must be strictly"),
    (lambda: lrs.LRScheduler(0.1, 5).get_warmup_lr(5), "only defined below warmup_steps=5"),
])
def test_errors(make_bad, phrase: str) -> None:
    with pytest.raises(lrs.LRSchedulerError, match=phrase) as ei:
        make_bad()
    assert isinstance(ei.value, ValueError) and isinstance(ei.value, MXNetError)


def test_schedule_is_pure_under_jit_and_grad_free() -> None:
    s = lrs.CosineScheduler(max_update=20, base_lr=0.5, warmup_steps=4, warmup_begin_lr=0.1)
    fn = jax.jit(s.as_schedule())
    before = (s.base_lr, s.warmup_steps)
    vals = [float(fn(jnp.int32(t))) for t in range(1, 25)]
    assert (s.base_lr, s.warmup_steps) == before  # the pure form never mutates the scheduler
    assert all(math.isfinite(v) for v in vals)
