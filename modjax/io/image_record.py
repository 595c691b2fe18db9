"""``mx.io.ImageRecordIter`` / ``ImageRecordUInt8Iter``: threaded decode and augment of ``.rec``.

MXNet 1.9.1's semantics: the same arguments and defaults; record order, partitioning and
shuffling as dmlc's splitters (``num_parts`` split by bytes, or by record count with
``path_imgidx``; ``shuffle`` draws permutations from ``std::mt19937(111 + seed)`` with
libstdc++'s ``std::shuffle``, one per pass over the data, so orders equal MXNet's); labels from
the record header, the record's label array (``label_width``) or ``path_imglist``;
``round_batch`` wrap-around that carries into the next epoch; NCHW output normalised as
``(pixel - mean) * scale / std`` (float32), or raw uint8 / int8.

Decoding and augmentation run in ``preprocess_threads`` worker threads (Pillow and numpy
release the GIL); up to ``prefetch_buffer`` batches are prepared ahead while the model trains.
Batches are handed out without a copy (JAX wraps the aligned buffers) and buffers are recycled
once nothing references them. Random augmentation draws from a numpy Generator per batch seeded
from ``seed_aug`` (or, when it is not given, from ``mx.random.seed``'s stream at construction)
and the batch's position in the image stream, each image taking its own row of draws, so results
do not depend on thread timing or the number of threads.

Differences from MXNet: with ``round_batch=False`` the last batch reports its real ``pad`` and
zero-fills the unused slots (MXNet reports pad 0 and leaves stale data); ``getindex()`` /
``DataBatch.index`` hold the records' ids (MXNet gives zeros). Bad input raises ``MXNetError``
naming the file, record and byte offset (MXNet raises too, with OpenCV's message).
"""
from __future__ import annotations

import copy
import logging
import os
import sys
import threading
import weakref
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as _FutTimeout
from typing import Any

import numpy as np

from .. import random as _random
from ..base import MXNetError
from ..context import cpu
from ..ndarray.ndarray import array as nd_array
from ..image._backend import decode_pil
from ..image._default_aug import ImageRandom
from ..recordio import partition_records, read_record_at, unpack
from .io import DataBatch, DataDesc, DataIter
from .native import _MT19937, _uniform_int, _parse_bool, _parse_shape

__all__ = ["ImageRecordIter", "ImageRecordUInt8Iter"]

_RAND_MAGIC = 111
_UNIFORMS_PER_IMAGE = 16
_WAIT_S = 0.5


def _shuffle(gen: _MT19937, n: int) -> list[int]:
    order = list(range(n))
    for i in range(1, n):
        j = _uniform_int(gen, i)
        order[i], order[j] = order[j], order[i]
    return order


class _Planner:
    """Which records go in each batch: MXNet's parser loop over a (shuffled) source."""

    def __init__(self, entries: list, batch_size: int, round_batch: bool, shuffle: bool,
                 seed: int):
        self.entries = entries
        self.batch_size = batch_size
        self.round_batch = round_batch
        self.gen = _MT19937(_RAND_MAGIC + seed) if shuffle else None
        self.overflow = False
        self.serial = 0  # images planned so far (names each image's random stream)
        self._source_first()

    def _source_first(self) -> None:
        n = len(self.entries)
        self.order = _shuffle(self.gen, n) if self.gen is not None else range(n)
        self.pos = 0

    def snapshot(self) -> tuple:
        """The state to come back to when the consumer resets (prefetching plans ahead)."""
        return (self.order, self.pos, self.overflow, self.serial, copy.deepcopy(self.gen))

    def restore(self, state: tuple) -> None:
        self.order, self.pos, self.overflow, self.serial, gen = state
        self.gen = copy.deepcopy(gen)

    def before_first(self) -> None:
        if not self.round_batch or not self.overflow:
            self._source_first()
        else:
            self.overflow = False

    def _take(self, k: int) -> list:
        idx = self.order[self.pos:self.pos + k]
        self.pos += len(idx)
        return [self.entries[i] for i in idx]

    def next_batch(self) -> tuple[list, int] | None:
        if self.overflow:
            return None
        items = self._take(self.batch_size)
        if not items:
            return None
        pad = self.batch_size - len(items)
        if pad and self.round_batch:
            self.overflow = True
            self._source_first()
            items += self._take(pad)
            if len(items) < self.batch_size:
                raise MXNetError("ImageRecordIter: number of input images must be bigger than the "
                                 f"batch size ({len(self.entries)} images, batch_size "
                                 f"{self.batch_size})")
        return items, pad


