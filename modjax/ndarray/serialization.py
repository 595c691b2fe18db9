"""MXNet 1.9.1's NDArray binary container (``.params`` files), byte-compatible both ways; numpy only.

Layout (little-endian): uint64 0x112, uint64 0, uint64 K, K records, uint64 name count (0 for a
list, K for a dict), then each name as uint64 length + UTF-8 bytes. A V2 record is: uint32
0xF993FAC9, int32 stype, [sparse: storage TShape], TShape (int32 ndim + int64 dims), int32
dev_type, int32 dev_id, int32 type flag, [sparse: aux flag + TShape each], raw C-order data,
[sparse: raw aux data]. The reader also takes V3 (numpy-shape mode; ndim 0 is a scalar), V1
(0xF993FAC8: no stype) and pre-V1 records (no magic: the first uint32 is ndim, dims are uint32);
as in MXNet, a V1/pre-V1 record of ndim 0 is a 0-d array. Sparse records (row_sparse: values +
int64 row indices; csr: values, indptr, indices) are densified. Stricter than MXNet: trailing
bytes, unknown device types and V2 ndim-0 ("none") records raise ``MXNetError``. Duplicate names
keep the last array, as ``mx.nd.load`` does.
"""
from __future__ import annotations

import os
import struct
from typing import Any, Mapping, Sequence, Union

import numpy as np

from ..base import DTYPE_TO_FLAG, FLAG_TO_DTYPE, MXNetError, atomic_write

__all__ = ["save_bytes", "load_bytes", "save", "load", "record_to_bytes", "record_from_bytes"]

LIST_MAGIC = 0x112
V1_MAGIC, V2_MAGIC, V3_MAGIC = 0xF993FAC8, 0xF993FAC9, 0xF993FACA
DEV_TYPES = {1: "cpu", 2: "gpu", 3: "cpu_pinned", 5: "cpu_shared", 6: "tpu"}
MAX_NDIM = 32                    # numpy's limit; pre-V1 "magic" words above this are garbage
MAX_DIM = 1 << 48                # any larger dim (or element count) is corruption
MAX_DENSIFIED_BYTES = 1 << 32    # cap on the dense copy of a sparse record
_MIN_RECORD = 12                 # smallest record: V2 ndim-0 "none" (magic, stype, ndim)

Array = Any  # numpy array or anything np.asarray accepts (jax arrays, NDArray with __array__)
CtxLike = Union[tuple, Any]       # (dev_type, dev_id) or an object with device_typeid/device_id
ParamData = Union[Mapping[str, Array], Sequence[Array], np.ndarray]


def _ctx_pair(ctx: CtxLike | None) -> tuple[int, int]:
    if ctx is None:
        return 1, 0
    if hasattr(ctx, "device_typeid"):
        return int(ctx.device_typeid), int(ctx.device_id)
    dev_type, dev_id = ctx
    return int(dev_type), int(dev_id)


def _le_dtype(dt: np.dtype) -> np.dtype:
    return dt.newbyteorder("<") if dt.kind in "iuf" and dt.itemsize > 1 else dt


def record_to_bytes(arr: Array, context: CtxLike | None = None, *, name: str = "array") -> bytes:
    """One NDArray record (``MXNDArraySaveRawBytes``: V2, dense). A 0-d array, which V2 cannot
    express, is written as a V1 record of ndim 0 (MXNet 1.9.1 loads that as a 0-d array)."""
    a = np.asarray(arr)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("="))
    flag = DTYPE_TO_FLAG.get(a.dtype)
    if flag is None:
        raise MXNetError(f"cannot save {name!r}: dtype {a.dtype} has no MXNet type flag; supported: "
                         f"{', '.join(d.name for d in DTYPE_TO_FLAG)}")
    dev_type, dev_id = _ctx_pair(context)
    data = np.ascontiguousarray(a).astype(_le_dtype(a.dtype), copy=False).tobytes()
    if a.ndim == 0:
        head = struct.pack("<Ii", V1_MAGIC, 0)
    else:
        head = struct.pack(f"<Iii{a.ndim}q", V2_MAGIC, 0, a.ndim, *a.shape)
    return head + struct.pack("<iii", dev_type, dev_id, flag) + data


