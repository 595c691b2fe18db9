"""Pure shape arithmetic shared by operators and NDArray (no JAX tracing)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..base import ShapeError

__all__ = ["reshape_shape"]


def _prod(dims: Sequence[int]) -> int:
    return int(np.prod(dims, dtype=np.int64)) if dims else 1


def reshape_shape(src: Sequence[int], target: Sequence[int], reverse: bool = False) -> tuple[int, ...]:
    """MXNet's Reshape with special codes, e.g. (2,3,4) with (-3,4) -> (6,4).

    0 copies the dim, -1 infers it, -2 copies the rest, -3 merges two dims, -4 splits one into
    the next two values (one may be -1). ``reverse`` matches the codes right to left.
    """
    src, target = list(src), list(target)
    if reverse:
        src, target = src[::-1], target[::-1]
        # -4 splits keep their order relative to the split dim: swap each pair after reversal
        fixed: list[int] = []
        i = 0
        while i < len(target):
            if i + 2 < len(target) and target[i + 2] == -4:
                fixed += [-4, target[i + 1], target[i]]
                i += 3
            else:
                fixed.append(target[i])
                i += 1
        target = fixed
    out: list[int] = []
    infer_at = -1
    i = j = 0
    while j < len(target):
        code = target[j]
        if code > 0:
            out.append(code)
            i += 1
        elif code == 0:
            if i >= len(src):
                raise ShapeError(f"Reshape: code 0 at position {j} has no input dim to copy in {tuple(src)}")
            out.append(src[i])
            i += 1
        elif code == -1:
            if infer_at >= 0:
                raise ShapeError("Reshape: only one dim can be inferred (-1)")
            infer_at = len(out)
            out.append(-1)
            i += 1
        elif code == -2:
            out.extend(src[i:])
            i = len(src)
        elif code == -3:
            if i + 1 >= len(src):
                raise ShapeError(f"Reshape: -3 needs two input dims at position {i} of {tuple(src)}")
            out.append(src[i] * src[i + 1])
            i += 2
        elif code == -4:
            if j + 2 >= len(target) or i >= len(src):
                raise ShapeError("Reshape: -4 must be followed by two dims and split an input dim")
            d, a, b = src[i], target[j + 1], target[j + 2]
            if a == -1 and b == -1:
                raise ShapeError("Reshape: -4 split may infer only one of its two dims")
            a = d // b if a == -1 else a
            b = d // a if b == -1 else b
            if a * b != d:
                raise ShapeError(f"Reshape: -4 split of {d} into ({a}, {b}) does not match")
            out += [a, b]
            i += 1
            j += 2
        else:
            raise ShapeError(f"Reshape: invalid special code {code}")
        j += 1
    total = _prod(src)
    if infer_at >= 0:
        rest = _prod([d for k, d in enumerate(out) if k != infer_at])
        if rest == 0 or total % rest:
            raise ShapeError(f"Reshape: cannot infer -1 reshaping {tuple(src)} to {tuple(target)}")
        out[infer_at] = total // rest
    if reverse:
        out = out[::-1]
        src = src[::-1]
    if _prod(out) != total:
        raise ShapeError(f"Reshape: target shape {tuple(out)} has {_prod(out)} elements, input "
                         f"{tuple(src)} has {total}")
    return tuple(out)
