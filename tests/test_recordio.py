"""mx.recordio against files and values written by real MXNet 1.9.1 (tests/golden/recordio)."""
import json
import os
import pickle
import shutil

import numpy as np
import pytest

import modjax as mx
from modjax.base import MXNetError

D = os.path.join(os.path.dirname(__file__), "golden", "recordio")
MAGIC = b"\x0a\x23\xd7\xce"
KEYS = [10 * i + 3 for i in range(14)]


def payloads():
    """The recipe of tests/golden/gen_recordio_image.py's record_payloads()."""
    rng = np.random.RandomState(7)
    return [b"", b"a", b"ab", b"abc", b"abcd", b"hello world!", MAGIC, MAGIC + b"xyz",
            b"abcd" + MAGIC + MAGIC + b"tail", b"ab" + MAGIC + b"cd", b"1234567" + MAGIC,
            b"12345678" + MAGIC, rng.bytes(1000), rng.bytes(333) + MAGIC + rng.bytes(64)]


@pytest.fixture(scope="module")
def meta():
    with open(os.path.join(D, "goldens.json")) as f:
        return json.load(f)


def test_read_mxnet_written_records_sequentially():
    rec = mx.recordio.MXRecordIO(os.path.join(D, "records.rec"), "r")
    got = []
    while True:
        item = rec.read()
        if item is None:
            break
        got.append(item)
    assert got == payloads()
    assert rec.read() is None
    rec.reset()
    assert rec.read() == b""
    rec.close()
    rec.close()  # idempotent


def test_read_mxnet_written_records_by_index():
    rec = mx.recordio.MXIndexedRecordIO(os.path.join(D, "records.idx"),
                                        os.path.join(D, "records.rec"), "r")
    assert rec.keys == KEYS
    expected = dict(zip(KEYS, payloads()))
    for key in reversed(KEYS):
        assert rec.read_idx(key) == expected[key]
    rec.close()


def test_written_files_are_byte_identical_to_mxnet(tmp_path):
    rec = mx.recordio.MXIndexedRecordIO(str(tmp_path / "r.idx"), str(tmp_path / "r.rec"), "w")
    positions = []
    for key, p in zip(KEYS, payloads()):
        positions.append(rec.tell())
        rec.write_idx(key, p)
    rec.close()
    with open(os.path.join(D, "records.rec"), "rb") as f:
        assert (tmp_path / "r.rec").read_bytes() == f.read()
    with open(os.path.join(D, "records.idx"), "rb") as f:
        assert (tmp_path / "r.idx").read_bytes() == f.read()
    assert positions[:3] == [0, 8, 20]
    seq = mx.recordio.MXRecordIO(str(tmp_path / "s.rec"), "w")
    for p in payloads():
        seq.write(p)
    seq.close()
    assert (tmp_path / "s.rec").read_bytes() == (tmp_path / "r.rec").read_bytes()


def test_magic_in_payload_is_split_and_restored(tmp_path):
    data = b"abcd" + MAGIC + b"efgh"
    w = mx.recordio.MXRecordIO(str(tmp_path / "m.rec"), "w")
    w.write(data)
    w.close()
    raw = (tmp_path / "m.rec").read_bytes()
    assert raw.count(MAGIC) == 2  # two parts, the payload's magic dropped
    assert raw[4:8] == ((1 << 29) | 4).to_bytes(4, "little")
    r = mx.recordio.MXRecordIO(str(tmp_path / "m.rec"), "r")
    assert r.read() == data


def test_pack_and_unpack_match_mxnet(meta):
    for case in meta["packs"]:
        flag, label, id_, id2 = case["header"]
        header = mx.recordio.IRHeader(flag, label, id_, id2)
        s = mx.recordio.pack(header, bytes.fromhex(case["payload"]))
        assert s.hex() == case["packed"]
        h, rest = mx.recordio.unpack(s)
        lab = h.label.tolist() if isinstance(h.label, np.ndarray) else h.label
        assert [h.flag, lab, h.id, h.id2, rest.hex()] == case["unpacked"]
    assert type(mx.recordio.IRHeader(0, 1, 2, 3)).__name__ == "HEADER"


def test_unpack_errors():
    with pytest.raises(MXNetError, match="shorter than"):
        mx.recordio.unpack(b"short")
    bad = mx.recordio.pack(mx.recordio.IRHeader(0, [1.0, 2.0], 0, 0), b"")[:26]
    with pytest.raises(MXNetError, match="2 labels"):
        mx.recordio.unpack(bad)