def save_bytes(data: ParamData, contexts: Sequence[CtxLike] | Mapping[str, CtxLike] | None = None) -> bytes:
    """The bytes ``mx.nd.save`` writes for ``data``: a dict (names kept in insertion order), a
    list/tuple (0 names) or one array. ``contexts`` optionally gives each array's (dev_type,
    dev_id), by position or by name; default cpu(0)."""
    if isinstance(data, Mapping):
        for key in data:
            if not isinstance(key, str):
                raise MXNetError(f"cannot save: dict keys must be str, found {key!r} ({type(key).__name__})")
        names, arrays = list(data.keys()), list(data.values())
    elif isinstance(data, (list, tuple)):
        names, arrays = [], list(data)
    elif hasattr(data, "__array__"):
        names, arrays = [], [data]
    else:
        raise MXNetError(f"cannot save {type(data).__name__}: expected a dict str->array, a list of "
                         "arrays or one array")
    labels = names or [f"[{i}]" for i in range(len(arrays))]
    if contexts is None:
        ctxs: list = [None] * len(arrays)
    elif isinstance(contexts, Mapping):
        ctxs = [contexts.get(k) for k in labels]
    else:
        ctxs = list(contexts)
        if len(ctxs) != len(arrays):
            raise MXNetError(f"cannot save: {len(ctxs)} contexts given for {len(arrays)} arrays")
    out = [struct.pack("<QQQ", LIST_MAGIC, 0, len(arrays))]
    out += [record_to_bytes(a, c, name=k) for a, c, k in zip(arrays, ctxs, labels)]
    out.append(struct.pack("<Q", len(names)))
    for key in names:
        raw = key.encode("utf-8")
        out.append(struct.pack("<Q", len(raw)) + raw)
    return b"".join(out)


class _Reader:
    """A bounds-checked cursor over a buffer; every failure names the source and offset."""

    def __init__(self, buf: bytes, source: str):
        self.buf, self.pos, self.source, self.where = bytes(buf), 0, source, ""

    def error(self, msg: str) -> MXNetError:
        return MXNetError(f"invalid NDArray file {self.source}: {self.where}{msg} "
                          f"(file size {len(self.buf)} bytes)")

    def take(self, n: int, what: str) -> int:
        left = len(self.buf) - self.pos
        if n > left:
            raise self.error(f"truncated while reading {what} at offset {self.pos}: "
                             f"expected {n} bytes, found {left}")
        start, self.pos = self.pos, self.pos + n
        return start

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack_from("<" + fmt, self.buf, self.take(struct.calcsize("<" + fmt), what))

    def shape(self, what: str, ndim: int | None = None, legacy: bool = False) -> tuple[int, ...]:
        if ndim is None:
            (ndim,) = self.unpack("i", f"{what} ndim")
        if ndim < 0 or ndim > MAX_NDIM:
            raise self.error(f"{what} ndim {ndim} at offset {self.pos - 4}: expected 0..{MAX_NDIM}"
                             + (" (-1 is an empty (none) array record)" if ndim == -1 else ""))
        dims = self.unpack(("I" if legacy else "q") * ndim, f"{what} dims")
        for d in dims:
            if d < 0 or d > MAX_DIM:
                note = " (-1: an empty (none) array record)" if d == -1 else ""
                raise self.error(f"{what} {dims} has {'a negative' if d < 0 else 'an absurd'} dim {d}{note}")
        if np.prod([max(d, 1) for d in dims], dtype=object) > MAX_DIM:  # numpy would overflow
            raise self.error(f"{what} {dims} is absurdly large (more than {MAX_DIM} elements)")
        return dims

    def flag(self, what: str) -> np.dtype:
        (flag,) = self.unpack("i", what)
        if flag not in FLAG_TO_DTYPE:
            raise self.error(f"unknown {what} {flag} at offset {self.pos - 4}: expected one of "
                             f"{sorted(FLAG_TO_DTYPE)}")
        return FLAG_TO_DTYPE[flag]

    def data(self, dtype: np.dtype, shape: tuple[int, ...], what: str) -> np.ndarray:
        count = int(np.prod(shape, dtype=object))
        start = self.take(count * dtype.itemsize, f"{what} ({count} x {dtype.name})")
        if dtype == np.bool_:
            return (np.frombuffer(self.buf, np.uint8, count, start) != 0).reshape(shape)
        return np.frombuffer(self.buf, _le_dtype(dtype), count, start).astype(dtype).reshape(shape)


