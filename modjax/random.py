"""Global random state: ``mx.random.seed`` and the JAX keys every random draw takes.

Every consumer (initializers, nd samplers, Dropout inside executors) calls ``next_key()``, which
splits a process-wide key; ``seed(s)`` resets it, so runs are reproducible.
"""
from __future__ import annotations

import threading
from typing import Any

import jax
import numpy as np

__all__ = ["seed", "next_key", "current_seed", "host_rng", "uniform", "normal", "randn", "gamma",
           "exponential", "poisson", "negative_binomial", "generalized_negative_binomial",
           "randint", "multinomial", "shuffle"]

_lock = threading.Lock()
_state: dict[str, Any] = {"seed": 0, "key": None}


def seed(seed_state: int, ctx: Any = "all") -> None:
    """Seed every random draw of modjax (``ctx`` is accepted for MXNet compatibility)."""
    if not isinstance(seed_state, (int,)) or isinstance(seed_state, bool):
        try:
            seed_state = int(seed_state)
        except (TypeError, ValueError) as err:
            from .base import MXNetError
            raise MXNetError(f"seed must be an integer, got {seed_state!r}") from err
    with _lock:
        _state["seed"] = int(seed_state)
        _state["key"] = jax.random.key(int(seed_state) & 0xFFFFFFFF)
        _state["host_rng"] = None  # host_rng() restarts from the new seed


def current_seed() -> int:
    return _state["seed"]


def next_key() -> jax.Array:
    """A fresh JAX key from the global stream."""
    with _lock:
        if _state["key"] is None:
            _state["key"] = jax.random.key(_state["seed"])
        _state["key"], sub = jax.random.split(_state["key"])
        return sub


def host_rng() -> np.random.Generator:
    """The process-wide numpy Generator for host-side randomness (``mx.image`` augmenters).

    It is seeded from the global seed (``SeedSequence([seed, 0x1A6E])``), independently of the
    JAX key stream, and restarts whenever ``seed()`` is called. numpy Generators serialise calls
    internally, so it is safe to share between threads.
    """
    with _lock:
        gen = _state.get("host_rng")
        if gen is None:
            gen = np.random.default_rng(np.random.SeedSequence([_state["seed"] & 0xFFFFFFFFFFFFFFFF,
                                                               0x1A6E]))
            _state["host_rng"] = gen
        return gen


# -- MXNet's mx.random samplers: the mx.nd.random front ends (eager, from the global key) --------
def _sampler(name: str) -> Any:
    def fn(*args: Any, **kwargs: Any) -> Any:
        from . import ndarray
        return getattr(ndarray.random, name)(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"``mx.nd.random.{name}``: draws eagerly from the global key (see ``seed``)."
    return fn


uniform = _sampler("uniform")
normal = _sampler("normal")
randn = _sampler("randn")
gamma = _sampler("gamma")
exponential = _sampler("exponential")
poisson = _sampler("poisson")
negative_binomial = _sampler("negative_binomial")
generalized_negative_binomial = _sampler("generalized_negative_binomial")
randint = _sampler("randint")
multinomial = _sampler("multinomial")
shuffle = _sampler("shuffle")