def test_pack_img_roundtrip_bgr():
    rng = np.random.RandomState(0)
    bgr = rng.randint(0, 255, (12, 16, 3)).astype(np.uint8)
    s = mx.recordio.pack_img(mx.recordio.IRHeader(0, 2.0, 5, 0), bgr, quality=3, img_fmt=".png")
    header, img = mx.recordio.unpack_img(s)
    assert header.label == 2.0 and header.id == 5
    np.testing.assert_array_equal(img, bgr)  # PNG is lossless, BGR in and out like cv2
    _, gray = mx.recordio.unpack_img(s, iscolor=0)
    assert gray.shape == (12, 16)
    rgb = mx.image.imdecode(mx.recordio.unpack(s)[1]).asnumpy()
    np.testing.assert_array_equal(rgb, bgr[:, :, ::-1])
    smooth = np.tile(np.linspace(0, 250, 16, dtype=np.uint8)[None, :, None], (12, 1, 3))
    _, jpg = mx.recordio.unpack_img(mx.recordio.pack_img(mx.recordio.IRHeader(0, 0, 0, 0),
                                                         smooth, quality=95))
    assert jpg.shape == (12, 16, 3) and np.abs(jpg.astype(int) - smooth).max() <= 8
    with pytest.raises(MXNetError, match="format"):
        mx.recordio.pack_img(mx.recordio.IRHeader(0, 0, 0, 0), bgr, img_fmt=".gif")


def test_modes_and_pickle(tmp_path):
    with pytest.raises(ValueError):
        mx.recordio.MXRecordIO(str(tmp_path / "x.rec"), "a")
    w = mx.recordio.MXRecordIO(str(tmp_path / "x.rec"), "w")
    w.write(b"one")
    w.reset()  # write mode: reset truncates
    w.write(b"two")
    w.close()
    r = mx.recordio.MXRecordIO(str(tmp_path / "x.rec"), "r")
    r2 = pickle.loads(pickle.dumps(r))
    assert r2.read() == b"two" and r2.read() is None
    idx = mx.recordio.MXIndexedRecordIO(os.path.join(D, "records.idx"),
                                        os.path.join(D, "records.rec"), "r")
    idx2 = pickle.loads(pickle.dumps(idx))
    assert idx2.read_idx(13) == b"a"


def _copy_records(tmp_path):
    rec, idx = tmp_path / "c.rec", tmp_path / "c.idx"
    shutil.copy(os.path.join(D, "records.rec"), rec)
    shutil.copy(os.path.join(D, "records.idx"), idx)
    return rec, idx


def test_truncated_and_corrupt_files_raise_clear_errors(tmp_path):
    rec, idx = _copy_records(tmp_path)
    data = rec.read_bytes()
    rec.write_bytes(data[:-30])  # cut inside the last record's payload
    r = mx.recordio.MXRecordIO(str(rec), "r")
    for _ in range(13):
        r.read()
    with pytest.raises(MXNetError, match=r"c\.rec.*record #13.*truncated"):
        r.read()
    rec.write_bytes(data[:-len(data) + 13])  # cut inside a header
    r = mx.recordio.MXRecordIO(str(rec), "r")
    r.read()
    with pytest.raises(MXNetError, match="truncated record header"):
        r.read()
    corrupt = bytearray(data)
    corrupt[8:12] = b"\x00\x00\x00\x00"  # the second record's magic
    rec.write_bytes(bytes(corrupt))
    r = mx.recordio.MXRecordIO(str(rec), "r")
    r.read()
    with pytest.raises(MXNetError, match="bad magic number"):
        r.read()


def test_bad_index_files(tmp_path):
    rec, idx = _copy_records(tmp_path)
    idx.write_text("3\t0\n13\t99999\n")
    r = mx.recordio.MXIndexedRecordIO(str(idx), str(rec), "r")
    with pytest.raises(MXNetError, match=r"key 13 .*past the end"):
        r.read_idx(13)
    with pytest.raises(KeyError, match="not in index"):
        r.read_idx(42)
    idx.write_text("3\t0\n13\t6\n")  # not a record boundary
    r = mx.recordio.MXIndexedRecordIO(str(idx), str(rec), "r")
    with pytest.raises(MXNetError, match=r"bad magic.*key 13"):
        r.read_idx(13)
    idx.write_text("3\t0\nbroken line\n")
    with pytest.raises(MXNetError, match="malformed line 2"):
        mx.recordio.MXIndexedRecordIO(str(idx), str(rec), "r")
    with pytest.raises(MXNetError, match="cannot open"):
        mx.recordio.MXRecordIO(str(tmp_path / "missing.rec"), "r")


def test_scan_and_random_access_helpers():
    offsets = mx.recordio.scan_record_offsets(os.path.join(D, "records.rec"))
    with open(os.path.join(D, "records.idx")) as f:
        assert offsets == [int(line.split("\t")[1]) for line in f]
    fd = os.open(os.path.join(D, "records.rec"), os.O_RDONLY)
    try:
        for off, p in zip(offsets, payloads()):
            assert mx.recordio.read_record_at(fd, "records.rec", off) == p
    finally:
        os.close(fd)
