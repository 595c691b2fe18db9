"""Name registries of classes (metrics, initializers): ``register``, ``alias`` and lookup."""
from __future__ import annotations

import warnings
from typing import Callable

__all__ = ["ClassRegistry"]


class ClassRegistry(dict):
    """Lower-cased name -> subclass of ``base``; re-registering a name warns, as MXNet does."""

    def __init__(self, base: type, kind: str, error: type[Exception]):
        super().__init__()
        self.base, self.kind, self.error = base, kind, error

    def register(self, klass: type, name: str | None = None) -> type:
        """Register ``klass`` under ``name`` (default: its lower-cased class name)."""
        if not (isinstance(klass, type) and issubclass(klass, self.base)):
            raise self.error(f"Can only register subclass of {self.base.__name__}, got {klass!r}")
        key = (name or klass.__name__).lower()
        old = self.get(key)
        if old is not None:  # MXNet warns on any re-registration
            warnings.warn(f"New {self.kind} {klass.__module__}.{klass.__name__} registered with name "
                          f"{key} is overriding existing {self.kind} {old.__module__}.{old.__name__}",
                          UserWarning, stacklevel=3)
        self[key] = klass
        return klass

    def alias(self, *aliases: str) -> Callable[[type], type]:
        """Class decorator registering the class under extra names."""
        def reg(klass: type) -> type:
            for name in aliases:
                self.register(klass, name)
            return klass
        return reg
