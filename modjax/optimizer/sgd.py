"""SGD-family optimizers: SGD (ccSGD), NAG, Signum, DCASGD, SGLD and Test.

Each ``_rule`` is MXNet 1.9.1's update for one parameter (the C++ kernel for SGD, NAG and
Signum, the Python code for DCASGD, SGLD and Test), written once for both faces.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ..random import next_key
from .optimizer import Optimizer, State, aggregation_size, register

__all__ = ["SGD", "ccSGD", "NAG", "Signum", "DCASGD", "SGLD", "Test"]


@register
class SGD(Optimizer):
    """SGD with momentum and weight decay (MXNet's ``multi_sgd(_mom)_update`` kernels)::

        mom = momentum * mom - lr * wd * w - lr * clip(rescale_grad * g)
        w   = w + mom                       # mom == 0 and no state when momentum == 0

    ``lazy_update`` only matters for row_sparse gradients, which modjax does not have: accepted,
    dense semantics.
    """

    _mp_master_first = False

    def __init__(self, momentum: float = 0.0, lazy_update: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.lazy_update = lazy_update
        self.aggregate_num = aggregation_size()

    def _init_state(self, w: jax.Array) -> State:
        return jnp.zeros_like(w) if self.momentum != 0.0 else None

    def _rule(self, w, g, mom, lr, wd, t, glob):
        dt = w.dtype
        c = self.clip_gradient
        if c and c >= 0:
            step = lr * jnp.clip(self.rescale_grad * g, -c, c)
        else:
            step = (lr * self.rescale_grad) * g
        decayed = 0.0 if (isinstance(wd, (int, float)) and wd == 0) else lr * wd * w
        if mom is None:
            return (w + (-decayed - step)).astype(dt), None, glob
        momentum = self.momentum if self.momentum > 0 else 0.0
        mom = (momentum * mom - decayed - step).astype(mom.dtype)
        return (w + mom).astype(dt), mom, glob


@register
class ccSGD(SGD):  # noqa: N801 - MXNet's name
    """[DEPRECATED] Same as SGD."""


@register
class NAG(Optimizer):
    """Nesterov accelerated gradient (MXNet's ``nag_mom_update`` kernel)::

        mom  = momentum * mom
        w'   = w - mom + (momentum + 1) * (mom - lr * (clip(rs * g) + wd * w))
        mom  = mom - lr * (clip(rs * g) + wd * w')      # the kernel reads the new weight

    With momentum 0 it is plain ``sgd_update``.
    """

    _mp_master_first = False

    def __init__(self, momentum: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.momentum = momentum

    def _init_state(self, w: jax.Array) -> State:
        return jnp.zeros_like(w) if self.momentum != 0.0 else None

    def _rule(self, w, g, mom, lr, wd, t, glob):
        dt = w.dtype
        gr = self._kclip(self.rescale_grad * g)
        if mom is None:
            return ((1.0 - lr * wd) * w - lr * gr).astype(dt), None, glob
        momentum = self.momentum if self.momentum > 0 else 0.0
        mom = momentum * mom
        new_w = (w - mom + (momentum + 1) * (mom - lr * (gr + wd * w))).astype(dt)
        mom = mom - lr * (gr + wd * new_w)
        return new_w, mom.astype(dt), glob


@register
class Signum(Optimizer):
    """Signum / signSGD (MXNet's ``signum_update`` / ``signsgd_update`` kernels)::

        mom = momentum * mom - (1 - momentum) * (wd * w + clip(rs * g))
        w   = (1 - lr * wd_lh) * w + lr * sign(mom)
        # momentum == 0: w = (1 - lr * wd) * w - lr * sign(g)   (no rescale, no clip)
    """

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9, wd_lh: float = 0.0,
                 **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum
        self.wd_lh = wd_lh

    def _init_state(self, w: jax.Array) -> State:
        return jnp.zeros_like(w) if self.momentum != 0.0 else None

    def _rule(self, w, g, mom, lr, wd, t, glob):
        dt = w.dtype
        if mom is None:
            return ((1.0 - lr * wd) * w - lr * jnp.sign(g)).astype(dt), None, glob
        m = self.momentum if self.momentum > 0 else 0.0
        gr = self._kclip(self.rescale_grad * g)
        mom = (m * mom - (1 - m) * wd * w - (1 - m) * gr).astype(dt)
        new_w = (1.0 - lr * self.wd_lh) * w + lr * jnp.sign(mom)
        return new_w.astype(dt), mom, glob


@register
class DCASGD(Optimizer):
    """Delay-compensated async SGD (Zheng et al.)::

        step = -lr * (g + wd * w + lamda * g * g * (w - w_prev))     # g = clip(rs * grad)
        mom  = momentum * mom + step  (when momentum != 0);   w_prev = w;   w = w + mom|step

    MXNet 1.9.1's momentum branch tests ``if mom:`` on an NDArray and fails; the intended
    momentum update is implemented here.
    """

    def __init__(self, momentum: float = 0.0, lamda: float = 0.04, **kwargs: Any):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.weight_previous: dict = {}
        self.lamda = lamda

    def _init_state(self, w: jax.Array) -> State:
        mom = None if self.momentum == 0.0 else jnp.zeros_like(w)
        return (mom, jnp.array(w, copy=True))

    def _rule(self, w, g, state, lr, wd, t, glob):
        dt = w.dtype
        mom, prev = state
        gr = self._pclip(g * self.rescale_grad)
        step = -lr * (gr + wd * w + self.lamda * gr * gr * (w - prev))
        if mom is not None:
            mom = (mom * self.momentum + step).astype(dt)
            step = mom
        return (w + step).astype(dt), (mom, w), glob


@register
class SGLD(Optimizer):
    """Stochastic gradient Langevin dynamics::

        w = w - lr / 2 * (clip(rs * g) + wd * w) + N(0, lr)

    The classic face draws its noise from the global stream (``mx.random.seed``); the optax face
    keeps a PRNG key in its state (``glob['key']``).
    """

    def _init_glob(self) -> dict:
        return {"key": jax.random.key_data(next_key())}

    def _classic_glob(self) -> dict:
        return self._init_glob()

    def _rule(self, w, g, state, lr, wd, t, glob):
        dt = w.dtype
        gr = self._pclip(g * self.rescale_grad)
        w = w + (-lr / 2) * (gr + wd * w)
        key, sub = jax.random.split(jax.random.wrap_key_data(glob["key"]))
        noise = jax.random.normal(sub, w.shape, jnp.float32) * jnp.sqrt(lr)
        return (w + noise).astype(dt), None, {**glob, "key": jax.random.key_data(key)}


@register
class Test(Optimizer):
    """The test optimizer: ``w += rescale_grad * g``; the state mirrors the new weight."""

    def _update_count(self, index: Any) -> None:
        """MXNet's Test.update never advances the update counts (the optax face does)."""

    def _init_state(self, w: jax.Array) -> State:
        return jnp.zeros(w.shape, jnp.float32)

    def _rule(self, w, g, state, lr, wd, t, glob):
        new_w = (w + g * self.rescale_grad).astype(w.dtype)
        return new_w, new_w.astype(state.dtype), glob
