"""``mx.image`` functions: decode, resize, crop and normalise ``HxWxC`` images.

Every function takes an NDArray or a numpy array and returns the same kind (``imread`` and
``imdecode`` always return NDArrays, as in MXNet); numpy in, numpy out keeps the iterators fast.
Random choices use :func:`modjax.random.host_rng`, so ``mx.random.seed`` makes them repeatable.
Unlike MXNet's NDArray versions, ``color_normalize`` returns a new array instead of modifying
``src`` in place.
"""
from __future__ import annotations

import os
import warnings
from typing import Any, Sequence

import numpy as np

from .. import random as _random
from ..base import MXNetError, numeric_types
from ..context import cpu
from ..ndarray.ndarray import NDArray, array as nd_array
from ._backend import decode_numpy, get_interp_method, resize_numpy

__all__ = ["imread", "imdecode", "imresize", "scale_down", "copyMakeBorder", "resize_short",
           "fixed_crop", "random_crop", "center_crop", "color_normalize", "random_size_crop"]


def _to_np(src: Any) -> tuple[np.ndarray, bool]:
    if isinstance(src, NDArray):
        return src.asnumpy(), True
    return np.asarray(src), False


def _wrap(arr: np.ndarray, as_nd: bool) -> Any:
    return nd_array(arr, cpu(), dtype=arr.dtype) if as_nd else arr


def _hwc(src: np.ndarray, what: str) -> tuple[int, int]:
    if src.ndim != 3:
        raise MXNetError(f"{what}: expected an HxWxC image, got shape {src.shape}")
    return src.shape[0], src.shape[1]


def imdecode(buf: Any, flag: int = 1, to_rgb: bool | int = 1, out: NDArray | None = None) -> NDArray:
    """Decode an encoded image (bytes, bytearray, uint8 numpy array or NDArray) to a uint8
    ``HxWxC`` NDArray: ``flag=1`` RGB (BGR with ``to_rgb=0``), ``flag=0`` grayscale ``HxWx1``."""
    if isinstance(buf, NDArray):
        buf = buf.asnumpy().astype(np.uint8).tobytes()
    elif isinstance(buf, str):
        raise ValueError("buf must be of type bytes, bytearray or numpy.ndarray,"
                         "if you would like to input type str, please convert to bytes")
    img = decode_numpy(buf, flag=int(flag), to_rgb=bool(to_rgb))
    res = nd_array(img, cpu(), dtype=np.uint8)
    if out is not None:
        out[:] = res
        return out
    return res


def imread(filename: str | os.PathLike, flag: int = 1, to_rgb: bool | int = True,
           out: NDArray | None = None) -> NDArray:
    """Read and decode an image file to a uint8 ``HxWxC`` NDArray (see :func:`imdecode`)."""
    filename = os.fspath(filename)
    try:
        with open(filename, "rb") as f:
            buf = f.read()
    except OSError as err:
        raise MXNetError(f"imread: cannot open '{filename}': {err.strerror}") from err
    try:
        return imdecode(buf, flag=flag, to_rgb=to_rgb, out=out)
    except MXNetError as err:
        raise MXNetError(f"imread: '{filename}': {err}") from None


def imresize(src: Any, w: int, h: int, interp: int = 1, out: Any = None) -> Any:
    """Resize ``src`` to width ``w`` and height ``h`` (OpenCV interpolation codes 0-4, 9, 10)."""
    arr, as_nd = _to_np(src)
    res = _wrap(resize_numpy(arr, w, h, interp), as_nd)
    if out is not None:
        out[:] = res
        return out
    return res


def scale_down(src_size: Sequence[int], size: Sequence[int]) -> tuple[int, int]:
    """Shrink the crop ``size`` (w, h) to fit ``src_size`` (w, h), keeping its aspect ratio."""
    w, h = size
    sw, sh = src_size
    if sh < h:
        w, h = float(w * sh) / h, sh
    if sw < w:
        w, h = sw, float(h * sw) / w
    return int(w), int(h)


# OpenCV's border enum: CONSTANT, REPLICATE, REFLECT, WRAP, REFLECT_101
_BORDER_MODES = {0: "constant", 1: "edge", 2: "symmetric", 3: "wrap", 4: "reflect"}


def copyMakeBorder(src: Any, top: int, bot: int, left: int, right: int, type: int = 0,  # noqa: A002
                   value: float = 0.0, values: Sequence[float] = (), out: Any = None) -> Any:
    """Pad an ``HxWxC`` image with OpenCV's border types: 0 constant (``values`` per channel,
    else ``value``), 1 replicate, 2 reflect (``fedcba|abcdef``), 3 wrap, 4 reflect-101."""
    arr, as_nd = _to_np(src)
    _hwc(arr, "copyMakeBorder")
    if type not in _BORDER_MODES:
        raise MXNetError(f"copyMakeBorder: unknown border type {type}; expected 0-4")
    pads = ((top, bot), (left, right), (0, 0))
    if type == 0:
        res = np.empty((arr.shape[0] + top + bot, arr.shape[1] + left + right, arr.shape[2]),
                       arr.dtype)
        fill = np.zeros(arr.shape[2])
        fill[:] = value
        if len(values):
            fill[:min(len(values), arr.shape[2])] = values[:arr.shape[2]]
        res[:] = fill.astype(arr.dtype)
        res[top:top + arr.shape[0], left:left + arr.shape[1]] = arr
    else:
        res = np.pad(arr, pads, mode=_BORDER_MODES[type])
    res = _wrap(res, as_nd)
    if out is not None:
        out[:] = res
        return out
    return res


