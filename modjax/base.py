"""Errors, dtype tables and small helpers shared by every layer (MXNet's ``mx.base``)."""
from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np

__all__ = [
    "MXNetError", "NotImplementedForSymbol", "ShapeError", "DTYPE_TO_FLAG", "FLAG_TO_DTYPE",
    "normalize_dtype", "dtype_name", "atomic_write", "string_types", "numeric_types", "_Null",
]


class MXNetError(Exception):
    """The one error family of modjax: bad input, calls in the wrong state, corrupt files."""


class ShapeError(MXNetError, ValueError):
    """A shape that does not fit: infer_shape conflicts, bind/forward with wrong shapes."""


class NotImplementedForSymbol(MXNetError, NotImplementedError):
    """An NDArray-only operation was used on a Symbol (in-place ops, ``bool(sym)``)."""

    def __init__(self, function: Any, alias: str | None = None, *args: Any):
        name = alias or getattr(function, "__name__", str(function))
        super().__init__(f"Function {name} (namely operator \"{name}\") is not implemented for Symbol "
                         "and only available in NDArray.")


class _NullType:
    """Placeholder for an argument that was not given (MXNet's ``_Null``)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "_Null"

    def __bool__(self) -> bool:
        return False


_Null = _NullType()

string_types = (str,)
numeric_types = (float, int, np.generic)

# mshadow type flags, as written in .params files and the ``__dtype__`` attribute.
FLAG_TO_DTYPE: dict[int, np.dtype] = {
    0: np.dtype("float32"), 1: np.dtype("float64"), 2: np.dtype("float16"), 3: np.dtype("uint8"),
    4: np.dtype("int32"), 5: np.dtype("int8"), 6: np.dtype("int64"), 7: np.dtype("bool"),
    8: np.dtype("int16"), 9: np.dtype("uint16"), 10: np.dtype("uint32"), 11: np.dtype("uint64"),
}
DTYPE_TO_FLAG: dict[np.dtype, int] = {v: k for k, v in FLAG_TO_DTYPE.items()}
try:  # bfloat16 (flag 12) comes with ml_dtypes, a jax dependency
    import ml_dtypes

    FLAG_TO_DTYPE[12] = np.dtype(ml_dtypes.bfloat16)
    DTYPE_TO_FLAG[np.dtype(ml_dtypes.bfloat16)] = 12
except ImportError:  # pragma: no cover
    pass


def normalize_dtype(dtype: Any) -> np.dtype:
    """Any dtype spelling (``'float32'``, ``np.float32``, ``jnp.float32``, an int type flag) as np.dtype."""
    if dtype is None:
        return np.dtype("float32")
    if isinstance(dtype, (int, np.integer)) and not isinstance(dtype, bool):
        if int(dtype) not in FLAG_TO_DTYPE:
            raise MXNetError(f"unknown MXNet dtype flag {dtype}; expected one of {sorted(FLAG_TO_DTYPE)}")
        return FLAG_TO_DTYPE[int(dtype)]
    if isinstance(dtype, str) and dtype.lstrip("-").isdigit():
        return normalize_dtype(int(dtype))
    try:
        return np.dtype(dtype)
    except TypeError:
        pass
    try:
        return np.dtype(getattr(dtype, "dtype", None))
    except TypeError as err:
        raise MXNetError(f"unknown dtype {dtype!r}") from err


def dtype_name(dtype: Any) -> str:
    """numpy name of a dtype, e.g. ``'float32'``."""
    return normalize_dtype(dtype).name


def atomic_write(fname: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``fname`` atomically: a temporary file in the same folder, fsync, rename."""
    fname = os.fspath(fname)
    folder = os.path.dirname(os.path.abspath(fname))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(fname) + "-", dir=folder)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # as open() would create it, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, fname)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