class _Job:
    """One batch in flight: its buffers and the future the last finished chunk resolves."""

    def __init__(self, items: list, pad: int, data: np.ndarray, label: np.ndarray, serial: int,
                 nchunks: int):
        self.items = items
        self.pad = pad
        self.data = data
        self.label = label
        self.index = np.zeros(data.shape[0], np.uint64)
        self.serial = serial
        self.remaining = nchunks
        self.lock = threading.Lock()
        self.future: Future = Future()
        self.failed = False
        self.planner_state: tuple | None = None
        self.uniforms: np.ndarray | None = None  # (batch, K) pre-drawn per-image randomness


class _Worker:
    """Decode + augment + normalise records into batch slots (no reference to the iterator)."""

    def __init__(self, uri: str, fd: int, aug: Any, norm: dict, data_shape: tuple, dtype: Any,
                 label_width: int, label_map: dict | None, aug_seed: int):
        self.uri = uri
        self.fd = fd
        self.aug = aug
        self.norm = norm
        self.data_shape = data_shape
        self.dtype = dtype
        self.label_width = label_width
        self.label_map = label_map
        self.aug_seed = aug_seed
        self.needs_rng = (aug.random or norm["rand_mirror"] or norm["max_random_contrast"] != 0
                          or norm["max_random_illumination"] != 0)
        # constant parts of the normalisation, (C, 1, 1) or (C, H, W); None when a no-op
        if norm["mean_img"] is not None:
            self._mean = norm["mean_img"]
        else:
            self._mean = norm["mean"][:, None, None] if norm["mean"].any() else None
        mult = (np.float32(norm["scale"]) / norm["std"]).astype(np.float32)
        self._mult = mult[:, None, None] if (mult != 1).any() else None

    def run_chunk(self, job: _Job, lo: int, hi: int) -> None:
        try:
            if not job.failed:
                for i in range(lo, hi):
                    self._one(job, i)
        except BaseException as err:  # noqa: BLE001 - every failure must reach the consumer
            job.failed = True
            with job.lock:
                if not job.future.done():
                    job.future.set_exception(err)
        finally:
            with job.lock:
                job.remaining -= 1  # the batch buffer is free to reuse once this reaches 0
                last = job.remaining == 0
        if last and not job.failed and not job.future.done():
            try:
                batch = DataBatch([nd_array(job.data, cpu(), dtype=job.data.dtype)],
                                  [nd_array(job.label.reshape(self._label_shape(job)), cpu())],
                                  pad=job.pad, index=job.index)
            except BaseException as err:  # noqa: BLE001
                job.future.set_exception(err)
                return
            job.future.set_result(batch)

    def _label_shape(self, job: _Job) -> tuple:
        bs = job.label.shape[0]
        return (bs,) if self.label_width == 1 else (bs, self.label_width)

    def _one(self, job: _Job, i: int) -> None:
        offset, key, span = job.items[i]
        raw = read_record_at(self.fd, self.uri, offset, "" if key is None else f" (key {key})",
                             span)
        try:
            header, payload = unpack(raw)
        except MXNetError as err:
            raise MXNetError(f"ImageRecordIter: '{self.uri}' record at byte {offset}: {err}") from None
        c = self.data_shape[0]
        try:
            img = decode_pil(payload, flag={1: 0, 3: 1}.get(c, -1))
        except MXNetError as err:
            raise MXNetError(f"ImageRecordIter: cannot decode the image of record id {header.id} "
                             f"at byte {offset} of '{self.uri}': {err}") from None
        if len(img.getbands()) != c:
            raise MXNetError(f"Invalid image with index {header.id} in '{self.uri}'. Expected {c} "
                             f"channels, got {len(img.getbands())}")
        job.label[i] = self._label(header, key)
        job.index[i] = header.id
        rng = ImageRandom(job.uniforms[i]) if job.uniforms is not None else None
        try:
            img = self.aug(img, rng)
        except MXNetError as err:
            raise MXNetError(f"ImageRecordIter: record id {header.id} at byte {offset} of "
                             f"'{self.uri}': {err}") from None
        self._write(job.data[i], img, rng)

    def _label(self, header: Any, key: int) -> np.ndarray:
        lw = self.label_width
        if self.label_map is not None:
            lab = self.label_map.get(int(header.id))
            if lab is None:
                raise MXNetError(f"ImageRecordIter: image id {header.id} of '{self.uri}' is not in "
                                 "path_imglist")
            return lab
        if header.flag > 0:
            if header.flag != lw:
                raise MXNetError(f"rec file '{self.uri}' provides {header.flag}-dimensional label "
                                 f"but label_width is set to {lw}")
            return np.asarray(header.label, np.float32)
        if lw != 1:
            raise MXNetError("label_width must be 1 unless an imglist is provided or the rec file "
                             f"is packed with multi dimensional label ('{self.uri}')")
        return np.float32(header.label)

    def _write(self, out: np.ndarray, img: np.ndarray, rng: Any) -> None:
        """Mirror, HWC -> CHW and normalise ``img`` into the batch slot ``out``."""
        nm = self.norm
        flip = (nm["rand_mirror"] and rng.random() < 0.5) or nm["mirror"]  # as MXNet draws it
        chw = np.ascontiguousarray(np.transpose(img[:, ::-1] if flip else img, (2, 0, 1)))
        if chw.shape != out.shape:
            raise MXNetError(f"ImageRecordIter: augmented image has shape {chw.shape}, expected "
                             f"{out.shape}")
        if self.dtype == np.uint8:
            out[...] = chw
            return
        if self.dtype == np.int8:
            mean = nm["mean_img_int"] if nm["mean_img_int"] is not None else nm["mean_int"]
            np.clip(chw.astype(np.int16) - mean, -128, 127, out=out, casting="unsafe")
            return
        # MXNet: (pixel - mean) * (contrast * scale / std) + illumination * scale / std
        mc, mi = nm["max_random_contrast"], nm["max_random_illumination"]
        if mc or mi:
            scale = np.float32(nm["scale"])
            contrast = np.float32((rng.random() * mc * 2 - mc + 1)) * scale
            illum = np.float32(rng.random() * mi * 2 - mi) * scale
            mult = (contrast / nm["std"]).astype(np.float32)[:, None, None]
            bias = (illum / nm["std"]).astype(np.float32)[:, None, None]
        else:
            mult, bias = self._mult, None
        out[...] = chw  # cast first: a float32 subtract is faster than a mixed-type one
        if self._mean is not None:
            out -= self._mean
        if mult is not None:
            out *= mult
        if bias is not None and bias.any():
            np.add(out, bias, out=out)


