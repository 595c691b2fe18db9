"""Graph nodes, DFS order and the creation of operator nodes (MXNet's compose rules)."""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterable, Iterator, Sequence

from ..base import MXNetError
from ..ops.params import Params, attr_str
from ..ops.registry import OpDef
from .naming import AttrScope, HIDDEN_KEYS, NameManager, hide_keys

__all__ = ["Node", "Entry", "topo_order", "create_op_node", "make_variable_node", "step_scope"]

_recording = threading.local()


@contextlib.contextmanager
def step_scope(region: object, step: int) -> Iterator[None]:
    """Tag the operator nodes created inside as step ``step`` of loop ``region``.

    ``mx.rnn`` cells wrap each step of ``unroll`` in it. The graph (names, JSON, introspection)
    stays MXNet's per-step graph; lowering uses the tags to run the steps as one ``lax.scan``.
    """
    outer = getattr(_recording, "tag", None)
    _recording.tag = (region, int(step))
    try:
        yield
    finally:
        _recording.tag = outer


class Node:
    """One graph node: an operator application, or a variable (``op is None``).

    ``inputs`` are entries ``(node, output_index, version)``; ``attrs`` are MXNet's string
    attributes (operator parameters as given plus ``__dunder__`` attributes).
    """

    __slots__ = ("op", "name", "attrs", "inputs", "_params", "control_deps", "version", "step_tag")

    def __init__(self, op: OpDef | None, name: str, attrs: dict[str, str] | None = None,
                 inputs: list | None = None):
        self.op = op
        self.name = name
        self.attrs: dict[str, str] = dict(attrs or {})
        self.inputs: list[tuple[Node, int, int]] = list(inputs or [])
        self._params: Params | None = None
        self.control_deps: list[Node] = []
        self.version = 0  # how many operators mutate this variable (aux states)
        # (loop region, step) for operators created inside step_scope; never serialized
        self.step_tag: tuple | None = getattr(_recording, "tag", None) if op is not None else None

    @property
    def is_variable(self) -> bool:
        return self.op is None

    @property
    def params(self) -> Params:
        """Typed parameters of an operator node (parsed once)."""
        if self._params is None:
            if self.op is None:
                self._params = Params()
            else:
                self._params = self.op.parse(self.attrs, self.name)
        return self._params

    def set_attr(self, key: str, value: str) -> None:
        self.attrs[key] = value
        self._params = None

    def arg_names(self) -> list[str]:
        """Names of this operator's inputs, arguments then auxiliary states."""
        p = self.params
        n_aux = len(self.op.list_aux(p))
        return self.op.list_arguments(p, len(self.inputs) - n_aux) + self.op.list_aux(p)

    def aux_positions(self) -> range:
        n_aux = len(self.op.list_aux(self.params))
        return range(len(self.inputs) - n_aux, len(self.inputs))

    def num_outputs(self) -> int:
        return 1 if self.op is None else self.op.num_outputs(self.params)

    def output_names(self) -> list[str]:
        """Visible output names: ``data`` for a variable, ``fc1_output``, ``bn_mean``, ``sc_output0``."""
        if self.op is None:
            return [self.name]
        suffixes = self.op.list_outputs(self.params)
        return [f"{self.name}_{s}" for s in suffixes]

    def __repr__(self) -> str:
        return f"<Node {self.op.name if self.op else 'null'} {self.name}>"


Entry = tuple  # (Node, output_index)


def topo_order(heads: Iterable[Node]) -> list[Node]:
    """Post-order DFS from the heads, inputs in order then control deps; each node once."""
    order: list[Node] = []
    seen: set[int] = set()
    for head in heads:
        if id(head) in seen:
            continue
        seen.add(id(head))
        stack = [(head, _children(head))]
        while stack:
            node, children = stack[-1]
            for child in children:  # resumes where this node's walk stopped
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, _children(child)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def _children(node: Node) -> Iterator[Node]:
    for entry in node.inputs:
        yield entry[0]
    yield from node.control_deps


def make_variable_node(name: str, attrs: dict[str, str] | None = None) -> Node:
    return Node(None, name, attrs)


def _check_attr_values(attr: dict[str, Any] | None, what: str) -> dict[str, str]:
    if not attr:
        return {}
    for key, value in attr.items():
        if not isinstance(value, str):
            raise MXNetError(f"{what}: attribute '{key}' must be a string, got {value!r}")
    return dict(attr)


