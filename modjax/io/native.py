"""The iterators MXNet implements in C++ (``CSVIter``, ``MNISTIter``), in pure Python and numpy.

Both follow the C++ behaviour of MXNet 1.9.1: the first batch is read at construction to learn
``provide_data``/``provide_label``; ``CSVIter`` uses the batch loader's ``round_batch`` rules
(wrap-around that carries into the next epoch, or stale filler rows when ``round_batch=False``);
``MNISTIter`` scales pixels by 1/256 and shuffles once with ``std::shuffle`` over
``std::mt19937(seed)`` (libstdc++ algorithm), so seeds give MXNet's order.
"""
from __future__ import annotations

import ast
import gzip
import logging
import os
import re
import struct
from typing import Any

import numpy as np

from ..base import MXNetError
from ..context import cpu
from ..ndarray.ndarray import NDArray, array as nd_array
from .io import DataBatch, DataDesc, DataIter

__all__ = ["MXDataIter", "CSVIter", "MNISTIter", "LibSVMIter"]


def _parse_shape(value: Any, what: str) -> tuple[int, ...]:
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError) as err:
            raise MXNetError(f"{what}: cannot parse shape {value!r}") from err
    if isinstance(value, (int, np.integer)):
        value = (int(value),)
    try:
        shape = tuple(int(v) for v in value)
    except TypeError as err:
        raise MXNetError(f"{what}: shape must be a tuple of ints, got {value!r}") from err
    if not shape or any(s <= 0 for s in shape):
        raise MXNetError(f"{what}: shape must be a non-empty tuple of positive ints, got {shape}")
    return shape


def _parse_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true")
    return bool(value)


class MXDataIter(DataIter):
    """Base of the natively-implemented iterators: one data and one label array per batch.

    Subclasses implement ``_before_first()`` and ``_next()``; the latter fills ``self._cur``
    with ``(data, label, pad, index)`` numpy values and returns whether there was a batch.
    """

    def __init__(self, data_name: str = "data", label_name: str = "softmax_label"):
        super().__init__()
        self._cur: tuple | None = None
        self.first_batch: DataBatch | None = None
        try:
            self.first_batch = self.next()
        except StopIteration:
            raise MXNetError(f"{type(self).__name__}: the data holds no complete batch "
                             f"(batch_size too large?)") from None
        data, label = self.first_batch.data[0], self.first_batch.label[0]
        self.provide_data = [DataDesc(data_name, data.shape, data.dtype)]
        self.provide_label = [DataDesc(label_name, label.shape, label.dtype)]
        self.batch_size = data.shape[0]

    def _before_first(self) -> None:
        raise NotImplementedError

    def _next(self) -> bool:
        raise NotImplementedError

    def reset(self) -> None:
        self.first_batch = None
        self._before_first()

    def next(self) -> DataBatch:
        if self.first_batch is not None:
            batch, self.first_batch = self.first_batch, None
            return batch
        if self._next():
            return DataBatch(data=[self.getdata()], label=[self.getlabel()], pad=self.getpad(),
                             index=self.getindex())
        raise StopIteration

    def iter_next(self) -> bool:
        if self.first_batch is not None:  # the current batch already is the first one
            self.first_batch = None
            return True
        return self._next()

    def _current(self) -> tuple:
        if self._cur is None:
            raise MXNetError(f"{type(self).__name__}: no current batch; call iter_next() first")
        return self._cur

    def getdata(self) -> NDArray:
        return nd_array(self._current()[0], cpu())

    def getlabel(self) -> NDArray:
        return nd_array(self._current()[1], cpu())

    def getpad(self) -> int:
        return int(self._current()[2])

    def getindex(self) -> np.ndarray:
        return self._current()[3].copy()


# --- CSVIter --------------------------------------------------------------------------------------
_CSV_DTYPES = {"float32": np.float32, "int32": np.int32, "int64": np.int64}
_CSV_UNSUPPORTED = ("float16", "float64", "int8", "uint8", "bfloat16")
_INT_PREFIX = re.compile(r"\s*([+-]?\d+)")


def _dtype_name(dtype: Any) -> str:
    if dtype is None or str(dtype) == "None":
        return "float32"
    if isinstance(dtype, str):
        return dtype
    try:
        return np.dtype(dtype).name
    except TypeError as err:
        raise MXNetError(f"CSVIter: unknown dtype {dtype!r}") from err


