"""Loop regions: the T steps of an unrolled RNN cell, run as one ``lax.scan``.

``mx.rnn`` cells build MXNet's per-step graph (so names, JSON and introspection are MXNet's)
and tag each step's operator nodes with ``step_scope``. Here a tagged region is checked to be T
structurally identical steps wired as a chain: step t reads only its own nodes, the previous
step's outputs (the carried state), loop-invariant entries (parameters) and one entry per step
from outside (its input). Such a region lowers to ``lax.scan`` over step 0's nodes, so XLA
compiles one step whatever T is. Anything that does not fit runs unrolled, as before.
"""
from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp

from ..ops.registry import OpCtx
from .graph import Node

__all__ = ["LoopRegion", "find_regions"]


class LoopRegion:
    """A verified chain of T steps, ready to run as ``lax.scan``.

    ``template`` are step 0's node indices (global), ``nodes[t][k]`` the index of template node k
    at step t. Each template input is one of ("in", k, j), ("carry", slot), ("inv", entry) or
    ("xs", slot); ``carry_init[slot]`` / ``xs_entries[slot]`` are global entries (node, j).
    ``exported`` lists the (k, j) outputs read outside the region.
    """

    def __init__(self, nodes: list[list[int]], template_inputs: list[list[tuple]], carry_slots: list,
                 carry_init: list, xs_entries: list, exported: list, external_deps: set):
        self.nodes = nodes
        self.template_inputs = template_inputs
        self.carry_slots = carry_slots  # (k, j) of the previous step carried to the next
        self.carry_init = carry_init
        self.xs_entries = xs_entries  # per slot: [entry at t=0, ..., entry at t=T-1]
        self.exported = exported
        self.external_deps = external_deps  # global node indices the region reads

    @property
    def length(self) -> int:
        return len(self.nodes)

    def _stacked_input(self, entries: list, plan_nodes: Sequence[Node], index: dict, values: dict
                       ) -> Any:
        """The per-step inputs stacked on a new leading axis. When they are the T outputs of one
        SliceChannel(squeeze_axis) in order, that is its input with the axis moved first (one
        transpose instead of T slices and a stack: the program stays the same size for any T)."""
        g = entries[0][0]
        node = plan_nodes[g]
        if (node.op is not None and node.op.name == "SliceChannel" and node.params.squeeze_axis
                and node.params.num_outputs == len(entries)
                and entries == [(g, t) for t in range(len(entries))]):
            src, j, _ = node.inputs[0]
            data = values[index[id(src)]][j]
            return jnp.moveaxis(data, node.params.axis % data.ndim, 0)
        return jnp.stack([values[e[0]][e[1]] for e in entries])

    def run(self, plan_nodes: Sequence[Node], params: Sequence[Any], values: dict, key: Any,
            is_train: bool, base: int, index: dict) -> None:
        """Scan the steps; write each step's exported outputs into ``values`` (and the stacked
        outputs under ``("region", id(self))``)."""
        def get(entry: tuple) -> Any:
            return values[entry[0]][entry[1]]

        carry0 = tuple(get(e) for e in self.carry_init)
        xs = tuple(self._stacked_input(entries, plan_nodes, index, values)
                   for entries in self.xs_entries)
        inv = {}
        for inputs in self.template_inputs:
            for src in inputs:
                if src[0] == "inv":
                    inv[src[1]] = get(src[1])
        template = self.nodes[0]

        def body(carry: tuple, x: tuple) -> tuple:
            t, step_xs = x
            local: list[list[Any]] = []
            for k, gidx in enumerate(template):
                node = plan_nodes[gidx]
                ins = []
                for src in self.template_inputs[k]:
                    kind = src[0]
                    if kind == "in":
                        ins.append(local[src[1]][src[2]])
                    elif kind == "carry":
                        ins.append(carry[src[1]])
                    elif kind == "inv":
                        ins.append(inv[src[1]])
                    else:
                        ins.append(step_xs[src[1]])
                sub = None
                if node.op.needs_key and key is not None:
                    sub = jax.random.fold_in(jax.random.fold_in(key, base + k), t)
                outs, _ = node.op.forward(params[gidx], ins, [], OpCtx(is_train, sub))
                local.append(outs)
            new_carry = tuple(local[k][j].astype(c.dtype) for (k, j), c in zip(self.carry_slots, carry))
            ys = tuple(local[k][j] for k, j in self.exported)
            return new_carry, ys

        steps = jnp.arange(self.length, dtype=jnp.int32)
        _, ys = jax.lax.scan(body, carry0, (steps, xs))
        exported = {kj: y for kj, y in zip(self.exported, ys)}
        values[("region", id(self))] = exported
        for t, row in enumerate(self.nodes):
            for k, gidx in enumerate(row):
                values[gidx] = _StepOutputs(exported, k, t)


class _StepOutputs:
    """Output j of template node k at step t, read lazily from the stacked scan outputs."""

    __slots__ = ("_exported", "_k", "_t")

    def __init__(self, exported: dict, k: int, t: int):
        self._exported, self._k, self._t = exported, k, t

    def __getitem__(self, j: int) -> Any:
        return self._exported[(self._k, j)][self._t]


def _same_op(a: Node, b: Node) -> bool:
    return a.op is b.op and len(a.inputs) == len(b.inputs) and a.params == b.params


