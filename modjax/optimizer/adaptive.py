"""Adaptive optimizers: Adam, AdaGrad, AdaDelta, RMSProp, Ftrl, Adamax, Nadam and FTML.

Rules follow MXNet 1.9.1: the C++ kernels for Adam, RMSProp, Ftrl and FTML (clip after adding
``wd * w``, except Ftrl), the Python code for AdaGrad, AdaDelta, Adamax and Nadam. ``t`` is the
1-based per-parameter update count.
"""
from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .optimizer import Optimizer, State, one_minus_pow, register

__all__ = ["Adam", "AdaGrad", "AdaDelta", "RMSProp", "Ftrl", "Adamax", "Nadam", "FTML"]

_f32 = np.float32


def _zeros_f32(w: jax.Array) -> jax.Array:
    return jnp.zeros(w.shape, jnp.float32)


@register
class Adam(Optimizer):
    """Adam with MXNet's folded bias correction::

        lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t);   g = clip(rs * grad + wd * w)
        m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2
        w = w - lr_t * m / (sqrt(v) + epsilon)
    """

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, lazy_update: bool = True, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lazy_update = lazy_update

    def _init_state(self, w: jax.Array) -> State:
        return (jnp.zeros_like(w), jnp.zeros_like(w))

    def _rule(self, w, g, state, lr, wd, t, glob):
        dt = w.dtype
        mean, var = state
        lr_t = lr * jnp.sqrt(one_minus_pow(self.beta2, t)) / one_minus_pow(self.beta1, t)
        b1, b2 = _f32(self.beta1), _f32(self.beta2)
        gr = self._kclip(g * self.rescale_grad + w * wd)
        mean = (b1 * mean + (1 - b1) * gr).astype(mean.dtype)
        var = (b2 * var + (1 - b2) * gr * gr).astype(var.dtype)
        new_w = w - lr_t * mean / (jnp.sqrt(var) + self.epsilon)
        return new_w.astype(dt), (mean, var), glob


@register
class AdaGrad(Optimizer):
    """AdaGrad: ``h += g^2;  w -= lr * (g / sqrt(h + eps) + wd * w)`` with g = clip(rs * grad)."""

    def __init__(self, eps: float = 1e-7, **kwargs: Any):
        super().__init__(**kwargs)
        self.float_stable_eps = eps

    def _init_state(self, w: jax.Array) -> State:
        return _zeros_f32(w)

    def _rule(self, w, g, history, lr, wd, t, glob):
        gr = self._pclip(g * self.rescale_grad)
        history = history + jnp.square(gr)
        div = gr / jnp.sqrt(history + self.float_stable_eps)
        return (w + (div + w * wd) * -lr).astype(w.dtype), history, glob


