"""Pillow-backed decoding and resizing on numpy ``HxWxC`` arrays, with OpenCV's conventions.

MXNet decodes and resizes with OpenCV; modjax uses Pillow (libjpeg-turbo, the same JPEG decoder
MXNet's ``ImageRecordIter`` uses, so JPEG and PNG pixels come out the same). Interpolation codes
follow OpenCV's: 0 nearest (OpenCV's ``floor(x * scale)`` sampling, exact), 1 bilinear (sampled like
OpenCV, within 1 of its fixed-point rounding), 2 bicubic (Pillow's a=-0.5 kernel, OpenCV's is
-0.75), 3 area (box filter when shrinking), 4 lanczos (Pillow's antialiased filter).
"""
from __future__ import annotations

import io
from typing import Any

import numpy as np

from ..base import MXNetError

try:
    from PIL import Image
except ImportError as _err:  # pragma: no cover - pillow is a dependency
    raise ImportError("modjax.image needs Pillow: pip install pillow") from _err

__all__ = ["decode_pil", "pil_to_numpy", "decode_numpy", "resize_numpy", "get_interp_method",
           "PIL_FILTERS"]

_R = getattr(Image, "Resampling", Image)  # Pillow < 9.1 keeps the filters on Image
PIL_FILTERS = {1: _R.BILINEAR, 2: _R.BICUBIC, 3: _R.BOX, 4: _R.LANCZOS}
_AFFINE = getattr(Image, "Transform", Image).AFFINE
Image.MAX_IMAGE_PIXELS = None  # datasets are trusted input; no decompression-bomb warnings


def _gray_from_rgb(rgb: np.ndarray, fmt: str | None) -> np.ndarray:
    """Gray as OpenCV's decoders make it: libpng's ``rgb_to_gray`` (15-bit, truncated) for PNG,
    ``cvtColor(RGB2GRAY)`` (14-bit, rounded) otherwise."""
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    if fmt == "PNG":
        return ((r * 9797 + g * 19234 + b * 3737) >> 15).astype(np.uint8)
    return ((r * 4899 + g * 9617 + b * 1868 + (1 << 13)) >> 14).astype(np.uint8)


_MAGIC_FORMATS = ((b"\xff\xd8", "JPEG"), (b"\x89PNG", "PNG"))
_SOF = (0xC0, 0xC1, 0xC2)  # baseline, extended and progressive Huffman JPEGs


