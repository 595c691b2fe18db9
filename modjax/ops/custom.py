"""The ``Custom`` operator: a Python CustomOp (``mx.operator``) inside a traced graph.

The node's parameters are ``op_type`` plus any keyword arguments, kept as strings and handed to
the registered CustomOpProp's constructor as strings (as MXNet does). The prop names the inputs,
outputs and auxiliary states and infers shapes and types. Forward and backward run the CustomOp on
the host through ``jax.pure_callback``, with NDArray copies of the buffers; a ``jax.custom_vjp``
wires the user's backward in, so the op works under ``jit``, ``vjp`` and in Modules.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..base import MXNetError, ShapeError
from .params import Param, Params, p_str
from .registry import OpCtx, OpDef, add_op, merge_shape

__all__ = ["CustomOpDef", "prop_of"]

_PROP_CACHE: dict[tuple, Any] = {}


def _kwargs(p: Params) -> dict[str, str]:
    return {k: v for k, v in p.items() if k != "op_type"}


def prop_of(p: Params) -> Any:
    """The CustomOpProp instance for these parameters (kwargs passed as strings)."""
    from ..operator import get_registered_prop
    cls = get_registered_prop(p["op_type"])
    key = (p["op_type"], cls, tuple(sorted(_kwargs(p).items())))
    prop = _PROP_CACHE.get(key)
    if prop is None:
        try:
            prop = cls(**_kwargs(p))
        except TypeError as err:
            raise MXNetError(f"Custom operator '{p['op_type']}': its CustomOpProp "
                             f"{cls.__name__} does not take the arguments {sorted(_kwargs(p))}: "
                             f"{err}") from None
        _PROP_CACHE[key] = prop
    return prop


def _is_loss(p: Params) -> bool:
    """A Custom op whose backward does not read the output gradients needs no head gradient."""
    prop = prop_of(p)
    n_out, n_in = len(prop.list_outputs()), len(prop.list_arguments())
    out_grad = list(range(n_out))
    deps = prop.declare_backward_dependency(out_grad, list(range(n_out, n_out + n_in)),
                                            list(range(n_out + n_in, 2 * n_out + n_in)))
    return not any(d in deps for d in out_grad)


def _as_shape(s: Any) -> Any:
    if s is None:
        return None
    return tuple(int(d) for d in s)


def _call_infer_shape(prop: Any, shapes: list) -> tuple[list, list, list]:
    ret = prop.infer_shape([list(s) if s is not None else [] for s in shapes])
    if len(ret) == 2:
        ins, outs = ret
        aux: Any = []
    elif len(ret) == 3:
        ins, outs, aux = ret
    else:
        raise MXNetError("CustomOpProp.infer_shape must return 2 or 3 lists")
    n_in, n_out = len(prop.list_arguments()), len(prop.list_outputs())
    n_aux = len(prop.list_auxiliary_states())
    if len(ins) != n_in or len(outs) != n_out or len(aux) != n_aux:
        raise MXNetError(f"CustomOpProp.infer_shape returned {len(ins)}, {len(outs)}, {len(aux)} "
                         f"shapes for {n_in} inputs, {n_out} outputs, {n_aux} aux states")
    return [_as_shape(s) for s in ins], [_as_shape(s) for s in outs], [_as_shape(s) for s in aux]


def _infer_shape(p: Params, ins: list, outs: list) -> tuple[list, list]:
    prop = prop_of(p)
    n_in = len(prop.list_arguments())
    args = ins[:n_in]
    complete = all(s is not None and len(s) and all(s) for s in args)
    if not any(s is not None and len(s) for s in args):
        return ins, outs
    try:
        new_in, new_out, new_aux = _call_infer_shape(prop, args)
    except Exception as err:  # noqa: BLE001 - user code; only an error once everything is known
        if complete:
            raise ShapeError(f"Custom operator '{p['op_type']}': infer_shape failed for input shapes "
                             f"{[tuple(s) for s in args]}: {type(err).__name__}: {err}") from None
        return ins, outs
    where = f"Custom operator '{p['op_type']}'"
    ins = [merge_shape(a, b, where) for a, b in zip(ins, new_in + new_aux)]
    outs = [merge_shape(a, b, where) for a, b in zip(outs, new_out)]
    return ins, outs


def _call_infer_type(prop: Any, types: list) -> tuple[list, list, list]:
    ret = prop.infer_type([np.dtype(t).type if t is not None else None for t in types])
    ins, outs = ret[0], ret[1]
    aux = ret[2] if len(ret) == 3 else [ins[0]] * len(prop.list_auxiliary_states())
    conv = (lambda t: np.dtype(t) if t is not None else None)
    return [conv(t) for t in ins], [conv(t) for t in outs], [conv(t) for t in aux]


def _infer_type(p: Params, ins: list, outs: list) -> tuple[list, list]:
    prop = prop_of(p)
    n_in = len(prop.list_arguments())
    if all(t is None for t in ins[:n_in]):
        return ins, outs
    try:
        new_in, new_out, new_aux = _call_infer_type(prop, ins[:n_in])
    except Exception as err:  # noqa: BLE001 - user code
        if all(t is not None for t in ins[:n_in]):
            raise MXNetError(f"Custom operator '{p['op_type']}': infer_type failed: "
                             f"{type(err).__name__}: {err}") from None
        return ins, outs
    new = new_in + new_aux
    return [a if a is not None else b for a, b in zip(ins, new)], \
        [a if a is not None else b for a, b in zip(outs, new_out)]


# -- running the CustomOp on the host ----------------------------------------------------------
def _host_arrays(arrays: Any) -> list:
    from ..context import cpu
    from ..ndarray.ndarray import NDArray
    dev = jax.devices("cpu")[0]
    return [NDArray(jax.device_put(np.asarray(a), dev), cpu()) for a in arrays]


def _operator(p: Params, prop: Any, shapes: list, dtypes: list) -> Any:
    """The CustomOp for these parameters and input shapes, made once (MXNet makes it at bind)."""
    from ..context import cpu
    cache = p.__dict__.setdefault("_custom_operators", {})
    key = (tuple(map(tuple, shapes)), tuple(map(str, dtypes)))
    if key not in cache:
        cache[key] = prop.create_operator(cpu(), [list(s) for s in shapes],
                                          [np.dtype(t).type for t in dtypes])
    return cache[key]


def _run(p: Params, inputs: list, aux: list, is_train: bool) -> tuple[list, list]:
    prop = prop_of(p)
    n_in, n_out = len(inputs), len(prop.list_outputs())
    in_shapes = [tuple(x.shape) for x in inputs]
    in_types = [np.dtype(x.dtype) for x in inputs]
    _, out_shapes, _ = _call_infer_shape(prop, in_shapes)
    _, out_types, _ = _call_infer_type(prop, in_types)
    out_specs = [jax.ShapeDtypeStruct(s, t) for s, t in zip(out_shapes, out_types)]
    aux_specs = [jax.ShapeDtypeStruct(a.shape, a.dtype) for a in aux]
    in_specs = [jax.ShapeDtypeStruct(x.shape, x.dtype) for x in inputs]

    def host_forward(*arrays: Any) -> tuple:
        from ..ndarray.ndarray import zeros
        from ..context import cpu
        op = _operator(p, prop, in_shapes, in_types)
        with jax.default_device(jax.devices("cpu")[0]):
            in_nd, aux_nd = _host_arrays(arrays[:n_in]), _host_arrays(arrays[n_in:])
            out_nd = [zeros(s.shape, cpu(), s.dtype) for s in out_specs]
            op.forward(is_train=is_train, req=["write"] * n_out, in_data=in_nd, out_data=out_nd,
                       aux=aux_nd)
            return tuple(np.asarray(o.asnumpy(), s.dtype) for o, s in zip(out_nd, out_specs)) + \
                tuple(np.asarray(a.asnumpy(), s.dtype) for a, s in zip(aux_nd, aux_specs))

    def host_backward(*arrays: Any) -> tuple:
        from ..ndarray.ndarray import zeros
        from ..context import cpu
        op = _operator(p, prop, in_shapes, in_types)
        with jax.default_device(jax.devices("cpu")[0]):
            nds = _host_arrays(arrays)
            ins, outs = nds[:n_in], nds[n_in:n_in + n_out]
            ograds, aux_nd = nds[n_in + n_out:n_in + 2 * n_out], nds[n_in + 2 * n_out:]
            in_grad = [zeros(s.shape, cpu(), s.dtype) for s in in_specs]
            op.backward(req=["write"] * n_in, out_grad=ograds, in_data=ins, out_data=outs,
                        in_grad=in_grad, aux=aux_nd)
            return tuple(np.asarray(g.asnumpy(), s.dtype) for g, s in zip(in_grad, in_specs))

    def primal(xs: list, auxs: list) -> tuple[list, list]:
        res = jax.pure_callback(host_forward, tuple(out_specs + aux_specs), *xs, *auxs)
        return list(res[:n_out]), list(res[n_out:])

    @jax.custom_vjp
    def run(xs: list, auxs: list) -> tuple[list, list]:
        return primal(xs, auxs)

    def run_fwd(xs: list, auxs: list) -> tuple:
        outs, new_aux = primal(xs, auxs)
        return (outs, new_aux), (xs, outs, new_aux)

    def run_bwd(res: tuple, cts: tuple) -> tuple:
        xs, outs, new_aux = res
        ograds = [jnp.asarray(g, o.dtype) for g, o in zip(cts[0], outs)]
        grads = jax.pure_callback(host_backward, tuple(in_specs), *xs, *outs, *ograds, *new_aux)
        grads = [g if jnp.issubdtype(x.dtype, jnp.inexact) else np.zeros(x.shape, jax.dtypes.float0)
                 for g, x in zip(grads, xs)]
        return grads, [jnp.zeros_like(a) for a in new_aux]

    run.defvjp(run_fwd, run_bwd)
    return run(list(inputs), list(aux))


class CustomOpDef(OpDef):
    """The Custom operator: parameters are ``op_type`` and free-form string keyword arguments."""

    def parse(self, attrs: dict[str, Any], node_name: str = "") -> Params:
        out = Params()
        for key, value in attrs.items():
            if key.startswith("__") and key.endswith("__"):
                continue
            out[key] = str(value)
        if "op_type" not in out:
            where = "operator Custom" + (f" (node '{node_name}')" if node_name else "")
            raise MXNetError(f"{where}: required parameter 'op_type' is missing")
        prop_of(out)  # an unregistered op_type is an error now, naming it
        return out


def _forward(p: Params, inputs: list, aux: list, ctx: OpCtx) -> tuple[list, list]:
    outs, new_aux = _run(p, inputs, aux, bool(ctx.is_train))
    return outs, new_aux


add_op(CustomOpDef(
    name="Custom", forward=_forward, params={"op_type": Param("op_type", p_str)},
    arguments=lambda p: prop_of(p).list_arguments(),
    aux=lambda p: prop_of(p).list_auxiliary_states(),
    outputs=lambda p: prop_of(p).list_outputs(),
    infer_shape=_infer_shape, infer_type=_infer_type, loss=_is_loss,
    doc="Custom(*inputs, op_type=name, **kwargs): a Python operator registered with "
        "mx.operator.register(name); kwargs reach its CustomOpProp as strings."))
