"""Typed operator parameters, parsed from Python values or from the strings of symbol JSON.

MXNet keeps every operator parameter as the string ``str(value)``; the C++ side parses it
tolerantly (``"(3, 3)"``, ``"[3,3]"``, ``"3"``; ``True/true/1``). Each parser here accepts the
Python value and any of those strings and returns the canonical Python value.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..base import MXNetError, normalize_dtype

__all__ = ["Param", "REQUIRED", "Params", "p_int", "p_float", "p_bool", "p_str", "p_shape",
           "p_shape_or_none", "p_int_or_none", "p_float_or_none", "p_bool_or_none", "p_enum",
           "p_dtype", "p_dtype_or_none", "attr_str"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()


class ParamParseError(MXNetError, ValueError):
    """A parameter string that does not parse as its declared type."""


def _is_none(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ("None", ""))


def p_int(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            raise ParamParseError(f"expected an integer, got {value!r}") from None
        if f.is_integer():
            return int(f)
        raise ParamParseError(f"expected an integer, got {value!r}") from None


def p_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ParamParseError(f"expected a number, got {value!r}") from None


def p_bool(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return bool(value)
    text = str(value).strip()
    if text in ("True", "true", "1"):
        return True
    if text in ("False", "false", "0"):
        return False
    raise ParamParseError(f"expected a boolean (True/False/true/false/1/0), got {value!r}")


def p_str(value: Any) -> str:
    return str(value)


def p_shape(value: Any) -> tuple[int, ...]:
    """A shape/tuple parameter: ``(3, 3)``, ``[3,3]``, ``3``, ``"(3, 3)"``, ``"3"`` or ``"()"``."""
    if isinstance(value, (list, tuple)):
        return tuple(p_int(v) for v in value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),)
    text = str(value).strip()
    if text in ("", "()", "[]"):
        return ()
    try:
        parsed = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ParamParseError(f"expected a shape such as (3, 3), got {value!r}") from None
    if isinstance(parsed, (list, tuple)):
        return tuple(p_int(v) for v in parsed)
    if isinstance(parsed, (int, float)):
        return (p_int(parsed),)
    raise ParamParseError(f"expected a shape such as (3, 3), got {value!r}")


def _or_none(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def parser(value: Any) -> Any:
        return None if _is_none(value) else parse(value)
    parser.__name__ = parse.__name__ + "_or_none"
    return parser


p_shape_or_none = _or_none(p_shape)
p_int_or_none = _or_none(p_int)
p_float_or_none = _or_none(p_float)
p_bool_or_none = _or_none(p_bool)


def p_enum(*choices: str | None) -> Callable[[Any], Any]:
    """One of ``choices`` (``None`` allowed when listed)."""
    def parser(value: Any) -> Any:
        if _is_none(value) and None in choices:
            return None
        text = str(value)
        if text not in choices:
            raise ParamParseError(f"expected one of {[c for c in choices]}, got {value!r}")
        return text
    parser.__name__ = "enum"
    return parser


def p_dtype(value: Any) -> str:
    return normalize_dtype(value).name


p_dtype_or_none = _or_none(p_dtype)


def attr_str(value: Any) -> str:
    """How MXNet's Python front end stringifies a parameter value for the graph (``str(value)``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, type) or isinstance(value, np.dtype):
        return normalize_dtype(value).name
    if hasattr(value, "dtype") and not hasattr(value, "shape"):
        return normalize_dtype(value).name
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


@dataclass(frozen=True)
class Param:
    """One declared parameter: its name, parser and default (``REQUIRED`` if it has none)."""

    name: str
    parse: Callable[[Any], Any]
    default: Any = REQUIRED


class Params(dict):
    """Parsed parameters of one operator node, readable as attributes: ``p.num_hidden``."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None