def _densify(r: _Reader, stype: int, shape: tuple, values: np.ndarray, aux: list) -> np.ndarray:
    nbytes = int(np.prod(shape, dtype=object)) * values.dtype.itemsize
    if nbytes > MAX_DENSIFIED_BYTES:
        raise r.error(f"densifying the sparse array of shape {shape} needs {nbytes} bytes "
                      f"(limit MAX_DENSIFIED_BYTES={MAX_DENSIFIED_BYTES})")
    dense = np.zeros(shape, values.dtype)
    if stype == 1:  # row_sparse: aux = [row indices]
        idx = aux[0].astype(np.int64)
        if values.shape[1:] != tuple(shape[1:]) or len(idx) != len(values):
            raise r.error(f"row_sparse values {values.shape} / indices {idx.shape} do not fit shape {shape}")
        if len(idx) and (idx.min() < 0 or idx.max() >= shape[0]):
            raise r.error(f"row_sparse row index out of range [0, {shape[0]})")
        dense[idx] = values
        return dense
    indptr, indices = (a.astype(np.int64) for a in aux)  # csr: aux = [indptr, indices]
    if (len(shape) != 2 or values.ndim != 1 or len(indptr) != shape[0] + 1
            or len(indices) != len(values)):
        raise r.error(f"csr values {values.shape} / indptr {indptr.shape} / indices "
                      f"{indices.shape} do not fit shape {shape}")
    if indptr[0] != 0 or indptr[-1] != len(values) or np.any(np.diff(indptr) < 0):
        raise r.error(f"csr indptr is not a non-decreasing 0..{len(values)} sequence")
    if len(indices) and (indices.min() < 0 or indices.max() >= shape[1]):
        raise r.error(f"csr column index out of range [0, {shape[1]})")
    dense[np.repeat(np.arange(shape[0]), np.diff(indptr)), indices] = values
    return dense


def _read_record(r: _Reader) -> tuple[np.ndarray, tuple[int, int]]:
    start = r.pos
    (magic,) = r.unpack("I", "record magic")
    stype, sshape = 0, None
    if magic in (V2_MAGIC, V3_MAGIC):
        (stype,) = r.unpack("i", "storage type")
        if stype not in (0, 1, 2) or (stype and magic == V3_MAGIC):
            raise r.error(f"unknown storage type {stype} at offset {r.pos - 4}: expected 0 (default)"
                          + (" in a V3 record" if magic == V3_MAGIC else ", 1 (row_sparse) or 2 (csr)"))
        if stype:
            sshape = r.shape("storage shape")
        (ndim,) = r.unpack("i", "shape ndim")
        if ndim == 0 and magic == V2_MAGIC or ndim == -1 and magic == V3_MAGIC:
            raise r.error(f"empty (none) array record (ndim {ndim}) at offset {start}: MXNet 1.9.1 "
                          "cannot load it either ('unknown storage type: -1')")
        shape = r.shape("shape", ndim)
    elif magic == V1_MAGIC:
        shape = r.shape("shape")
    elif magic <= MAX_NDIM:  # pre-V1: the word is ndim
        shape = r.shape("shape", magic, legacy=True)
    else:
        raise r.error(f"bad record magic 0x{magic:08X} at offset {start}: expected 0xF993FAC9 (V2), "
                      f"0xF993FACA (V3), 0xF993FAC8 (V1) or a pre-V1 ndim <= {MAX_NDIM}")
    dev_type, dev_id = r.unpack("ii", "context")
    if dev_type not in DEV_TYPES or dev_id < 0:
        raise r.error(f"bad context ({dev_type}, {dev_id}) at offset {r.pos - 8}: expected dev_type "
                      f"in {sorted(DEV_TYPES)} and dev_id >= 0")
    dtype = r.flag("type flag")
    if not stype:
        return r.data(dtype, shape, "data"), (dev_type, dev_id)
    aux_meta = []
    for i in range(stype):  # row_sparse has 1 aux array, csr 2
        aux_dtype = r.flag(f"aux {i} type flag")
        aux_shape = r.shape(f"aux {i} shape")
        if aux_dtype.kind not in "iu" or len(aux_shape) != 1:
            raise r.error(f"aux {i} must be a 1-D integer array, found {aux_dtype.name} {aux_shape}")
        aux_meta.append((aux_dtype, aux_shape))
    values = r.data(dtype, sshape, "sparse values")
    aux = [r.data(d, s, f"aux {i} data") for i, (d, s) in enumerate(aux_meta)]
    return _densify(r, stype, shape, values, aux), (dev_type, dev_id)


