"""``mx.recordio``: MXNet's RecordIO container (``.rec``) and its text index (``.idx``).

On-disk format (dmlc-core's ``RecordIOWriter``, byte-compatible both ways): each record is
written as one or more parts, each part ``[magic u32][lrec u32][payload][zero padding to 4
bytes]`` in little-endian, with ``magic = 0xced7230a`` and ``lrec = cflag << 29 | length``.
A payload that contains the magic number at a 4-byte-aligned offset is split there (the magic
itself is dropped and restored on reading): ``cflag`` 0 = whole record, 1 = first part,
2 = middle part, 3 = last part. Only the final part is padded.

The ``.idx`` file is text, one ``key<TAB>byte offset`` line per record. Image records start
with a 24-byte ``IRHeader`` (``struct 'IfQQ'``: flag, label, id, id2); ``flag > 0`` means
``flag`` float32 labels follow the header. Images are encoded and decoded with Pillow; like
OpenCV, ``pack_img`` takes and ``unpack_img`` returns arrays in BGR channel order.
"""
from __future__ import annotations

import io as _io
import numbers
import os
import struct
from collections import namedtuple
from multiprocessing import current_process
from typing import Any

import numpy as np

from .base import MXNetError

__all__ = ["MXRecordIO", "MXIndexedRecordIO", "IRHeader", "pack", "unpack", "pack_img",
           "unpack_img", "RecordIOError", "scan_record_offsets", "read_record_at",
           "partition_records"]

_MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", _MAGIC)
_LEN_MASK = (1 << 29) - 1
_MAX_RECORD = 1 << 29


class RecordIOError(MXNetError):
    """A RecordIO file or index that cannot be read: truncated, corrupt, or a bad key."""


class RecordKeyError(RecordIOError, KeyError):
    """``read_idx`` with a key that the index does not hold (also a ``KeyError``)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def _encode_lrec(cflag: int, length: int) -> bytes:
    return struct.pack("<II", _MAGIC, (cflag << 29) | length)


def _record_bytes(buf: bytes) -> bytes:
    """The bytes dmlc's ``RecordIOWriter::WriteRecord`` emits for one record."""
    n = len(buf)
    if n >= _MAX_RECORD:
        raise RecordIOError(f"RecordIO only accepts records smaller than 2^29 bytes, got {n}")
    parts = []
    start = 0
    pos = buf.find(_MAGIC_BYTES)
    while 0 <= pos <= n - 4:
        if pos % 4 == 0:  # only 4-byte-aligned occurrences split the record
            parts.append(_encode_lrec(1 if start == 0 else 2, pos - start))
            parts.append(buf[start:pos])
            start = pos + 4
            pos = buf.find(_MAGIC_BYTES, start)
        else:
            pos = buf.find(_MAGIC_BYTES, pos + 1)
    parts.append(_encode_lrec(3 if start != 0 else 0, n - start))
    parts.append(buf[start:])
    pad = (-n) % 4
    if pad:
        parts.append(b"\x00" * pad)
    return b"".join(parts)


def _as_bytes(buf: Any) -> bytes:
    if isinstance(buf, str):
        return buf.encode("utf-8")
    if isinstance(buf, (bytes, bytearray, memoryview)):
        return bytes(buf)
    if isinstance(buf, np.ndarray):
        return buf.tobytes()
    raise MXNetError(f"RecordIO: a record must be bytes, got {type(buf).__name__}")


def _parse_head(head: bytes, uri: str, pos: int, where: str, short_tail: str = "",
                magic_tail: str = "") -> tuple[int, int]:
    """``(cflag, length)`` of the part header ``head`` read at byte ``pos``; raises
    ``RecordIOError`` for a short header or a bad magic number (``where`` names the record,
    the tails end the messages)."""
    if len(head) < 8:
        raise RecordIOError(f"Invalid RecordIO File '{uri}': truncated record header at byte "
                            f"{pos}{where}{short_tail}")
    magic, lrec = struct.unpack("<II", head)
    if magic != _MAGIC:
        raise RecordIOError(f"Invalid RecordIO File '{uri}': bad magic number 0x{magic:08x} at "
                            f"byte {pos}{where}{magic_tail}")
    return lrec >> 29, lrec & _LEN_MASK


