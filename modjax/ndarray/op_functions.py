"""``mx.nd.<Op>`` functions: the registry's operators run eagerly on NDArrays."""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..base import MXNetError
from ..ops.params import attr_str
from ..ops.namespaces import install_op_namespaces
from ..ops.registry import OpCtx, all_ops, get_op, split_positional
from ..random import next_key
from .ndarray import NDArray

__all__ = ["invoke", "ndarray_function", "install"]


def invoke(op_name: str, args: tuple, kwargs: dict[str, Any]) -> NDArray | list[NDArray]:
    """Run one operator on NDArrays: inputs by position or by argument name, the rest params."""
    op = get_op(op_name)
    kwargs = dict(kwargs)
    out = kwargs.pop("out", None)
    kwargs.pop("name", None)
    is_train = bool(kwargs.pop("is_train", False))
    inputs_kw = {k: v for k, v in kwargs.items() if isinstance(v, NDArray)}
    str_params = {k: attr_str(v) for k, v in kwargs.items()
                  if k not in inputs_kw and not (k.startswith("__") and k.endswith("__"))}
    arrays = list(args)
    if op.varargs is not None and op.varargs in op.params and op.varargs not in str_params:
        str_params[op.varargs] = str(len(arrays))
    p = op.parse(str_params)
    n_aux = len(op.list_aux(p))
    names = op.list_arguments(p, len(arrays) if op.varargs else None) + op.list_aux(p)
    for key, value in inputs_kw.items():
        if key not in names:
            raise MXNetError(f"{op.name}: unknown input '{key}'; inputs are {names}")
        pos = names.index(key)
        while len(arrays) <= pos:
            arrays.append(None)
        arrays[pos] = value
    if op.varargs is None and (len(arrays) != len(names) or any(a is None for a in arrays)):
        missing = [n for i, n in enumerate(names) if i >= len(arrays) or arrays[i] is None]
        raise MXNetError(f"{op.name}: missing inputs {missing}; inputs are {names}")
    data = [a._data if isinstance(a, NDArray) else jnp.asarray(a) for a in arrays]
    n_args = len(data) - n_aux if op.varargs is None else len(data)
    key = next_key() if op.needs_key else None
    outs, _ = op.forward(p, data[:n_args], data[n_args:], OpCtx(is_train=is_train, key=key))
    ctx = next((a._ctx for a in arrays if isinstance(a, NDArray)), None)
    results = [NDArray(o, ctx) for o in outs]
    if out is not None:
        targets = out if isinstance(out, (list, tuple)) else [out]
        for t, r in zip(targets, results):
            t._set_data(r._data)
        return out
    return results[0] if len(results) == 1 else results


def ndarray_function(op_name: str, py_name: str) -> Callable[..., Any]:
    op = all_ops()[op_name]

    def fn(*args: Any, **kwargs: Any) -> Any:
        args, kwargs = split_positional(op, args, lambda a: isinstance(a, (NDArray, jax.Array, np.ndarray)),
                                        kwargs)
        return invoke(op_name, tuple(args), kwargs)
    fn.__name__ = py_name
    fn.__doc__ = all_ops()[op_name].doc
    return fn


def install(namespace: dict[str, Any]) -> None:
    """A function for every registered operator the namespace lacks, and the namespaces
    ``random`` (MXNet's sampler front ends), ``_internal`` and ``op`` (every operator)."""
    install_op_namespaces(namespace, ndarray_function,
                          lambda op, hint, ins, kw: invoke(op, tuple(ins), kw),
                          lambda a: isinstance(a, NDArray), eager=True)
