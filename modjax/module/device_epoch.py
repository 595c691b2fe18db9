"""fit's fast path: an epoch of an NDArrayIter in a few dispatches, with nothing per batch on
the host but the callbacks.

Every microsecond of Python per training step costs more than a microsecond: on a small CPU
host the interpreter takes a core from XLA's threads while the step runs. So when nothing
can observe the difference, fit trains ``K`` batches per dispatch: the module's fused step in
a ``lax.scan`` that gathers each batch from the iterator's device copy of the data, with the
metric's stats accumulated on the device (:mod:`.metric_fusion`). Each batch's
``batch_end_callback`` still runs, in order, and sees the metric exactly as after that batch.

Taken only when all of these hold (otherwise fit runs batch by batch, as MXNet does): the
data is an :class:`~modjax.io.NDArrayIter` with ``pad`` or ``discard``, the metric is fused,
the batch-end callbacks only read the metric (Speedometer, ProgressBar), there is no monitor,
no dropout-style randomness, one device, and the step is the fused one (loss heads, an
optax-style optimizer, no ``grad_req='add'``). ``steps_per_dispatch=1`` turns it off.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["DeviceEpochMixin", "DEFAULT_STEPS_PER_DISPATCH"]

#: Batches per dispatch on fit's fast path unless ``steps_per_dispatch`` says otherwise.
DEFAULT_STEPS_PER_DISPATCH = 16


def _metric_only(callbacks: Any) -> bool:
    """Whether every batch-end callback only reads the metric and the batch count."""
    from ..callback import ProgressBar, Speedometer
    items = callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]
    return all(c is None or type(c) in (Speedometer, ProgressBar) for c in items)


class DeviceEpochMixin:
    """:meth:`_device_epoch_plan` and :meth:`_run_device_epoch` for Module's ``fit``."""

    def _device_epoch_plan(self, train_data: Any, eval_metric: Any, batch_end_callback: Any,
                           monitor: Any, steps_per_dispatch: int | None,
                           sparse_row_id_fn: Any) -> tuple | None:
        """What the fast path needs for this epoch, or None when it does not apply."""
        from ..io.io import NDArrayIter
        if steps_per_dispatch == 1 or monitor is not None or sparse_row_id_fn is not None \
                or type(train_data) is not NDArrayIter or not _metric_only(batch_end_callback):
            return None
        if not self._steps_batchable() or not self._trainable \
                or self._graph.needs_key or len(self._context) != 1 \
                or self._placement.multi_process or self._fusion is None \
                or self._fusion[0] is not eval_metric \
                or self._fusion[1] != eval_metric._fusion_token():
            return None
        metric_key, packed = self._metric_part()
        if packed is None:
            return None
        epoch = train_data._device_epoch()
        if epoch is None:
            return None
        arrays, count, batches = epoch
        if set(arrays) != set(self._input_shapes):
            return None
        for name, (array, axis) in arrays.items():
            shape = list(array.shape)
            shape[axis] = train_data.batch_size
            if tuple(shape) != tuple(self._input_shapes[name]):
                return None
        per_dispatch = steps_per_dispatch or DEFAULT_STEPS_PER_DISPATCH
        return arrays, count, batches, train_data.batch_size, per_dispatch, metric_key, packed

    def _run_device_epoch(self, plan: tuple, train_data: Any, epoch: int, eval_metric: Any,
                          batch_end_callback: Any) -> int:
        """Train the epoch ``plan`` describes; returns the number of batches."""
        from ..model import BatchEndParam
        from .base_module import _call_callbacks
        arrays, count, batches, batch_size, per_dispatch, metric_key, packed = plan
        state = self._state
        sums = self._stats_accumulator(metric_key, packed)
        data = {name: array for name, (array, _) in arrays.items()}
        nbatch = 0
        for start in range(0, batches, per_dispatch):
            steps = min(per_dispatch, batches - start)
            state.sync_learning_rate()
            args = (state.params, state.aux, state.opt_state, sums.array, data, np.int32(start),
                    np.int32(steps))
            exe = self._epoch_exe(args, arrays, count, batch_size, per_dispatch, metric_key, packed)
            state.params, state.aux, state.opt_state, final, rows, outs = exe(*args)
            sums.grouped(final, rows)
            self._pending, self._grads, self._outputs, self._step_stats = None, {}, outs, None
            self._bound_inflight(outs)
            for _ in range(steps):
                sums.advance()
                eval_metric._defer_stats(sums)
                if batch_end_callback is not None:
                    _call_callbacks(batch_end_callback, BatchEndParam(
                        epoch=epoch, nbatch=nbatch, eval_metric=eval_metric, locals=locals()))
                nbatch += 1
        train_data._skip_batches(batches)
        return nbatch

    def _epoch_exe(self, args: tuple, arrays: dict, count: int, batch_size: int,
                   per_dispatch: int, metric_key: str, packed: Any) -> Any:
        state, trainable, fns = self._state, self._trainable, self._fns
        step = state.tx.step
        axes = {name: axis for name, (_, axis) in arrays.items()}
        types = dict(self._input_types)
        layout = tuple(sorted((n, tuple(a.shape), str(a.dtype), axes[n]) for n, (a, _) in arrays.items()))
        exe_key = ("train_epoch", per_dispatch, batch_size, layout, self._inputs_key,
                   state.layout_key, trainable, state.tx_version, metric_key)

        def chunk(p: dict, a: dict, o: Any, sums: jax.Array, data: dict, start: jax.Array,
                  steps: jax.Array, trainable: tuple) -> tuple:
            def batch(b: jax.Array) -> dict:
                rows = (b * batch_size + jnp.arange(batch_size)) % count
                return {n: jnp.take(x, rows, axis=axes[n]).astype(types[n]) for n, x in data.items()}

            def train(carry: tuple, b: jax.Array) -> tuple:
                p, a, o, sums, _ = carry
                inputs = batch(b)
                p, a, o, outs = fns.train_step(step, p, a, o, inputs, None, trainable)
                return p, a, o, sums + packed(inputs, outs), outs

            specs = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype),
                                           (p, a, o, sums))
            out_specs = jax.eval_shape(train, specs + (None,), jnp.int32(0))[4]
            outs0 = [jnp.zeros(s.shape, s.dtype) for s in out_specs]

            def body(carry: tuple, j: jax.Array) -> tuple:
                carry = jax.lax.cond(j < steps, lambda c: train(c, start + j), lambda c: c, carry)
                return carry, carry[3]
            (p, a, o, sums, outs), rows = jax.lax.scan(body, (p, a, o, sums, outs0),
                                                       jnp.arange(per_dispatch))
            return p, a, o, sums, rows, outs
        return self._execs.get(exe_key, lambda: jax.jit(chunk, static_argnames="trainable",
                                                        donate_argnums=(0, 1, 2)),
                               args + (trainable,))