_NOT_A_RECORD_START = (f"; expected 0x{_MAGIC:08x}. The file is corrupt or the offset is not a "
                       "record start")


def _check_part(cflag: int, started: bool, uri: str, pos: int, where: str) -> None:
    """Raise unless ``cflag`` may come here: a first or whole part iff no part came before."""
    if (cflag in (0, 1)) == started:
        raise RecordIOError(f"Invalid RecordIO File '{uri}': unexpected part flag {cflag} at "
                            f"byte {pos}{where}")


def _read_one(f: Any, uri: str, count: int) -> bytes | None:
    """Read the record at ``f``'s position (``None`` at a clean end of file)."""
    out = []
    while True:
        offset = f.tell()
        head = f.read(8)
        if not head:
            if out:
                raise RecordIOError(f"Invalid RecordIO File '{uri}': record #{count} ends at byte "
                                    f"{offset} without its last part (truncated file)")
            return None
        where = f" (record #{count})"
        cflag, length = _parse_head(head, uri, offset, where, "; the file is cut short",
                                    _NOT_A_RECORD_START)
        _check_part(cflag, bool(out), uri, offset, where)
        padded = (length + 3) & ~3
        body = f.read(padded)
        if len(body) < padded:
            raise RecordIOError(f"Invalid RecordIO File '{uri}': record #{count} at byte {offset} "
                                f"needs {padded} bytes but only {len(body)} remain (truncated file)")
        out.append(body[:length])
        if cflag in (0, 3):
            return _MAGIC_BYTES.join(out) if len(out) > 1 else out[0]


class MXRecordIO:
    """Sequential reader (``flag='r'``) or writer (``flag='w'``) of a ``.rec`` file.

    ``read()`` returns the next record as bytes, or ``None`` at the end of the file; a truncated
    or corrupt file raises :class:`RecordIOError` (an ``MXNetError``) naming the file, byte
    offset and record number.
    """

    def __init__(self, uri: str | os.PathLike, flag: str):
        self.uri = os.fspath(uri)
        self.flag = flag
        self.pid: int | None = None
        self.is_open = False
        self.writable = False
        self._f: Any = None
        self._count = 0
        self.open()

    def open(self) -> None:
        """Open the file (truncating it in write mode)."""
        if self.flag == "w":
            self._f = open(self.uri, "wb")
            self.writable = True
        elif self.flag == "r":
            try:
                self._f = open(self.uri, "rb")
            except OSError as err:
                raise RecordIOError(f"MXRecordIO: cannot open '{self.uri}' for reading: "
                                    f"{err.strerror}") from err
            self.writable = False
        else:
            raise ValueError("Invalid flag %s" % self.flag)
        self._count = 0
        self.pid = current_process().pid
        self.is_open = True

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def __enter__(self) -> "MXRecordIO":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __getstate__(self) -> dict:
        is_open = self.is_open
        self.close()
        d = dict(self.__dict__)
        d["is_open"] = is_open
        d["_f"] = None
        return d

    def __setstate__(self, d: dict) -> None:
        self.__dict__ = d
        is_open = d["is_open"]
        self.is_open = False
        if is_open:
            self.open()

    def _check_pid(self, allow_reset: bool = False) -> None:
        if self.pid != current_process().pid:
            if allow_reset:
                self.reset()
            else:
                raise RuntimeError("Forbidden operation in multiple processes")

    def close(self) -> None:
        """Close the file (a no-op when already closed)."""
        if not self.is_open:
            return
        self._f.close()
        self._f = None
        self.is_open = False
        self.pid = None

    def reset(self) -> None:
        """Go back to the first record (truncates the file in write mode)."""
        self.close()
        self.open()

    def _require_open(self) -> None:
        if not self.is_open:
            raise MXNetError(f"MXRecordIO: '{self.uri}' is closed")

    def write(self, buf: bytes) -> None:
        """Append ``buf`` as one record."""
        assert self.writable, "MXRecordIO: opened for reading, cannot write"
        self._require_open()
        self._check_pid(allow_reset=False)
        self._f.write(_record_bytes(_as_bytes(buf)))

    def read(self) -> bytes | None:
        """The next record, or ``None`` at the end of the file."""
        assert not self.writable, "MXRecordIO: opened for writing, cannot read"
        self._require_open()
        self._check_pid(allow_reset=False)
        rec = _read_one(self._f, self.uri, self._count)
        if rec is not None:
            self._count += 1
        return rec


