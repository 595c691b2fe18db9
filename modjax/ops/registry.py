"""The operator registry: each MXNet operator is defined once, here, and used by sym and nd.

An :class:`OpDef` carries an operator's MXNet name and aliases, typed parameters with MXNet's
defaults, its argument, auxiliary-state and output names, shape/type inference and a pure JAX
implementation. Definitions live in ``modjax/ops/*.py`` and are registered with :func:`register`.

Shapes during inference are ``None`` (unknown) or tuples where a ``0`` dim is unknown (MXNet's
legacy convention).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import jax
import numpy as np

from ..base import MXNetError, ShapeError
from .params import REQUIRED, Param, ParamParseError, Params

__all__ = ["OpDef", "OpCtx", "register", "add_op", "get_op", "find_op", "all_ops",
           "UnknownOperatorError",
           "Shape", "known", "merge_shape", "parse_params", "split_positional"]

Shape = "tuple[int, ...] | None"


class UnknownOperatorError(MXNetError, KeyError):
    """An operator name that the registry does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass
class OpCtx:
    """What a running operator may need besides its inputs."""

    is_train: bool = False
    key: Any = None  # a jax PRNG key for random ops, else None
    # the node's inferred output shapes (lists of tuples), given to ops with needs_out_shapes
    # when lowering; None when run eagerly or under abstract evaluation
    out_shapes: Any = None


NamesSpec = "Sequence[str] | Callable[[Params], Sequence[str]]"


def _names(spec: Any, p: Params) -> list[str]:
    return list(spec(p) if callable(spec) else spec)


@dataclass
class OpDef:
    """One operator.

    ``forward(p, inputs, aux, ctx) -> (outputs, new_aux)`` is the pure JAX implementation
    (lists of arrays). ``infer_shape(p, in_shapes, out_shapes) -> (in_shapes, out_shapes)`` may
    fill unknowns in either direction; outputs are otherwise found with ``jax.eval_shape``.

    ``needs_out_shapes``: the forward reads ``ctx.out_shapes``, the node's output shapes as shape
    inference over the whole graph found them (``_zeros(shape=(0, H))`` learns its batch size
    from its consumers). ``LoweredGraph`` fills it at trace time; eager calls leave it None.
    """

    name: str
    forward: Callable[..., tuple[list, list]]
    params: dict[str, Param] = field(default_factory=dict)
    arguments: Any = ("data",)
    aux: Any = ()
    outputs: Any = ("output",)
    hidden_outputs: Any = 0  # extra outputs MXNet has but does not show (counted in node_row_ptr)
    aliases: tuple[str, ...] = ()
    infer_shape: Callable | None = None
    infer_type: Callable | None = None
    elementwise: bool = False  # every input and output has one shape
    # the head gradient is ignored (loss heads, BlockGrad); or p -> bool where it depends on the
    # parameters (SoftmaxOutput(out_grad=True) and Custom ops that need it are not loss heads)
    loss: Any = False
    needs_key: bool = False
    needs_out_shapes: bool = False  # the forward reads ctx.out_shapes (see the class docstring)
    varargs: str | None = None  # name of the count parameter of variable-input ops (num_args)
    mutate_inputs: Any = None  # defaults to the aux positions
    on_compose: Callable[[Params, str, dict], None] | None = None  # add __init__ hints to inputs
    # arguments the forward overwrites in MXNet (BatchNorm fix_gamma writes 1 into gamma):
    # p -> {argument name: new value as a function of the old}
    rewrites_args: Callable[[Params], dict[str, Callable]] | None = None
    doc: str = ""

    # -- names -------------------------------------------------------------------------------
    def list_arguments(self, p: Params, num_inputs: int | None = None) -> list[str]:
        if self.varargs is not None:
            n = num_inputs if num_inputs is not None else int(p.get(self.varargs) or 0)
            base = _names(self.arguments, p)
            if len(base) == 1:
                return [f"arg{i}" for i in range(n)] if n != 1 else base
            return base
        return _names(self.arguments, p)

    def list_aux(self, p: Params) -> list[str]:
        return _names(self.aux, p)

    def list_outputs(self, p: Params) -> list[str]:
        return _names(self.outputs, p)

    def is_loss(self, p: Params) -> bool:
        """Whether this node ignores its head gradient (a loss head needs none)."""
        return bool(self.loss(p) if callable(self.loss) else self.loss)

    def num_outputs(self, p: Params) -> int:
        return len(self.list_outputs(p))

    def num_total_outputs(self, p: Params) -> int:
        hidden = self.hidden_outputs(p) if callable(self.hidden_outputs) else self.hidden_outputs
        return self.num_outputs(p) + int(hidden)

    # -- parameters --------------------------------------------------------------------------
    def parse(self, attrs: dict[str, Any], node_name: str = "") -> Params:
        """Parse an attribute dict (strings or Python values) into typed, defaulted Params.

        Keys MXNet stores beside params (``__init__``, ``__lr_mult__``, …) are ignored; unknown
        non-dunder keys are an error, as in MXNet.
        """
        out = Params()
        where = f"operator {self.name}" + (f" (node '{node_name}')" if node_name else "")
        for key, value in attrs.items():
            if key.startswith("__") and key.endswith("__"):
                continue
            spec = self.params.get(key)
            if spec is None:
                raise MXNetError(f"{where}: unknown parameter '{key}'; expected one of "
                                 f"{sorted(self.params)}")
            try:
                out[key] = spec.parse(value)
            except ParamParseError as err:
                raise MXNetError(f"{where}: invalid value {value!r} for parameter '{key}': "
                                 f"{err}") from None
        for key, spec in self.params.items():
            if key in out:
                continue
            if spec.default is REQUIRED:
                if self.varargs == key:
                    continue
                raise MXNetError(f"{where}: required parameter '{key}' is missing")
            out[key] = spec.default
        return out