def create_op_node(op: OpDef, hint: str, args: Sequence[Any], kwargs: dict[str, Any],
                   symbol_type: type) -> Node:
    """Create an operator node the way MXNet's ``mx.sym.Op(...)`` does.

    Positional and keyword Symbol arguments fill the operator's inputs; the other keywords are
    parameters (stored as ``str(value)``). Missing inputs become new variables ``{name}_{arg}``
    that copy the node's attributes, and aux-state entries get MXNet's version numbers.
    """
    kwargs = dict(kwargs)
    name = kwargs.pop("name", None)
    attr = _check_attr_values(kwargs.pop("attr", None), f"operator {op.name}")
    sym_kwargs: dict[str, Any] = {}
    str_params: dict[str, str] = {}
    for key, value in kwargs.items():
        if isinstance(value, symbol_type):
            sym_kwargs[key] = value
        elif key.startswith("__") and key.endswith("__"):
            attr[key] = attr_str(value)
        elif any(key.endswith("_" + h) for h in HIDDEN_KEYS) and key not in op.params:
            raise MXNetError(f"operator {op.name}: setting variable attributes with {key} is "
                             "deprecated; set them on the variable instead (mx.sym.var(..., "
                             "lr_mult=...))")
        else:
            str_params[key] = attr_str(value)
    for value in args:
        if not isinstance(value, symbol_type):
            raise MXNetError(f"operator {op.name}: positional arguments must be Symbols, got "
                             f"{type(value).__name__} {value!r}; pass parameters by keyword")
    if op.varargs is not None:
        if sym_kwargs and not args and set(sym_kwargs) <= {"data"}:
            args = list(sym_kwargs.values())
            sym_kwargs = {}
        if sym_kwargs:
            raise MXNetError(f"operator {op.name} takes its inputs as positional Symbols only, got "
                             f"keyword inputs {sorted(sym_kwargs)}")
        if op.varargs in op.params and op.varargs not in str_params:
            str_params[op.varargs] = str(len(args))
    attrs = hide_keys(AttrScope.current().get(attr))
    attrs.update(str_params)
    node_name = NameManager.current.get(name, hint)
    node = Node(op, node_name, attrs)
    p = node.params  # validates the parameters now, with the node's name in errors
    if op.varargs is not None:
        arg_names = op.list_arguments(p, len(args))
        names = arg_names
    else:
        arg_names = op.list_arguments(p)
        names = arg_names + op.list_aux(p)
    if len(args) > len(names):
        raise MXNetError(f"operator {op.name} ('{node_name}'): got {len(args)} positional inputs, "
                         f"it takes at most {len(names)}: {names}")
    given: dict[str, tuple] = {}
    for arg_name, value in zip(names, args):
        given[arg_name] = _single_entry(value, op, node_name, arg_name)
    for key, value in sym_kwargs.items():
        if key not in names:
            raise MXNetError(f"operator {op.name} ('{node_name}'): Keyword argument name {key} not "
                             f"found; its inputs are {names}")
        if key in given:
            raise MXNetError(f"operator {op.name} ('{node_name}'): input '{key}' given twice")
        given[key] = _single_entry(value, op, node_name, key)
    aux_set = set(names[len(arg_names):]) if op.varargs is None else set()
    entries = []
    for arg_name in names:
        if arg_name in given:
            entry_node, index = given[arg_name]
        else:
            var_name = f"{node_name}_{arg_name}" if node_name else arg_name
            entry_node, index = Node(None, var_name, dict(attrs)), 0
        if entry_node.is_variable and op.on_compose is not None:
            op.on_compose(p, arg_name, entry_node.attrs)
        entries.append([entry_node, index, 0])
    for pos, arg_name in enumerate(names):
        if arg_name in aux_set and entries[pos][0].is_variable:
            var = entries[pos][0]
            var.version += 1
            entries[pos][2] = var.version
    node.inputs = [tuple(e) for e in entries]
    return node


def _single_entry(sym: Any, op: OpDef, node_name: str, arg_name: str) -> tuple:
    heads = sym._heads
    if len(heads) != 1:
        raise MXNetError(f"operator {op.name} ('{node_name}'): input '{arg_name}' must be a "
                         f"single-output Symbol, got one with {len(heads)} outputs "
                         f"{sym.list_outputs()}")
    return heads[0]
