"""MXNet's KVStore (``mx.kv``): a key-value store of arrays that sums what workers push.

``create(name)`` knows MXNet's types. ``local`` and ``device`` (and MXNet's ``local_*`` variants
and ``nccl``) are single-process stores; ``dist_sync``, ``dist_device_sync`` (and ``dist``) join
the multi-process job (:func:`modjax.distributed.initialize`) and all-reduce pushes across
processes. ``dist_async`` is refused: asynchronous parameter-server updates have no JAX
counterpart. Values live on the host's default device, so this store is for the imperative API;
a Module given a kvstore all-reduces its gradients inside its compiled step instead (XLA
collectives over a mesh of every process's devices) and only takes the type from it.

Semantics, as MXNet's: keys are ints or strs (not mixed); ``init`` stores a copy (process 0's
value in a multi-process job); ``push`` sums a value or a list of values (one per device) and,
across processes, over every process; with an optimizer set (``set_optimizer``) the sum is applied
to the stored value by MXNet's updater, else it replaces it; ``pull`` copies the stored value into
``out`` (an NDArray or a list). ``row_sparse_pull`` has dense semantics: ``out`` receives the rows
in ``row_ids`` and zeros elsewhere (the dense view of MXNet's row-sparse result).
``set_gradient_compression`` is accepted (for device and dist types, as MXNet) with a warning and
does nothing: gradients travel uncompressed.
"""
from __future__ import annotations

import logging
import warnings
from typing import Any, Callable

import jax.numpy as jnp
import numpy as np

from . import distributed
from .base import MXNetError
from .ndarray.ndarray import NDArray

__all__ = ["KVStore", "KVStoreBase", "create", "KNOWN_TYPES", "UnknownKVStoreError"]

#: Single-process types (MXNet's names; all behave the same here).
LOCAL_TYPES = ("local", "device", "nccl", "local_update_cpu", "local_allreduce_cpu",
               "local_allreduce_device")
#: Synchronous multi-process types.
DIST_SYNC_TYPES = ("dist_sync", "dist_device_sync", "dist_sync_device", "dist")
KNOWN_TYPES = LOCAL_TYPES + DIST_SYNC_TYPES
_REFUSED = {
    "dist_async": "asynchronous parameter-server updates have no JAX counterpart (every step "
                  "is one SPMD program whose gradients are all-reduced); use 'dist_sync'. Note "
                  "that MXNet scales rescale_grad by the local batch only for dist_async, so "
                  "learning rates tuned for it may need adjusting",
    "dist_device_async": "asynchronous updates have no JAX counterpart; use 'dist_device_sync'",
    "horovod": "modjax all-reduces gradients itself; use 'dist_sync' (Horovod is not used)",
    "byteps": "modjax all-reduces gradients itself; use 'dist_sync' (BytePS is not used)",
}
_COMPRESSION_TYPES = ("2bit", "1bit")


class UnknownKVStoreError(MXNetError, ValueError):
    """A kvstore type modjax does not know or does not support."""


