"""Data descriptions, batches and the Python data iterators of ``mx.io`` (MXNet 1.9.1 semantics).

Batches hold NDArrays created on the cpu context; modules copy them to their devices.
"""
from __future__ import annotations

import threading
import weakref
from collections import namedtuple
from typing import Any, Sequence

import jax
import numpy as np

from ..base import MXNetError
from ..context import cpu
from ..ndarray.ndarray import NDArray, array as nd_array
from .utils import batch_axis_of, init_data

__all__ = ["DataDesc", "DataBatch", "DataIter", "ResizeIter", "PrefetchingIter", "NDArrayIter"]


class DataDesc(namedtuple("DataDesc", ["name", "shape"])):
    """``(name, shape)`` tuple that also carries ``dtype`` and ``layout`` attributes."""

    def __new__(cls, name: str, shape: Sequence[int], dtype: Any = np.float32,
                layout: str = "NCHW") -> "DataDesc":
        ret = super().__new__(cls, name, shape)
        ret.dtype = dtype
        ret.layout = layout
        return ret

    def __repr__(self) -> str:
        return "DataDesc[%s,%s,%s,%s]" % (self.name, self.shape, self.dtype, self.layout)

    @staticmethod
    def get_batch_axis(layout: str | None) -> int:
        """Index of ``'N'`` in ``layout`` (0 for ``None``, -1 when there is no batch axis)."""
        if layout is None:
            return 0
        return layout.find("N")

    @staticmethod
    def get_list(shapes: Sequence[tuple], types: Sequence[tuple] | None) -> list["DataDesc"]:
        """DataDescs from ``(name, shape)`` pairs and optional ``(name, dtype)`` pairs."""
        if types is not None:
            type_dict = dict(types)
            return [DataDesc(x[0], x[1], type_dict[x[0]]) for x in shapes]
        return [DataDesc(x[0], x[1]) for x in shapes]


class DataBatch:
    """One batch: lists of data and label NDArrays plus padding and bucketing information."""

    def __init__(self, data: Sequence[NDArray] | None, label: Sequence[NDArray] | None = None,
                 pad: int | None = None, index: Any = None, bucket_key: Any = None,
                 provide_data: list | None = None, provide_label: list | None = None):
        if data is not None and not isinstance(data, (list, tuple)):
            raise MXNetError(f"DataBatch: data must be a list of NDArrays, got {type(data).__name__}")
        if label is not None and not isinstance(label, (list, tuple)):
            raise MXNetError(f"DataBatch: label must be a list of NDArrays, got {type(label).__name__}")
        self.data = data
        self.label = label
        self.pad = pad
        self.index = index
        self.bucket_key = bucket_key
        self.provide_data = provide_data
        self.provide_label = provide_label

    def __str__(self) -> str:
        data_shapes = [d.shape for d in self.data]
        label_shapes = [lb.shape for lb in self.label] if self.label else None
        return "{}: data shapes: {} label shapes: {}".format(self.__class__.__name__, data_shapes,
                                                              label_shapes)

    __repr__ = __str__


class DataIter:
    """Base class of data iterators: ``next()`` builds a DataBatch from the ``get*`` methods."""

    def __init__(self, batch_size: int = 0):
        self.batch_size = batch_size

    def __iter__(self) -> "DataIter":
        return self

    def reset(self) -> None:
        """Go back to the start of the data."""

    def next(self) -> DataBatch:
        """The next batch; raises StopIteration at the end of the data."""
        if self.iter_next():
            return DataBatch(data=self.getdata(), label=self.getlabel(), pad=self.getpad(),
                             index=self.getindex())
        raise StopIteration

    def __next__(self) -> DataBatch:
        return self.next()

    def iter_next(self) -> bool | None:
        """Move to the next batch; whether there was one."""

    def getdata(self) -> list[NDArray] | None:
        """Data of the current batch."""

    def getlabel(self) -> list[NDArray] | None:
        """Labels of the current batch."""

    def getindex(self) -> Any:
        """Example indices of the current batch (None when unknown)."""
        return None

    def getpad(self) -> int | None:
        """Number of filler examples at the end of the current batch."""


