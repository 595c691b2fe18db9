"""Learning-rate schedulers (MXNet's ``mx.lr_scheduler``).

Two faces of the same schedule:

* ``scheduler(num_update)`` is MXNet's stateful call: the optimizer calls it with its update
  count (1 on the first update, 2 on the second, ...); FactorScheduler and
  MultiFactorScheduler change ``base_lr`` as they go and log each change.
* ``scheduler.as_schedule()`` is a pure function ``t -> lr`` for use inside ``jax.jit`` (an
  optax schedule). It starts from the scheduler's state at the time of the call and returns,
  for each ``t``, exactly what the stateful scheduler returns when called with
  ``num_update = t`` in sequence. ``t`` is MXNet's 1-based count; optax counts from 0, so use
  ``optax_schedule()`` (``t = count + 1``) with optax.

The pure form computes in jax's default float dtype (float32; float64 under x64).
"""
from __future__ import annotations

import logging
import math
from typing import Any, Callable

import jax.numpy as jnp

from .base import MXNetError

__all__ = ["LRScheduler", "FactorScheduler", "MultiFactorScheduler", "PolyScheduler",
           "CosineScheduler", "LRSchedulerError"]

Schedule = Callable[[Any], Any]

# FactorScheduler's pure form tabulates at most this many successive decays, then uses a formula
_MAX_TABLE = 4096


class LRSchedulerError(MXNetError, ValueError):
    """Bad scheduler arguments (MXNet raises ValueError/AssertionError for these)."""


def _fdtype() -> Any:
    return jnp.result_type(float)


class LRScheduler:
    """Base class: ``base_lr`` and an optional linear or constant warmup.

    During warmup (``num_update < warmup_steps``) the lr is ``warmup_begin_lr`` rising linearly
    to the construction-time ``base_lr`` (``'linear'``) or held at ``warmup_begin_lr``
    (``'constant'``).
    """

    def __init__(self, base_lr: float = 0.01, warmup_steps: int = 0, warmup_begin_lr: float = 0,
                 warmup_mode: str = "linear"):
        self.base_lr = base_lr
        if not isinstance(warmup_steps, int):
            raise LRSchedulerError(f"warmup_steps must be an int, got {warmup_steps!r}")
        self.warmup_steps = warmup_steps
        self.warmup_final_lr = base_lr
        self.warmup_begin_lr = warmup_begin_lr
        if self.warmup_begin_lr > self.warmup_final_lr:
            raise LRSchedulerError("Base lr has to be higher than warmup_begin_lr")
        if self.warmup_steps < 0:
            raise LRSchedulerError("Warmup steps has to be positive or 0")
        if warmup_mode not in ["linear", "constant"]:
            raise LRSchedulerError("Supports only linear and constant modes of warmup")
        self.warmup_mode = warmup_mode

    def get_warmup_lr(self, num_update: int) -> float:
        """The warmup lr at ``num_update`` (which must be below ``warmup_steps``)."""
        if not num_update < self.warmup_steps:
            raise LRSchedulerError(f"get_warmup_lr({num_update}) is only defined below "
                                   f"warmup_steps={self.warmup_steps}")
        if self.warmup_mode == "linear":
            increase = (self.warmup_final_lr - self.warmup_begin_lr) \
                * float(num_update) / float(self.warmup_steps)
            return self.warmup_begin_lr + increase
        if self.warmup_mode == "constant":
            return self.warmup_begin_lr
        raise LRSchedulerError("Invalid warmup mode %s" % self.warmup_mode)

    def __call__(self, num_update: int) -> float:
        """The lr for update ``num_update`` (the largest update count of any weight)."""
        raise NotImplementedError("must override this")

    # -- pure (jit-able) form -----------------------------------------------------------------------
    def as_schedule(self) -> Schedule:
        """A pure ``t -> lr`` function (``t``: MXNet's 1-based update count), usable in jit."""
        raise NotImplementedError(f"{type(self).__name__} has no pure schedule; override "
                                  "as_schedule or call the scheduler on the host")

    def optax_schedule(self, begin_num_update: int = 0) -> Schedule:
        """``as_schedule`` shifted for optax's 0-based ``count``: lr(count + 1 + begin_num_update)."""
        sched = self.as_schedule()
        offset = 1 + int(begin_num_update)

        def schedule(count: Any) -> Any:
            return sched(jnp.asarray(count) + offset)
        return schedule

    def _with_warmup(self, t: Any, after: Callable[[Any], Any]) -> Any:
        """``after(t)`` past the warmup, the warmup lr before (snapshot of the current settings)."""
        lr = after(t)
        if self.warmup_steps <= 0:
            return lr
        dtype = _fdtype()
        begin = jnp.asarray(self.warmup_begin_lr, dtype)
        if self.warmup_mode == "linear":
            span = jnp.asarray(self.warmup_final_lr - self.warmup_begin_lr, dtype)
            warm = begin + span * t.astype(dtype) / jnp.asarray(float(self.warmup_steps), dtype)
        else:
            warm = begin
        return jnp.where(t < self.warmup_steps, warm, lr)