def _check_type(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError("name must be a string")
    name = name.lower()
    if name in _REFUSED:
        raise UnknownKVStoreError(f"kvstore '{name}' is not supported: {_REFUSED[name]}")
    if name not in KNOWN_TYPES:
        raise UnknownKVStoreError(f"unknown kvstore type '{name}'; known types: "
                                  f"{', '.join(KNOWN_TYPES)}")
    return name


def is_dist(kv_type: str) -> bool:
    return kv_type.startswith("dist")


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _value(x: Any) -> Any:
    if isinstance(x, NDArray):
        return x._data
    if hasattr(x, "shape"):
        return jnp.asarray(x)
    raise MXNetError(f"kvstore: values must be NDArrays, got {type(x).__name__}")


class KVStoreBase:
    """MXNet's KVStoreBase: the capability names."""

    OPTIMIZER = "optimizer"


class KVStore(KVStoreBase):
    """A key-value store (see the module docstring); build it with :func:`create`."""

    def __init__(self, kv_type: str = "local"):
        self._type = _check_type(kv_type)
        self._store: dict[Any, NDArray] = {}
        self._key_type: type | None = None
        self._updater: Callable | None = None
        self._optimizer: Any = None
        self._compression: dict | None = None
        if is_dist(self._type):
            distributed.initialize(required=False)

    # -- properties ----------------------------------------------------------------------------
    @property
    def type(self) -> str:
        return self._type

    @property
    def rank(self) -> int:
        """This worker's index (``jax.process_index()``)."""
        return distributed.process_index() if is_dist(self._type) else 0

    @property
    def num_workers(self) -> int:
        """How many workers (``jax.process_count()``) train together."""
        return distributed.process_count() if is_dist(self._type) else 1

    def is_capable(self, capability: str) -> bool:
        if capability.lower() == self.OPTIMIZER:
            return True
        raise MXNetError(f"Unknown capability: {capability}")

    # -- keys ------------------------------------------------------------------------------------
    def _keys(self, key: Any, values: Any, what: str) -> list[tuple[Any, Any]]:
        """(key, values) pairs; a list of keys takes a list of values (each may be a list)."""
        if isinstance(key, (list, tuple)):
            if values is not None and len(key) != len(_as_list(values)):
                raise MXNetError(f"{what}: {len(key)} keys but {len(_as_list(values))} values")
            pairs = list(zip(key, _as_list(values) if values is not None else [None] * len(key)))
        else:
            pairs = [(key, values)]
        for k, _ in pairs:
            if not isinstance(k, (int, np.integer, str)):
                raise MXNetError(f"{what}: keys must be int or str, got {type(k).__name__}")
            kind = str if isinstance(k, str) else int
            if self._key_type is None:
                self._key_type = kind
            elif self._key_type is not kind:
                raise MXNetError(f"{what}: mixed key types are not allowed (the store uses "
                                 f"{self._key_type.__name__} keys, got {k!r})")
        return [(k if isinstance(k, str) else int(k), v) for k, v in pairs]

    def _stored(self, key: Any, what: str) -> NDArray:
        if key not in self._store:
            raise MXNetError(f"{what}: key {key!r} has not been inited")
        return self._store[key]

    # -- API -------------------------------------------------------------------------------------
    def init(self, key: Any, value: Any) -> None:
        """Store initial values (in a multi-process job, process 0's)."""
        for k, v in self._keys(key, value, "init"):
            if k in self._store:
                raise MXNetError(f"duplicate init of key {k!r}. Please double check if you called "
                                 "kv.init or kv.broadcast with this key multiple times")
            x = _value(_as_list(v)[0])
            if self.num_workers > 1:
                from jax.experimental import multihost_utils
                x = jnp.asarray(multihost_utils.broadcast_one_to_all(np.asarray(x)))
            self._store[k] = NDArray(x)

    def _merge(self, values: Any) -> Any:
        parts = [_value(v) for v in _as_list(values)]
        total = parts[0]
        for p in parts[1:]:
            if p.shape != total.shape:
                raise MXNetError(f"push: values of one key have shapes {total.shape} and {p.shape}")
            total = total + p
        if self.num_workers > 1:
            total = jnp.asarray(distributed.allgather(np.asarray(total)).sum(axis=0,
                                                                               dtype=total.dtype))
        return total

    def push(self, key: Any, value: Any, priority: int = 0) -> None:
        """Sum the values pushed for each key (over devices and processes); update the stored
        value with the optimizer if one is set, else replace it."""
        for k, v in self._keys(key, value, "push"):
            stored = self._stored(k, "push")
            merged = self._merge(v)
            if tuple(merged.shape) != stored.shape:
                raise MXNetError(f"push: key {k!r} holds shape {stored.shape}, pushed "
                                 f"{tuple(merged.shape)}")
            if self._updater is not None:
                self._updater(k, NDArray(merged.astype(stored._data.dtype)), stored)
            else:
                stored._set_data(merged)

    def pull(self, key: Any, out: Any = None, priority: int = 0, ignore_sparse: bool = True) -> None:
        """Copy each key's value into ``out`` (an NDArray or a list of them, one per device)."""
        if out is None:
            raise MXNetError("pull: out is required")
        for k, o in self._keys(key, out, "pull"):
            stored = self._stored(k, "pull")
            for target in _as_list(o):
                stored.copyto(target)

    def pushpull(self, key: Any, value: Any, out: Any = None, priority: int = 0) -> None:
        """``push`` then ``pull`` (into ``value`` itself when ``out`` is None)."""
        self.push(key, value, priority)
        self.pull(key, value if out is None else out, priority)

    def broadcast(self, key: Any, value: Any, out: Any, priority: int = 0) -> None:
        """``init`` then ``pull``."""
        self.init(key, value)
        self.pull(key, out, priority)

    def row_sparse_pull(self, key: Any, out: Any = None, priority: int = 0,
                        row_ids: Any = None) -> None:
        """Dense semantics: ``out`` gets the rows ``row_ids`` of the value, zeros elsewhere."""
        if out is None:
            raise MXNetError("row_sparse_pull: out is required")
        if row_ids is None:
            raise MXNetError("row_sparse_pull: row_ids is required")
        pairs = self._keys(key, out, "row_sparse_pull")
        ids_list = _as_list(row_ids) if isinstance(key, (list, tuple)) else [row_ids]
        if isinstance(key, (list, tuple)) and len(ids_list) != len(pairs):
            raise MXNetError("row_sparse_pull: give one row_ids per key")
        for (k, o), ids in zip(pairs, ids_list):
            value = self._stored(k, "row_sparse_pull")._data
            for target, rid in zip(_as_list(o), _as_list(ids) if isinstance(ids, list) else
                                   [ids] * len(_as_list(o))):
                rows = jnp.asarray(_value(rid) if isinstance(rid, NDArray) else np.asarray(rid),
                                   jnp.int32).reshape(-1)
                mask = jnp.zeros((value.shape[0],), bool).at[rows].set(True)
                dense = jnp.where(mask.reshape((-1,) + (1,) * (value.ndim - 1)), value, 0)
                NDArray(dense.astype(value.dtype)).copyto(target)

    def set_gradient_compression(self, compression_params: dict) -> None:
        """Accepted and ignored (with a warning): gradients are not compressed."""
        if not (self._type in ("device", "nccl", "local_allreduce_device") or is_dist(self._type)):
            raise MXNetError("Gradient compression is not supported for this type of kvstore")
        params = dict(compression_params or {})
        if "type" not in params:
            raise MXNetError("set_gradient_compression: Required parameter type of string is "
                             "not presented")
        if params["type"] not in _COMPRESSION_TYPES:
            raise MXNetError(f"Unknown type for gradient compression {params['type']}")
        warnings.warn("set_gradient_compression is accepted but has no effect in modjax: "
                      "gradients are all-reduced uncompressed", stacklevel=2)
        self._compression = params

    def set_optimizer(self, optimizer: Any) -> None:
        """Apply ``optimizer`` to pushed values (MXNet's update_on_kvstore)."""
        from .optimizer import Optimizer, get_updater
        if not isinstance(optimizer, Optimizer):
            raise MXNetError(f"set_optimizer: expected an mx.optimizer.Optimizer, got "
                             f"{type(optimizer).__name__}")
        self._optimizer = optimizer
        self._updater = get_updater(optimizer)

    def _set_updater(self, updater: Callable) -> None:
        """MXNet's private hook: ``updater(key, merged_value, stored_value)`` on push."""
        self._updater = updater

    def save_optimizer_states(self, fname: str, dump_optimizer: bool = False) -> None:
        """Write the updater's states (modjax's safe format); process 0 only in a job."""
        if self._updater is None or not hasattr(self._updater, "get_states"):
            raise MXNetError("Cannot save states for distributed training: no optimizer is set "
                             "on this kvstore (set_optimizer)")
        from .base import atomic_write
        data = self._updater.get_states(dump_optimizer)
        with distributed.single_writer("modjax_kv_states") as write:
            if write:
                atomic_write(fname, data)

    def load_optimizer_states(self, fname: str) -> None:
        if self._updater is None or not hasattr(self._updater, "set_states"):
            raise MXNetError("Cannot load states for distributed training: no optimizer is set "
                             "on this kvstore (set_optimizer)")
        try:
            with open(fname, "rb") as f:
                data = f.read()
        except OSError as err:
            raise MXNetError(f"cannot read optimizer states file '{fname}': {err.strerror}") from None
        self._updater.set_states(data)

    def barrier(self) -> None:
        """Every worker waits for the others (``multihost_utils.sync_global_devices``)."""
        distributed.barrier("modjax_kv_barrier")

    _barrier = barrier

    def __repr__(self) -> str:
        return f"<KVStore {self._type} rank={self.rank} num_workers={self.num_workers}>"


def create(name: str = "local") -> KVStore:
    """A new KVStore of type ``name`` (see :data:`KNOWN_TYPES`; 'dist_async' is refused)."""
    return KVStore(name)


def for_module(kvstore: Any, multi_process: bool, logger: Any = logging) -> tuple[Any, int]:
    """``(kvstore object or None, num_workers)`` for ``Module.init_optimizer``.

    ``None``/'local'/'device' on one process are no-ops; a dist type joins the job (which must
    already hold the module's mesh: see :mod:`modjax.distributed`)."""
    if kvstore is None:
        kv = None
    elif isinstance(kvstore, KVStore):
        kv = kvstore
    elif isinstance(kvstore, str):
        kv_type = _check_type(kvstore)
        kv = KVStore(kv_type) if is_dist(kv_type) else None
    else:
        raise TypeError("kvstore must be KVStore, str or None")
    dist = kv is not None and is_dist(kv.type)
    if dist and distributed.process_count() > 1 and not multi_process:
        raise MXNetError(f"kvstore '{kv.type}': this module's devices are in this process only; "
                         "it was built before the job was joined. Call mx.kv.create('dist_sync') "
                         "(or mx.distributed.initialize()) before building the module")
    if multi_process and not dist:
        logger.warning("kvstore=%r in a job of %d processes: the module's mesh spans every "
                       "process, so it trains as with 'dist_sync'", getattr(kv, "type", kv),
                       distributed.process_count())
    return kv, distributed.process_count() if multi_process else 1
