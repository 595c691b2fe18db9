"""``mx.image`` augmenters (MXNet 1.9.1's classes, names, arguments and ``dumps()`` format).

An augmenter is a callable on one ``HxWxC`` image. The built-in ones accept an NDArray or a
numpy array and return the same kind; subclasses written for MXNet that override ``__call__``
keep working (the iterators then hand them NDArrays). Random draws come from
:func:`modjax.random.host_rng` and so follow ``mx.random.seed``.
"""
from __future__ import annotations

import json
import warnings
from typing import Any, Sequence

import numpy as np

from .. import random as _random
from ..ndarray.ndarray import NDArray
from .image import (_as_np_param, _to_np, _wrap, center_crop, color_normalize, random_crop,
                    random_size_crop, resize_short)
from ._backend import get_interp_method, resize_numpy

__all__ = ["Augmenter", "SequentialAug", "ResizeAug", "ForceResizeAug", "RandomCropAug",
           "RandomSizedCropAug", "CenterCropAug", "RandomOrderAug", "BrightnessJitterAug",
           "ContrastJitterAug", "SaturationJitterAug", "HueJitterAug", "ColorJitterAug",
           "LightingAug", "ColorNormalizeAug", "RandomGrayAug", "HorizontalFlipAug", "CastAug",
           "CreateAugmenter", "numpy_capable"]

_GRAY_COEF = np.array([0.299, 0.587, 0.114], np.float32)


class Augmenter:
    """Base class: keeps its constructor arguments for ``dumps()``; subclasses implement
    ``_apply(numpy image) -> numpy image`` (or override ``__call__`` as in MXNet)."""

    def __init__(self, **kwargs: Any):
        self._kwargs = kwargs
        for k, v in self._kwargs.items():
            if isinstance(v, NDArray):
                v = v.asnumpy()
            if isinstance(v, np.ndarray):
                self._kwargs[k] = v.tolist()

    def dumps(self) -> str:
        """The augmenter as a JSON string ``[name, kwargs]``."""
        return json.dumps([self.__class__.__name__.lower(), self._kwargs])

    def __call__(self, src: Any) -> Any:
        arr, as_nd = _to_np(src)
        return _wrap(self._apply(arr), as_nd)

    def _apply(self, src: np.ndarray) -> np.ndarray:
        raise NotImplementedError("Must override implementation.")


def numpy_capable(aug: Any) -> bool:
    """Whether ``aug`` (and every augmenter it holds) takes numpy images (built-in ``__call__``)."""
    if not isinstance(aug, Augmenter) or type(aug).__call__ is not Augmenter.__call__:
        return False
    return all(numpy_capable(t) for t in getattr(aug, "ts", ()))


def _rng() -> np.random.Generator:
    return _random.host_rng()


class _ListAug(Augmenter):
    """Shared by the augmenters that hold a list ``ts``: dumps as ``[name, [dumps of ts]]``,
    applies ``ts`` in list order."""

    def __init__(self, ts: Sequence[Augmenter]):
        super().__init__()
        self.ts = list(ts)

    def dumps(self) -> list:  # type: ignore[override]
        return [self.__class__.__name__.lower(), [x.dumps() for x in self.ts]]

    def _apply(self, src: np.ndarray) -> np.ndarray:
        for aug in self.ts:
            src = aug(src)
        return src


class SequentialAug(_ListAug):
    """Apply the augmenters ``ts`` in order."""


class _SizeInterpAug(Augmenter):
    """Shared by the augmenters built from ``(size, interp)``."""

    def __init__(self, size: Sequence[int], interp: int = 2):
        super().__init__(size=size, interp=interp)
        self.size = size
        self.interp = interp


class ResizeAug(_SizeInterpAug):
    """Resize the shorter edge to ``size``."""

    def __init__(self, size: int, interp: int = 2):
        super().__init__(size, interp)  # type: ignore[arg-type]

    def _apply(self, src: np.ndarray) -> np.ndarray:
        return resize_short(src, self.size, self.interp)


class ForceResizeAug(_SizeInterpAug):
    """Resize to ``size`` (w, h), ignoring the aspect ratio."""

    def _apply(self, src: np.ndarray) -> np.ndarray:
        sizes = (src.shape[0], src.shape[1], self.size[1], self.size[0])
        return resize_numpy(src, self.size[0], self.size[1], get_interp_method(self.interp, sizes))


class RandomCropAug(_SizeInterpAug):
    """Random crop of ``size`` (w, h)."""

    def _apply(self, src: np.ndarray) -> np.ndarray:
        return random_crop(src, self.size, self.interp)[0]


