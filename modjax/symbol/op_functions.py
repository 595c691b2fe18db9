"""``mx.sym.<Op>`` functions, generated from the operator registry."""
from __future__ import annotations

from typing import Any, Callable

from ..ops.namespaces import install_op_namespaces
from ..ops.registry import all_ops, split_positional
from .symbol import Symbol, make_op

__all__ = ["symbol_function", "install"]


def symbol_function(op_name: str, py_name: str) -> Callable[..., Symbol]:
    """The ``mx.sym.<py_name>`` builder; unnamed nodes are named after ``py_name.lower()``."""
    hint = py_name.lower()

    op = all_ops()[op_name]

    def fn(*args: Any, **kwargs: Any) -> Symbol:
        args, kwargs = split_positional(op, args, lambda a: isinstance(a, Symbol), kwargs)
        return make_op(op_name, hint, args, kwargs)

    fn.__name__ = py_name
    fn.__doc__ = all_ops()[op_name].doc
    return fn


def install(namespace: dict[str, Any]) -> None:
    """Add the Python-level helpers (``zeros``, ``maximum``, ``arange``, ...), a builder for every
    registered operator name that the namespace lacks, and the namespaces ``random`` (MXNet's
    sampler front ends), ``_internal`` and ``op`` (every operator, as in MXNet)."""
    from .sym_functions import install as install_helpers
    install_helpers(namespace)

    def arange(start: Any, stop: Any = None, step: float = 1.0, repeat: int = 1,
               infer_range: bool = False, name: str | None = None, dtype: Any = None) -> Symbol:
        """An ``_arange`` node: [start, stop) by step, each value ``repeat`` times."""
        return make_op("_arange", "_arange", [], dict(
            start=start, stop=stop, step=step, repeat=repeat, infer_range=infer_range,
            name=name, dtype=dtype or "float32"))

    namespace.setdefault("arange", arange)
    install_op_namespaces(namespace, symbol_function,
                          lambda op, hint, ins, kw: make_op(op, hint, ins, kw),
                          lambda a: isinstance(a, Symbol), eager=False)
