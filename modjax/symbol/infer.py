"""Shape and type inference over a symbol graph, in both directions, as MXNet does.

Each entry (node, output) holds a partial shape (None, or a tuple where 0 is unknown). Passes
run forward then backward over the nodes until nothing new is learned: operators' own rules
fill weight shapes from data shapes and batch sizes from consumers, elementwise operators unify
all their shapes, and any operator whose inputs are all known gets its outputs by abstract
evaluation of its JAX implementation.
"""
from __future__ import annotations

import ast
import logging
from typing import Any, Sequence

import numpy as np

from ..base import FLAG_TO_DTYPE, MXNetError, ShapeError, normalize_dtype
from ..ops.registry import eval_output_shapes, known, merge_shape
from .graph import Node

__all__ = ["infer_shape", "infer_type", "infer_graph"]

_EVAL_CACHE: dict[Any, tuple[list, list]] = {}


def _params_key(node: Node) -> tuple:
    return (node.op.name, tuple(sorted((k, repr(v)) for k, v in node.params.items())))


def _unknown_dims(shape: Any) -> int:
    if shape is None or len(shape) == 0:
        return 1000
    return sum(1 for d in shape if not d)


def _var_shape(node: Node) -> Any:
    text = node.attrs.get("__shape__")
    if not text:
        return None
    try:
        value = ast.literal_eval(text)
        return tuple(int(d) for d in (value if isinstance(value, (list, tuple)) else (value,)))
    except (ValueError, SyntaxError):
        raise MXNetError(f"variable '{node.name}': invalid __shape__ attribute {text!r}") from None


def _var_dtype(node: Node) -> Any:
    text = node.attrs.get("__dtype__")
    if text is None:
        return None
    try:
        return FLAG_TO_DTYPE[int(text)]
    except (ValueError, KeyError):
        return normalize_dtype(text)


def infer_graph(nodes: Sequence[Node], shapes: dict[int, Any], dtypes: dict[int, Any]
                ) -> tuple[dict[tuple[int, int], Any], dict[tuple[int, int], Any]]:
    """Infer every entry's shape and dtype; ``shapes``/``dtypes`` seed the variables (by id)."""
    eshape: dict[tuple[int, int], Any] = {}
    etype: dict[tuple[int, int], Any] = {}
    for node in nodes:
        if node.is_variable:
            eshape[(id(node), 0)] = shapes.get(id(node))
            dt = dtypes.get(id(node))
            etype[(id(node), 0)] = np.dtype(dt) if dt is not None else None
    _infer_types(nodes, etype)
    last = None
    done: set[int] = set()  # operators whose every input and output shape is known and checked
    for sweep in range(200):
        order = nodes if sweep % 2 == 0 else list(reversed(nodes))
        for node in order:
            if node.op is not None and id(node) not in done:
                if _infer_node(node, eshape, etype):
                    done.add(id(node))
        unknown = sum(_unknown_dims(s) for s in eshape.values())
        if unknown == last or unknown == 0:
            if unknown == 0 or sweep % 2 == 1:
                break
        last = unknown
    return eshape, etype


def _n_out(node: Node) -> int:
    return node.op.num_outputs(node.params)


def _infer_node(node: Node, eshape: dict, etype: dict) -> bool:
    """Apply one operator's shape rules; True when all its shapes are now known."""
    p = node.params
    op = node.op
    in_keys = [(id(src), idx) for src, idx, _ in node.inputs]
    out_keys = [(id(node), i) for i in range(_n_out(node))]
    ins = [eshape.get(k) for k in in_keys]
    outs = [eshape.get(k) for k in out_keys]
    where = f"operator {op.name} ('{node.name}')"
    try:
        if op.elementwise:
            merged = None
            for s in ins + outs:
                merged = merge_shape(merged, s, where)
            ins = [merged] * len(ins)
            outs = [merged] * len(outs)
        if op.infer_shape is not None:
            ins, outs = op.infer_shape(p, list(ins), list(outs))
        if all(known(s) for s in ins):
            in_types = [etype.get(k) or np.dtype("float32") for k in in_keys]
            key = (_params_key(node), tuple(map(tuple, ins)), tuple(map(str, in_types)))
            if key not in _EVAL_CACHE:
                _EVAL_CACHE[key] = eval_output_shapes(op, p, list(ins), in_types)
            new_outs, _ = _EVAL_CACHE[key]
            outs = [merge_shape(o, n, where) for o, n in zip(outs, new_outs)]
    except ShapeError as err:
        names = node.arg_names()
        shown = ", ".join(f"{n}={tuple(s) if s is not None else None}" for n, s in zip(names, ins))
        raise ShapeError(f"infer_shape error in {where}: {err} (inputs: {shown})") from None
    except MXNetError:
        raise
    except (TypeError, ValueError) as err:
        names = node.arg_names()
        shown = ", ".join(f"{n}={tuple(s) if s is not None else None}" for n, s in zip(names, ins))
        raise ShapeError(f"infer_shape error in {where}: incompatible input shapes ({shown}): "
                         f"{err}") from None
    for k, s in zip(in_keys, ins):
        eshape[k] = merge_shape(eshape.get(k), s, f"{where} input")
    complete = True
    for k, s in zip(out_keys, outs):
        eshape[k] = merge_shape(eshape.get(k), s, f"{where} output")
        complete = complete and known(eshape[k])
    return complete and all(known(eshape[k]) for k in in_keys)


