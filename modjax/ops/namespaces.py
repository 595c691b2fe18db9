"""The operator namespaces that ``mx.nd`` and ``mx.sym`` both install from the registry."""
from __future__ import annotations

import types
from typing import Any, Callable

from .registry import all_ops

__all__ = ["install_op_namespaces"]


def install_op_namespaces(namespace: dict[str, Any], make_function: Callable[[str, str], Any],
                          run: Callable[..., Any], is_input: Callable[[Any], bool],
                          eager: bool) -> None:
    """Add ``make_function(name, name)`` for every registered operator the namespace lacks, and
    the namespaces ``_internal`` and ``op`` (every operator), ``contrib`` (MXNet's
    ``_contrib_`` operators, without the prefix) and ``random`` (MXNet's sampler front ends,
    built on ``run(op, hint, inputs, kwargs)``); namespaces already there are kept."""
    from .random_ops import frontend
    for name in all_ops():
        if name not in namespace:
            namespace[name] = make_function(name, name)
    every = {name: make_function(name, name) for name in all_ops()}
    namespace.setdefault("_internal", types.SimpleNamespace(**every))
    namespace.setdefault("op", types.SimpleNamespace(**every))
    namespace.setdefault("contrib", types.SimpleNamespace(**{  # MXNet's _contrib_ operators
        name[len("_contrib_"):]: every[name] for name in every if name.startswith("_contrib_")}))
    namespace.setdefault("random", frontend(run, is_input, eager=eager))