class _WrappingIter(DataIter):
    """Shared by the iterators that hold a whole ``current_batch``: the ``get*`` methods read it."""

    current_batch: DataBatch | None

    def getdata(self) -> Any:
        return self.current_batch.data

    def getlabel(self) -> Any:
        return self.current_batch.label

    def getindex(self) -> Any:
        return self.current_batch.index

    def getpad(self) -> Any:
        return self.current_batch.pad


class ResizeIter(_WrappingIter):
    """Exactly ``size`` batches per epoch from ``data_iter``, resetting it when it runs out."""

    def __init__(self, data_iter: DataIter, size: int, reset_internal: bool = True):
        super().__init__()
        self.data_iter = data_iter
        self.size = size
        self.reset_internal = reset_internal
        self.cur = 0
        self.current_batch: DataBatch | None = None
        self.provide_data = data_iter.provide_data
        self.provide_label = data_iter.provide_label
        self.batch_size = data_iter.batch_size
        if hasattr(data_iter, "default_bucket_key"):
            self.default_bucket_key = data_iter.default_bucket_key

    def reset(self) -> None:
        self.cur = 0
        if self.reset_internal:
            self.data_iter.reset()

    def iter_next(self) -> bool:
        if self.cur == self.size:
            return False
        try:
            self.current_batch = self.data_iter.next()
        except StopIteration:
            self.data_iter.reset()
            self.current_batch = self.data_iter.next()
        self.cur += 1
        return True


class _PrefetchState:
    """What the worker threads share; kept apart from the iterator so it can be collected."""

    def __init__(self, iters: list):
        n = len(iters)
        self.iters = iters
        self.ready = [threading.Event() for _ in range(n)]
        self.taken = [threading.Event() for _ in range(n)]
        self.batches: list[Any] = [None] * n
        self.errors: list[BaseException | None] = [None] * n
        self.running = True
        for ev in self.taken:
            ev.set()

    def work(self, i: int) -> None:
        while True:
            self.taken[i].wait()
            if not self.running:
                break
            try:
                self.batches[i], self.errors[i] = self.iters[i].next(), None
            except StopIteration:
                self.batches[i], self.errors[i] = None, None
            except BaseException as err:  # noqa: BLE001 - handed to the consumer thread
                self.batches[i], self.errors[i] = None, err
            self.taken[i].clear()
            self.ready[i].set()

    def wait_all(self) -> None:
        for ev in self.ready:
            ev.wait()

    def release_all(self) -> None:
        for ev in self.ready:
            ev.clear()
        for ev in self.taken:
            ev.set()

    def stop(self, threads: list[threading.Thread]) -> None:
        self.running = False
        for ev in self.taken:
            ev.set()
        for t in threads:
            if t is not threading.current_thread():
                t.join(timeout=5.0)


