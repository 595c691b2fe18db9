"""Where a Module's arrays live: one device, or a data-parallel mesh over a context list.

With several contexts (``context=[mx.gpu(0), mx.gpu(1)]``, or fake CPU devices) the devices form
a ``jax.sharding.Mesh`` with one axis, ``data``: every batch is split along its batch axis (the
``N`` of its DataDesc layout), parameters, aux states and optimizer state are replicated, and XLA
inserts the gradient all-reduce. Across processes (``kvstore='dist_sync'``) the mesh spans every
process's devices and each process feeds its own share of the batch.
"""
from __future__ import annotations

from typing import Any, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from ..base import MXNetError, ShapeError

__all__ = ["Placement"]


class Placement:
    """The devices of a Module and the shardings of its arrays."""

    def __init__(self, devices: Sequence[Any]):
        self.devices = list(devices)
        if len(set(self.devices)) != len(self.devices):
            raise MXNetError(f"the context list names a device twice: {self.devices}")
        self.mesh = Mesh(np.array(self.devices), ("data",))
        self.replicated = NamedSharding(self.mesh, P())
        self.device_set = set(self.devices)

    @property
    def size(self) -> int:
        return len(self.devices)

    @property
    def multi_process(self) -> bool:
        return len({d.process_index for d in self.devices}) > 1

    @property
    def local_devices(self) -> list:
        return [d for d in self.devices if d.process_index == jax.process_index()]

    def batch_sharding(self, ndim: int, batch_axis: int) -> NamedSharding:
        """Split along ``batch_axis`` over the mesh (replicated for inputs without one)."""
        if batch_axis < 0 or self.size == 1:
            return self.replicated
        spec = [None] * ndim
        spec[batch_axis] = "data"
        return NamedSharding(self.mesh, P(*spec))

    def check_batch(self, name: str, shape: Sequence[int], batch_axis: int) -> None:
        if self.size > 1 and batch_axis >= 0 and shape[batch_axis] % self.size:
            raise ShapeError(f"input '{name}' has batch size {shape[batch_axis]} (axis {batch_axis}), "
                             f"which does not split evenly over {self.size} devices; use a batch "
                             f"size divisible by {self.size} (or pad the last batch: "
                             "NDArrayIter(last_batch_handle='pad'))")

    def put_replicated(self, x: Any) -> jax.Array:
        if isinstance(x, jax.Array) and x.sharding == self.replicated:
            return x
        if self.multi_process:
            from jax.experimental import multihost_utils
            return multihost_utils.host_local_array_to_global_array(np.asarray(x), self.mesh, P())
        return jax.device_put(x, self.replicated)

    def put_batch(self, x: Any, batch_axis: int) -> jax.Array:
        """A batch input as a global array split along ``batch_axis``; across processes ``x``
        is this process's share."""
        sharding = self.batch_sharding(np.ndim(x), batch_axis)
        if isinstance(x, jax.Array) and x.sharding == sharding:
            return x
        if self.multi_process:
            return jax.make_array_from_process_local_data(sharding, np.asarray(x))
        if self.size == 1 and isinstance(x, jax.Array) and x.sharding.device_set == self.device_set:
            return x
        return jax.device_put(x, sharding)

    def global_shape(self, shape: Sequence[int], batch_axis: int) -> tuple[int, ...]:
        """The global shape of an input whose per-process share has ``shape``."""
        shape = tuple(shape)
        if not self.multi_process or batch_axis < 0:
            return shape
        n_proc = len({d.process_index for d in self.devices})
        return shape[:batch_axis] + (shape[batch_axis] * n_proc,) + shape[batch_axis + 1:]

    def local_part(self, x: jax.Array, batch_axis: int = 0) -> np.ndarray:
        """This process's share of a batch-split global array, as numpy (all of it when the
        mesh is in one process)."""
        if not self.multi_process:
            return np.asarray(x)
        shards = sorted(x.addressable_shards, key=lambda s: s.index[batch_axis].start or 0)
        seen, parts = set(), []
        for s in shards:
            key = s.index[batch_axis].start
            if key not in seen:
                seen.add(key)
                parts.append(np.asarray(s.data))
        return np.concatenate(parts, axis=batch_axis)

    def per_device(self, x: jax.Array, batch_axis: int = 0) -> list[jax.Array]:
        """The slices of ``x`` on each (local) device, in device order."""
        if self.size == 1:
            return [x]
        by_device = {s.device: s.data for s in x.addressable_shards}
        return [by_device[d] for d in self.local_devices if d in by_device]