def _build(steps: list[list[int]], nodes: Sequence[Node], index: dict[int, int],
           consumers_outside: set) -> LoopRegion | None:
    """Verify a tagged region and describe it, or None when it is not a simple chain."""
    T = len(steps)
    K = len(steps[0])
    if T < 2 or any(len(s) != K for s in steps):
        return None
    pos = {}  # global index -> (t, k)
    for t, row in enumerate(steps):
        for k, g in enumerate(row):
            pos[g] = (t, k)
    for k in range(K):
        ref = nodes[steps[0][k]]
        if ref.op.list_aux(ref.params) or any(not _same_op(ref, nodes[steps[t][k]]) for t in range(T)):
            return None

    def classify(t: int, src: Node, j: int) -> tuple:
        g = index[id(src)]
        if g in pos:
            st, sk = pos[g]
            if st == t:
                return ("in", sk, j)
            if st == t - 1:
                return ("carry", (sk, j))
            return ("bad",)
        return ("ext", (g, j))

    template_inputs: list[list[tuple]] = []
    carry_slots: list = []
    carry_init: list = []
    xs_entries: list = []
    for k in range(K):
        row = []
        for i in range(len(nodes[steps[0][k]].inputs)):
            per_t = [classify(t, *nodes[steps[t][k]].inputs[i][:2]) for t in range(T)]
            if any(c[0] == "bad" for c in per_t):
                return None
            later = per_t[1:]
            if all(c == later[0] for c in later) and later[0][0] == "in":
                if per_t[0] != later[0]:
                    return None
                row.append(later[0])
            elif all(c == later[0] for c in later) and later[0][0] == "carry":
                if per_t[0][0] != "ext":
                    return None
                slot_key = later[0][1]
                if slot_key in carry_slots:
                    s = carry_slots.index(slot_key)
                    if carry_init[s] != per_t[0][1]:
                        return None
                else:
                    carry_slots.append(slot_key)
                    carry_init.append(per_t[0][1])
                    s = len(carry_slots) - 1
                row.append(("carry", s))
            elif all(c[0] == "ext" for c in per_t):
                if all(c == per_t[0] for c in per_t):
                    row.append(("inv", per_t[0][1]))
                else:
                    xs_entries.append([c[1] for c in per_t])
                    row.append(("xs", len(xs_entries) - 1))
            else:
                return None
        template_inputs.append(row)
    exported = sorted({(pos[g][1], j) for g, j in consumers_outside if g in pos})
    deps = {e[0] for e in carry_init} | {e[0] for ent in xs_entries for e in ent} | \
        {src[1][0] for row in template_inputs for src in row if src[0] == "inv"}
    return LoopRegion(steps, template_inputs, carry_slots, carry_init, xs_entries, exported, deps)


def find_stacked_concats(nodes: Sequence[Node], regions: list[LoopRegion]) -> dict[int, tuple]:
    """Concat nodes that stack one exported output of a region over its steps, in order, through
    ``expand_dims`` (``merge_outputs=True``): node index -> (region, (k, j), axis). Lowering
    replaces each by one ``moveaxis`` of the scan's stacked output."""
    index = {id(n): i for i, n in enumerate(nodes)}
    where: dict[int, tuple] = {}
    for region in regions:
        for t, row in enumerate(region.nodes):
            for k, g in enumerate(row):
                where[g] = (region, t, k)
    found = {}
    for i, node in enumerate(nodes):
        if node.op is None or node.op.name != "Concat":
            continue
        picks = []
        for src, j, _ in node.inputs:
            if src.op is None or src.op.name != "expand_dims" or j != 0:
                break
            inner, jj, _ = src.inputs[0]
            hit = where.get(index[id(inner)])
            if hit is None:
                break
            picks.append((hit, jj, src.params.axis))
        else:
            if not picks:
                continue
            region = picks[0][0][0]
            k, j = picks[0][0][2], picks[0][1]
            ndim_axis = {p[2] for p in picks}
            if (len(picks) == region.length and len(ndim_axis) == 1
                    and all(p[0] == (region, t, k) and p[1] == j for t, p in enumerate(picks))
                    and (k, j) in region.exported and ndim_axis == {node.params.dim}):
                found[i] = (region, (k, j), node.params.dim)
    return found


def find_regions(nodes: Sequence[Node], heads: Sequence[tuple[int, int]]) -> list[LoopRegion]:
    """Every tagged loop region of the graph (in topological node order) that can be scanned."""
    index = {id(n): i for i, n in enumerate(nodes)}
    groups: dict[int, dict[int, list[int]]] = {}
    owner: dict[int, int] = {}
    for i, node in enumerate(nodes):
        if node.step_tag is not None:
            region, t = node.step_tag
            groups.setdefault(id(region), {}).setdefault(t, []).append(i)
            owner[i] = id(region)
    regions = []
    for rid, by_step in groups.items():
        if sorted(by_step) != list(range(len(by_step))):
            continue
        steps = [by_step[t] for t in range(len(by_step))]
        members = {g for row in steps for g in row}
        outside = {(h, j) for h, j in heads if h in members}
        for i, node in enumerate(nodes):
            if i in members:
                continue
            for src, j, _ in node.inputs:
                g = index[id(src)]
                if g in members:
                    outside.add((g, j))
        region = _build(steps, nodes, index, outside)
        if region is not None:
            regions.append(region)
    return regions