class PrefetchingIter(_WrappingIter):
    """Fetches the next batch of each wrapped iterator in a background thread.

    Batches of several iterators are joined (data lists, then label lists, in iterator order);
    ``rename_data`` / ``rename_label`` hold one ``{old_name: new_name}`` dict per iterator.
    """

    def __init__(self, iters: DataIter | list[DataIter], rename_data: list[dict] | None = None,
                 rename_label: list[dict] | None = None):
        super().__init__()
        if not isinstance(iters, list):
            iters = [iters]
        if not iters:
            raise MXNetError("PrefetchingIter needs at least one iterator")
        self.n_iter = len(iters)
        self.iters = iters
        self.rename_data = rename_data
        self.rename_label = rename_label
        self.batch_size = self.provide_data[0][1][0]
        self.current_batch: DataBatch | None = None
        self._state = _PrefetchState(iters)
        self.prefetch_threads = [threading.Thread(target=self._state.work, args=(i,), daemon=True,
                                                  name=f"modjax-prefetch-{i}")
                                 for i in range(self.n_iter)]
        for t in self.prefetch_threads:
            t.start()
        self._finalizer = weakref.finalize(self, _PrefetchState.stop, self._state,
                                           self.prefetch_threads)

    def close(self) -> None:
        """Stop the worker threads (also done when the iterator is garbage collected)."""
        self._finalizer()

    @staticmethod
    def _renamed(descs: list, mapping: dict | None) -> list:
        if mapping is None:
            return list(descs)
        return [DataDesc(mapping[x.name], x.shape, x.dtype) if isinstance(x, DataDesc)
                else DataDesc(*x) for x in descs]

    @property
    def provide_data(self) -> list[DataDesc]:
        renames = self.rename_data or [None] * self.n_iter
        return sum([self._renamed(it.provide_data, r) for r, it in zip(renames, self.iters)], [])

    @property
    def provide_label(self) -> list[DataDesc]:
        renames = self.rename_label or [None] * self.n_iter
        return sum([self._renamed(it.provide_label, r) for r, it in zip(renames, self.iters)], [])

    def reset(self) -> None:
        st = self._state
        st.wait_all()
        for it in self.iters:
            it.reset()
        st.release_all()

    def iter_next(self) -> bool:
        st = self._state
        if not st.running:
            raise MXNetError("PrefetchingIter was closed")
        st.wait_all()
        for err in st.errors:
            if err is not None:
                st.release_all()
                raise err
        batches = st.batches
        if batches[0] is None:
            if any(b is not None for b in batches):
                raise MXNetError("PrefetchingIter: Number of entry mismatches between iterators "
                                 "(one iterator ended before the others)")
            return False
        for b in batches:
            if b is None or b.pad != batches[0].pad:
                raise MXNetError("PrefetchingIter: Number of entry mismatches between iterators "
                                 "(batches differ in padding or one iterator ended early)")
        self.current_batch = DataBatch(sum([list(b.data) for b in batches], []),
                                       sum([list(b.label or []) for b in batches], []),
                                       batches[0].pad, batches[0].index,
                                       provide_data=self.provide_data,
                                       provide_label=self.provide_label)
        st.release_all()
        return True

    def next(self) -> DataBatch:
        if self.iter_next():
            return self.current_batch
        raise StopIteration


_LAST_BATCH_MODES = ("pad", "discard", "roll_over")


