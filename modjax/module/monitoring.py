"""The bridge between ``mx.monitor.Monitor`` and a Module's compiled graph."""
from __future__ import annotations

from typing import Any, Callable

import jax

from ..ndarray.ndarray import NDArray
from ..symbol.lower import LoweredGraph

__all__ = ["MonitorAdapter"]


class MonitorAdapter:
    """Looks like an executor to ``Monitor.install``: when the monitor is active, a forward also
    evaluates every internal output (one extra jitted function) and reports each to the monitor."""

    def __init__(self, module: Any, monitor: Any):
        self._module = module
        self._monitor = monitor
        self._symbol = module.symbol
        self._callback: Callable | None = None
        self._monitor_all = False
        self._internals = LoweredGraph(module.symbol.get_internals())
        self._run = jax.jit(self._internals.run, static_argnames="is_train")

    def set_monitor_callback(self, callback: Callable[[str, NDArray], None], monitor_all: bool = False) -> None:
        self._callback, self._monitor_all = callback, monitor_all

    @property
    def arg_arrays(self) -> list[NDArray]:
        mod, state = self._module, self._module._state
        return [NDArray(state.params[n]) if n in state.params else NDArray(mod._inputs[n])
                for n in self._symbol.list_arguments()]

    @property
    def aux_arrays(self) -> list[NDArray]:
        return [NDArray(self._module._state.aux[n]) for n in self._symbol.list_auxiliary_states()]

    def after_forward(self, is_train: bool, key: Any) -> None:
        if self._callback is None or not getattr(self._monitor, "activated", True):
            return
        mod = self._module
        outs, _ = self._run({**mod._state.params, **mod._inputs}, mod._state.aux, key, is_train=is_train)
        for name, value in zip(self._internals.output_names, outs):
            if name in mod._inputs or name in mod._state.params:
                continue
            self._callback(name, NDArray(value))
