"""The C++ ``aug_default`` augmenter of MXNet's ImageRecordIter, on numpy ``HxWxC`` uint8 images.

Steps, in MXNet 1.9.1's order: resize the shorter edge (``resize``); affine warp for random
scale / aspect ratio / rotation / shear / image-size limits (filled with ``fill_value``);
``pad``; crop (``random_resized_crop``, ``min/max_crop_size``, else a center or random crop that
first upsizes images smaller than ``data_shape``); color jitter (brightness, contrast,
saturation in random order); HLS jitter (``random_h/s/l``); PCA noise. Geometry, interpolation
choice and the order of random draws follow MXNet; the random numbers themselves come from
numpy (see :class:`ImageRandom`), so results match MXNet's in distribution, not draw for draw.
MXNet's color jitter computes gray with the R and B weights swapped (it calls RGB2GRAY on BGR
data); modjax keeps that quirk so the jitter has the same effect.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..base import MXNetError
from ._backend import _AFFINE, Image, get_interp_method, pil_to_numpy, resize_numpy

__all__ = ["DefaultAugParams", "DefaultAugmenter", "ImageRandom"]

_AFFINE_FILTERS = {0: 0, 1: 2, 2: 3, 3: 2, 4: 3}  # OpenCV code -> Pillow transform filter
_PCA_EIGVEC = (np.array([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140],
                         [-0.5836, -0.6948, 0.4203]], np.float32)
               * np.array([55.46, 4.794, 1.148], np.float32)[None, :])
_MX_GRAY = np.array([0.114, 0.587, 0.299], np.float32)  # MXNet's jitter gray on RGB data


class ImageRandom:
    """The random draws of one image: uniforms pre-drawn per batch (one row per image), then a
    numpy Generator seeded from that row if an image needs more. Cheap to create (a numpy
    Generator per image costs ~20 us of CPU) and independent of which thread runs the image.
    Offers the few Generator methods the augmenter uses."""

    __slots__ = ("_u", "_i", "_gen")

    def __init__(self, row: np.ndarray):
        self._u = row.tolist()
        self._i = 0
        self._gen: np.random.Generator | None = None

    def _more(self) -> np.random.Generator:
        if self._gen is None:
            self._gen = np.random.default_rng([int(v * 2 ** 53) for v in self._u[:4]])
        return self._gen

    def random(self) -> float:
        """A uniform float in [0, 1)."""
        if self._i < len(self._u):
            self._i += 1
            return self._u[self._i - 1]
        return float(self._more().random())

    def integers(self, low: int, high: int | None = None, endpoint: bool = False) -> int:
        """A uniform int in [low, high) (or [low, high] with ``endpoint``)."""
        if high is None:
            low, high = 0, low
        n = int(high) - int(low) + (1 if endpoint else 0)
        if n <= 0:
            raise ValueError("integers: empty range")
        return int(low) + min(int(self.random() * n), n - 1)

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        """A uniform float in [low, high)."""
        return low + (high - low) * self.random()

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: int | None = None) -> Any:
        """Normal draws (Box-Muller on two uniforms each)."""
        def one() -> float:
            u1, u2 = 1.0 - self.random(), self.random()
            return loc + scale * math.sqrt(-2.0 * math.log(u1)) * math.cos(2 * math.pi * u2)
        return one() if size is None else np.array([one() for _ in range(size)])

    def permutation(self, n: int) -> list[int]:
        """A uniform random permutation of range(n) (Fisher-Yates)."""
        order = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.integers(0, i, endpoint=True)
            order[i], order[j] = order[j], order[i]
        return order


class DefaultAugParams:
    """Parsed ``aug_default`` arguments (MXNet's names and defaults)."""

    FIELDS: dict[str, Any] = {
        "resize": -1, "rand_crop": False, "random_resized_crop": False, "max_rotate_angle": 0,
        "max_aspect_ratio": 0.0, "min_aspect_ratio": None, "max_shear_ratio": 0.0,
        "max_crop_size": -1, "min_crop_size": -1, "max_random_scale": 1.0,
        "min_random_scale": 1.0, "max_random_area": 1.0, "min_random_area": 1.0,
        "max_img_size": 1e10, "min_img_size": 0.0, "brightness": 0.0, "contrast": 0.0,
        "saturation": 0.0, "pca_noise": 0.0, "random_h": 0, "random_s": 0, "random_l": 0,
        "rotate": -1, "fill_value": 255, "inter_method": 1, "pad": 0,
    }

    def __init__(self, data_shape: tuple[int, int, int], **kwargs: Any):
        self.data_shape = data_shape
        for name, default in self.FIELDS.items():
            value = kwargs.get(name, default)
            if value is not None and default is not None:
                value = type(default)(_parse_scalar(value, type(default)))
            elif value is not None:
                value = float(value)
            setattr(self, name, value)
        self.rotate_list = [int(v) for v in str(kwargs["rotate_list"]).split(",") if v.strip()] \
            if kwargs.get("rotate_list") not in (None, "") else []
        if self.min_aspect_ratio is not None:
            self.ratio_range = (float(self.min_aspect_ratio), float(self.max_aspect_ratio))
        else:
            self.ratio_range = (1.0 - self.max_aspect_ratio, 1.0 + self.max_aspect_ratio)
        if self.random_resized_crop and not (self.min_random_scale == 1.0 and
                                             self.max_random_scale == 1.0 and
                                             self.min_crop_size == -1 and
                                             self.max_crop_size == -1 and not self.rand_crop):
            raise MXNetError("Setting random_resized_crop to true conflicts with min_random_scale, "
                             "max_random_scale, min_crop_size, max_crop_size, and rand_crop.")
        if self.resize != -1 and self.inter_method not in (1, 2, 3, 4, 9, 10):
            raise MXNetError(f"invalid inter_method {self.inter_method}: valid values 1,2,3,4,9,10")


def _parse_scalar(value: Any, typ: type) -> Any:
    if typ is bool and isinstance(value, str):
        return value.strip().lower() in ("1", "true")
    if typ is int and isinstance(value, float):
        return int(value)
    return value


class DefaultAugmenter:
    """Callable ``(uint8 HxWxC RGB image or Pillow image, ImageRandom) -> uint8 HxWxC``."""

    def __init__(self, params: DefaultAugParams):
        self.p = p = params
        lo_ratio, hi_ratio = p.ratio_range
        self._affine_on = bool(
            p.max_rotate_angle > 0 or p.max_shear_ratio > 0 or p.rotate > 0 or p.rotate_list
            or p.max_random_scale != 1.0 or p.min_random_scale != 1.0
            or (not p.random_resized_crop and (lo_ratio != 1.0 or hi_ratio != 1.0))
            or p.max_img_size != 1e10 or p.min_img_size != 0.0)
        # whether any step draws random numbers (otherwise no Generator is made per image)
        self.random = bool(
            p.rand_crop or self._affine_on or p.inter_method == 10
            or (p.random_resized_crop and (p.max_random_area != 1.0 or p.min_random_area != 1.0
                                           or lo_ratio != 1.0 or hi_ratio != 1.0))
            or p.max_crop_size != -1 or p.min_crop_size != -1 or p.brightness > 0
            or p.contrast > 0 or p.saturation > 0 or p.random_h != 0 or p.random_s != 0
            or p.random_l != 0 or p.pca_noise > 0)
        # only a center / random crop: done on the Pillow image, before any numpy copy
        self._crop_only = (p.resize == -1 and not self._affine_on and p.pad == 0
                           and not p.random_resized_crop and p.max_crop_size == -1
                           and p.min_crop_size == -1 and p.brightness <= 0 and p.contrast <= 0
                           and p.saturation <= 0 and p.random_h == 0 and p.random_s == 0
                           and p.random_l == 0 and p.pca_noise <= 0)

    def _interp(self, code: int, ow: int, oh: int, nw: int, nh: int, rng: Any) -> int:
        return get_interp_method(code, (oh, ow, nh, nw), rng)

    def __call__(self, src: Any, rng: Any) -> np.ndarray:
        """Augment a uint8 ``HxWxC`` numpy array or a Pillow image; returns a numpy array."""
        p = self.p
        if isinstance(src, Image.Image):
            if self._crop_only:
                cols, rows = src.size
                c, dh, dw = p.data_shape
                if rows >= dh and cols >= dw:  # same draws, in the same order, as _crop()
                    self._interp(p.inter_method, cols, rows, dw, dh, rng)
                    y, x = self._crop_offset(rng, rows - dh, cols - dw)
                    return pil_to_numpy(src)[y:y + dh, x:x + dw]
            src = pil_to_numpy(src)
        return self._numpy(src, rng)

    def _crop_offset(self, rng: Any, y: int, x: int) -> tuple[int, int]:
        """The crop's top-left corner given the spare rows ``y`` and columns ``x``: random with
        ``rand_crop`` (y drawn first), else centred."""
        if self.p.rand_crop:
            return int(rng.integers(0, y, endpoint=True)), int(rng.integers(0, x, endpoint=True))
        return y // 2, x // 2

    def _numpy(self, src: np.ndarray, rng: Any) -> np.ndarray:
        p = self.p
        res = src
        if p.resize != -1:
            rows, cols = res.shape[:2]
            if rows > cols:
                nh, nw = p.resize * rows // cols, p.resize
            else:
                nh, nw = p.resize, p.resize * cols // rows
            res = resize_numpy(res, nw, nh, self._interp(p.inter_method, cols, rows, nw, nh, rng))
        lo_ratio, hi_ratio = p.ratio_range
        if self._affine_on:
            res = self._affine(res, rng, lo_ratio, hi_ratio)
        if p.pad > 0:
            res = _pad(res, p.pad, p.fill_value)
        res = self._crop(res, rng, lo_ratio, hi_ratio)
        if p.brightness > 0 or p.contrast > 0 or p.saturation > 0:
            res = self._color_jitter(res, rng)
        if p.random_h != 0 or p.random_s != 0 or p.random_l != 0:
            res = self._hls_jitter(res, rng)
        if p.pca_noise > 0:
            alpha = rng.normal(0.0, p.pca_noise, size=3).astype(np.float32)
            pca = _PCA_EIGVEC @ alpha
            res = np.clip(np.trunc(res.astype(np.float32) + pca[:res.shape[2]]), 0, 255)
            res = res.astype(np.uint8)
        return res

    # --- geometry -------------------------------------------------------------------------------
    def _affine(self, res: np.ndarray, rng: Any, lo_ratio: float, hi_ratio: float) -> np.ndarray:
        p = self.p
        s = rng.random() * p.max_shear_ratio * 2 - p.max_shear_ratio
        angle = int(rng.integers(-p.max_rotate_angle, p.max_rotate_angle, endpoint=True))
        if p.rotate > 0:
            angle = p.rotate
        if p.rotate_list:
            angle = p.rotate_list[int(rng.integers(0, len(p.rotate_list)))]
        a, b = math.cos(angle / 180.0 * math.pi), math.sin(angle / 180.0 * math.pi)
        scale = 1.0
        ratio = 1.0
        if not p.random_resized_crop:
            scale = rng.random() * (p.max_random_scale - p.min_random_scale) + p.min_random_scale
            ratio = rng.random() * (hi_ratio - lo_ratio) + lo_ratio
        hs = 2 * scale / (1 + ratio)
        ws = ratio * hs
        rows, cols = res.shape[:2]
        new_w = max(p.min_img_size, min(p.max_img_size, scale * cols))
        new_h = max(p.min_img_size, min(p.max_img_size, scale * rows))
        m = np.array([[hs * a - s * b * ws, hs * b + s * a * ws, 0.0],
                      [-b * ws, a * ws, 0.0]])
        m[0, 2] = (new_w - (m[0, 0] * cols + m[0, 1] * rows)) / 2
        m[1, 2] = (new_h - (m[1, 0] * cols + m[1, 1] * rows)) / 2
        out_w, out_h = int(new_w), int(new_h)
        if out_w <= 0 or out_h <= 0:
            raise MXNetError(f"ImageRecordIter: the affine augmentation gives an empty image "
                             f"({out_w}x{out_h})")
        interp = self._interp(p.inter_method, cols, rows, out_w, out_h, rng)
        # OpenCV maps src -> dst with pixel centres on integers; Pillow wants dst -> src with
        # centres on half integers.
        inv = np.linalg.inv(np.vstack([m, [0.0, 0.0, 1.0]]))[:2]
        shift = inv[:, 2] + 0.5 - 0.5 * (inv[:, 0] + inv[:, 1])
        data = (inv[0, 0], inv[0, 1], shift[0], inv[1, 0], inv[1, 1], shift[1])
        fill = tuple([p.fill_value] * res.shape[2]) if res.shape[2] > 1 else p.fill_value
        # OpenCV's constant border takes part in the interpolation; a 2-pixel frame of the fill
        # value gives Pillow's resampling the same neighbours at the image's edges
        res = _pad(np.ascontiguousarray(res), 2, p.fill_value)
        data = (data[0], data[1], data[2] + 2, data[3], data[4], data[5] + 2)
        pil = Image.fromarray(res[:, :, 0] if res.shape[2] == 1 else res)
        out = np.asarray(pil.transform((out_w, out_h), _AFFINE, data,
                                       resample=_AFFINE_FILTERS[interp], fillcolor=fill))
        return out[:, :, None] if out.ndim == 2 else out

    def _crop(self, res: np.ndarray, rng: Any, lo_ratio: float, hi_ratio: float) -> np.ndarray:
        p = self.p
        c, dh, dw = p.data_shape
        if p.random_resized_crop:
            if (p.max_random_area != 1.0 or p.min_random_area != 1.0
                    or hi_ratio != 1.0 or lo_ratio != 1.0):
                if not (lo_ratio > 0 and p.min_random_area <= p.max_random_area
                        and lo_ratio <= hi_ratio):
                    raise MXNetError("random_resized_crop needs 0 < min_aspect_ratio <= "
                                     "max_aspect_ratio and min_random_area <= max_random_area")
                rows, cols = res.shape[:2]
                area = float(rows * cols)
                for _ in range(10):
                    rand_area = rng.uniform(p.min_random_area, p.max_random_area)
                    ratio = rng.uniform(lo_ratio, hi_ratio)
                    target = area * rand_area
                    y_area = int(round(math.sqrt(target / ratio)))
                    x_area = int(round(math.sqrt(target * ratio)))
                    if rng.random() > 0.5:
                        y_area, x_area = x_area, y_area
                    if 0 < y_area <= rows and 0 < x_area <= cols:
                        y0 = int(rng.integers(0, rows - y_area, endpoint=True))
                        x0 = int(rng.integers(0, cols - x_area, endpoint=True))
                        roi = res[y0:y0 + y_area, x0:x0 + x_area]
                        interp = self._interp(p.inter_method, x_area, y_area, dw, dh, rng)
                        return resize_numpy(roi, dw, dh, interp)
        elif p.max_crop_size != -1 or p.min_crop_size != -1:
            rows, cols = res.shape[:2]
            if not (cols >= p.max_crop_size and rows >= p.max_crop_size
                    and p.max_crop_size >= p.min_crop_size):
                raise MXNetError(f"input image size {cols}x{rows} smaller than max_crop_size "
                                 f"{p.max_crop_size}")
            size = int(rng.integers(p.min_crop_size, p.max_crop_size, endpoint=True))
            y, x = self._crop_offset(rng, rows - size, cols - size)
            interp = self._interp(p.inter_method, size, size, dw, dh, rng)
            return resize_numpy(res[y:y + size, x:x + size], dw, dh, interp)
        # center (or random) crop, upsizing images smaller than data_shape first
        rows, cols = res.shape[:2]
        interp = self._interp(p.inter_method, cols, rows, dw, dh, rng)
        if rows < dh:
            new_cols = int(np.float32(dh) / np.float32(rows) * np.float32(cols))
            res = resize_numpy(res, new_cols, dh, interp)
            rows, cols = res.shape[:2]
        if cols < dw:
            new_rows = int(np.float32(dw) / np.float32(cols) * np.float32(rows))
            res = resize_numpy(res, dw, new_rows, interp)
            rows, cols = res.shape[:2]
        if rows < dh or cols < dw:
            raise MXNetError(f"input image size {cols}x{rows} smaller than input shape {dw}x{dh}")
        y, x = self._crop_offset(rng, rows - dh, cols - dw)
        return res[y:y + dh, x:x + dw]

    # --- color ----------------------------------------------------------------------------------
    def _color_jitter(self, res: np.ndarray, rng: Any) -> np.ndarray:
        p = self.p
        if res.shape[2] != 3:
            return res
        alpha_b = 1.0 + rng.uniform(-p.brightness, p.brightness)
        alpha_c = 1.0 + rng.uniform(-p.contrast, p.contrast)
        alpha_s = 1.0 + rng.uniform(-p.saturation, p.saturation)
        x = res.astype(np.float32)
        for i in rng.permutation(3):
            if i == 0:
                x = np.clip(np.rint(x * np.float32(alpha_b)), 0, 255)
            elif i == 1:
                gray_mean = float(np.rint(x @ _MX_GRAY).mean())
                x = np.clip(np.rint(x * np.float32(alpha_c) + np.float32((1 - alpha_c) * gray_mean)),
                            0, 255)
            else:
                gray = np.rint(x @ _MX_GRAY)[:, :, None]
                x = np.clip(np.rint(x * np.float32(alpha_s) + gray * np.float32(1 - alpha_s)), 0, 255)
        return x.astype(np.uint8)

    def _hls_jitter(self, res: np.ndarray, rng: Any) -> np.ndarray:
        p = self.p
        if res.shape[2] != 3:
            return res
        draws = []
        for limit in (p.random_h, p.random_s, p.random_l):
            r = (rng.random() + 4 * rng.random()) / 5
            draws.append(int(r * limit * 2 - limit))
        dh, ds, dl = draws
        h, l, s = _rgb_to_hls8(res)
        h = np.clip(h + dh, 0, 180)
        l = np.clip(l + dl, 0, 255)
        s = np.clip(s + ds, 0, 255)
        return _hls8_to_rgb(h, l, s)


def _pad(res: np.ndarray, pad: int, fill: int) -> np.ndarray:
    out = np.full((res.shape[0] + 2 * pad, res.shape[1] + 2 * pad, res.shape[2]), fill, np.uint8)
    out[pad:pad + res.shape[0], pad:pad + res.shape[1]] = res
    return out


def _rgb_to_hls8(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV's 8-bit RGB -> HLS (H in [0, 180), L and S in [0, 255])."""
    x = img.astype(np.float32) / 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    vmax, vmin = x.max(axis=2), x.min(axis=2)
    diff = vmax - vmin
    l = (vmax + vmin) / 2
    safe = np.where(diff > 0, diff, 1.0)
    s = np.where(l < 0.5, diff / np.where(vmax + vmin > 0, vmax + vmin, 1.0),
                 diff / np.where(2 - vmax - vmin > 0, 2 - vmax - vmin, 1.0))
    h = np.where(vmax == r, 60 * (g - b) / safe,
                 np.where(vmax == g, 120 + 60 * (b - r) / safe, 240 + 60 * (r - g) / safe))
    h = np.where(h < 0, h + 360, h)
    h = np.where(diff > 0, h, 0.0)
    s = np.where(diff > 0, s, 0.0)
    return (np.rint(h / 2).astype(np.int32), np.rint(l * 255).astype(np.int32),
            np.rint(s * 255).astype(np.int32))


def _hls8_to_rgb(h: np.ndarray, l: np.ndarray, s: np.ndarray) -> np.ndarray:
    """OpenCV's 8-bit HLS -> RGB."""
    hf = (h.astype(np.float32) * 2) % 360 / 60.0
    lf = l.astype(np.float32) / 255.0
    sf = s.astype(np.float32) / 255.0
    p2 = np.where(lf <= 0.5, lf * (1 + sf), lf + sf - lf * sf)
    p1 = 2 * lf - p2

    def channel(shift: float) -> np.ndarray:
        t = (hf + shift) % 6
        return np.where(t < 1, p1 + (p2 - p1) * t,
                        np.where(t < 3, p2, np.where(t < 4, p1 + (p2 - p1) * (4 - t), p1)))

    rgb = np.stack([channel(2), channel(0), channel(4)], axis=2)
    rgb = np.where(sf[..., None] == 0, lf[..., None], rgb)
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)
