"""MXNet's fluent methods: ``x.reshape(...)``, ``s.sum(axis=1)``, ... on NDArray and Symbol.

Each calls the registered operator of the same name with the array or symbol as first input.
"""
from __future__ import annotations

from typing import Any, Callable

from .registry import find_op

__all__ = ["FLUENT_METHODS", "install_fluent"]

# the operator-backed methods MXNet 1.9.1 defines on both NDArray and Symbol
FLUENT_METHODS = (
    "abs", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "argmax", "argmax_channel",
    "argmin", "argsort", "broadcast_axes", "broadcast_like", "broadcast_to", "cbrt", "ceil", "clip",
    "cos", "cosh", "degrees", "depth_to_space", "diag", "exp", "expand_dims", "expm1", "fix",
    "flatten", "flip", "floor", "log", "log10", "log1p", "log2", "log_softmax", "max", "mean", "min",
    "nanprod", "nansum", "norm", "one_hot", "ones_like", "pad", "pick", "prod", "radians", "rcbrt",
    "reciprocal", "relu", "repeat", "reshape", "reshape_like", "rint", "round", "rsqrt",
    "shape_array", "sigmoid", "sign", "sin", "sinh", "size_array", "slice", "slice_axis",
    "slice_like", "softmax", "softmin", "sort", "space_to_depth", "split", "split_v2", "sqrt",
    "square", "squeeze", "sum", "swapaxes", "take", "tan", "tanh", "tile", "topk", "transpose",
    "trunc", "zeros_like", "astype", "slice_assign", "slice_assign_scalar",
)

_OP_OF = {"astype": "Cast", "slice_assign": "_slice_assign",
          "slice_assign_scalar": "_slice_assign_scalar"}


def _method(op_name: str, call: Callable[..., Any], py_name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if py_name == "astype" and args:
            kwargs["dtype"], args = args[0], args[1:]
        return call(op_name, (self, *args), kwargs)
    method.__name__ = py_name
    method.__doc__ = f"``{op_name}`` with this object as its first input."
    return method


def install_fluent(cls: type, call: Callable[[str, tuple, dict], Any]) -> None:
    """Give ``cls`` every fluent method it lacks whose operator is registered;
    ``call(op_name, args, kwargs)`` runs (nd) or builds (sym) the operator."""
    for name in FLUENT_METHODS:
        op_name = _OP_OF.get(name, name)
        if name in cls.__dict__ or find_op(op_name) is None:
            continue
        setattr(cls, name, _method(op_name, call, name))