def aligned_zeros(shape: tuple, dtype: Any, align: int = 64) -> np.ndarray:
    """Zeros whose data starts on an ``align``-byte boundary: JAX then wraps the buffer without
    copying it (an unaligned batch costs a full copy in ``device_put``)."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.zeros(nbytes + align, np.uint8)
    off = (-raw.ctypes.data) % align
    return raw[off:off + nbytes].view(dtype).reshape(shape)


class _BufferPool:
    """Aligned batch buffers, reused once no NDArray aliases them and no worker writes them.

    Batches are handed out without a copy (JAX wraps an aligned numpy buffer in place and holds a
    reference to it), so a buffer is reusable only when its reference count is back to the
    pool's own; reuse saves the page faults of fresh memory (~30 us per 224x224 image).
    """

    def __init__(self, shape: tuple, dtype: Any, limit: int):
        self.shape, self.dtype, self.limit = shape, dtype, limit
        self.entries: list[list] = []  # [root buffer, batch view, idle refcount, weakref(job)]

    def get(self) -> list:
        for e in self.entries:
            job = e[3]() if e[3] is not None else None  # a weak reference: no batch kept alive
            if (job is None or job.remaining <= 0) and sys.getrefcount(e[0]) == e[2]:
                return e
        view = aligned_zeros(self.shape, self.dtype)
        root = view.base
        while root.base is not None:
            root = root.base
        e = [root, view, 0, None]
        del root
        if len(self.entries) < self.limit:
            self.entries.append(e)
            e[2] = sys.getrefcount(e[0])
        return e


def _read_imglist(path: str, label_width: int) -> dict:
    out: dict = {}
    try:
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                fields = line.strip().split("\t")
                if len(fields) < 2 or not fields[0].strip():
                    continue
                try:
                    key = int(float(fields[0]))
                    labels = np.array([float(v) for v in fields[1:1 + label_width]], np.float32)
                except ValueError:
                    raise MXNetError(f"ImageRecordIter: bad line {lineno} of '{path}'") from None
                if labels.size != label_width:
                    raise MXNetError(f"ImageRecordIter: line {lineno} of '{path}' has "
                                     f"{labels.size} labels, label_width is {label_width}")
                out[key] = labels if label_width > 1 else labels[0]
    except OSError as err:
        raise MXNetError(f"ImageRecordIter: cannot open path_imglist '{path}': {err.strerror}") from err
    return out


class ImageRecordIter(DataIter):
    """Batches of decoded, augmented images from a ``.rec`` file (see the module docstring)."""

    _default_dtype: Any = np.float32

    def __init__(self, *args: Any, path_imgrec: str = "", data_shape: Any = None,
                 batch_size: int | None = None, path_imglist: str = "", path_imgidx: str = "",
                 aug_seq: str = "aug_default", label_width: int = 1, preprocess_threads: int = 4,
                 verbose: bool = True, num_parts: int = 1, part_index: int = 0,
                 shuffle: bool = False, seed: int = 0, seed_aug: int | None = None,
                 round_batch: bool = True, prefetch_buffer: int = 4, ctx: str = "gpu",
                 dtype: Any = None, rand_mirror: bool = False, mirror: bool = False,
                 mean_img: str = "", mean_r: float = 0.0, mean_g: float = 0.0,
                 mean_b: float = 0.0, mean_a: float = 0.0, std_r: float = 1.0, std_g: float = 1.0,
                 std_b: float = 1.0, std_a: float = 1.0, scale: float = 1.0,
                 max_random_contrast: float = 0.0, max_random_illumination: float = 0.0,
                 data_name: str = "data", label_name: str = "softmax_label", **kwargs: Any):
        if args:
            raise TypeError(f"{type(self).__name__} can only accept keyword arguments")
        name = type(self).__name__
        if not path_imgrec:
            raise MXNetError(f"{name}: must specify path_imgrec")
        if data_shape is None or batch_size is None:
            raise MXNetError(f"{name}: Required parameters data_shape and batch_size are not given")
        path_imgrec = os.fspath(path_imgrec)
        if not os.path.isfile(path_imgrec):
            raise MXNetError(f"{name}: cannot open path_imgrec '{path_imgrec}': No such file")
        shape = _parse_shape(data_shape, f"{name} data_shape")
        if len(shape) != 3 or shape[0] not in (1, 3, 4):
            raise MXNetError(f"{name}: data_shape must be (channels, height, width) with 1, 3 or 4 "
                             f"channels, got {shape}")
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise MXNetError(f"{name}: batch_size must be positive, got {batch_size}")
        num_parts, part_index = int(num_parts), int(part_index)
        if not (num_parts > 0 and 0 <= part_index < num_parts):
            raise MXNetError(f"{name}: need num_parts > 0 and 0 <= part_index < num_parts, got "
                             f"num_parts={num_parts}, part_index={part_index}")
        if aug_seq not in ("aug_default", ""):
            raise MXNetError(f"{name}: unknown augmenter sequence {aug_seq!r}; only 'aug_default'")
        self._dtype = self._resolve_dtype(dtype)
        self.label_width = int(label_width)
        self.data_shape = shape
        nthreads = max(1, min(int(preprocess_threads), os.cpu_count() or 1))
        self._prefetch = max(1, int(prefetch_buffer))
        from ..image._default_aug import DefaultAugmenter, DefaultAugParams
        aug = DefaultAugmenter(DefaultAugParams(shape, **kwargs))
        norm = self._norm_params(shape, mean_img, (mean_r, mean_g, mean_b, mean_a),
                                 (std_r, std_g, std_b, std_a), scale, max_random_contrast,
                                 max_random_illumination, rand_mirror, mirror)
        label_map = _read_imglist(os.fspath(path_imglist), self.label_width) if path_imglist else None
        entries = partition_records(path_imgrec, os.fspath(path_imgidx) if path_imgidx else "",
                                  num_parts, part_index)
        if not entries:
            raise MXNetError(f"{name}: '{path_imgrec}' holds no records for part {part_index} of "
                             f"{num_parts}")
        if seed_aug is None:
            aug_seed = int(_random.host_rng().integers(0, 2 ** 63))
        else:
            aug_seed = int(seed_aug) & 0xFFFFFFFFFFFFFFFF
        self._fd = os.open(path_imgrec, os.O_RDONLY)
        self._worker = _Worker(path_imgrec, self._fd, aug, norm, shape, self._dtype,
                               self.label_width, label_map, aug_seed)
        self._planner = _Planner(entries, self.batch_size, _parse_bool(round_batch),
                                 _parse_bool(shuffle), int(seed))
        self._pool = ThreadPoolExecutor(max_workers=nthreads, thread_name_prefix="modjax-imgrec")
        self._buffers = _BufferPool((self.batch_size,) + shape, self._dtype, self._prefetch + 4)
        self._nthreads = nthreads
        self._inflight: deque = deque()
        self._exhausted = False
        self._closed = False
        self._lock = threading.RLock()
        self._cur: DataBatch | None = None
        self._consumed_state = self._planner.snapshot()
        self.provide_data = [DataDesc(data_name, (self.batch_size,) + shape, self._dtype)]
        lshape = (self.batch_size,) if self.label_width == 1 else (self.batch_size, self.label_width)
        self.provide_label = [DataDesc(label_name, lshape, np.float32)]
        self.num_images = len(entries)
        if _parse_bool(verbose):
            logging.info("%s: %s, %d images, use %d threads for decoding..", name, path_imgrec,
                         len(entries), nthreads)
        self._fill()

    @classmethod
    def _resolve_dtype(cls, dtype: Any) -> Any:
        if dtype is None or str(dtype) == "None":
            return cls._default_dtype
        try:
            dt = np.dtype(dtype)
        except TypeError as err:
            raise MXNetError(f"ImageRecordIter: unknown dtype {dtype!r}") from err
        if dt not in (np.float32, np.uint8, np.int8):
            raise MXNetError(f"ImageRecordIter: dtype {dt.name} is not supported; use float32, "
                             "uint8 or int8")
        return dt.type

    @staticmethod
    def _norm_params(shape: tuple, mean_img: str, means: tuple, stds: tuple, scale: float,
                     max_contrast: float, max_illum: float, rand_mirror: Any,
                     mirror: Any) -> dict:
        c = shape[0]
        mean = np.array(means[:c] if c != 1 else means[:1], np.float32)
        std = np.array(stds[:c] if c != 1 else stds[:1], np.float32)
        img = None
        if mean_img:
            from ..ndarray import load as nd_load
            if not os.path.isfile(mean_img):
                raise MXNetError(f"ImageRecordIter: mean_img '{mean_img}' does not exist; modjax "
                                 "does not compute mean images, create it with mx.nd.save")
            loaded = nd_load(mean_img)
            arrays = list(loaded.values()) if isinstance(loaded, dict) else list(loaded)
            if len(arrays) != 1:
                raise MXNetError(f"Invalid mean image file format: '{mean_img}'")
            img = np.asarray(arrays[0].asnumpy(), np.float32)
            if img.shape != shape:
                raise MXNetError(f"ImageRecordIter: mean_img '{mean_img}' has shape {img.shape}, "
                                 f"data_shape is {shape}")
        return {"mean": mean, "std": std, "scale": float(scale), "mean_img": img,
                "mean_int": np.rint(mean).astype(np.int16)[:, None, None],
                "mean_img_int": None if img is None else np.rint(img).astype(np.int16),
                "max_random_contrast": float(max_contrast),
                "max_random_illumination": float(max_illum),
                "rand_mirror": _parse_bool(rand_mirror), "mirror": _parse_bool(mirror)}

    # --- prefetching -----------------------------------------------------------------------------
    def _submit(self, plan: tuple[list, int]) -> None:
        items, pad = plan
        bs = self.batch_size
        entry = self._buffers.get()
        data = entry[1]
        if len(items) < bs:
            data[len(items):] = 0
        label = np.zeros((bs, self.label_width), np.float32)
        items = list(items)
        nchunks = max(1, min(self._nthreads, len(items)))
        job = _Job(items, pad, data, label, self._planner.serial, nchunks)
        if self._worker.needs_rng:  # one Generator per batch, rows follow the image stream
            job.uniforms = np.random.default_rng([self._worker.aug_seed, job.serial]).random(
                (len(items), _UNIFORMS_PER_IMAGE))
        entry[3] = weakref.ref(job)
        self._planner.serial += len(items)
        job.planner_state = self._planner.snapshot()
        bounds = np.linspace(0, len(items), nchunks + 1).astype(int)
        for k in range(nchunks):
            self._pool.submit(self._worker.run_chunk, job, int(bounds[k]), int(bounds[k + 1]))
        self._inflight.append(job)

    def _fill(self) -> None:
        while not self._exhausted and len(self._inflight) < self._prefetch:
            plan = self._planner.next_batch()
            if plan is None:
                self._exhausted = True
                break
            self._submit(plan)

    def _drop_inflight(self) -> None:
        for job in self._inflight:
            job.failed = True  # chunks not yet started return at once
        self._inflight.clear()

    # --- DataIter API ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Start the next epoch (after a wrapped last batch, continue after the wrapped images)."""
        with self._lock:
            self._check_open()
            self._drop_inflight()
            self._planner.restore(self._consumed_state)  # forget what was planned ahead
            self._planner.before_first()
            self._consumed_state = self._planner.snapshot()
            self._exhausted = False
            self._cur = None
            self._fill()

    def next(self) -> DataBatch:
        """The next batch (prepared ahead by the workers); StopIteration at the end."""
        with self._lock:
            self._check_open()
            self._fill()
            if not self._inflight:
                raise StopIteration
            job = self._inflight.popleft()
            self._consumed_state = job.planner_state
            self._fill()  # keep the workers busy while the caller trains on this batch
            while True:
                try:
                    batch = job.future.result(timeout=_WAIT_S)
                    break
                except _FutTimeout:
                    if self._closed:
                        raise MXNetError("ImageRecordIter: closed while waiting for a batch") from None
            self._cur = batch
            return batch

    def iter_next(self) -> bool:
        """Move to the next batch (read it with ``getdata()`` etc.); whether there was one."""
        try:
            self.next()
        except StopIteration:
            return False
        return True

    def _current(self) -> DataBatch:
        if self._cur is None:
            raise MXNetError("ImageRecordIter: no current batch; call iter_next() first")
        return self._cur

    def getdata(self) -> Any:
        """The current batch's data list."""
        return self._current().data

    def getlabel(self) -> Any:
        """The current batch's label list."""
        return self._current().label

    def getpad(self) -> int:
        """How many examples at the end of the current batch are filler."""
        return self._current().pad

    def getindex(self) -> np.ndarray:
        """The record ids of the current batch."""
        return self._current().index

    def _check_open(self) -> None:
        if self._closed:
            raise MXNetError(f"{type(self).__name__}: the iterator is closed")

    def close(self) -> None:
        """Stop the worker threads and close the file (also done when garbage-collected)."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self._drop_inflight()
        self._pool.shutdown(wait=True, cancel_futures=True)
        try:
            os.close(self._fd)
        except OSError:  # pragma: no cover
            pass

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


class ImageRecordUInt8Iter(ImageRecordIter):
    """``ImageRecordIter`` with uint8 output (no normalisation); deprecated in MXNet in favour of
    ``ImageRecordIter(dtype='uint8')``."""

    _default_dtype = np.uint8
