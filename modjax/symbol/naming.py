"""Automatic node names and attribute scopes: ``mx.name.NameManager``, ``Prefix``, ``mx.AttrScope``."""
from __future__ import annotations

import threading
from typing import Any

from ..base import MXNetError

__all__ = ["NameManager", "Prefix", "AttrScope", "HIDDEN_KEYS"]

# attribute keys MXNet stores as ``__key__`` when set on a node
HIDDEN_KEYS = ("ctx_group", "lr_mult", "wd_mult", "force_mirroring", "mirror_stage")

_local = threading.local()


class NameManager:
    """Gives unnamed operators the names ``{hint}{n}``, counting per hint and per manager."""

    def __init__(self) -> None:
        self._counter: dict[str, int] = {}
        self._old_manager: NameManager | None = None

    def get(self, name: str | None, hint: str) -> str:
        if name:
            return name
        n = self._counter.get(hint, 0)
        self._counter[hint] = n + 1
        return f"{hint}{n}"

    def __enter__(self) -> "NameManager":
        self._old_manager = NameManager.current
        _local.name_manager = self
        return self

    def __exit__(self, *exc: Any) -> None:
        _local.name_manager = self._old_manager

    @classmethod
    def _current(cls) -> "NameManager":
        manager = getattr(_local, "name_manager", None)
        if manager is None:
            manager = _local.name_manager = NameManager()
        return manager


class _CurrentDescriptor:
    def __get__(self, obj: Any, owner: type) -> NameManager:
        return NameManager._current()


NameManager.current = _CurrentDescriptor()  # type: ignore[attr-defined]


class Prefix(NameManager):
    """A NameManager that puts ``prefix`` before every operator name, explicit ones included."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self._prefix = prefix

    def get(self, name: str | None, hint: str) -> str:
        return self._prefix + super().get(name, hint)


class AttrScope:
    """``with mx.AttrScope(ctx_group='dev1'):`` adds string attributes to every node made inside."""

    def __init__(self, **kwargs: str) -> None:
        for value in kwargs.values():
            if not isinstance(value, str):
                raise MXNetError(f"AttrScope: attributes must be strings, got {value!r}")
        self._attr = dict(kwargs)
        self._old_scope: AttrScope | None = None

    def get(self, attr: dict[str, str] | None) -> dict[str, str]:
        """The scope's attributes merged with (and overridden by) ``attr``."""
        if not self._attr:
            return dict(attr) if attr else {}
        out = dict(self._attr)
        if attr:
            out.update(attr)
        return out

    def __enter__(self) -> "AttrScope":
        self._old_scope = AttrScope.current()
        merged = AttrScope()
        merged._attr = self._old_scope.get(self._attr)
        self._merged = merged
        _local.attr_scope = merged
        return self

    def __exit__(self, *exc: Any) -> None:
        _local.attr_scope = self._old_scope

    @staticmethod
    def current() -> "AttrScope":
        scope = getattr(_local, "attr_scope", None)
        if scope is None:
            scope = _local.attr_scope = AttrScope()
        return scope


def hide_keys(attrs: dict[str, str]) -> dict[str, str]:
    """Rename MXNet's hidden keys (``lr_mult`` -> ``__lr_mult__``)."""
    return {(f"__{k}__" if k in HIDDEN_KEYS else k): v for k, v in attrs.items()}