class MXIndexedRecordIO(MXRecordIO):
    """RecordIO with random access through an ``.idx`` file of ``key<TAB>offset`` lines."""

    def __init__(self, idx_path: str | os.PathLike, uri: str | os.PathLike, flag: str,
                 key_type: type = int):
        self.idx_path = os.fspath(idx_path)
        self.idx: dict = {}
        self.keys: list = []
        self.key_type = key_type
        self.fidx: Any = None
        super().__init__(uri, flag)

    def open(self) -> None:
        super().open()
        self.idx = {}
        self.keys = []
        if self.writable:
            self.fidx = open(self.idx_path, "w")
            return
        try:
            self.fidx = open(self.idx_path, "r")
        except OSError as err:
            raise RecordIOError(f"MXIndexedRecordIO: cannot open index '{self.idx_path}': "
                                f"{err.strerror}") from err
        for lineno, line in enumerate(iter(self.fidx.readline, ""), 1):
            line = line.strip()
            if not line:
                continue
            fields = line.split("\t")
            try:
                key = self.key_type(fields[0])
                pos = int(fields[1])
            except (ValueError, IndexError) as err:
                raise RecordIOError(f"MXIndexedRecordIO: malformed line {lineno} of index "
                                    f"'{self.idx_path}': {line!r} (expected 'key<TAB>offset')") from err
            if pos < 0:
                raise RecordIOError(f"MXIndexedRecordIO: negative offset {pos} at line {lineno} of "
                                    f"index '{self.idx_path}'")
            self.idx[key] = pos
            self.keys.append(key)

    def close(self) -> None:
        if not self.is_open:
            return
        super().close()
        if self.fidx is not None:
            self.fidx.close()
            self.fidx = None

    def __getstate__(self) -> dict:
        d = super().__getstate__()
        d["fidx"] = None
        return d

    def seek(self, idx: Any) -> None:
        """Move the read position to the record with key ``idx``."""
        assert not self.writable, "MXIndexedRecordIO: opened for writing, cannot seek"
        self._check_pid(allow_reset=True)
        try:
            pos = self.idx[idx]
        except KeyError:
            raise RecordKeyError(f"MXIndexedRecordIO: key {idx!r} is not in index "
                                 f"'{self.idx_path}'") from None
        size = os.fstat(self._f.fileno()).st_size
        if pos >= size:
            raise RecordIOError(f"MXIndexedRecordIO: index '{self.idx_path}' points key {idx!r} "
                                f"at byte {pos}, past the end of '{self.uri}' ({size} bytes)")
        self._f.seek(pos)

    def tell(self) -> int:
        """The current write position (the offset the next record gets)."""
        assert self.writable, "MXIndexedRecordIO: tell() is for write mode"
        return self._f.tell()

    def read_idx(self, idx: Any) -> bytes:
        """The record with key ``idx``."""
        self.seek(idx)
        try:
            rec = _read_one(self._f, self.uri, 0)
        except RecordIOError as err:
            raise RecordIOError(f"{err} [key {idx!r} of index '{self.idx_path}']") from None
        if rec is None:  # pragma: no cover - seek() already checked the size
            raise RecordIOError(f"MXIndexedRecordIO: no record for key {idx!r} in '{self.uri}'")
        return rec

    def write_idx(self, idx: Any, buf: bytes) -> None:
        """Append ``buf`` as a record with key ``idx`` and index it."""
        key = self.key_type(idx)
        pos = self.tell()
        self.write(buf)
        self.fidx.write("%s\t%d\n" % (str(key), pos))
        self.idx[key] = pos
        self.keys.append(key)


