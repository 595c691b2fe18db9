"""Lowering: a Symbol becomes one pure JAX function, traced once per input shape.

``LoweredGraph(sym).run(args, aux, key, is_train) -> (outputs, new_aux)`` walks a plan fixed at
lowering time; under ``jax.jit`` the walk happens once, at trace time, so nothing runs per node
when the compiled executable runs. Everything else (Executor, Module, nd) is built on it.
"""
from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp

from ..base import MXNetError
from ..ops.registry import OpCtx
from .graph import Node
from .loops import LoopRegion, find_regions, find_stacked_concats

__all__ = ["LoweredGraph"]


class LoweredGraph:
    """A symbol's computation as a pure function of named arrays.

    Attributes: ``arg_names``, ``aux_names``, ``output_names``, ``loss_heads`` (which outputs
    ignore their head gradient), ``needs_key`` (whether it draws random numbers).
    """

    def __init__(self, sym: Any):
        self.symbol = sym
        nodes: list[Node] = sym._nodes()
        _, arg_nodes, aux_nodes = sym._variable_roles()
        self.arg_names = [n.name for n in arg_nodes]
        self.aux_names = [n.name for n in aux_nodes]
        for names, what in ((self.arg_names, "argument"), (self.aux_names, "auxiliary state")):
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise MXNetError(f"the symbol has several distinct {what} variables named {dup}; "
                                 "names must be unique to bind")
        self.output_names = sym.list_outputs()
        aux_ids = {id(n) for n in aux_nodes}
        index = {id(n): i for i, n in enumerate(nodes)}
        self._plan: list[tuple] = []
        self._var_attrs: dict[int, dict] = {}  # as lowered (for __fingerprint__)
        for i, node in enumerate(nodes):
            if node.is_variable:
                self._plan.append(("aux" if id(node) in aux_ids else "arg", node.name))
                self._var_attrs[i] = dict(node.attrs)
                continue
            p = node.params
            ins = [(index[id(src)], idx) for src, idx, _ in node.inputs]
            n_aux = len(node.op.list_aux(p))
            aux_targets = [src.name if src.is_variable else None
                           for src, _, _ in node.inputs[len(node.inputs) - n_aux:]] if n_aux else []
            self._plan.append(("op", node.op, p, ins, len(ins) - n_aux, aux_targets, node.name))
        self._heads = [(index[id(n)], i) for n, i in sym._heads]
        # ops that read their inferred output shapes (``_zeros(shape=(0, H))``): see _out_shapes
        self._nodes = nodes
        self._shape_steps = [i for i, n in enumerate(nodes)
                             if not n.is_variable and n.op.needs_out_shapes]
        self.arg_rewrites: list[tuple[str, Any]] = []
        for node in nodes:
            if node.op is not None and node.op.rewrites_args is not None:
                rules = node.op.rewrites_args(node.params)
                for (src, _, _), arg in zip(node.inputs, node.arg_names()):
                    if arg in rules and src.is_variable:
                        self.arg_rewrites.append((src.name, rules[arg]))
        self.loss_heads = [(not n.is_variable) and n.op.is_loss(n.params) for n, _ in sym._heads]
        self.needs_key = any(not n.is_variable and n.op.needs_key for n in nodes)
        self._index = {id(n): i for i, n in enumerate(nodes)}
        self._loops: tuple[list, dict] | None = None  # (units, stacked): found at first trace
        self._fingerprint: str | None = None

    @property
    def _units(self) -> list[tuple]:
        """Plain nodes and whole loop regions in run order (found when first needed: a program
        loaded from the executable store never traces its graph)."""
        if self._loops is None:
            units = self._schedule(find_regions(self._nodes, self._heads))
            regions = [u[1] for u in units if u[0] == "region"]
            self._loops = (units, find_stacked_concats(self._nodes, regions))
        return self._loops[0]

    @property
    def _stacked(self) -> dict:
        """Concats of a region's per-step outputs, run as one stacked result (see ``_units``)."""
        self._units  # noqa: B018 - computes both
        return self._loops[1]

    def __fingerprint__(self) -> str:
        """sha256 of what this graph traces to, for the on-disk executable store: the plan fixed
        at lowering (every operator with its parsed parameters and inputs, the variables with
        their attributes as they were then), the heads, and the loop-step tags the JSON does
        not show. Every operator must be modjax's own: a ``Custom`` op, or one added from
        outside, runs code that no fingerprint covers (raises ``Unfingerprintable``)."""
        if self._fingerprint is None:
            import hashlib
            from ..module.fingerprint import Unfingerprintable
            regions: dict[int, int] = {}
            h = hashlib.sha256()
            for i, (node, entry) in enumerate(zip(self._nodes, self._plan)):
                if entry[0] != "op":
                    h.update(repr((entry, sorted(self._var_attrs[i].items()))).encode())
                    continue
                _, op, params, ins, n_args, aux_targets, name = entry
                module = getattr(op.forward, "__module__", None) or ""
                if op.name == "Custom" or not module.startswith("modjax."):
                    raise Unfingerprintable(f"operator {op.name} ({module})")
                tag = None if node.step_tag is None else (
                    regions.setdefault(id(node.step_tag[0]), len(regions)), node.step_tag[1])
                h.update(repr((op.name, name, sorted(params.items()), ins, n_args, aux_targets,
                               tag)).encode())
            h.update(repr(self._heads).encode())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    @property
    def loop_regions(self) -> list[LoopRegion]:
        """The unrolled-cell loops this graph runs as ``lax.scan``."""
        return [u[1] for u in self._units if u[0] == "region"]

    def _schedule(self, regions: list[LoopRegion]) -> list[tuple]:
        """Order plain nodes and whole loop regions so every unit's inputs come first."""
        regions = [r for r in regions
                   if not any(self._nodes[g].op.needs_out_shapes for row in r.nodes for g in row)]
        member = {g: r for r, region in enumerate(regions) for row in region.nodes for g in row}
        units: list[tuple] = [("region", region) for region in regions]
        unit_of = {g: r for g, r in member.items()}
        for i in range(len(self._plan)):
            if i not in member:
                unit_of[i] = len(units)
                units.append(("node", i))
        deps: list[set[int]] = [set() for _ in units]
        for u, (kind, item) in enumerate(units):
            if kind == "node":
                entry = self._plan[item]
                srcs = [j for j, _ in entry[3]] if entry[0] == "op" else []
            else:
                srcs = list(item.external_deps)
            deps[u] = {unit_of[j] for j in srcs} - {u}
        order, done = [], set()
        pending = sorted(range(len(units)), key=lambda u: min(
            (g for row in units[u][1].nodes for g in row)) if units[u][0] == "region" else units[u][1])
        while pending:
            ready = [u for u in pending if deps[u] <= done]
            if not ready:  # regions that depend on each other: run everything unrolled
                return [("node", i) for i in range(len(self._plan))]
            u = ready[0]
            order.append(units[u])
            done.add(u)
            pending.remove(u)
        return order

    def apply_rewrites(self, args: dict[str, jax.Array]) -> dict[str, jax.Array]:
        """Arguments as MXNet leaves them after a forward (fix_gamma BatchNorm's gamma is 1)."""
        if not self.arg_rewrites:
            return args
        args = dict(args)
        for name, fn in self.arg_rewrites:
            args[name] = fn(args[name])
        return args

    def run(self, args: dict[str, jax.Array], aux: dict[str, jax.Array], key: Any = None,
            is_train: bool = False) -> tuple[list[jax.Array], dict[str, jax.Array]]:
        """Evaluate the graph: (outputs in ``output_names`` order, updated aux states)."""
        values: dict[int, Sequence[jax.Array]] = {}
        new_aux = dict(aux)
        out_shapes = self._out_shapes(args, aux) if self._shape_steps else {}
        for kind, item in self._units:
            if kind == "region":
                params = [e[2] if e[0] == "op" else None for e in self._plan]
                item.run(self._nodes, params, values, key, is_train, item.nodes[0][0], self._index)
                continue
            if item in self._stacked:  # Concat of expand_dims over a region's steps
                region, kj, axis = self._stacked[item]
                stacked = values[("region", id(region))][kj]
                values[item] = (jnp.moveaxis(stacked, 0, axis % stacked.ndim),)
                continue
            step, entry = item, self._plan[item]
            if entry[0] == "arg":
                values[step] = (args[entry[1]],)
                continue
            if entry[0] == "aux":
                values[step] = (new_aux[entry[1]],)
                continue
            _, op, p, ins, n_args, aux_targets, name = entry
            inputs = [values[j][k] for j, k in ins]
            sub = jax.random.fold_in(key, step) if op.needs_key and key is not None else None
            ctx = OpCtx(is_train, sub, out_shapes.get(step))
            outs, upd = op.forward(p, inputs[:n_args], inputs[n_args:], ctx)
            if is_train:
                for target, value in zip(aux_targets, upd):
                    if target is not None:
                        new_aux[target] = value
            values[step] = outs
        return [values[j][k] for j, k in self._heads], new_aux

    def _out_shapes(self, args: dict[str, Any], aux: dict[str, Any]) -> dict[int, list]:
        """Output shapes of the ``needs_out_shapes`` nodes, by shape inference over the graph
        seeded with the argument shapes (runs in Python, once per trace)."""
        from .infer import infer_graph
        shapes, dtypes = {}, {}
        for node in self._nodes:
            if node.is_variable:
                value = args.get(node.name, aux.get(node.name))
                if value is not None:
                    shapes[id(node)] = tuple(value.shape)
                    dtypes[id(node)] = value.dtype
        eshape, _ = infer_graph(self._nodes, shapes, dtypes)
        return {step: [eshape.get((id(self._nodes[step]), i))
                       for i in range(self._nodes[step].num_outputs())]
                for step in self._shape_steps}

    def forward_and_vjp(self, args: dict[str, jax.Array], aux: dict[str, jax.Array], key: Any,
                        diff_names: Sequence[str], head_grads: Sequence[Any] | None
                        ) -> tuple[list[jax.Array], dict[str, jax.Array], dict[str, jax.Array]]:
        """Training forward plus gradients of ``diff_names``; loss heads need no head gradient."""
        diff = {n: args[n] for n in diff_names}
        rest = {n: v for n, v in args.items() if n not in diff}

        def f(d: dict[str, jax.Array]):
            outs, new_aux = self.run({**rest, **d}, aux, key, True)
            return outs, new_aux

        outs, vjp_fn, new_aux = jax.vjp(f, diff, has_aux=True)
        cots = []
        for i, out in enumerate(outs):
            g = None if head_grads is None else head_grads[i]
            cots.append(jnp.ones_like(out) if g is None else jnp.asarray(g, out.dtype))
        (grads,) = vjp_fn(cots)
        return outs, new_aux, grads