class FactorScheduler(LRScheduler):
    """Multiply the lr by ``factor`` every ``step`` updates, never going below ``stop_factor_lr``.

    For a fresh scheduler: ``lr(k) = max(base_lr * factor**floor((k-1)/step), stop_factor_lr)``
    for k >= 1 (MXNet's docstring says ``floor(k/step)``; the code decays strictly after).
    """

    def __init__(self, step: int, factor: float = 1, stop_factor_lr: float = 1e-8,
                 base_lr: float = 0.01, warmup_steps: int = 0, warmup_begin_lr: float = 0,
                 warmup_mode: str = "linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if step < 1:
            raise LRSchedulerError("Schedule step must be greater or equal than 1 round")
        if factor > 1.0:
            raise LRSchedulerError("Factor must be no more than 1 to make lr reduce")
        self.step = step
        self.factor = factor
        self.stop_factor_lr = stop_factor_lr
        self.count = 0

    def __call__(self, num_update: int) -> float:
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        # a loop, not an if: resuming at a later num_update applies every missed decay
        while num_update > self.count + self.step:
            self.count += self.step
            self.base_lr *= self.factor
            if self.base_lr < self.stop_factor_lr:
                self.base_lr = self.stop_factor_lr
                logging.info("Update[%d]: now learning rate arrived at %0.5e, will not "
                             "change in the future", num_update, self.base_lr)
            else:
                logging.info("Update[%d]: Change learning rate to %0.5e",
                             num_update, self.base_lr)
        return self.base_lr

    def _decay_table(self) -> tuple[list[float], bool]:
        """base_lr after 0, 1, 2, ... decays, computed as the stateful loop does; and whether the
        table ends on a fixed point (then its last value holds forever)."""
        table = [self.base_lr]
        lr = self.base_lr
        for _ in range(_MAX_TABLE):
            lr = lr * self.factor
            if lr < self.stop_factor_lr:
                lr = self.stop_factor_lr
            if lr == table[-1]:
                return table, True
            table.append(lr)
        return table, False

    def as_schedule(self) -> Schedule:
        table, closed = self._decay_table()
        count, step = self.count, self.step
        factor, stop = self.factor, self.stop_factor_lr
        integral = isinstance(count, int) and isinstance(step, int)

        def decayed(t: Any) -> Any:
            dtype = _fdtype()
            if integral:  # number of while-loop iterations up to t
                n = jnp.maximum((t - count - 1) // step, 0)
            else:
                n = jnp.maximum(jnp.ceil((t.astype(dtype) - count) / step) - 1, 0).astype(t.dtype)
            lr = jnp.asarray(table, dtype)[jnp.minimum(n, len(table) - 1)]
            if closed:
                return lr
            # beyond the table (very slow decays only): continue the recurrence in closed form
            # from the last tabulated value, in log space so float32 keeps full precision
            m = (n - (len(table) - 1)).astype(dtype)
            mag = jnp.exp(m * jnp.asarray(math.log(abs(factor)), dtype))
            sign = jnp.where((m % 2 == 1) & (factor < 0), -1.0, 1.0).astype(dtype)
            far = jnp.maximum(jnp.asarray(table[-1], dtype) * sign * mag, jnp.asarray(stop, dtype))
            return jnp.where(n < len(table), lr, far)

        def schedule(t: Any) -> Any:
            return self._with_warmup(jnp.asarray(t), decayed)
        return schedule


class MultiFactorScheduler(LRScheduler):
    """Multiply the lr by ``factor`` once for each milestone in ``step`` that ``num_update`` passed
    (strictly: ``num_update > s``)."""

    def __init__(self, step: list[int], factor: float = 1, base_lr: float = 0.01,
                 warmup_steps: int = 0, warmup_begin_lr: float = 0, warmup_mode: str = "linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if not (isinstance(step, list) and len(step) >= 1):
            raise LRSchedulerError(f"step must be a non-empty list of ints, got {step!r}")
        for i, _step in enumerate(step):
            if i != 0 and step[i] <= step[i - 1]:
                raise LRSchedulerError("Schedule step must be an increasing integer list")
            if _step < 1:
                raise LRSchedulerError("Schedule step must be greater or equal than 1 round")
        if factor > 1.0:
            raise LRSchedulerError("Factor must be no more than 1 to make lr reduce")
        self.step = step
        self.cur_step_ind = 0
        self.factor = factor
        self.count = 0

    def __call__(self, num_update: int) -> float:
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        while self.cur_step_ind <= len(self.step) - 1:
            if num_update > self.step[self.cur_step_ind]:
                self.count = self.step[self.cur_step_ind]
                self.cur_step_ind += 1
                self.base_lr *= self.factor
                logging.info("Update[%d]: Change learning rate to %0.5e",
                             num_update, self.base_lr)
            else:
                return self.base_lr
        return self.base_lr

    def as_schedule(self) -> Schedule:
        remaining = list(self.step[self.cur_step_ind:])
        table = [self.base_lr]
        for _ in remaining:
            table.append(table[-1] * self.factor)

        def decayed(t: Any) -> Any:
            if not remaining:
                return jnp.asarray(table[0], _fdtype())
            n = jnp.sum(t[..., None] > jnp.asarray(remaining), axis=-1)
            return jnp.asarray(table, _fdtype())[n]

        def schedule(t: Any) -> Any:
            return self._with_warmup(jnp.asarray(t), decayed)
        return schedule


class _DecayToFinal(LRScheduler):
    """Shared parts of PolyScheduler and CosineScheduler: decay from the construction-time
    ``base_lr`` to ``final_lr`` over ``warmup_steps <= k <= max_update``, then hold."""

    def __init__(self, max_update: int, base_lr: float, final_lr: float, warmup_steps: int,
                 warmup_begin_lr: float, warmup_mode: str):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if not isinstance(max_update, int):
            raise LRSchedulerError(f"max_update must be an int, got {max_update!r}")
        if max_update < 1:
            raise LRSchedulerError("maximum number of updates must be strictly positive")
        self.base_lr_orig = self.base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.max_steps = self.max_update - self.warmup_steps

    def _shape(self, remaining: Any) -> Any:
        """Decay factor in [0, 1] from the fraction of the decay still ``remaining`` (1 -> 0)."""
        raise NotImplementedError()

    def as_schedule(self) -> Schedule:
        orig, final, current = self.base_lr_orig, self.final_lr, self.base_lr
        top, ws, ms = self.max_update, self.warmup_steps, self.max_steps

        def decayed(t: Any) -> Any:
            dtype = _fdtype()
            if top < ws:  # the decay range is empty: base_lr is never touched
                return jnp.full(t.shape, current, dtype)
            # calls beyond max_update keep the value set at max_update
            left = (ms - (jnp.minimum(t, top) - ws)).astype(dtype) / jnp.asarray(float(ms), dtype)
            return final + (orig - final) * self._shape(left)

        def schedule(t: Any) -> Any:
            return self._with_warmup(jnp.asarray(t), decayed)
        return schedule


class PolyScheduler(_DecayToFinal):
    """``final_lr + (base_lr - final_lr) * (1 - (k - warmup) / (max_update - warmup))**pwr``."""

    def __init__(self, max_update: int, base_lr: float = 0.01, pwr: float = 2,
                 final_lr: float = 0, warmup_steps: int = 0, warmup_begin_lr: float = 0,
                 warmup_mode: str = "linear"):
        self.power = pwr
        super().__init__(max_update, base_lr, final_lr, warmup_steps, warmup_begin_lr,
                         warmup_mode)

    def __call__(self, num_update: int) -> float:
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        if num_update <= self.max_update:
            self.base_lr = self.final_lr + (self.base_lr_orig - self.final_lr) * \
                pow(1 - float(num_update - self.warmup_steps) / float(self.max_steps), self.power)
        return self.base_lr

    def _shape(self, remaining: Any) -> Any:
        return jnp.power(remaining, self.power)


class CosineScheduler(_DecayToFinal):
    """``final_lr + (base_lr - final_lr) * (1 + cos(pi * (k - warmup) / (max_update - warmup))) / 2``."""

    def __init__(self, max_update: int, base_lr: float = 0.01, final_lr: float = 0,
                 warmup_steps: int = 0, warmup_begin_lr: float = 0, warmup_mode: str = "linear"):
        super().__init__(max_update, base_lr, final_lr, warmup_steps, warmup_begin_lr,
                         warmup_mode)

    def __call__(self, num_update: int) -> float:
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        if num_update <= self.max_update:
            self.base_lr = self.final_lr + (self.base_lr_orig - self.final_lr) * \
                (1 + math.cos(math.pi * (num_update - self.warmup_steps) / self.max_steps)) / 2
        return self.base_lr

    def _shape(self, remaining: Any) -> Any:
        # (1 + cos(pi * (1 - r))) / 2 == sin(pi * r / 2)**2, without cancellation near the end
        return jnp.square(jnp.sin((math.pi / 2) * remaining))