def resize_short(src: Any, size: int, interp: int = 2) -> Any:
    """Resize so that the shorter edge is ``size`` (the longer one scaled, rounded down)."""
    arr, as_nd = _to_np(src)
    h, w = _hwc(arr, "resize_short")
    if h > w:
        new_h, new_w = size * h // w, size
    else:
        new_h, new_w = size, size * w // h
    res = resize_numpy(arr, new_w, new_h, get_interp_method(interp, (h, w, new_h, new_w)))
    return _wrap(res, as_nd)


def fixed_crop(src: Any, x0: int, y0: int, w: int, h: int, size: Sequence[int] | None = None,
               interp: int = 2) -> Any:
    """Crop ``[y0:y0+h, x0:x0+w]`` and, when ``size`` (w, h) differs, resize to it."""
    arr, as_nd = _to_np(src)
    res = arr[y0:y0 + h, x0:x0 + w]
    if size is not None and (w, h) != tuple(size):
        sizes = (h, w, size[1], size[0])
        res = resize_numpy(res, size[0], size[1], get_interp_method(interp, sizes))
    return _wrap(np.ascontiguousarray(res), as_nd)


def random_crop(src: Any, size: Sequence[int], interp: int = 2) -> tuple[Any, tuple]:
    """Crop a random ``size`` (w, h) window (scaled down to fit, then resized back to ``size``);
    returns the crop and its ``(x0, y0, w, h)``."""
    arr, as_nd = _to_np(src)
    h, w = _hwc(arr, "random_crop")
    new_w, new_h = scale_down((w, h), size)
    rng = _random.host_rng()
    x0 = int(rng.integers(0, w - new_w, endpoint=True))
    y0 = int(rng.integers(0, h - new_h, endpoint=True))
    out = fixed_crop(arr, x0, y0, new_w, new_h, size, interp)
    return _wrap(out, as_nd), (x0, y0, new_w, new_h)


def center_crop(src: Any, size: Sequence[int], interp: int = 2) -> tuple[Any, tuple]:
    """Crop the central ``size`` (w, h) window (scaled down to fit, then resized back to
    ``size``); returns the crop and its ``(x0, y0, w, h)``."""
    arr, as_nd = _to_np(src)
    h, w = _hwc(arr, "center_crop")
    new_w, new_h = scale_down((w, h), size)
    x0 = int((w - new_w) / 2)
    y0 = int((h - new_h) / 2)
    out = fixed_crop(arr, x0, y0, new_w, new_h, size, interp)
    return _wrap(out, as_nd), (x0, y0, new_w, new_h)


def _as_np_param(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, NDArray):
        return value.asnumpy()
    return np.asarray(value)


def color_normalize(src: Any, mean: Any, std: Any = None) -> Any:
    """``(src - mean) / std`` (either may be None), broadcast over the channel axis."""
    arr, as_nd = _to_np(src)
    mean, std = _as_np_param(mean), _as_np_param(std)
    res = arr
    if mean is not None:
        res = res - mean
    if std is not None:
        res = res / std
    if res is arr:
        res = arr.copy()
    if np.issubdtype(arr.dtype, np.floating):
        res = res.astype(arr.dtype, copy=False)
    return _wrap(res, as_nd)


def random_size_crop(src: Any, size: Sequence[int], area: Any, ratio: Sequence[float],
                     interp: int = 2, **kwargs: Any) -> tuple[Any, tuple]:
    """Crop a random window whose area fraction lies in ``area`` (min or (min, max)) and whose
    aspect ratio lies in ``ratio`` (log-uniform), resized to ``size``; 10 tries, then a
    center crop. Returns the crop and its ``(x0, y0, w, h)``."""
    arr, as_nd = _to_np(src)
    h, w = _hwc(arr, "random_size_crop")
    src_area = h * w
    if "min_area" in kwargs:
        warnings.warn("`min_area` is deprecated. Please use `area` instead.", DeprecationWarning)
        area = kwargs.pop("min_area")
    if kwargs:
        raise TypeError(f"unexpected keyword arguments for `random_size_crop`: {sorted(kwargs)}")
    if isinstance(area, numeric_types):
        area = (area, 1.0)
    rng = _random.host_rng()
    for _ in range(10):
        target_area = rng.uniform(area[0], area[1]) * src_area
        log_ratio = (np.log(ratio[0]), np.log(ratio[1]))
        new_ratio = np.exp(rng.uniform(*log_ratio))
        new_w = int(round(np.sqrt(target_area * new_ratio)))
        new_h = int(round(np.sqrt(target_area / new_ratio)))
        if new_w <= w and new_h <= h:
            x0 = int(rng.integers(0, w - new_w, endpoint=True))
            y0 = int(rng.integers(0, h - new_h, endpoint=True))
            out = fixed_crop(arr, x0, y0, new_w, new_h, size, interp)
            return _wrap(out, as_nd), (x0, y0, new_w, new_h)
    out, rect = center_crop(arr, size, interp)
    return _wrap(out, as_nd), rect