class RandomSizedCropAug(Augmenter):
    """Random crop with random area fraction ``area`` and aspect ratio ``ratio``, resized to
    ``size`` (w, h)."""

    def __init__(self, size: Sequence[int], area: Any, ratio: Sequence[float], interp: int = 2,
                 **kwargs: Any):
        super().__init__(size=size, area=area, ratio=ratio, interp=interp)
        self.size = size
        if "min_area" in kwargs:
            warnings.warn("`min_area` is deprecated. Please use `area` instead.", DeprecationWarning)
            self.area = kwargs.pop("min_area")
        else:
            self.area = area
        self.ratio = ratio
        self.interp = interp
        if kwargs:
            raise TypeError(f"unexpected keyword arguments for `RandomSizedCropAug`: {sorted(kwargs)}")

    def _apply(self, src: np.ndarray) -> np.ndarray:
        return random_size_crop(src, self.size, self.area, self.ratio, self.interp)[0]


class CenterCropAug(_SizeInterpAug):
    """Center crop of ``size`` (w, h)."""

    def _apply(self, src: np.ndarray) -> np.ndarray:
        return center_crop(src, self.size, self.interp)[0]


class RandomOrderAug(_ListAug):
    """Apply the augmenters ``ts`` in a random order (shuffled in place each call)."""

    def _apply(self, src: np.ndarray) -> np.ndarray:
        order = _rng().permutation(len(self.ts))
        self.ts = [self.ts[i] for i in order]
        return super()._apply(src)


def _jitter(amount: float) -> float:
    """A blend factor ``1 + U(-amount, amount)``."""
    return 1.0 + _rng().uniform(-amount, amount)


def _float(src: np.ndarray) -> np.ndarray:
    return src if np.issubdtype(src.dtype, np.floating) else src.astype(np.float32)


def _like(res: np.ndarray, src: np.ndarray) -> np.ndarray:
    if np.issubdtype(src.dtype, np.floating):
        return res.astype(src.dtype, copy=False)
    info = np.iinfo(src.dtype)
    return np.clip(res, info.min, info.max).astype(src.dtype)


class BrightnessJitterAug(Augmenter):
    """Multiply by ``1 + U(-brightness, brightness)``."""

    def __init__(self, brightness: float):
        super().__init__(brightness=brightness)
        self.brightness = brightness

    def _apply(self, src: np.ndarray) -> np.ndarray:
        alpha = _jitter(self.brightness)
        return _like(_float(src) * np.float32(alpha), src)


class ContrastJitterAug(Augmenter):
    """Blend with the mean luminance: ``src * alpha + (1 - alpha) * mean(gray)``."""

    def __init__(self, contrast: float):
        super().__init__(contrast=contrast)
        self.contrast = contrast
        self.coef = _GRAY_COEF[None, None, :]

    def _apply(self, src: np.ndarray) -> np.ndarray:
        alpha = _jitter(self.contrast)
        x = _float(src)
        gray = x * self.coef
        gray = np.float32(3.0 * (1.0 - alpha) / gray.size) * gray.sum(dtype=np.float32)
        return _like(x * np.float32(alpha) + gray, src)


class SaturationJitterAug(Augmenter):
    """Blend with the per-pixel luminance: ``src * alpha + (1 - alpha) * gray``."""

    def __init__(self, saturation: float):
        super().__init__(saturation=saturation)
        self.saturation = saturation
        self.coef = _GRAY_COEF[None, None, :]

    def _apply(self, src: np.ndarray) -> np.ndarray:
        alpha = _jitter(self.saturation)
        x = _float(src)
        gray = (x * self.coef).sum(axis=2, keepdims=True, dtype=np.float32)
        gray *= np.float32(1.0 - alpha)
        return _like(x * np.float32(alpha) + gray, src)


class HueJitterAug(Augmenter):
    """Rotate the hue by ``U(-hue, hue) * 180`` degrees (linear YIQ approximation)."""

    def __init__(self, hue: float):
        super().__init__(hue=hue)
        self.hue = hue
        self.tyiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.321],
                              [0.211, -0.523, 0.311]])
        self.ityiq = np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.107, 1.705]])

    def _apply(self, src: np.ndarray) -> np.ndarray:
        alpha = _rng().uniform(-self.hue, self.hue)
        u, w = np.cos(alpha * np.pi), np.sin(alpha * np.pi)
        bt = np.array([[1.0, 0.0, 0.0], [0.0, u, -w], [0.0, w, u]])
        t = np.dot(np.dot(self.ityiq, bt), self.tyiq).T.astype(np.float32)
        return _like(np.dot(_float(src), t), src)


class ColorJitterAug(RandomOrderAug):
    """Brightness, contrast and saturation jitter (those > 0), in random order."""

    def __init__(self, brightness: float, contrast: float, saturation: float):
        ts: list[Augmenter] = []
        if brightness > 0:
            ts.append(BrightnessJitterAug(brightness))
        if contrast > 0:
            ts.append(ContrastJitterAug(contrast))
        if saturation > 0:
            ts.append(SaturationJitterAug(saturation))
        super().__init__(ts)