# --- random access helpers used by the image iterators --------------------------------------------
def scan_record_offsets(uri: str) -> list[int]:
    """Byte offsets of every record of ``uri`` (reads headers only, seeking over payloads)."""
    offsets = []
    with open(uri, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        pos, count, in_record = 0, 0, False
        while pos < size:
            f.seek(pos)
            head = f.read(8)
            cflag, length = _parse_head(head, uri, pos, f" (record #{count})",
                                        "; the file is cut short")
            if cflag in (0, 1):
                if in_record:
                    raise RecordIOError(f"Invalid RecordIO File '{uri}': record #{count} ends at "
                                        f"byte {pos} without its last part")
                offsets.append(pos)
            nxt = pos + 8 + ((length + 3) & ~3)
            if nxt > size:
                raise RecordIOError(f"Invalid RecordIO File '{uri}': record #{count} at byte {pos} "
                                    f"runs past the end of the file (truncated file)")
            in_record = cflag in (1, 2)
            if not in_record:
                count += 1
            pos = nxt
        if in_record:
            raise RecordIOError(f"Invalid RecordIO File '{uri}': the last record has no last part")
    return offsets


def read_record_at(fd: int, uri: str, offset: int, what: str = "",
                   span: int | None = None) -> bytes:
    """The record starting at byte ``offset`` of the open file descriptor ``fd`` (thread-safe).

    ``span``, when known (the distance to the next record), lets a whole-record read happen in
    one ``pread``.
    """
    if span is not None and span >= 8:
        blob = os.pread(fd, span, offset)
        if len(blob) >= 8:
            magic, lrec = struct.unpack_from("<II", blob)
            length = lrec & _LEN_MASK
            if magic == _MAGIC and lrec >> 29 == 0 and 8 + length <= len(blob):
                return blob[8:8 + length]
    out = []
    pos = offset
    while True:
        head = os.pread(fd, 8, pos)
        cflag, length = _parse_head(head, uri, pos, what,
                                    magic_tail="; the file is corrupt or the index is wrong")
        _check_part(cflag, bool(out), uri, pos, what)
        body = os.pread(fd, length, pos + 8)
        if len(body) < length:
            raise RecordIOError(f"Invalid RecordIO File '{uri}': record at byte {offset}{what} is "
                                "truncated")
        out.append(body)
        if cflag in (0, 3):
            return _MAGIC_BYTES.join(out) if len(out) > 1 else out[0]
        pos += 8 + ((length + 3) & ~3)


def partition_records(uri: str, idx_path: str, num_parts: int, part_index: int) -> list:
    """``(byte offset, key, byte span)`` of the records of part ``part_index`` of ``num_parts``,
    in file order, split as dmlc's splitters do: by record count with an index (``key`` from
    it), else by bytes (4-byte aligned, a record going to the part its header starts in; ``key``
    None). Raises ``RecordIOError`` for a corrupt file or an index pointing past its end."""
    size = os.path.getsize(uri)
    if idx_path:
        pairs = []
        try:
            with open(idx_path) as f:
                for lineno, line in enumerate(f, 1):
                    fields = line.split()
                    if not fields:
                        continue
                    try:
                        key = int(fields[0]) if fields[0].lstrip("-").isdigit() else fields[0]
                        pairs.append((int(fields[1]), key))
                    except (ValueError, IndexError):
                        raise RecordIOError(f"malformed line {lineno} of index '{idx_path}': "
                                            f"{line.strip()!r}") from None
        except OSError as err:
            raise RecordIOError(f"cannot open index '{idx_path}': {err.strerror}") from err
        pairs.sort(key=lambda p: p[0])
        for off, key in pairs:
            if off < 0 or off >= size:
                raise RecordIOError(f"index '{idx_path}' points record {key} at byte {off}, past "
                                    f"the end of '{uri}' ({size} bytes)")
        ends = [off for off, _ in pairs[1:]] + [size]
        n = len(pairs)
        step = (n + num_parts - 1) // num_parts
        lo, hi = min(step * part_index, n), min(step * (part_index + 1), n)
        return [(off, key, end - off) for (off, key), end in zip(pairs[lo:hi], ends[lo:hi])]
    if size % 4 != 0:
        raise RecordIOError(f"'{uri}' is not a valid RecordIO file: its size {size} is not a "
                            "multiple of 4 (truncated?)")
    offsets = scan_record_offsets(uri)
    step = (size + num_parts - 1) // num_parts
    step = (step + 3) // 4 * 4
    lo, hi = min(step * part_index, size), min(step * (part_index + 1), size)
    ends = offsets[1:] + [size]
    return [(off, None, end - off) for off, end in zip(offsets, ends) if lo <= off < hi]


# --- image record headers --------------------------------------------------------------------------
IRHeader = namedtuple("HEADER", ["flag", "label", "id", "id2"])
IRHeader.__doc__ = """Header of an image record: ``flag`` (number of float labels that follow,
0 for a scalar ``label``), ``label`` (float or array of floats), ``id`` and ``id2`` (ids)."""

_IR_FORMAT = "<IfQQ"
_IR_SIZE = struct.calcsize(_IR_FORMAT)


def pack(header: Any, s: bytes) -> bytes:
    """Prefix ``s`` with an image-record header (array labels go after it, ``flag`` = count)."""
    header = IRHeader(*header)
    s = _as_bytes(s)
    if isinstance(header.label, numbers.Number):
        header = header._replace(flag=0)
    else:
        label = np.asarray(header.label, dtype=np.float32)
        header = header._replace(flag=label.size, label=0)
        s = label.tobytes() + s
    try:
        head = struct.pack(_IR_FORMAT, int(header.flag), float(header.label), int(header.id),
                           int(header.id2))
    except struct.error as err:
        raise MXNetError(f"recordio.pack: invalid header {tuple(header)}: {err}") from err
    return head + s


def unpack(s: bytes) -> tuple[Any, bytes]:
    """Split a record into its ``IRHeader`` (array label when ``flag > 0``) and payload."""
    s = _as_bytes(s)
    if len(s) < _IR_SIZE:
        raise MXNetError(f"recordio.unpack: record of {len(s)} bytes is shorter than the "
                         f"{_IR_SIZE}-byte image record header")
    header = IRHeader(*struct.unpack(_IR_FORMAT, s[:_IR_SIZE]))
    s = s[_IR_SIZE:]
    if header.flag > 0:
        if len(s) < header.flag * 4:
            raise MXNetError(f"recordio.unpack: header says {header.flag} labels but only "
                             f"{len(s)} bytes follow")
        header = header._replace(label=np.frombuffer(s, np.float32, header.flag))
        s = s[header.flag * 4:]
    return header, s


def unpack_img(s: bytes, iscolor: int = -1) -> tuple[Any, np.ndarray]:
    """Unpack a record into its header and decoded image (numpy, BGR order like ``cv2``).

    ``iscolor``: 1 = 3-channel BGR, 0 = 2-D grayscale, -1 = as stored (BGR / BGRA / gray).
    """
    from .image._backend import decode_numpy
    header, payload = unpack(s)
    flag = {1: 1, 0: 0}.get(int(iscolor), -1)
    img = decode_numpy(payload, flag=flag, to_rgb=False)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    return header, np.array(img)  # a writable, contiguous copy like cv2's


def pack_img(header: Any, img: np.ndarray, quality: int = 95, img_fmt: str = ".jpg") -> bytes:
    """Encode ``img`` (numpy, BGR/BGRA or 2-D gray, like ``cv2``) and pack it with ``header``.

    ``quality`` is the JPEG quality (1-100) or the PNG compression level (0-9).
    """
    from PIL import Image
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise MXNetError(f"recordio.pack_img: expected a uint8 image, got {img.dtype}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 3 and img.shape[2] in (3, 4):
        img = img[:, :, [2, 1, 0] + ([3] if img.shape[2] == 4 else [])]  # BGR(A) -> RGB(A)
    elif img.ndim != 2:
        raise MXNetError(f"recordio.pack_img: unsupported image shape {img.shape}")
    fmt = img_fmt.upper()
    pil = Image.fromarray(np.ascontiguousarray(img))
    out = _io.BytesIO()
    if fmt in (".JPG", ".JPEG"):
        if pil.mode == "RGBA":
            pil = pil.convert("RGB")
        pil.save(out, format="JPEG", quality=int(quality))
    elif fmt == ".PNG":
        pil.save(out, format="PNG", compress_level=min(max(int(quality), 0), 9))  # cv2 clamps
    else:
        raise MXNetError(f"recordio.pack_img: unsupported image format {img_fmt!r}; "
                         "use '.jpg' or '.png'")
    return pack(header, out.getvalue())
