"""``mx.image`` (alias ``mx.img``): image decoding, resizing, cropping, augmenters, ImageIter.

Decoding and resizing use Pillow with OpenCV's conventions (RGB output by default, OpenCV
interpolation codes); see :mod:`modjax.image._backend` for how results compare with MXNet's.
"""
from .image import (imread, imdecode, imresize, scale_down, copyMakeBorder, resize_short,  # noqa: F401
                    fixed_crop, random_crop, center_crop, color_normalize, random_size_crop)
from .augmenters import (Augmenter, SequentialAug, ResizeAug, ForceResizeAug,  # noqa: F401
                         RandomCropAug, RandomSizedCropAug, CenterCropAug, RandomOrderAug,
                         BrightnessJitterAug, ContrastJitterAug, SaturationJitterAug,
                         HueJitterAug, ColorJitterAug, LightingAug, ColorNormalizeAug,
                         RandomGrayAug, HorizontalFlipAug, CastAug, CreateAugmenter)
from .image_iter import ImageIter  # noqa: F401

__all__ = ["imread", "imdecode", "imresize", "scale_down", "copyMakeBorder", "resize_short",
           "fixed_crop", "random_crop", "center_crop", "color_normalize", "random_size_crop",
           "Augmenter", "SequentialAug", "ResizeAug", "ForceResizeAug", "RandomCropAug",
           "RandomSizedCropAug", "CenterCropAug", "RandomOrderAug", "BrightnessJitterAug",
           "ContrastJitterAug", "SaturationJitterAug", "HueJitterAug", "ColorJitterAug",
           "LightingAug", "ColorNormalizeAug", "RandomGrayAug", "HorizontalFlipAug", "CastAug",
           "CreateAugmenter", "ImageIter"]