def _strtoll(token: str) -> int:
    m = _INT_PREFIX.match(token)
    return int(m.group(1)) if m else 0


def _csv_files(path: str) -> list[str]:
    if os.path.isdir(path):
        return [os.path.join(path, f) for f in sorted(os.listdir(path))
                if os.path.isfile(os.path.join(path, f))]
    if not os.path.exists(path):
        raise MXNetError(f"CSVIter: cannot open '{path}': No such file or directory")
    return [path]


def _read_csv(path: str, row_shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    size = int(np.prod(row_shape))
    rows: list[list[str]] = []
    for fname in _csv_files(path):
        with open(fname, "r", encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    rows.append([t for t in line.split(",") if t.strip() != ""])
    for i, row in enumerate(rows):
        if len(row) != size:
            raise MXNetError(f"CSVIter: The data size in CSV do not match size of shape: specified "
                             f"shape={list(row_shape)}, the csv row-length={len(row)} (file '{path}', "
                             f"row {i})")
    if not rows:
        return np.zeros((0,) + row_shape, dtype)
    if np.issubdtype(dtype, np.integer):
        try:
            out = np.array(rows, dtype=np.int64)
        except ValueError:
            out = np.array([[_strtoll(t) for t in row] for row in rows], dtype=np.int64)
        out = out.astype(dtype)
    else:
        try:
            out = np.array(rows, dtype=np.float64).astype(dtype)
        except ValueError as err:
            raise MXNetError(f"CSVIter: non-numeric value in '{path}': {err}") from err
    return out.reshape((len(rows),) + row_shape)


class CSVIter(MXDataIter):
    """Batches of rows of CSV files, each row reshaped to ``data_shape``.

    ``label_csv='NULL'`` gives zero labels. ``round_batch=True`` completes the last batch from
    the start of the data and the next epoch continues after those rows; ``round_batch=False``
    leaves the previous batch's rows in the unfilled slots and reports them as ``pad``.
    """

    def __init__(self, *args: Any, data_csv: str | None = None, data_shape: Any = None,
                 label_csv: str = "NULL", label_shape: Any = (1,), batch_size: int | None = None,
                 round_batch: bool = True, prefetch_buffer: int = 4, ctx: str = "gpu",
                 dtype: Any = None, data_name: str = "data", label_name: str = "softmax_label"):
        if args:
            raise TypeError("CSVIter can only accept keyword arguments")
        for key, val in (("data_csv", data_csv), ("data_shape", data_shape), ("batch_size", batch_size)):
            if val is None:
                raise MXNetError(f"CSVIter: Required parameter {key} is not presented")
        dname = _dtype_name(dtype)
        if dname in _CSV_UNSUPPORTED:
            raise MXNetError(f"CSVIter: {dname} is not supported for CSVIter")
        if dname not in _CSV_DTYPES:
            raise MXNetError(f"CSVIter: unknown dtype {dtype!r}; expected one of None, "
                             f"{sorted(_CSV_DTYPES)}")
        self._dtype = np.dtype(_CSV_DTYPES[dname])
        self._batch = int(batch_size)
        if self._batch < 1:
            raise MXNetError(f"CSVIter: batch_size must be positive, got {batch_size}")
        self._round = _parse_bool(round_batch)
        data_shape = _parse_shape(data_shape, "CSVIter data_shape")
        label_shape = _parse_shape(label_shape, "CSVIter label_shape")
        self._data = _read_csv(os.fspath(data_csv), data_shape, self._dtype)
        n = self._data.shape[0]
        if label_csv is None or str(label_csv) == "NULL":
            self._label = np.zeros((n,) + label_shape, self._dtype)
        else:
            self._label = _read_csv(os.fspath(label_csv), label_shape, self._dtype)
            if self._label.shape[0] < n:
                raise MXNetError(f"CSVIter: label_csv '{label_csv}' has {self._label.shape[0]} rows, "
                                 f"fewer than the {n} rows of data_csv '{data_csv}'")
        if n == 0:
            raise MXNetError(f"CSVIter: data_csv '{data_csv}' holds no rows")
        out_label = (self._batch,) if int(np.prod(label_shape)) == 1 else (self._batch,) + label_shape
        self._buf_data = np.zeros((self._batch,) + data_shape, self._dtype)
        self._buf_label = np.zeros((self._batch, int(np.prod(label_shape))), self._dtype)
        self._buf_index = np.zeros(self._batch, np.uint64)
        self._label_shape = out_label
        self._pos = 0
        self._num_overflow = 0
        super().__init__(data_name, label_name)

    def _before_first(self) -> None:
        if not self._round or self._num_overflow == 0:
            self._pos = 0
        else:  # the wrapped rows were already served: keep going from there
            self._num_overflow = 0

    def _copy_row(self, top: int) -> None:
        self._buf_data[top] = self._data[self._pos]
        self._buf_label[top] = self._label[self._pos].reshape(-1)
        self._buf_index[top] = self._pos
        self._pos += 1

    def _next(self) -> bool:
        if self._num_overflow != 0:
            return False
        n, top = self._data.shape[0], 0
        while self._pos < n:
            self._copy_row(top)
            top += 1
            if top >= self._batch:
                self._publish(0)
                return True
        if top == 0:
            return False
        if self._round:
            self._pos = 0
            while top < self._batch:
                if self._pos >= n:
                    raise MXNetError("CSVIter: number of input must be bigger than batch size")
                self._copy_row(top)
                top += 1
                self._num_overflow += 1
            self._publish(self._num_overflow)
        else:
            self._publish(self._batch - top)
        return True

    def _publish(self, pad: int) -> None:
        self._cur = (self._buf_data.copy(), self._buf_label.reshape(self._label_shape).copy(), pad,
                     self._buf_index.copy())


# --- MNISTIter ------------------------------------------------------------------------------------
class _MT19937:
    """``std::mt19937`` (the 32-bit Mersenne Twister), seeded like ``std::mt19937(seed)``."""

    def __init__(self, seed: int):
        # numpy's legacy seeding of an int is init_genrand, the same as std::mt19937(seed)
        self._mt = [int(x) for x in np.random.RandomState(seed & 0xFFFFFFFF).get_state()[1]]
        self._i = 624

    def _twist(self) -> None:
        mt = self._mt
        for k in range(624):
            y = (mt[k] & 0x80000000) | (mt[(k + 1) % 624] & 0x7FFFFFFF)
            mt[k] = mt[(k + 397) % 624] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
        self._i = 0

    def __call__(self) -> int:
        if self._i >= 624:
            self._twist()
        y = self._mt[self._i]
        self._i += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        return y & 0xFFFFFFFF


def _uniform_int(gen: _MT19937, high: int) -> int:
    """libstdc++ ``uniform_int_distribution(0, high)`` over a 32-bit engine (downscaling)."""
    erange = high + 1
    scaling = 0xFFFFFFFF // erange
    past = erange * scaling
    while True:
        r = gen()
        if r < past:
            return r // scaling


def std_shuffle_order(n: int, seed: int) -> list[int]:
    """The permutation ``std::shuffle(0..n-1, std::mt19937(seed))`` gives (MXNet's libstdc++)."""
    gen, order = _MT19937(seed), list(range(n))
    for i in range(1, n):
        j = _uniform_int(gen, i)
        order[i], order[j] = order[j], order[i]
    return order


def _read_idx(path: str, what: str) -> bytes:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MXNetError(f"MNISTIter: cannot open {what} file '{path}': No such file or directory")
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw


class MNISTIter(MXDataIter):
    """Batches of the MNIST idx files (gzip or not): images scaled by 1/256, float32 labels.

    Incomplete last batches are dropped; ``shuffle`` permutes once at load with ``seed``;
    ``num_parts``/``part_index`` read one contiguous part of the files; ``flat`` gives
    ``(batch, rows*cols)`` instead of ``(batch, 1, rows, cols)``.
    """

    def __init__(self, *args: Any, image: str = "./train-images-idx3-ubyte",
                 label: str = "./train-labels-idx1-ubyte", batch_size: int = 128, shuffle: bool = True,
                 flat: bool = False, seed: int = 0, silent: bool = False, num_parts: int = 1,
                 part_index: int = 0, prefetch_buffer: int = 4, ctx: str = "gpu", dtype: Any = None,
                 data_name: str = "data", label_name: str = "softmax_label"):
        if args:
            raise TypeError("MNISTIter can only accept keyword arguments")
        self._batch = int(batch_size)
        if self._batch < 1:
            raise MXNetError(f"MNISTIter: batch_size must be at least 1, got {batch_size}")
        num_parts, part_index = int(num_parts), int(part_index)
        if not (num_parts > 0 and 0 <= part_index < num_parts):
            raise MXNetError(f"MNISTIter: need num_parts > 0 and 0 <= part_index < num_parts, got "
                             f"num_parts={num_parts}, part_index={part_index}")
        self._flat = _parse_bool(flat)
        images = self._load_images(image, num_parts, part_index)
        labels = self._load_labels(label, num_parts, part_index)
        if labels.shape[0] != images.shape[0]:
            raise MXNetError(f"MNISTIter: image file '{image}' has {images.shape[0]} images but label "
                             f"file '{label}' has {labels.shape[0]} labels")
        do_shuffle = _parse_bool(shuffle)
        if do_shuffle:
            order = np.asarray(std_shuffle_order(images.shape[0], int(seed)), np.int64)
            images, labels = images[order], labels[order]
        out_dtype = np.float32 if dtype is None or str(dtype) == "None" else np.dtype(dtype)
        self._images = images.astype(out_dtype, copy=False)
        self._labels = labels.astype(out_dtype, copy=False)
        self._loc = 0
        if not _parse_bool(silent):
            rows, cols = images.shape[1], images.shape[2]
            shape = [self._batch, rows * cols] if self._flat else [self._batch, 1, rows, cols]
            logging.info("MNISTIter: load %d images, shuffle=%d, shape=[%s]", images.shape[0],
                         int(do_shuffle), ",".join(str(s) for s in shape))
        super().__init__(data_name, label_name)

    @staticmethod
    def _part(count: int, num_parts: int, part_index: int) -> tuple[int, int]:
        return int(count / num_parts * part_index), int(count / num_parts * (part_index + 1))

    def _load_images(self, path: str, num_parts: int, part_index: int) -> np.ndarray:
        raw = _read_idx(path, "image")
        if len(raw) < 16:
            raise MXNetError(f"MNISTIter: invalid mnist format: '{path}' is too short")
        magic, count, rows, cols = struct.unpack(">iiii", raw[:16])
        if magic != 2051:
            raise MXNetError(f"MNISTIter: invalid mnist format: '{path}' has magic number {magic}, "
                             "expected 2051 (idx3-ubyte images)")
        start, end = self._part(count, num_parts, part_index)
        size = rows * cols
        body = raw[16 + start * size:16 + end * size]
        if len(body) != (end - start) * size:
            raise MXNetError(f"MNISTIter: invalid mnist format: '{path}' is truncated")
        pixels = np.frombuffer(body, np.uint8).reshape(end - start, rows, cols)
        return pixels.astype(np.float32) * np.float32(1.0 / 256.0)

    def _load_labels(self, path: str, num_parts: int, part_index: int) -> np.ndarray:
        raw = _read_idx(path, "label")
        if len(raw) < 8:
            raise MXNetError(f"MNISTIter: invalid mnist format: '{path}' is too short")
        magic, count = struct.unpack(">ii", raw[:8])
        if magic != 2049:
            raise MXNetError(f"MNISTIter: invalid mnist format: '{path}' has magic number {magic}, "
                             "expected 2049 (idx1-ubyte labels)")
        start, end = self._part(count, num_parts, part_index)
        body = raw[8 + start:8 + end]
        if len(body) != end - start:
            raise MXNetError(f"MNISTIter: invalid mnist format: '{path}' is truncated")
        return np.frombuffer(body, np.uint8).astype(np.float32)

    def _before_first(self) -> None:
        self._loc = 0

    def _next(self) -> bool:
        bs = self._batch
        if self._loc + bs > self._images.shape[0]:
            return False
        data = self._images[self._loc:self._loc + bs]
        data = data.reshape(bs, -1) if self._flat else data[:, None, :, :]
        self._cur = (data, self._labels[self._loc:self._loc + bs], 0, np.zeros(bs, np.uint64))
        self._loc += bs
        return True


# --- iterators modjax does not provide ------------------------------------------------------------
def _unavailable(name: str, why: str) -> type:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        raise MXNetError(f"mx.io.{name} is not available in modjax: {why}")
    return type(name, (DataIter,), {"__init__": __init__, "__doc__": f"Not available: {why}"})


LibSVMIter = _unavailable("LibSVMIter", "sparse (CSR) arrays are not supported; densify the data "
                          "and use NDArrayIter")
