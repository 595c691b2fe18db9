"""Write docs/operators.md from the operator registry: every operator, its aliases, inputs,
parameters with defaults, and its one-line description.

    python -m modjax.tools.opdoc [docs/operators.md]
"""
from __future__ import annotations

import sys

from ..ops.params import REQUIRED, Params
from ..ops.registry import OpDef, all_ops

__all__ = ["render"]


def _default_params(op: OpDef) -> Params:
    p = Params()
    for name, spec in op.params.items():
        p[name] = None if spec.default is REQUIRED else spec.default
    return p


def _names(spec: object, p: Params) -> str:
    try:
        names = list(spec(p) if callable(spec) else spec)  # type: ignore[operator]
    except Exception:  # noqa: BLE001 - a rule that needs a real parameter value
        return "(depends on the parameters)"
    return ", ".join(names) if names else "–"


def _param_text(op: OpDef) -> str:
    parts = []
    for name, spec in op.params.items():
        parse = getattr(spec.parse, "__name__", "value").replace("p_", "")
        default = "required" if spec.default is REQUIRED else f"default `{spec.default!r}`"
        parts.append(f"`{name}` ({parse}, {default})")
    return "; ".join(parts) if parts else "–"


def render() -> str:
    """The markdown text of docs/operators.md."""
    ops: dict[str, OpDef] = {}
    for name, op in all_ops().items():
        ops.setdefault(op.name, op)
    lines = ["# Operators", "",
             "Generated from modjax's operator registry by `python -m modjax.tools.opdoc`; each is "
             "`mx.sym.NAME` and `mx.nd.NAME` under its name and every alias.", "",
             f"{len(ops)} operators, {len(all_ops())} names.", "",
             "| operator | aliases | inputs | aux | parameters | description |",
             "|---|---|---|---|---|---|"]
    for name in sorted(ops, key=lambda n: (n.lstrip("_").lower(), n)):
        op = ops[name]
        p = _default_params(op)
        doc = (op.doc or "").strip().split("\n")[0].replace("|", "\\|")
        lines.append(f"| `{name}` | {', '.join(f'`{a}`' for a in op.aliases) or '–'} | "
                     f"{_names(op.arguments, p)} | {_names(op.aux, p)} | {_param_text(op)} | {doc} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    text = render()
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
