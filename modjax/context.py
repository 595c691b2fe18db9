"""Devices: ``mx.cpu()``, ``mx.gpu(i)``, ``mx.tpu(i)`` mapped onto JAX devices."""
from __future__ import annotations

import threading
from typing import Any

import jax

from .base import MXNetError

__all__ = ["Context", "cpu", "gpu", "tpu", "cpu_pinned", "current_context", "num_gpus", "num_tpus"]

_JAX_PLATFORM = {"cpu": "cpu", "gpu": "gpu", "tpu": "tpu", "cpu_pinned": "cpu", "cpu_shared": "cpu"}


class Context:
    """A device, as MXNet names it: ``Context('gpu', 1)`` is the second GPU.

    ``devtype2str``/``devstr2type`` carry MXNet's numeric codes (cpu=1, gpu=2, cpu_pinned=3,
    cpu_shared=5), which the ``.params`` format stores.
    """

    devtype2str = {1: "cpu", 2: "gpu", 3: "cpu_pinned", 5: "cpu_shared", 6: "tpu"}
    devstr2type = {v: k for k, v in devtype2str.items()}
    _default = threading.local()

    def __init__(self, device_type: "str | Context", device_id: int = 0):
        if isinstance(device_type, Context):
            self.device_typeid, self.device_id = device_type.device_typeid, device_type.device_id
        else:
            if device_type not in self.devstr2type:
                raise MXNetError(f"unknown device type {device_type!r}; expected one of "
                                 f"{sorted(self.devstr2type)}")
            self.device_typeid = self.devstr2type[device_type]
            self.device_id = int(device_id)
        self._old_ctx: Context | None = None

    @property
    def device_type(self) -> str:
        return self.devtype2str[self.device_typeid]

    def __hash__(self) -> int:
        return hash((self.device_typeid, self.device_id))

    def __eq__(self, other: Any) -> bool:
        return (isinstance(other, Context) and self.device_typeid == other.device_typeid
                and self.device_id == other.device_id)

    def __repr__(self) -> str:
        return f"{self.device_type}({self.device_id})"

    __str__ = __repr__

    def __enter__(self) -> "Context":
        self._old_ctx = current_context()
        Context._default.value = self
        return self

    def __exit__(self, *exc: Any) -> None:
        Context._default.value = self._old_ctx

    @property
    def jax_device(self) -> jax.Device:
        """The JAX device this context names; a clear error if the machine has none such."""
        platform = _JAX_PLATFORM[self.device_type]
        try:  # this process's devices (in a multi-process job, jax.devices() spans every process)
            devices = jax.local_devices(backend=platform)
        except RuntimeError:
            devices = []
        if self.device_id >= len(devices) or self.device_id < 0:
            raise MXNetError(f"device {self} is not available: this machine has {len(devices)} "
                             f"{platform} device(s) visible to JAX (jax.devices()={jax.devices()})")
        return devices[self.device_id]

    def empty_cache(self) -> None:
        """Accepted for compatibility; XLA manages device memory itself."""


def cpu(device_id: int = 0) -> Context:
    """The CPU context (``device_id`` picks among fake host devices, if any)."""
    return Context("cpu", device_id)


def cpu_pinned(device_id: int = 0) -> Context:
    return Context("cpu_pinned", device_id)


def gpu(device_id: int = 0) -> Context:
    """The ``device_id``-th GPU; using it where JAX sees no GPU raises MXNetError."""
    return Context("gpu", device_id)


def tpu(device_id: int = 0) -> Context:
    return Context("tpu", device_id)


def current_context() -> Context:
    """The context of ``with ctx:``, else ``cpu(0)``."""
    ctx = getattr(Context._default, "value", None)
    return ctx if ctx is not None else Context("cpu", 0)


def _count(platform: str) -> int:
    try:
        return len(jax.local_devices(backend=platform))
    except RuntimeError:
        return 0


def num_gpus() -> int:
    return _count("gpu")


def num_tpus() -> int:
    return _count("tpu")


def context_of_device(device: jax.Device) -> Context:
    """The Context naming a JAX device."""
    platform = device.platform
    kind = "gpu" if platform in ("gpu", "cuda", "rocm") else platform
    if kind not in Context.devstr2type:
        kind = "cpu"
    same = [d for d in jax.local_devices(backend=device.platform)]
    return Context(kind, same.index(device) if device in same else 0)
