"""Input normalisation shared by the data iterators (MXNet's ``io/utils.py``)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from ..base import MXNetError
from ..ndarray.ndarray import NDArray

__all__ = ["init_data", "batch_axis_of"]


def batch_axis_of(layout: str | None) -> int:
    """Position of ``'N'`` in ``layout`` (0 for None)."""
    return 0 if layout is None else layout.find("N")


def _is_array(value: Any) -> bool:
    if isinstance(value, (np.ndarray, NDArray)):
        return True
    try:  # jax arrays count as arrays too
        import jax
        return isinstance(value, jax.Array)
    except ImportError:  # pragma: no cover
        return False


def _to_host(name: str, value: Any) -> np.ndarray:
    """A host numpy array: NDArray and jax inputs keep their dtype, everything else is float32."""
    if isinstance(value, NDArray):
        return value.asnumpy()
    if _is_array(value) and not isinstance(value, np.ndarray):
        return np.array(value)
    try:  # a copy, as mx.nd.array makes one: later changes to the caller's array do not leak in
        out = np.array(value, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise TypeError(f"Invalid type '{type(value)}' for {name}, should be NDArray or "
                        "numpy.ndarray") from err
    if out.ndim == 0:
        raise TypeError(f"Invalid input for {name}: a scalar, expected an array")
    return out


def init_data(data: Any, allow_empty: bool, default_name: str) -> list[tuple[str, np.ndarray]]:
    """``[(name, host array), ...]`` sorted by name, from an array, a list or a dict of arrays.

    A single array is named ``default_name``; a list of k > 1 arrays ``_0_<name>``, ``_1_<name>``...
    """
    if data is None:
        if not allow_empty:
            raise MXNetError(f"NDArrayIter: {default_name} must be given (got None)")
        data = []
    if _is_array(data):
        data = [data]
    if isinstance(data, list):
        if not allow_empty and not data:
            raise MXNetError(f"NDArrayIter: {default_name} must not be an empty list")
        if len(data) == 1:
            data = OrderedDict([(default_name, data[0])])
        else:
            data = OrderedDict([("_%d_%s" % (i, default_name), d) for i, d in enumerate(data)])
    if not isinstance(data, dict):
        raise TypeError("Input must be NDArray, numpy.ndarray, a list of them or dict with them as "
                        f"values; got {type(data).__name__}")
    return sorted(((str(k), _to_host(str(k), v)) for k, v in data.items()), key=lambda kv: kv[0])
