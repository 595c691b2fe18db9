"""``mx.nd.save`` / ``mx.nd.load``: NDArrays in MXNet's binary container format."""
from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from ..base import MXNetError
from . import serialization
from .ndarray import NDArray, array

__all__ = ["save", "load", "load_frombuffer"]


def _ctx_of(arr: Any) -> tuple[int, int]:
    if isinstance(arr, NDArray):
        ctx = arr.context
        return ctx.device_typeid, ctx.device_id
    return 1, 0


def save(fname: str | os.PathLike, data: NDArray | Sequence[NDArray] | Mapping[str, NDArray]) -> None:
    """Save one NDArray, a list or a str-keyed dict of them (atomically), as MXNet does."""
    if isinstance(data, NDArray):
        data = [data]
    if isinstance(data, Mapping):
        for key, value in data.items():
            if not isinstance(key, str) or not isinstance(value, NDArray):
                raise MXNetError(f"nd.save: a dict must map str to NDArray, got {key!r}: "
                                 f"{type(value).__name__}")
        host = {k: v.asnumpy() for k, v in data.items()}
        contexts: Any = {k: _ctx_of(v) for k, v in data.items()}
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            if not isinstance(value, NDArray):
                raise MXNetError(f"nd.save: element {i} is {type(value).__name__}, not an NDArray")
        host = [v.asnumpy() for v in data]
        contexts = [_ctx_of(v) for v in data]
    else:
        raise MXNetError(f"nd.save: data must be an NDArray, a list or a dict, got {type(data).__name__}")
    serialization.save(fname, host, contexts)


def _wrap(loaded: list | dict) -> list | dict:
    if isinstance(loaded, dict):
        return {k: array(v, dtype=v.dtype) for k, v in loaded.items()}
    return [array(v, dtype=v.dtype) for v in loaded]


def load(fname: str | os.PathLike) -> list | dict:
    """Load a list or dict of NDArrays (on cpu) from an MXNet NDArray file."""
    return _wrap(serialization.load(fname))


def load_frombuffer(buf: bytes) -> list | dict:
    return _wrap(serialization.load_bytes(buf))