class NDArrayIter(DataIter):
    """Iterates over in-memory arrays (numpy, NDArray; a single array, a list or a dict).

    Inputs are sorted by name; numpy inputs become float32 as in MXNet. ``last_batch_handle``:
    ``'pad'`` fills the last batch from the start of the data, ``'discard'`` drops it,
    ``'roll_over'`` carries the leftover samples into the first batch of the next epoch.
    """

    def __init__(self, data: Any, label: Any = None, batch_size: int = 1, shuffle: bool = False,
                 last_batch_handle: str = "pad", data_name: str = "data",
                 label_name: str = "softmax_label", layout: str = "NCHW"):
        super().__init__(batch_size)
        if last_batch_handle not in _LAST_BATCH_MODES:
            raise MXNetError(f"NDArrayIter: last_batch_handle must be one of {list(_LAST_BATCH_MODES)}, "
                             f"got {last_batch_handle!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise MXNetError(f"NDArrayIter: batch_size must be a positive integer, got {batch_size!r}")
        self.layout = layout
        self._axis = max(batch_axis_of(layout), 0)
        self.data = init_data(data, allow_empty=False, default_name=data_name)
        self.label = init_data(label, allow_empty=True, default_name=label_name)
        self._check_lengths()
        self.idx = np.arange(self._len(self.data[0][1]))
        self.shuffle = shuffle
        self.last_batch_handle = last_batch_handle
        self.batch_size = int(batch_size)
        self.cursor = -self.batch_size
        self.num_data = self.idx.shape[0]
        self._cache_data: list | None = None
        self._cache_label: list | None = None
        self.reset()
        self.data_list = [x[1] for x in self.data] + [x[1] for x in self.label]
        self.num_source = len(self.data_list)

    # -- helpers ---------------------------------------------------------------------------------
    def _ax(self, arr: np.ndarray) -> int:
        """The batch axis of one array (axis 0 for arrays with fewer dimensions, e.g. labels)."""
        return self._axis if arr.ndim > self._axis else 0

    def _len(self, arr: np.ndarray) -> int:
        return arr.shape[self._ax(arr)]

    def _check_lengths(self) -> None:
        sizes = [("data", k, self._len(v)) for k, v in self.data] + \
                [("label", k, self._len(v)) for k, v in self.label]
        if len({s for _, _, s in sizes}) > 1:
            listing = ", ".join(f"{kind} '{k}' has {s}" for kind, k, s in sizes)
            raise MXNetError(f"NDArrayIter: all data and label arrays must have the same number of "
                             f"samples along the batch axis; {listing}")

    def _desc(self, items: list) -> list[DataDesc]:
        out = []
        for k, v in items:
            shape = list(v.shape)
            shape[self._ax(v)] = self.batch_size
            out.append(DataDesc(k, tuple(shape), v.dtype.type, layout=self.layout))
        return out

    @property
    def provide_data(self) -> list[DataDesc]:
        """Name, shape (batch axis = batch_size), dtype and layout of each data input."""
        return self._desc(self.data)

    @property
    def provide_label(self) -> list[DataDesc]:
        """Name, shape, dtype and layout of each label input (``[]`` without labels)."""
        return self._desc(self.label)

    # -- epoch control ---------------------------------------------------------------------------
    def hard_reset(self) -> None:
        """Restart at the first sample and drop any rolled-over samples."""
        if self.shuffle:
            self._shuffle_data()
        self.cursor = -self.batch_size
        self._cache_data = None
        self._cache_label = None

    def reset(self) -> None:
        """Start a new epoch (reshuffling when ``shuffle``; keeping roll-over leftovers)."""
        if self.shuffle:
            self._shuffle_data()
        if self.last_batch_handle == "roll_over" and \
                self.num_data - self.batch_size < self.cursor < self.num_data:
            self.cursor = self.cursor - self.num_data - self.batch_size
        else:
            self.cursor = -self.batch_size

    def iter_next(self) -> bool:
        self.cursor += self.batch_size
        return self.cursor < self.num_data

    def next(self) -> DataBatch:
        if not self.iter_next():
            raise StopIteration
        data = self.getdata()
        label = self.getlabel()
        if data[0].shape[self._ax(self.data[0][1])] != self.batch_size:
            # incomplete last batch: kept for the next epoch ('roll_over'), dropped otherwise
            self._cache_data = data
            self._cache_label = label
            raise StopIteration
        return DataBatch(data=data, label=label, pad=self.getpad(), index=None)

    # -- slicing ---------------------------------------------------------------------------------
    def _getdata(self, source: list, start: int | None = None, end: int | None = None) -> list:
        start = 0 if start is None else start
        if end is None:
            end = self._len(source[0][1]) if source else 0
        out = []
        for _, v in source:
            index = [slice(None)] * v.ndim
            index[self._ax(v)] = slice(start, end)
            out.append(v[tuple(index)])
        return out

    def _concat(self, first: list, second: list) -> list:
        if not first or not second:
            return first if first else second
        return [np.concatenate([np.asarray(a), np.asarray(b)], axis=self._ax(np.asarray(a)))
                for a, b in zip(first, second)]

    def _tile(self, data: list, repeats: int) -> list:
        out = []
        for d in data:
            reps = [1] * d.ndim
            reps[self._ax(d)] = repeats
            out.append(np.tile(d, reps))
        return out

    def _batchify(self, source: list) -> list:
        if self.cursor >= self.num_data:
            raise MXNetError("NDArrayIter: the iterator is exhausted; call reset()")
        if self.last_batch_handle == "roll_over" and -self.batch_size < self.cursor < 0:
            if self._cache_data is None and self._cache_label is None:
                raise MXNetError("NDArrayIter: next epoch should have cached data (roll_over)")
            cached = self._cache_data if self._cache_data is not None else self._cache_label
            second = self._getdata(source, end=self.cursor + self.batch_size)
            if self._cache_data is not None:
                self._cache_data = None
            else:
                self._cache_label = None
            return self._concat([_host(c) for c in cached], second)
        if self.last_batch_handle == "pad" and self.cursor + self.batch_size > self.num_data:
            pad = self.batch_size - self.num_data + self.cursor
            first = self._getdata(source, start=self.cursor)
            if pad > self.num_data:
                second = self._tile(self._getdata(source, end=self.num_data), pad // self.num_data)
                if pad % self.num_data != 0:
                    second = self._concat(second, self._getdata(source, end=pad % self.num_data))
            else:
                second = self._getdata(source, end=pad)
            return self._concat(first, second)
        end = min(self.cursor + self.batch_size, self.num_data)
        if end - self.cursor == self.batch_size and source:
            return self._device_rows(source, self.cursor)
        return self._getdata(source, self.cursor, end)

    def _device_whole(self, name: str, v: Any) -> list:
        """``[v, its device copy, its full batches or None]``, made once per (shuffled) array."""
        cache = self.__dict__.setdefault("_device_cache", {})
        dev = cache.get(name)
        if dev is None or dev[0] is not v:
            dev = cache[name] = [v, jax.device_put(v, cpu().jax_device), None]
        return dev

    def _device_rows(self, source: list, start: int) -> list:
        """One full batch from a device copy of the (shuffled) data. The copy is made once per
        shuffle and split into all its full batches by one executable, so a batch costs no
        host-to-device copy and no dispatch; offsets off the batch grid slice on the device."""
        out = []
        for name, v in source:
            dev = self._device_whole(name, v)
            axis = self._ax(v)
            if dev[2] is None:
                dev[2] = _split_rows(dev[1], self.batch_size, axis, v.shape[axis] // self.batch_size)
            if start % self.batch_size == 0 and start // self.batch_size < len(dev[2]):
                out.append(dev[2][start // self.batch_size])
            else:
                out.append(_take_rows(dev[1], start, self.batch_size, axis))
        return out

    def _device_epoch(self) -> tuple[dict, int, int] | None:
        """The rest of this epoch as device-side indexing, for a consumer that trains on whole
        epochs in few dispatches: ``({name: (device copy (N, ...), batch axis)}, N, batches)``;
        batch b is rows ``(b * batch_size + arange(batch_size)) % N`` (the 'pad' rule too).
        None where that does not describe ``next()`` (roll_over, an epoch already begun)."""
        if self.last_batch_handle not in ("pad", "discard") or self.cursor != -self.batch_size \
                or self.num_data < 1:
            return None
        if self.last_batch_handle == "discard":
            batches = self.num_data // self.batch_size
        else:
            batches = -(-self.num_data // self.batch_size)
        arrays = {name: (self._device_whole(name, v)[1], self._ax(v))
                  for name, v in self.data + self.label}
        return arrays, self.num_data, batches

    def _skip_batches(self, count: int) -> None:
        """Advance as if ``next()`` had returned ``count`` batches."""
        self.cursor += count * self.batch_size

    def getdata(self) -> list[NDArray]:
        return [_to_nd(a) for a in self._batchify(self.data)]

    def getlabel(self) -> list[NDArray]:
        return [_to_nd(a) for a in self._batchify(self.label)]

    def getpad(self) -> int:
        if self.last_batch_handle == "pad" and self.cursor + self.batch_size > self.num_data:
            return self.cursor + self.batch_size - self.num_data
        if self.last_batch_handle == "roll_over" and -self.batch_size < self.cursor < 0:
            return -self.cursor
        return 0

    def _shuffle_data(self) -> None:
        # MXNet shuffles the cumulative permutation and applies it to the already shuffled data
        np.random.shuffle(self.idx)
        self.data = [(k, np.take(v, self.idx, axis=self._ax(v))) for k, v in self.data]
        self.label = [(k, np.take(v, self.idx, axis=self._ax(v))) for k, v in self.label]


def _take_rows_impl(x: jax.Array, start: jax.Array, size: int, axis: int) -> jax.Array:
    return jax.lax.dynamic_slice_in_dim(x, start, size, axis)


_take_rows_impl = jax.jit(_take_rows_impl, static_argnums=(2, 3))


def _split_rows_impl(x: jax.Array, size: int, axis: int, count: int) -> tuple:
    return tuple(jax.lax.slice_in_dim(x, i * size, (i + 1) * size, axis=axis) for i in range(count))


_split_rows = jax.jit(_split_rows_impl, static_argnums=(1, 2, 3))


def _take_rows(x: jax.Array, start: int, size: int, axis: int) -> jax.Array:
    """Rows [start, start+size) along ``axis`` (one cached executable per shape)."""
    return _take_rows_impl(x, np.int32(start), size, axis)


def _host(value: Any) -> np.ndarray:
    return value.asnumpy() if isinstance(value, NDArray) else np.asarray(value)


def _to_nd(value: Any) -> NDArray:
    if isinstance(value, NDArray):
        return value
    if isinstance(value, jax.Array):
        return NDArray(value, cpu())
    return nd_array(np.ascontiguousarray(value), cpu())