def _infer_types(nodes: Sequence[Node], etype: dict) -> None:
    """Forward type propagation: unknown inputs take the dtype of the op's known float inputs;
    outputs come from abstract evaluation with placeholder shapes, or the default rule."""
    for _ in range(3):
        for node in nodes:
            if node.op is None:
                continue
            in_keys = [(id(src), idx) for src, idx, _ in node.inputs]
            ins = [etype.get(k) for k in in_keys]
            if node.op.infer_type is not None:
                ins, outs = node.op.infer_type(node.params, list(ins),
                                               [etype.get((id(node), i)) for i in range(_n_out(node))])
            else:
                first = next((t for t in ins if t is not None), None)
                ins = [t if t is not None else first for t in ins]
                outs = [first] * _n_out(node)
            for k, t in zip(in_keys, ins):
                if etype.get(k) is None and t is not None:
                    etype[k] = np.dtype(t)
            for i, t in enumerate(outs):
                if etype.get((id(node), i)) is None and t is not None:
                    etype[(id(node), i)] = np.dtype(t)
        for node in reversed(list(nodes)):  # a known output types unknown inputs (default rule)
            if node.op is None or node.op.infer_type is not None:
                continue
            t = etype.get((id(node), 0))
            for src, idx, _ in node.inputs:
                if etype.get((id(src), idx)) is None and t is not None:
                    etype[(id(src), idx)] = t


def _seed(sym: Any, args: Sequence[Any], kwargs: dict[str, Any], what: str, convert) -> dict[int, Any]:
    inputs, arg_nodes, aux_nodes = sym._variable_roles()
    if args and kwargs:
        raise MXNetError(f"{what}: give shapes either positionally or by keyword, not both")
    seeds: dict[int, Any] = {}
    if args:
        if len(args) > len(arg_nodes):
            raise MXNetError(f"{what}: {len(args)} positional values for {len(arg_nodes)} arguments "
                             f"{[n.name for n in arg_nodes]}")
        for node, value in zip(arg_nodes, args):
            if value is not None:
                seeds[id(node)] = convert(value, node.name)
    else:
        by_name: dict[str, list[Node]] = {}
        for node in inputs:
            by_name.setdefault(node.name, []).append(node)
        for name, value in kwargs.items():
            if name not in by_name:
                continue  # MXNet ignores names that are not inputs
            if value is not None:
                for node in by_name[name]:
                    seeds[id(node)] = convert(value, name)
    return seeds


def _shape_value(value: Any, name: str) -> tuple:
    if isinstance(value, (int, np.integer)):
        return (int(value),)
    try:
        return tuple(int(d) for d in value)
    except TypeError:
        raise MXNetError(f"infer_shape: shape of '{name}' must be a tuple of ints, got {value!r}") from None


def infer_shape(sym: Any, args: Sequence[Any], kwargs: dict[str, Any], partial: bool):
    """MXNet's ``Symbol.infer_shape`` / ``infer_shape_partial``."""
    inputs, arg_nodes, aux_nodes = sym._variable_roles()
    seeds = {id(n): _var_shape(n) for n in inputs if _var_shape(n) is not None}
    seeds.update(_seed(sym, args, kwargs, "infer_shape", _shape_value))
    dseeds = {id(n): _var_dtype(n) for n in inputs if _var_dtype(n) is not None}
    nodes = sym._nodes()
    eshape, _ = infer_graph(nodes, seeds, dseeds)

    def get(key: tuple) -> Any:
        s = eshape.get(key)
        return tuple(s) if s is not None else ()

    arg_shapes = [get((id(n), 0)) for n in arg_nodes]
    aux_shapes = [get((id(n), 0)) for n in aux_nodes]
    out_shapes = [get((id(n), i)) for n, i in sym._heads]
    if not partial:
        unknown = [n.name for n, s in zip(arg_nodes + aux_nodes, arg_shapes + aux_shapes) if not known(s)]
        unknown += [name for name, s in zip(sym.list_outputs(), out_shapes) if not known(s)]
        if unknown:
            logging.warning("Cannot decide shape for the following arguments (0s in shape means "
                            "unknown dimensions). Consider providing them as input:\n\t%s",
                            "\n\t".join(unknown))
            return None, None, None
    return arg_shapes, out_shapes, aux_shapes


def infer_type(sym: Any, args: Sequence[Any], kwargs: dict[str, Any], partial: bool = False):
    """MXNet's ``Symbol.infer_type``: (arg_types, out_types, aux_types) as numpy type objects."""
    inputs, arg_nodes, aux_nodes = sym._variable_roles()
    seeds = {id(n): _var_dtype(n) for n in inputs if _var_dtype(n) is not None}
    seeds.update(_seed(sym, args, kwargs, "infer_type", lambda v, n: normalize_dtype(v)))
    etype: dict = {(k, 0): v for k, v in seeds.items()}
    _infer_types(sym._nodes(), etype)

    def get(key: tuple) -> Any:
        t = etype.get(key)
        return t.type if t is not None else None

    arg_t = [get((id(n), 0)) for n in arg_nodes]
    aux_t = [get((id(n), 0)) for n in aux_nodes]
    out_t = [get((id(n), i)) for n, i in sym._heads]
    if not partial and any(t is None for t in arg_t + aux_t + out_t):
        return None, None, None
    return arg_t, out_t, aux_t