@register
class AdaDelta(Optimizer):
    """AdaDelta (Zeiler); the learning rate is not used::

        acc_g = rho * acc_g + (1 - rho) * g^2
        delta = sqrt(acc_delta + eps) / sqrt(acc_g + eps) * g
        acc_delta = rho * acc_delta + (1 - rho) * delta^2;   w -= delta + wd * w
    """

    def __init__(self, rho: float = 0.90, epsilon: float = 1e-5, **kwargs: Any):
        super().__init__(**kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def _init_state(self, w: jax.Array) -> State:
        return (_zeros_f32(w), _zeros_f32(w))

    def _rule(self, w, g, state, lr, wd, t, glob):
        acc_g, acc_delta = state
        gr = self._pclip(g * self.rescale_grad)
        acc_g = acc_g * self.rho + (1.0 - self.rho) * gr * gr
        delta = jnp.sqrt(acc_delta + self.epsilon) / jnp.sqrt(acc_g + self.epsilon) * gr
        acc_delta = acc_delta * self.rho + (1.0 - self.rho) * delta * delta
        return (w - (delta + wd * w)).astype(w.dtype), (acc_g, acc_delta), glob


@register
class RMSProp(Optimizer):
    """RMSProp (Tieleman & Hinton), or Graves' centered variant with ``centered=True``::

        g = clip(rs * grad + wd * w);  n = (1 - g1) * g^2 + g1 * n
        w = w - lr * g / sqrt(n + eps)                                   # not centered
        gm = (1 - g1) * g + g1 * gm;  delta = g2 * delta - lr * g / sqrt(n - gm^2 + eps)
        w = w + delta                                                    # centered
    then ``clip_weights`` clamps the weight when set.
    """

    def __init__(self, learning_rate: float = 0.001, gamma1: float = 0.9, gamma2: float = 0.9,
                 epsilon: float = 1e-8, centered: bool = False, clip_weights: float | None = None,
                 **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.gamma1 = gamma1
        self.gamma2 = gamma2
        self.centered = centered
        self.epsilon = epsilon
        self.clip_weights = clip_weights

    def _init_state(self, w: jax.Array) -> State:
        if self.centered:
            return (_zeros_f32(w), _zeros_f32(w), _zeros_f32(w))
        return (_zeros_f32(w),)

    def _rule(self, w, g, state, lr, wd, t, glob):
        dt = w.dtype
        g1 = _f32(self.gamma1)
        gr = self._kclip(self.rescale_grad * g + wd * w)
        if not self.centered:
            (n,) = state
            n = (1 - g1) * (gr * gr) + g1 * n
            new_w = w - lr * (gr / jnp.sqrt(n + self.epsilon))
            new_state: State = (n,)
        else:
            n, gm, delta = state
            n = (1 - g1) * gr * gr + g1 * n
            gm = (1 - g1) * gr + g1 * gm
            delta = _f32(self.gamma2) * delta - lr * gr / jnp.sqrt(n - gm * gm + self.epsilon)
            new_w = w + delta
            new_state = (n, gm, delta)
        cw = self.clip_weights
        if cw and cw >= 0:
            new_w = jnp.clip(new_w, -cw, cw)
        return new_w.astype(dt), new_state, glob


@register
class Ftrl(Optimizer):
    """FTRL-proximal (McMahan et al.), MXNet's ``ftrl_update`` kernel::

        g = clip(rs * grad);  z += g - (sqrt(n + g^2) - sqrt(n)) * w / lr;  n += g^2
        w = (sign(z) * lamda1 - z) / ((beta + sqrt(n)) / lr + wd) * (|z| > lamda1)
    """

    def __init__(self, lamda1: float = 0.01, learning_rate: float = 0.1, beta: float = 1,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.lamda1 = lamda1
        self.beta = beta
        self.lr = learning_rate

    def _init_state(self, w: jax.Array) -> State:
        return (_zeros_f32(w), _zeros_f32(w))

    def _rule(self, w, g, state, lr, wd, t, glob):
        z, n = state
        gr = self._kclip(g * self.rescale_grad)
        z = z + gr - (jnp.sqrt(n + gr * gr) - jnp.sqrt(n)) * w / lr
        n = n + gr * gr
        new_w = ((jnp.sign(z) * self.lamda1 - z) / ((self.beta + jnp.sqrt(n)) / lr + wd)
                 * (jnp.abs(z) > self.lamda1))
        return new_w.astype(w.dtype), (z, n), glob


@register
class Adamax(Optimizer):
    """AdaMax (Adam with the infinity norm)::

        g = clip(rs * grad + wd * w);  m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, |g|);       w -= lr / (1 - beta1^t) * m / u
    """

    def __init__(self, learning_rate: float = 0.002, beta1: float = 0.9, beta2: float = 0.999,
                 **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2

    def _init_state(self, w: jax.Array) -> State:
        return (jnp.zeros_like(w), jnp.zeros_like(w))

    def _rule(self, w, g, state, lr, wd, t, glob):
        m, u = state
        lr_t = lr / one_minus_pow(self.beta1, t)
        gr = self._pclip(g * self.rescale_grad + wd * w)
        m = m * self.beta1 + (1.0 - self.beta1) * gr
        u = jnp.maximum(self.beta2 * u, jnp.abs(gr))
        return (w - lr_t * m / u).astype(w.dtype), (m, u), glob


@register
class Nadam(Optimizer):
    """Nesterov Adam (Dozat). ``m_schedule`` is optimizer-global, multiplied by mu_t at EVERY
    parameter update (MXNet's quirk), so the optax face threads it through the parameters in
    ``param_names`` order."""

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, schedule_decay: float = 0.004, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.schedule_decay = schedule_decay

    @property
    def m_schedule(self) -> float:
        return float(self._classic_glob()["m_schedule"])

    @m_schedule.setter
    def m_schedule(self, value: float) -> None:
        self._glob = {"m_schedule": jnp.float32(value)}

    def _init_glob(self) -> dict:
        return {"m_schedule": jnp.float32(1.0)}

    def _init_state(self, w: jax.Array) -> State:
        return (jnp.zeros_like(w), jnp.zeros_like(w))

    def _momentum(self, t: Any) -> jax.Array:
        power = jnp.exp(jnp.asarray(t, jnp.float32) * (self.schedule_decay * math.log(0.96)))
        return self.beta1 * (1.0 - 0.5 * power)

    def _rule(self, w, g, state, lr, wd, t, glob):
        m_t, v_t = state
        gr = self._pclip(g * self.rescale_grad + wd * w)
        mom_t, mom_t1 = self._momentum(t), self._momentum(jnp.asarray(t) + 1)
        m_schedule = glob["m_schedule"] * mom_t
        m_schedule_next = m_schedule * mom_t1
        m_t = m_t * self.beta1 + (1.0 - self.beta1) * gr
        v_t = v_t * self.beta2 + (1.0 - self.beta2) * gr * gr
        grad_prime = gr / (1.0 - m_schedule)
        m_t_prime = m_t / (1.0 - m_schedule_next)
        v_t_prime = v_t / one_minus_pow(self.beta2, t)
        m_t_bar = (1.0 - mom_t) * grad_prime + mom_t1 * m_t_prime
        new_w = w - lr * m_t_bar / (jnp.sqrt(v_t_prime) + self.epsilon)
        glob = {**glob, "m_schedule": m_schedule.astype(jnp.float32)}
        return new_w.astype(w.dtype), (m_t.astype(w.dtype), v_t.astype(w.dtype)), glob


@register
class FTML(Optimizer):
    """Follow the moving leader (Zheng & Kwok), MXNet's ``ftml_update`` kernel::

        g = clip(rs * grad + wd * w);   v = beta2 * v + (1 - beta2) * g^2
        d_t = (1 - beta1^t) / lr * (sqrt(v / (1 - beta2^t)) + eps)
        z = beta1 * z + (1 - beta1) * g - (d_t - beta1 * d_{t-1}) * w;   w = -z / d_t
    """

    def __init__(self, beta1: float = 0.6, beta2: float = 0.999, epsilon: float = 1e-8,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon

    def _init_state(self, w: jax.Array) -> State:
        return (jnp.zeros_like(w), jnp.zeros_like(w), jnp.zeros_like(w))

    def _rule(self, w, g, state, lr, wd, t, glob):
        dt = w.dtype
        d, v, z = state
        b1, b2 = _f32(self.beta1), _f32(self.beta2)
        tf = jnp.asarray(t, jnp.float32)
        gr = self._kclip(self.rescale_grad * g + wd * w)
        v = b2 * v + (1 - b2) * jnp.square(gr)
        # the kernel computes these powers in float32, so do we
        d_t = (1 - jnp.power(b1, tf)) / lr * (jnp.sqrt(v / (1 - jnp.power(b2, tf)))
                                              + _f32(self.epsilon))
        z = b1 * z + (1 - b1) * gr - (d_t - b1 * d) * w
        return (-z / d_t).astype(dt), (d_t.astype(dt), v.astype(dt), z.astype(dt)), glob
