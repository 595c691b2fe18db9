"""Pillow-backed decoding and resizing on numpy ``HxWxC`` arrays, with OpenCV's conventions.

MXNet decodes and resizes with OpenCV; modjax uses Pillow (libjpeg-turbo, the same JPEG decoder
MXNet's ``ImageRecordIter`` uses, so JPEG and PNG pixels come out the same). Interpolation codes
follow OpenCV's: 0 nearest (OpenCV's ``floor(x * scale)`` sampling, exact), 1 bilinear,
2 bicubic, 3 area (box), 4 lanczos. Pillow's filters widen their support when shrinking
(antialiasing) where OpenCV's bilinear/bicubic do not, so downscaled pixels differ slightly.
"""
from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np

from ..base import MXNetError

try:
    from PIL import Image
except ImportError as _err:  # pragma: no cover - pillow is a dependency
    raise ImportError("modjax.image needs Pillow: pip install pillow") from _err

__all__ = ["decode_numpy", "resize_numpy", "get_interp_method", "PIL_FILTERS"]

_R = getattr(Image, "Resampling", Image)  # Pillow < 9.1 keeps the filters on Image
PIL_FILTERS = {1: _R.BILINEAR, 2: _R.BICUBIC, 3: _R.BOX, 4: _R.LANCZOS}
Image.MAX_IMAGE_PIXELS = None  # datasets are trusted input; no decompression-bomb warnings


def _gray_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """OpenCV's ``cvtColor(RGB2GRAY)`` on uint8 (14-bit fixed point, rounded)."""
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    return ((r * 4899 + g * 9617 + b * 1868 + (1 << 13)) >> 14).astype(np.uint8)


def decode_numpy(buf: Any, flag: int = 1, to_rgb: bool = True) -> np.ndarray:
    """Decode an encoded image to a uint8 ``HxWxC`` numpy array.

    ``flag``: 1 = 3 channels, 0 = 1 channel (grayscale), -1 = as stored (1, 3 or 4 channels).
    ``to_rgb``: RGB(A) channel order when true, OpenCV's BGR(A) when false.
    Raises ``MXNetError`` for data that is not a decodable image.
    """
    if isinstance(buf, np.ndarray):
        buf = buf.tobytes()
    elif not isinstance(buf, (bytes, bytearray, memoryview)):
        raise MXNetError(f"imdecode: buf must be bytes, bytearray or a numpy array, got "
                         f"{type(buf).__name__}")
    if len(buf) == 0:
        raise MXNetError("imdecode: Decoding failed. Invalid image file (empty buffer)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(buf))
            if flag == 0 and im.format == "JPEG" and im.mode in ("RGB", "YCbCr", "L"):
                im.draft("L", im.size)  # libjpeg's own grayscale output (the Y channel), like OpenCV
            im.load()
    except Exception as err:  # Pillow raises many types for bad data
        raise MXNetError(f"imdecode: Decoding failed. Invalid image file ({type(err).__name__}: "
                         f"{err})") from None
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im).astype(np.uint32)
        arr = (arr >> 8).clip(0, 255).astype(np.uint8)  # OpenCV: 16 bit -> 8 bit
        im = Image.fromarray(arr)
        mode = "L"
    if flag == 0:
        if mode == "L":
            out = np.asarray(im)
        else:
            out = _gray_from_rgb(np.asarray(im.convert("RGB")))
        return out[:, :, None]
    if flag == 1 or mode not in ("L", "RGB", "RGBA", "LA"):
        if mode == "LA":
            im = im.convert("L")
        out = np.asarray(im if im.mode == "RGB" else im.convert("RGB"))
        if out.ndim == 2:
            out = np.repeat(out[:, :, None], 3, axis=2)
    else:  # flag == -1: keep what is stored
        if mode == "LA":
            im = im.convert("RGBA")
        out = np.asarray(im)
        if out.ndim == 2:
            return out[:, :, None]
    if not to_rgb:
        out = out[:, :, [2, 1, 0, 3][:out.shape[2]]]
    return out


def get_interp_method(interp: int, sizes: tuple = (), rng: Any = None) -> int:
    """Resolve 9 (auto: cubic to enlarge, area to shrink, else bilinear) and 10 (random)."""
    if interp == 9:
        if sizes:
            oh, ow, nh, nw = sizes
            if nh > oh and nw > ow:
                return 2
            if nh < oh and nw < ow:
                return 3
            return 1
        return 2
    if interp == 10:
        if rng is None:
            from .. import random as _random
            rng = _random.host_rng()
        return int(rng.integers(0, 5))
    if interp not in (0, 1, 2, 3, 4):
        raise ValueError("Unknown interp method %d" % interp)
    return interp


def _nearest(src: np.ndarray, w: int, h: int) -> np.ndarray:
    sh, sw = src.shape[:2]
    ys = np.minimum((np.arange(h) * (sh / h)).astype(np.int64), sh - 1)
    xs = np.minimum((np.arange(w) * (sw / w)).astype(np.int64), sw - 1)
    return src[ys[:, None], xs[None, :]]


def resize_numpy(src: np.ndarray, w: int, h: int, interp: int = 1) -> np.ndarray:
    """Resize an ``HxWxC`` (or ``HxW``) array to width ``w`` and height ``h``."""
    w, h = int(w), int(h)
    if w <= 0 or h <= 0:
        raise MXNetError(f"imresize: target size must be positive, got w={w}, h={h}")
    if src.ndim not in (2, 3) or src.shape[0] == 0 or src.shape[1] == 0:
        raise MXNetError(f"imresize: expected a non-empty HxWxC image, got shape {src.shape}")
    interp = get_interp_method(int(interp), (src.shape[0], src.shape[1], h, w))
    if src.shape[0] == h and src.shape[1] == w:
        return src.copy()
    if interp == 0:
        return np.ascontiguousarray(_nearest(src, w, h))
    flt = PIL_FILTERS[interp]
    squeeze = src.ndim == 2
    img = src[:, :, None] if squeeze else src
    c = img.shape[2]
    if img.dtype == np.uint8 and c in (1, 3, 4):
        pil = Image.fromarray(np.ascontiguousarray(img[:, :, 0] if c == 1 else img))
        out = np.asarray(pil.resize((w, h), flt))
        out = out[:, :, None] if c == 1 else out
    else:  # float or odd channel counts: resize each channel as a 32-bit float image
        chans = [np.asarray(Image.fromarray(np.ascontiguousarray(img[:, :, k], np.float32))
                            .resize((w, h), flt)) for k in range(c)]
        out = np.stack(chans, axis=2)
        if img.dtype == np.uint8:
            out = np.clip(np.rint(out), 0, 255)
        out = out.astype(img.dtype)
    return out[:, :, 0] if squeeze else out
