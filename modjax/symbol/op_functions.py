"""``mx.sym.<Op>`` functions, generated from the operator registry."""
from __future__ import annotations

from typing import Any, Callable

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
    """Add the Python-level helpers (``zeros``, ``maximum``, ...) and a builder for every
    registered operator name that the namespace lacks."""
    from .sym_functions import install as install_helpers
    install_helpers(namespace)
    for name in all_ops():
        if name not in namespace:
            namespace[name] = symbol_function(name, name)