class LightingAug(Augmenter):
    """AlexNet-style PCA lighting noise: add ``eigvec @ (alpha * eigval)``,
    ``alpha ~ N(0, alphastd)``."""

    def __init__(self, alphastd: float, eigval: Any, eigvec: Any):
        super().__init__(alphastd=alphastd, eigval=eigval, eigvec=eigvec)
        self.alphastd = alphastd
        self.eigval = np.asarray(_as_np_param(eigval))
        self.eigvec = np.asarray(_as_np_param(eigvec))

    def _apply(self, src: np.ndarray) -> np.ndarray:
        alpha = _rng().normal(0, self.alphastd, size=(3,))
        rgb = np.dot(self.eigvec * alpha, self.eigval).astype(np.float32)
        return _like(_float(src) + rgb, src)


class ColorNormalizeAug(Augmenter):
    """``(src - mean) / std``."""

    def __init__(self, mean: Any, std: Any):
        super().__init__(mean=mean, std=std)
        self.mean = None if mean is None else np.asarray(_as_np_param(mean), np.float32)
        self.std = None if std is None else np.asarray(_as_np_param(std), np.float32)

    def _apply(self, src: np.ndarray) -> np.ndarray:
        return color_normalize(src, self.mean, self.std)


class RandomGrayAug(Augmenter):
    """With probability ``p``, replace every channel by the gray value (keeps 3 channels)."""

    def __init__(self, p: float):
        super().__init__(p=p)
        self.p = p
        self.mat = np.array([[0.21, 0.21, 0.21], [0.72, 0.72, 0.72], [0.07, 0.07, 0.07]],
                            np.float32)

    def _apply(self, src: np.ndarray) -> np.ndarray:
        if _rng().random() < self.p:
            return _like(np.dot(_float(src), self.mat), src)
        return src


class HorizontalFlipAug(Augmenter):
    """Flip left-right with probability ``p``."""

    def __init__(self, p: float):
        super().__init__(p=p)
        self.p = p

    def _apply(self, src: np.ndarray) -> np.ndarray:
        if _rng().random() < self.p:
            return np.ascontiguousarray(src[:, ::-1])
        return src


class CastAug(Augmenter):
    """Cast to ``typ`` (float32 by default)."""

    def __init__(self, typ: str = "float32"):
        super().__init__(type=typ)
        self.typ = typ

    def _apply(self, src: np.ndarray) -> np.ndarray:
        return src.astype(self.typ)


_PCA_EIGVAL = np.array([55.46, 4.794, 1.148])
_PCA_EIGVEC = np.array([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140],
                        [-0.5836, -0.6948, 0.4203]])


def CreateAugmenter(data_shape: Sequence[int], resize: int = 0, rand_crop: bool = False,
                    rand_resize: bool = False, rand_mirror: bool = False, mean: Any = None,
                    std: Any = None, brightness: float = 0, contrast: float = 0,
                    saturation: float = 0, hue: float = 0, pca_noise: float = 0,
                    rand_gray: float = 0, inter_method: int = 2) -> list[Augmenter]:
    """MXNet's standard augmenter list for ``data_shape`` (C, H, W): resize, crop (center,
    random, or random-sized), mirror, cast to float32, color jitter, hue, PCA noise, gray and
    normalisation (``mean=True``/``std=True`` use the ImageNet statistics)."""
    auglist: list[Augmenter] = []
    if resize > 0:
        auglist.append(ResizeAug(resize, inter_method))
    crop_size = (data_shape[2], data_shape[1])
    if rand_resize:
        assert rand_crop, "rand_resize requires rand_crop"
        auglist.append(RandomSizedCropAug(crop_size, 0.08, (3.0 / 4.0, 4.0 / 3.0), inter_method))
    elif rand_crop:
        auglist.append(RandomCropAug(crop_size, inter_method))
    else:
        auglist.append(CenterCropAug(crop_size, inter_method))
    if rand_mirror:
        auglist.append(HorizontalFlipAug(0.5))
    auglist.append(CastAug())
    if brightness or contrast or saturation:
        auglist.append(ColorJitterAug(brightness, contrast, saturation))
    if hue:
        auglist.append(HueJitterAug(hue))
    if pca_noise > 0:
        auglist.append(LightingAug(pca_noise, _PCA_EIGVAL, _PCA_EIGVEC))
    if rand_gray > 0:
        auglist.append(RandomGrayAug(rand_gray))
    if mean is True:
        mean = np.array([123.68, 116.28, 103.53], np.float32)
    elif mean is not None:
        assert isinstance(mean, (np.ndarray, NDArray)) and mean.shape[0] in [1, 3]
    if std is True:
        std = np.array([58.395, 57.12, 57.375], np.float32)
    elif std is not None:
        assert isinstance(std, (np.ndarray, NDArray)) and std.shape[0] in [1, 3]
    if mean is not None or std is not None:
        auglist.append(ColorNormalizeAug(mean, std))
    return auglist
