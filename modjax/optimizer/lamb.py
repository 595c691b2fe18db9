"""LAMB (layer-wise adaptive moments), with MXNet 1.9.1's two-phase kernels."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .optimizer import Optimizer, State, register

__all__ = ["LAMB"]


@register
class LAMB(Optimizer):
    """LAMB::

        g = clip(rs * grad);  m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2
        u = m_hat / (sqrt(v_hat) + epsilon) + wd * w      (m_hat, v_hat bias-corrected if asked)
        r1 = clip(||w||, lower_bound, upper_bound);  r2 = ||u||
        w -= lr * (r1 / r2 if r1 and r2 are non-zero else 1) * u
    """

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-6, lower_bound: float | None = None,
                 upper_bound: float | None = None, bias_correction: bool = True, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.lower_bound, self.upper_bound = lower_bound, upper_bound
        self.bias_correction = bias_correction

    def _init_state(self, w: jax.Array) -> State:
        return (jnp.zeros_like(w), jnp.zeros_like(w))

    def _rule(self, w, g, state, lr, wd, t, glob):
        mean, var = state
        b1, b2 = np.float32(self.beta1), np.float32(self.beta2)
        gr = self._kclip(g * self.rescale_grad)
        mean = b1 * mean + (1 - b1) * gr
        var = b2 * var + (1 - b2) * gr * gr
        if self.bias_correction:
            tf = jnp.asarray(t, jnp.float32)
            m_hat = mean / (1 - jnp.power(b1, tf))
            v_hat = var / (1 - jnp.power(b2, tf))
            update = m_hat / (jnp.sqrt(v_hat) + self.epsilon) + wd * w
        else:
            update = mean / (jnp.sqrt(var) + self.epsilon) + wd * w
        r1 = jnp.linalg.norm(w.astype(jnp.float32).ravel())
        if self.lower_bound is not None and self.lower_bound >= 0:
            r1 = jnp.maximum(r1, self.lower_bound)
        if self.upper_bound is not None and self.upper_bound >= 0:
            r1 = jnp.minimum(r1, self.upper_bound)
        r2 = jnp.linalg.norm(update.astype(jnp.float32).ravel())
        ratio = jnp.where((r1 == 0) | (r2 == 0), 1.0, r1 / jnp.where(r2 == 0, 1.0, r2))
        new_w = w - lr * ratio * update
        return new_w.astype(w.dtype), (mean.astype(w.dtype), var.astype(w.dtype)), glob
