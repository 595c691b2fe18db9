"""``mx.monitor``: statistics of executor outputs, arguments and auxiliary states every N batches.

``Monitor.install(exe)`` registers a callback through ``exe.set_monitor_callback(cb, monitor_all)``;
the executor calls ``cb(name, NDArray)`` for the arrays it computes. ``toc()`` adds every
argument (``exe._symbol.list_arguments()`` with ``exe.arg_arrays``) and auxiliary state.
"""
from __future__ import annotations

import logging
import math
import re
from typing import Any, Callable

import jax.numpy as jnp
import numpy as np

from .ndarray.ndarray import NDArray

__all__ = ["Monitor"]


def _rms(x: NDArray) -> NDArray:
    """``norm(x) / sqrt(x.size)`` as a shape-(1,) NDArray (MXNet's default statistic)."""
    data = jnp.asarray(x._data)
    value = jnp.sqrt(jnp.sum(jnp.square(data.astype(jnp.float32)))) / math.sqrt(max(x.size, 1))
    return NDArray(value.astype(data.dtype if jnp.issubdtype(data.dtype, jnp.floating)
                                else jnp.float32).reshape((1,)), x._ctx)


def _stat_str(values: Any) -> str:
    """MXNet's formatting: scalars (shape (1,)) with ``str(asscalar())``, arrays with ``str``; tab-ended."""
    if not isinstance(values, (list, tuple)):
        values = [values]
    out = ""
    for v in values:
        arr = v.asnumpy() if isinstance(v, NDArray) else np.asarray(v)
        if arr.shape in ((1,), ()):
            out += str(arr.reshape(-1)[0]) + "\t"
        else:
            out += str(arr) + "\t"
    return out


def _names_and_arrays(exe: Any, which: str) -> list[tuple[str, Any]]:
    sym = getattr(exe, "_symbol", None)
    if which == "arg":
        arrays = list(getattr(exe, "arg_arrays", []))
        names = sym.list_arguments() if sym is not None else list(getattr(exe, "arg_dict", {}))
    else:
        arrays = list(getattr(exe, "aux_arrays", []))
        names = sym.list_auxiliary_states() if sym is not None else list(getattr(exe, "aux_dict", {}))
    return list(zip(names, arrays))


class Monitor:
    """Collects ``stat_func`` of the arrays whose names match ``pattern`` every ``interval`` batches.

    Call ``tic()`` before forward and ``toc()`` (or ``toc_print()``) after backward/update.
    """

    def __init__(self, interval: int, stat_func: Callable[[NDArray], Any] | None = None,
                 pattern: str = ".*", sort: bool = False, monitor_all: bool = False):
        self.stat_func = stat_func if stat_func is not None else _rms
        self.interval = interval
        self.activated = False
        self.queue: list[tuple[int, str, Any]] = []
        self.step = 0
        self.exes: list[Any] = []
        self.re_prog = re.compile(pattern)
        self.sort = sort
        self.monitor_all = monitor_all

        def stat_helper(name: Any, array: Any) -> None:
            """The executor callback: record a statistic while activated."""
            name = name.decode() if isinstance(name, bytes) else str(name)
            if not self.activated or not self.re_prog.match(name):
                return
            self.queue.append((self.step, name, self.stat_func(array)))
        self.stat_helper = stat_helper

    def install(self, exe: Any) -> None:
        """Register the callback on an executor (several executors may share one monitor)."""
        exe.set_monitor_callback(self.stat_helper, self.monitor_all)
        self.exes.append(exe)

    def tic(self) -> None:
        """Start collecting for this batch if ``step % interval == 0``; always advance ``step``."""
        if self.step % self.interval == 0:
            self.queue = []
            self.activated = True
        self.step += 1

    def toc(self) -> list[tuple[int, str, str]]:
        """Stop collecting; add arguments and auxiliary states; ``[(step, name, stat_str), ...]``."""
        if not self.activated:
            return []
        for exe in self.exes:
            for which in ("arg", "aux"):
                for name, array in _names_and_arrays(exe, which):
                    if self.re_prog.match(name):
                        self.queue.append((self.step, name, self.stat_func(array)))
        self.activated = False
        if self.sort:
            self.queue.sort(key=lambda x: x[1])
        res = [(n, k, _stat_str(v)) for n, k, v in self.queue]
        self.queue = []
        return res

    def toc_print(self) -> None:
        """``toc()`` and log each entry as ``Batch: <step> <name> <stat>``."""
        for n, k, v in self.toc():
            logging.info("Batch: {:7d} {:30s} {:s}".format(n, k, v))
