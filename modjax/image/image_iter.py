"""``mx.image.ImageIter``: batches of augmented images from a ``.rec`` file or an image list.

MXNet 1.9.1's Python iterator, step for step: the same sources (``path_imgrec`` with or
without ``path_imgidx``, ``path_imglist`` + ``path_root``, or an ``imglist``), partitioning
(``num_parts``/``part_index``, ``N // num_parts`` records each), ``last_batch_handle``
('pad', 'discard', 'roll_over') and ``CreateAugmenter`` keyword arguments. Shuffling uses
:func:`modjax.random.host_rng`. Built-in augmenters run on numpy images (one conversion to an
NDArray per batch); custom augmenters and overridden hooks get NDArrays, as in MXNet.

Differences: an image that cannot be decoded raises ``MXNetError`` naming the file or record
(MXNet 1.9.1 crashes with a TypeError while formatting that message); an image that decodes to
nothing is skipped and counted in ``num_skipped``, as MXNet skips it.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Sequence

import numpy as np

from .. import random as _random
from .. import recordio
from ..base import MXNetError, numeric_types
from ..context import cpu
from ..io.io import DataBatch, DataDesc, DataIter
from ..ndarray.ndarray import NDArray, array as nd_array
from ._backend import decode_numpy
from .augmenters import CreateAugmenter, numpy_capable
from .image import imdecode as _imdecode

__all__ = ["ImageIter"]

_LABEL_DTYPES = ("int32", "float32", "int64", "float64")


class ImageIter(DataIter):
    """Image data iterator with MXNet's augmentation choices (see the module docstring)."""

    def __init__(self, batch_size: int, data_shape: Sequence[int], label_width: int = 1,
                 path_imgrec: str | None = None, path_imglist: str | None = None,
                 path_root: str | None = None, path_imgidx: str | None = None,
                 shuffle: bool = False, part_index: int = 0, num_parts: int = 1,
                 aug_list: list | None = None, imglist: list | None = None,
                 data_name: str = "data", label_name: str = "softmax_label",
                 dtype: str = "float32", last_batch_handle: str = "pad", **kwargs: Any):
        super().__init__(batch_size)
        if not (path_imgrec or path_imglist or isinstance(imglist, list)):
            raise MXNetError("ImageIter: give path_imgrec, path_imglist or an imglist list")
        if dtype not in _LABEL_DTYPES:
            raise MXNetError(f"ImageIter: {dtype} label not supported; use one of {_LABEL_DTYPES}")
        if last_batch_handle not in ("pad", "discard", "roll_over"):
            raise MXNetError(f"ImageIter: last_batch_handle must be 'pad', 'discard' or "
                             f"'roll_over', got {last_batch_handle!r}")
        cls = type(self).__name__
        self.imgidx: list | None = None
        if path_imgrec:
            logging.info("%s: loading recordio %s...", cls, path_imgrec)
            if path_imgidx:
                self.imgrec = recordio.MXIndexedRecordIO(path_imgidx, path_imgrec, "r")
                self.imgidx = list(self.imgrec.keys)
            else:
                self.imgrec = recordio.MXRecordIO(path_imgrec, "r")
        else:
            self.imgrec = None
        imgkeys: list = []
        if path_imglist:
            logging.info("%s: loading image list %s...", cls, path_imglist)
            self.imglist = {}
            with open(path_imglist) as fin:
                for lineno, line in enumerate(iter(fin.readline, ""), 1):
                    fields = line.strip().split("\t")
                    if len(fields) < 3:
                        raise MXNetError(f"ImageIter: line {lineno} of '{path_imglist}' needs "
                                         f"'index<TAB>label(s)<TAB>path', got {line.strip()!r}")
                    try:
                        label = np.array(fields[1:-1], dtype=np.float64).astype(dtype)
                        key = int(fields[0])
                    except ValueError as err:
                        raise MXNetError(f"ImageIter: bad line {lineno} of '{path_imglist}': "
                                         f"{err}") from None
                    self.imglist[key] = (label, fields[-1])
                    imgkeys.append(key)
        elif isinstance(imglist, list):
            logging.info("%s: loading image list...", cls)
            self.imglist = {}
            for index, img in enumerate(imglist, 1):
                key = str(index)
                if len(img) > 2:
                    label = np.array(img[:-1], dtype=dtype)
                elif isinstance(img[0], numeric_types):
                    label = np.array([img[0]], dtype=dtype)
                else:
                    label = np.array(img[0], dtype=dtype)
                self.imglist[key] = (label, img[-1])
                imgkeys.append(key)
        else:
            self.imglist = None
        self.path_root = path_root
        data_shape = tuple(int(s) for s in data_shape)
        self.check_data_shape(data_shape)
        self.provide_data = [DataDesc(data_name, (batch_size,) + data_shape)]
        if label_width > 1:
            self.provide_label = [DataDesc(label_name, (batch_size, label_width))]
        else:
            self.provide_label = [DataDesc(label_name, (batch_size,))]
        self.batch_size = batch_size
        self.data_shape = data_shape
        self.label_width = label_width
        self.shuffle = shuffle
        if self.imgrec is None:
            self.seq: list | None = imgkeys
        elif shuffle or num_parts > 1 or path_imgidx:
            if self.imgidx is None:
                raise MXNetError("ImageIter: shuffle and num_parts > 1 need path_imgidx with "
                                 "path_imgrec")
            self.seq = self.imgidx
        else:
            self.seq = None
        if num_parts > 1:
            if not 0 <= part_index < num_parts:
                raise MXNetError(f"ImageIter: part_index {part_index} out of range for "
                                 f"num_parts={num_parts}")
            n = len(self.seq)
            c = n // num_parts
            self.seq = self.seq[part_index * c:(part_index + 1) * c]
        self.auglist = CreateAugmenter(data_shape, **kwargs) if aug_list is None else aug_list
        self.cur = 0
        self._allow_read = True
        self.last_batch_handle = last_batch_handle
        self.num_image = len(self.seq) if self.seq is not None else None
        self.num_skipped = 0
        self._cache_data: np.ndarray | None = None
        self._cache_label: np.ndarray | None = None
        self._cache_idx: int | None = None
        self._last_key: Any = None
        self.reset()

    # --- epoch control ---------------------------------------------------------------------------
    def _shuffle(self) -> None:
        if self.seq is not None and self.shuffle:
            order = _random.host_rng().permutation(len(self.seq))
            self.seq = [self.seq[i] for i in order]

    def reset(self) -> None:
        """Go back to the start (a 'roll_over' remainder is kept for the next batch)."""
        self._shuffle()
        if self.last_batch_handle != "roll_over" or self._cache_data is None:
            if self.imgrec is not None:
                self.imgrec.reset()
            self.cur = 0
            self._allow_read = True

    def hard_reset(self) -> None:
        """Go back to the start and drop any 'roll_over' remainder."""
        self._shuffle()
        if self.imgrec is not None:
            self.imgrec.reset()
        self.cur = 0
        self._allow_read = True
        self._cache_data = None
        self._cache_label = None
        self._cache_idx = None

    # --- reading ---------------------------------------------------------------------------------
    def next_sample(self) -> tuple[Any, Any]:
        """The next (label, encoded image) pair; StopIteration at the end."""
        if self._allow_read is False:
            raise StopIteration
        if self.seq is not None:
            if self.cur < self.num_image:
                idx = self.seq[self.cur]
            else:
                if self.last_batch_handle != "discard":
                    self.cur = 0
                raise StopIteration
            self.cur += 1
            self._last_key = idx
            if self.imgrec is not None:
                s = self.imgrec.read_idx(idx)
                header, img = recordio.unpack(s)
                if self.imglist is None:
                    return header.label, img
                return self.imglist[idx][0], img
            label, fname = self.imglist[idx]
            return label, self.read_image(fname)
        s = self.imgrec.read()
        if s is None:
            if self.last_batch_handle != "discard":
                self.imgrec.reset()
            raise StopIteration
        header, img = recordio.unpack(s)
        self._last_key = header.id
        return header.label, img

    def _locate(self) -> str:
        if self.imglist is not None and self._last_key in self.imglist:
            return "filename: {}".format(self.imglist[self._last_key][1])
        where = self.imgrec.uri if self.imgrec is not None else "?"
        return "record {} of '{}'".format(self._last_key, where)

    def _fast_path(self) -> bool:
        base = ImageIter
        return (all(numpy_capable(a) for a in self.auglist)
                and type(self).imdecode is base.imdecode
                and type(self).augmentation_transform is base.augmentation_transform
                and type(self).postprocess_data is base.postprocess_data
                and type(self).check_valid_image is base.check_valid_image)

    def _batchify(self, batch_data: np.ndarray, batch_label: np.ndarray, start: int = 0) -> int:
        i = start
        fast = self._fast_path()
        try:
            while i < self.batch_size:
                label, s = self.next_sample()
                if fast:
                    try:
                        data = decode_numpy(s, 1, True)
                    except MXNetError as err:
                        raise MXNetError(f"Broken image {self._locate()}: {err}") from None
                    if data.size == 0:
                        self.num_skipped += 1
                        logging.warning("ImageIter: invalid image (empty), skipping %s "
                                        "(%d skipped so far)", self._locate(), self.num_skipped)
                        continue
                    for aug in self.auglist:
                        data = aug(data)
                    batch_data[i] = np.transpose(data, (2, 0, 1))
                else:
                    data = self.imdecode(s)
                    try:
                        self.check_valid_image(data)
                    except RuntimeError as err:
                        self.num_skipped += 1
                        logging.warning("ImageIter: invalid image, skipping: %s", err)
                        continue
                    data = self.augmentation_transform(data)
                    post = self.postprocess_data(data)
                    batch_data[i] = post.asnumpy() if isinstance(post, NDArray) else post
                lab = label.asnumpy() if isinstance(label, NDArray) else np.asarray(label)
                batch_label[i] = lab.reshape(batch_label[i].shape)
                i += 1
        except StopIteration:
            if not i:
                raise
        return i

    def next(self) -> DataBatch:
        """The next batch of ``(batch, C, H, W)`` float32 images and their labels."""
        c, h, w = self.data_shape
        if self._cache_data is not None:
            batch_data, batch_label, i = self._cache_data, self._cache_label, self._cache_idx
        else:
            batch_data = np.zeros((self.batch_size, c, h, w), np.float32)
            batch_label = np.zeros(self.provide_label[0][1], np.float32)
            i = self._batchify(batch_data, batch_label)
        pad = self.batch_size - i
        if pad != 0:
            if self.last_batch_handle == "discard":
                raise StopIteration
            if self.last_batch_handle == "roll_over" and self._cache_data is None:
                self._cache_data, self._cache_label, self._cache_idx = batch_data, batch_label, i
                raise StopIteration
            self._batchify(batch_data, batch_label, i)
            if self.last_batch_handle == "pad":
                self._allow_read = False
            else:
                self._cache_data = self._cache_label = self._cache_idx = None
        return DataBatch([nd_array(batch_data, cpu())], [nd_array(batch_label, cpu())], pad=pad)

    # --- hooks (MXNet's public methods) ----------------------------------------------------------
    def check_data_shape(self, data_shape: Sequence[int]) -> None:
        """Data shapes must be (3, H, W)."""
        if not len(data_shape) == 3:
            raise ValueError("data_shape should have length 3, with dimensions CxHxW")
        if not data_shape[0] == 3:
            raise ValueError("This iterator expects inputs to have 3 channels.")

    def check_valid_image(self, data: Any) -> None:
        """Raise RuntimeError for an empty image (skipped by the iterator)."""
        if len(data[0].shape) == 0:
            raise RuntimeError("Data shape is wrong")

    def imdecode(self, s: bytes) -> NDArray:
        """Decode one image to an NDArray, naming the file or record on failure."""
        try:
            return _imdecode(s)
        except MXNetError as err:
            raise MXNetError(f"Broken image {self._locate()}: {err}") from None

    def read_image(self, fname: str) -> bytes:
        """The raw bytes of ``fname`` (relative to ``path_root``)."""
        path = os.path.join(self.path_root, fname) if self.path_root else fname
        try:
            with open(path, "rb") as fin:
                return fin.read()
        except OSError as err:
            raise MXNetError(f"ImageIter: cannot read image '{path}': {err.strerror}") from err

    def augmentation_transform(self, data: Any) -> Any:
        """Apply every augmenter of ``auglist`` in order."""
        for aug in self.auglist:
            data = aug(data)
        return data

    def postprocess_data(self, datum: Any) -> Any:
        """HWC -> CHW."""
        if isinstance(datum, NDArray):
            return datum.transpose((2, 0, 1))
        return np.transpose(datum, (2, 0, 1))