def load_bytes(buf: bytes | bytearray | memoryview, source: str = "<bytes>") -> list | dict:
    """Parse ``.params`` bytes: a list of numpy arrays (0 names) or a dict name -> array."""
    r = _Reader(buf, source)
    (magic, _reserved) = r.unpack("QQ", "file header")
    if magic != LIST_MAGIC:
        raise r.error(f"bad header magic 0x{magic:X} at offset 0: expected 0x112 (kMXAPINDArrayListMagic)")
    (count,) = r.unpack("Q", "array count")
    left = len(r.buf) - r.pos
    if count * _MIN_RECORD + 8 > left:
        raise r.error(f"array count {count} at offset 16 is larger than the file could hold: "
                      f"{left} bytes remain, each record needs at least {_MIN_RECORD}")
    arrays = []
    for i in range(count):
        r.where = f"record {i} (starting at offset {r.pos}): "
        arrays.append(_read_record(r)[0])
    r.where = ""
    (nnames,) = r.unpack("Q", "name count")
    if nnames not in (0, count):
        raise r.error(f"name count {nnames} at offset {r.pos - 8}: expected 0 (list) or {count} (dict)")
    names = []
    for i in range(nnames):
        r.where = f"name {i}: "
        (n,) = r.unpack("Q", "name length")
        raw = r.buf[r.take(n, "name bytes"):r.pos]
        try:
            names.append(raw.decode("utf-8"))
        except UnicodeDecodeError as err:
            raise r.error(f"name at offset {r.pos - n} is not valid UTF-8 ({err.reason})") from None
    r.where = ""
    if r.pos != len(r.buf):
        raise r.error(f"{len(r.buf) - r.pos} bytes of trailing garbage at offset {r.pos} "
                      "after the name table")
    return dict(zip(names, arrays)) if nnames else arrays


def record_from_bytes(buf: bytes | bytearray | memoryview, source: str = "<bytes>") -> np.ndarray:
    """Parse one record (``MXNDArrayLoadFromRawBytes``, e.g. a pickled NDArray's handle)."""
    r = _Reader(buf, source)
    arr = _read_record(r)[0]
    if r.pos != len(r.buf):
        raise r.error(f"{len(r.buf) - r.pos} bytes of trailing garbage at offset {r.pos} after the record")
    return arr


def save(fname: str | os.PathLike, data: ParamData,
         contexts: Sequence[CtxLike] | Mapping[str, CtxLike] | None = None) -> None:
    """``mx.nd.save``: write ``data`` to ``fname`` atomically."""
    atomic_write(fname, save_bytes(data, contexts))


def load(fname: str | os.PathLike) -> list | dict:
    """``mx.nd.load``: read a ``.params`` file into numpy arrays."""
    try:
        with open(fname, "rb") as f:
            buf = f.read()
    except OSError as err:
        raise MXNetError(f"cannot read NDArray file {os.fspath(fname)!r}: {err.strerror or err}") from err
    return load_bytes(buf, source=repr(os.fspath(fname)))
