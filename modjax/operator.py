"""``mx.operator``: operators written in Python (MXNet's CustomOp API).

Subclass :class:`CustomOpProp` (names, shapes, types, the backward's dependencies) and
:class:`CustomOp` (forward and backward on NDArrays), register the prop with
``@mx.operator.register("name")`` and use it as ``mx.sym.Custom(*inputs, op_type="name", **kw)``
or ``mx.nd.Custom``. Inside a compiled graph the CustomOp runs on the host (``jax.pure_callback``);
see ``modjax/ops/custom.py``.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from .base import MXNetError

__all__ = ["CustomOp", "CustomOpProp", "register", "get_all_registered_operators",
           "get_registered_prop"]

_REQS = ("null", "write", "inplace", "add")


class CustomOp:
    """Base class of operators implemented in Python."""

    def __init__(self) -> None:
        pass

    def forward(self, is_train: bool, req: Sequence[str], in_data: list, out_data: list,
                aux: list) -> None:
        """Compute ``out_data`` from ``in_data`` (lists of NDArrays), writing with
        ``self.assign(out_data[i], req[i], value)``; ``aux`` may be updated in place."""

    def backward(self, req: Sequence[str], out_grad: list, in_data: list, out_data: list,
                 in_grad: list, aux: list) -> None:
        """Write the gradients of the inputs into ``in_grad`` with ``self.assign``."""

    def assign(self, dst: Any, req: str, src: Any) -> None:
        """Write ``src`` into ``dst`` as ``req`` says: 'null' (skip), 'write'/'inplace', 'add'."""
        if req == "null":
            return
        if req in ("write", "inplace"):
            dst[:] = src
        elif req == "add":
            dst[:] += src
        else:
            raise MXNetError(f"CustomOp.assign: unknown req {req!r}; expected one of {list(_REQS)}")


class CustomOpProp:
    """Base class of the property classes of Python operators.

    ``need_top_grad``: whether the backward uses the outputs' gradients. Without it the operator
    is a loss head: ``backward()`` needs no head gradient for it.
    """

    def __init__(self, need_top_grad: bool = True):
        self.need_top_grad_ = need_top_grad

    def infer_shape(self, in_shape: list) -> tuple:
        """(input shapes, output shapes[, aux shapes]); every output takes input 0's shape."""
        return in_shape, (in_shape[0],) * len(self.list_outputs()), ()

    def infer_type(self, in_type: list) -> tuple:
        """(input types, output types[, aux types]); everything takes input 0's type."""
        return (in_type, [in_type[0]] * len(self.list_outputs()),
                [in_type[0]] * len(self.list_auxiliary_states()))

    def infer_storage_type(self, in_stype: list) -> tuple:
        """Only dense ('default') storage is supported."""
        for i, stype in enumerate(in_stype):
            if stype != "default":
                raise MXNetError(f"infer_storage_type: input {i} has storage type {stype!r}; only "
                                 "'default' is supported")
        return (in_stype, ["default"] * len(self.list_outputs()),
                ["default"] * len(self.list_auxiliary_states()))

    def infer_storage_type_backward(self, ograd_stype: list, in_stype: list, out_stype: list,
                                    igrad_stype: list, aux_stype: list) -> tuple:
        lists = [ograd_stype, in_stype, out_stype, igrad_stype, aux_stype]
        return tuple(["default"] * len(x) for x in lists)

    def list_outputs(self) -> list[str]:
        return ["output"]

    def list_arguments(self) -> list[str]:
        return ["data"]

    def list_auxiliary_states(self) -> list[str]:
        return []

    def declare_backward_dependency(self, out_grad: list[int], in_data: list[int],
                                    out_data: list[int]) -> list[int]:
        """Ids of the blobs the backward reads: out_grad (if need_top_grad), in_data, out_data."""
        deps = list(out_grad) if self.need_top_grad_ else []
        return deps + list(in_data) + list(out_data)

    def create_operator(self, ctx: Any, in_shapes: list, in_dtypes: list) -> CustomOp:
        """The CustomOp that computes; called once per bound graph and input shapes."""
        return CustomOp()


_PROPS: dict[str, type] = {}


def register(reg_name: str) -> Callable[[type], type]:
    """Register a CustomOpProp subclass as the Custom operator ``op_type=reg_name``."""
    def do_register(prop_cls: type) -> type:
        if not (isinstance(prop_cls, type) and issubclass(prop_cls, CustomOpProp)):
            raise MXNetError(f"mx.operator.register({reg_name!r}): expected a CustomOpProp subclass, "
                             f"got {prop_cls!r}")
        if reg_name in _PROPS and _PROPS[reg_name] is not prop_cls:
            logging.warning("New registration is overriding existing custom operator %s", reg_name)
        _PROPS[reg_name] = prop_cls
        return prop_cls
    return do_register


def get_registered_prop(reg_name: str) -> type:
    """The CustomOpProp class registered as ``reg_name``; MXNetError naming it otherwise."""
    prop = _PROPS.get(reg_name)
    if prop is None:
        raise MXNetError(f"Custom operator op_type='{reg_name}' is not registered: define a "
                         f"CustomOpProp subclass and decorate it with "
                         f"@mx.operator.register('{reg_name}') before building or loading the "
                         f"symbol (registered: {sorted(_PROPS)})")
    return prop


def get_all_registered_operators() -> list[str]:
    """Every operator name modjax knows (MXNet's built-in ones, aliases included)."""
    from .ops.registry import all_ops
    return sorted(all_ops())


register("custom_op")(CustomOpProp)