def _jpeg_layout(buf: Any) -> tuple[int, int, int] | None:
    """(width, height, components) of a plain JFIF/EXIF JPEG, or None when anything is unusual
    (Adobe color transforms, CMYK, arithmetic coding, damaged headers)."""
    i, n = 2, len(buf)
    while i + 4 <= n:
        if buf[i] != 0xFF:
            return None
        marker = buf[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        length = (buf[i + 2] << 8) | buf[i + 3]
        if marker == 0xEE or marker in (0xC3, 0xC5, 0xC6, 0xC7) or marker >= 0xC9 and marker <= 0xCF:
            return None
        if marker in _SOF:
            if i + 10 > n:
                return None
            h = (buf[i + 5] << 8) | buf[i + 6]
            w = (buf[i + 7] << 8) | buf[i + 8]
            comps = buf[i + 9]
            return (w, h, comps) if comps in (1, 3) and w > 0 and h > 0 else None
        if marker == 0xDA:
            return None
        i += 2 + length
    return None


def _rgb_rawmode() -> str:
    """``'RGBX'`` when Pillow's libjpeg(-turbo) can write 4-byte pixels itself (~7% faster than
    unpacking 3-byte ones; the same pixels), else ``'RGB'``."""
    try:
        buf = io.BytesIO()
        Image.new("RGB", (8, 8), (10, 200, 30)).save(buf, format="JPEG")
        data = buf.getvalue()
        decoder = Image._getdecoder("RGB", "jpeg", ("RGBX", ""))
        core = Image.core.new("RGB", (8, 8))
        decoder.setimage(core, (0, 0, 8, 8))
        n, err = decoder.decode(data)
        decoder.cleanup()
        img = np.asarray(Image.Image()._new(core))
        ok = n < 0 and err >= 0 and abs(int(img[4, 4, 1]) - 200) < 8
        return "RGBX" if ok else "RGB"
    except Exception:  # noqa: BLE001 - any trouble: the plain path
        return "RGB"


_RGB_RAW = _rgb_rawmode()


def _decode_jpeg_direct(buf: bytes) -> Any:
    """Decode a plain JPEG with Pillow's libjpeg decoder without ``Image.open``'s marker parsing
    in Python (the same decoder and settings, so the same pixels). None when not applicable."""
    layout = _jpeg_layout(buf)
    if layout is None:
        return None
    w, h, comps = layout
    mode = "RGB" if comps == 3 else "L"
    try:
        decoder = Image._getdecoder(mode, "jpeg", (_RGB_RAW if comps == 3 else "L", ""))
        core = Image.core.new(mode, (w, h))
        decoder.setimage(core, (0, 0, w, h))
        data = bytes(buf)
        try:
            while True:
                n, err = decoder.decode(data)
                if n < 0:
                    break
                data = data[n:]
                if n == 0 or not data:
                    raise MXNetError("imdecode: Decoding failed. Invalid image file (the JPEG "
                                     "data is truncated)")
        finally:
            decoder.cleanup()
        if err < 0:
            raise MXNetError(f"imdecode: Decoding failed. Invalid image file (JPEG decoder "
                             f"error {err})")
        return Image.Image()._new(core)
    except (AttributeError, TypeError):  # pragma: no cover - Pillow internals changed
        return None


def decode_pil(buf: Any, flag: int = 1) -> Any:
    """Decode an encoded image to a Pillow image: mode ``'RGB'`` (``flag=1``), ``'L'``
    (``flag=0``) or as stored (``flag=-1``: ``'L'``, ``'RGB'`` or ``'RGBA'``).

    Raises ``MXNetError`` for data that is not a decodable image.
    """
    if isinstance(buf, np.ndarray):
        buf = buf.tobytes()
    elif not isinstance(buf, (bytes, bytearray, memoryview)):
        raise MXNetError(f"imdecode: buf must be bytes, bytearray or a numpy array, got "
                         f"{type(buf).__name__}")
    if len(buf) == 0:
        raise MXNetError("imdecode: Decoding failed. Invalid image file (empty buffer)")
    head = bytes(buf[:4])
    formats = next(([f] for magic, f in _MAGIC_FORMATS if head.startswith(magic)), None)
    if flag != 0 and formats == ["JPEG"]:
        im = _decode_jpeg_direct(buf)
        if im is not None:
            return im if flag == -1 or im.mode == "RGB" else im.convert("RGB")
    try:
        im = Image.open(io.BytesIO(buf), formats=formats)
        if flag == 0 and im.format == "JPEG" and im.mode in ("RGB", "YCbCr", "L"):
            im.draft("L", im.size)  # libjpeg's own grayscale output (the Y channel), like OpenCV
        im.load()
    except Exception as err:  # Pillow raises many types for bad data
        raise MXNetError(f"imdecode: Decoding failed. Invalid image file ({type(err).__name__}: "
                         f"{err})") from None
    mode, fmt = im.mode, im.format
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = (np.asarray(im).astype(np.uint32) >> 8).clip(0, 255).astype(np.uint8)
        im, mode = Image.fromarray(arr), "L"  # OpenCV: 16 bit -> 8 bit
    if flag == 0:
        if mode == "L":
            return im
        return Image.fromarray(_gray_from_rgb(np.asarray(im.convert("RGB")), fmt))
    if flag == 1 or mode not in ("L", "RGB", "RGBA", "LA"):
        return im if mode == "RGB" else im.convert("RGB")
    return im.convert("RGBA") if mode == "LA" else im


def _rgbx_bytes(im: Any) -> bytes:
    """``im.tobytes('raw', 'RGBX')`` in one encoder call (``tobytes`` encodes 64 KiB pieces and
    joins them: one more copy)."""
    w, h = im.size
    try:
        encoder = Image._getencoder("RGB", "raw", ("RGBX",))
        encoder.setimage(im.im, (0, 0, w, h))
        try:
            _, status, data = encoder.encode(w * h * 4)
        finally:
            encoder.cleanup()
        if status > 0 and len(data) == w * h * 4:
            return data
    except (AttributeError, TypeError):  # pragma: no cover - Pillow internals changed
        pass
    return im.tobytes("raw", "RGBX")


def pil_to_numpy(im: Any, to_rgb: bool = True) -> np.ndarray:
    """A Pillow image as a uint8 ``HxWxC`` array (BGR(A) order when ``to_rgb`` is false).

    RGB images come out as a read-only view of Pillow's 4-byte pixels (``RGBX``): copying those
    is a plain memcpy, about 2.5x faster than packing to 3 bytes per pixel.
    """
    if im.mode == "RGB":
        w, h = im.size
        out = np.frombuffer(_rgbx_bytes(im), np.uint8).reshape(h, w, 4)[:, :, :3]
        return out if to_rgb else out[:, :, ::-1]
    out = np.asarray(im)
    if out.ndim == 2:
        return out[:, :, None]
    if not to_rgb:
        out = out[:, :, [2, 1, 0, 3][:out.shape[2]]]
    return out


def decode_numpy(buf: Any, flag: int = 1, to_rgb: bool = True) -> np.ndarray:
    """Decode an encoded image to a uint8 ``HxWxC`` numpy array.

    ``flag``: 1 = 3 channels, 0 = 1 channel (grayscale), -1 = as stored (1, 3 or 4 channels).
    ``to_rgb``: RGB(A) channel order when true, OpenCV's BGR(A) when false.
    Raises ``MXNetError`` for data that is not a decodable image.
    """
    return pil_to_numpy(decode_pil(buf, flag), to_rgb)


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


def _pil_resize(pil: Any, w: int, h: int, interp: int) -> Any:
    """Resize one Pillow image the way OpenCV would: bilinear and bicubic sample the source at
    each output pixel (no antialiasing, via an affine transform); area uses Pillow's box filter
    when shrinking (bilinear otherwise); lanczos uses Pillow's (antialiased) lanczos."""
    sw, sh = pil.size
    if interp == 3 and (sw < w or sh < h):
        interp = 1
    if interp in (1, 2):
        flt = PIL_FILTERS[interp]
        return pil.transform((w, h), _AFFINE, (sw / w, 0, 0, 0, sh / h, 0), resample=flt)
    return pil.resize((w, h), PIL_FILTERS[interp])


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
    squeeze = src.ndim == 2
    img = src[:, :, None] if squeeze else src
    c = img.shape[2]
    if img.dtype == np.uint8 and c in (1, 3, 4):
        pil = Image.fromarray(np.ascontiguousarray(img[:, :, 0] if c == 1 else img))
        out = np.asarray(_pil_resize(pil, w, h, interp))
        out = out[:, :, None] if c == 1 else out
    else:  # float or odd channel counts: resize each channel as a 32-bit float image
        chans = [np.asarray(_pil_resize(Image.fromarray(np.ascontiguousarray(img[:, :, k],
                                                                             np.float32)),
                                        w, h, interp)) for k in range(c)]
        out = np.stack(chans, axis=2)
        if img.dtype == np.uint8:
            out = np.clip(np.rint(out), 0, 255)
        out = out.astype(img.dtype)
    return out[:, :, 0] if squeeze else out