_REGISTRY: dict[str, OpDef] = {}


def register(name: str, *, params: Sequence[Param] = (), arguments: Any = ("data",), aux: Any = (),
             outputs: Any = ("output",), aliases: Sequence[str] = (), simple: bool = True,
             **kwargs: Any) -> Callable[[Callable], Callable]:
    """Register an operator whose implementation follows.

    With ``simple=True`` the implementation is ``fn(p, *inputs) -> array | tuple of arrays``
    (``fn(p, *inputs, ctx=OpCtx)`` if ``needs_key``); otherwise it is the full
    ``fn(p, inputs, aux, ctx) -> (outputs, new_aux)``.
    """
    def wrap(fn: Callable) -> Callable:
        if simple:
            needs_ctx = kwargs.get("needs_key", False)

            def forward(p: Params, inputs: list, aux: list, ctx: OpCtx) -> tuple[list, list]:
                out = fn(p, *inputs, ctx=ctx) if needs_ctx else fn(p, *inputs)
                return (list(out) if isinstance(out, (tuple, list)) else [out]), []
        else:
            forward = fn
        op = OpDef(name=name, forward=forward, params={q.name: q for q in params},
                   arguments=arguments, aux=aux, outputs=outputs, aliases=tuple(aliases),
                   doc=fn.__doc__ or "", **kwargs)
        for key in (name, *aliases):
            if key in _REGISTRY:
                raise MXNetError(f"operator name {key!r} registered twice")
            _REGISTRY[key] = op
        return fn
    return wrap


def add_op(op: OpDef) -> OpDef:
    """Register a ready-made OpDef (subclasses with their own parsing, such as Custom)."""
    for key in (op.name, *op.aliases):
        if key in _REGISTRY:
            raise MXNetError(f"operator name {key!r} registered twice")
        _REGISTRY[key] = op
    return op


def find_op(name: str) -> OpDef | None:
    return _REGISTRY.get(name)


def get_op(name: str, where: str = "") -> OpDef:
    """The operator registered as ``name`` (or an alias); UnknownOperatorError otherwise."""
    op = _REGISTRY.get(name)
    if op is None:
        raise UnknownOperatorError(f"unknown operator '{name}'" + (f" ({where})" if where else "")
                                   + "; it is not in modjax's operator registry")
    return op


def all_ops() -> dict[str, OpDef]:
    """Every registered name (aliases included) and its definition."""
    return dict(_REGISTRY)


def split_positional(op: OpDef, args: Sequence[Any], is_input: Callable[[Any], bool],
                     kwargs: dict[str, Any]) -> tuple[list, dict[str, Any]]:
    """MXNet's generated ``mx.sym.X``/``mx.nd.X`` take parameters positionally after the inputs,
    in declaration order (``mx.nd.clip(x, 0, 6)``). Returns (inputs, kwargs with those params)."""
    first = next((i for i, a in enumerate(args) if not is_input(a)), len(args))
    if first == len(args) or op.varargs is not None:
        return list(args), kwargs
    names = [n for n in op.params if n != op.varargs]
    extra = args[first:]
    if len(extra) > len(names) or any(is_input(a) for a in extra):
        raise MXNetError(f"operator {op.name}: positional arguments after the inputs must be its "
                         f"parameters {names}, got {len(extra)} values")
    kwargs = dict(kwargs)
    for name, value in zip(names, extra):
        if name in kwargs:
            raise MXNetError(f"operator {op.name}: parameter '{name}' given twice")
        kwargs[name] = value
    return list(args[:first]), kwargs


def parse_params(op: OpDef, attrs: dict[str, Any], node_name: str = "") -> Params:
    return op.parse(attrs, node_name)


# -- shape helpers used by infer_shape rules --------------------------------------------------
def known(shape: Any) -> bool:
    """A shape with every dim known."""
    return shape is not None and len(shape) >= 0 and all(int(d) > 0 for d in shape) and shape != ()


def merge_shape(a: Any, b: Any, what: str = "") -> Any:
    """Unify two partial shapes (None or 0 dims are unknown); ShapeError on a conflict."""
    if a is None or (len(a) == 0):
        return b if b is not None and len(b) > 0 else a
    if b is None or len(b) == 0:
        return a
    if len(a) != len(b):
        raise ShapeError(f"{what}: shape mismatch: {tuple(a)} vs {tuple(b)}")
    out = []
    for x, y in zip(a, b):
        if x and y and x != y:
            raise ShapeError(f"{what}: shape mismatch: {tuple(a)} vs {tuple(b)}")
        out.append(x or y)
    return tuple(out)


def eval_output_shapes(op: OpDef, p: Params, in_shapes: list, in_types: list, is_train: bool = False
                       ) -> tuple[list, list]:
    """Output shapes and dtypes of ``op`` for fully known inputs, by abstract evaluation."""
    n_args = len(in_shapes) - len(op.list_aux(p)) if op.varargs is None else len(in_shapes)
    structs = [jax.ShapeDtypeStruct(tuple(s), np.dtype(t)) for s, t in zip(in_shapes, in_types)]
    key = jax.ShapeDtypeStruct((), jax.random.key(0).dtype) if op.needs_key else None

    def run(xs: list, k: Any) -> list:
        outs, _ = op.forward(p, xs[:n_args], xs[n_args:], OpCtx(is_train=is_train, key=k))
        return outs

    outs = jax.eval_shape(run, structs, key)
    return [tuple(o.shape) for o in outs], [np.dtype(o.dtype) for o in outs]
