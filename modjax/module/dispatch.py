"""How a Module dispatches work: ahead-of-time compiles, K steps per dispatch, in-flight bound."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ..random import next_key

__all__ = ["DispatchMixin"]


class DispatchMixin:
    """precompile, steps_per_dispatch and the bound on queued steps for
    :class:`~modjax.module.Module`."""

    @property
    def load_count(self) -> int:
        """How many executables this module loaded from the on-disk executable store instead of
        compiling them (see :mod:`.exec_store`; a load is not counted in ``compile_count``)."""
        return self._execs.load_count

    def precompile(self) -> int:
        """Compile, now, the executables this module will run at its bound shapes (the fused
        train step when an optimizer is set, and the inference forward); returns how many were
        new. Nothing runs; later calls with these shapes never compile."""
        self._require(binded=True, params=True, what="precompile")
        state = self._state
        spec = lambda tree: jax.tree_util.tree_map(  # noqa: E731
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)
        inputs = {n: jax.ShapeDtypeStruct(tuple(s), self._input_types[n])
                  for n, s in self._input_shapes.items()}
        key = jax.ShapeDtypeStruct((), jax.random.key(0).dtype) if self._graph.needs_key else None
        before = self._execs.compile_count
        self._forward_exe(False, (spec(state.params), spec(state.aux), inputs, key))
        if self.for_training and self.optimizer_initialized and state.tx is not None and self._trainable:
            metric_key, metric_stats = self._metric_part()
            sums = None if metric_stats is None else \
                jax.ShapeDtypeStruct((metric_stats.size,), jnp.int32)
            self._train_step_exe((spec(state.params), spec(state.aux), spec(state.opt_state), inputs,
                                  key, sums), metric_key, metric_stats)
        return self._execs.compile_count - before

    def _steps_batchable(self) -> bool:
        """Whether training steps can run as fused steps inside one executable: an optax-style
        optimizer, every output a loss head (no head gradients to wait for), no
        ``grad_req='add'`` sums and no monitor looking between steps."""
        return (self._state.tx is not None and all(self._graph.loss_heads)
                and not any(r == "add" for r in self._grad_req.values()) and self._monitor is None)

    def _bound_inflight(self, outputs: list) -> None:
        """Keep at most ``config.max_inflight`` steps queued: XLA's in-process collectives on a
        CPU mesh deadlock under an unbounded queue, and on accelerators it bounds host memory."""
        from .. import config
        if not outputs:
            return
        self._inflight.append(outputs[0])
        while len(self._inflight) > config.max_inflight:
            self._inflight.popleft().block_until_ready()

    def _fit_steps(self, batches: list) -> Any:
        """Train on consecutive same-shape batches as ONE ``lax.scan`` executable; yields each
        batch after making its step's outputs current (for update_metric)."""
        state = self._state
        if len(batches) < 2 or not self._steps_batchable():
            for batch in batches:
                self.forward_backward(batch)
                self.update()
                yield batch
            return
        self._materialize()
        per_step = []
        for batch in batches:
            self._load_batch(batch, True)
            per_step.append(dict(self._inputs))
        stacked = {n: self._placement.put_batch(
            jnp.stack([step[n] for step in per_step]),
            self._batch_axes[n] + 1 if self._batch_axes[n] >= 0 else -1) for n in per_step[0]}
        keys = jnp.stack([next_key() for _ in batches]) if self._graph.needs_key else None
        state.sync_learning_rate()
        args = (state.params, state.aux, state.opt_state, stacked, keys)
        trainable, step, fns = self._trainable, state.tx.step, self._fns
        exe_key = ("train_steps", len(batches), self._inputs_key, state.layout_key, trainable,
                   state.tx_version)
        # the program closes over what it runs, not self: the executable store keys it by that
        exe = self._execs.get(exe_key, lambda: jax.jit(
            lambda p, a, o, i, k, trainable: fns.train_steps(step, p, a, o, i, k, trainable),
            static_argnames="trainable", donate_argnums=(0, 1, 2)), args + (trainable,))
        state.params, state.aux, state.opt_state, outs = exe(*args)
        self._pending, self._grads = None, {}
        self._bound_inflight(outs[-1])
        for k, batch in enumerate(batches):
            self._outputs = outs[k]
            yield batch
