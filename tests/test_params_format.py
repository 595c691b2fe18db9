"""The .params / NDArray binary format against goldens written by MXNet 1.9.1 (no MXNet needed).

Goldens: tests/golden/gen_params.py (run with the MXNet reference interpreter) wrote
tests/golden/params/*, with manifest.json holding what mx.nd.load returned for each file.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from modjax.base import FLAG_TO_DTYPE, MXNetError
from modjax.ndarray import serialization as ser

GOLD = Path(__file__).parent / "golden" / "params"
MANIFEST = json.loads((GOLD / "manifest.json").read_text(encoding="utf-8"))
V1, V2, V3 = 0xF993FAC8, 0xF993FAC9, 0xF993FACA


def expected(entry: dict) -> np.ndarray:
    if entry["dtype"] == "bfloat16":
        vals = np.array(entry["values"], np.float32).astype(ml_dtypes.bfloat16)
    else:
        vals = np.array(entry["values"], entry["dtype"])
    return vals.reshape(entry["shape"])


def assert_array(got: np.ndarray, want: np.ndarray) -> None:
    assert isinstance(got, np.ndarray)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()  # exact: NaN, -0.0 and subnormals included


def assert_loaded(result, want: dict) -> None:
    if want["kind"] == "dict":
        assert isinstance(result, dict)
        assert list(result) == [e["name"] for e in want["arrays"]]  # file order kept
        for e in want["arrays"]:
            assert_array(result[e["name"]], expected(e))
    else:
        assert isinstance(result, list) and len(result) == len(want["arrays"])
        for got, e in zip(result, want["arrays"]):
            assert_array(got, expected(e))


# ---- goldens written by MXNet ----------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(MANIFEST["files"]))
def test_mxnet_golden_loads_exactly(name):
    assert_loaded(ser.load(GOLD / name), MANIFEST["files"][name])


@pytest.mark.parametrize("name", sorted(MANIFEST["files"]))
def test_mxnet_golden_resaves_byte_identical(name):
    raw = (GOLD / name).read_bytes()
    assert ser.save_bytes(ser.load_bytes(raw)) == raw


@pytest.mark.parametrize("name", sorted(MANIFEST["files"]))
def test_writer_still_matches_checked_files(name):
    # ours_* were written by this module and accepted by mx.nd.load; MXNet's own file is identical
    f = MANIFEST["files"][name]
    arrays = [expected(e) for e in f["arrays"]]
    data = ({e["name"]: a for e, a in zip(f["arrays"], arrays)} if f["written_as"] == "dict"
            else arrays[0] if f["written_as"] == "single" else arrays)
    ours = ser.save_bytes(data)
    assert ours == (GOLD / f"ours_{name}").read_bytes() == (GOLD / name).read_bytes()
    assert MANIFEST["reverse"][f"ours_{name}"]["mxnet_loads_equal"] is True


def test_single_array_file_is_a_list():
    assert MANIFEST["files"]["single.params"]["kind"] == "list"
    assert isinstance(ser.load(GOLD / "single.params"), list)


def test_empty_dict_loads_as_empty_list():
    assert MANIFEST["files"]["empty.params"]["arrays"] == []
    assert ser.load(GOLD / "empty.params") == []


def test_sparse_golden_is_densified():
    want = MANIFEST["sparse"]["sparse.params"]
    assert want["stypes"] == {"rsp": "row_sparse", "csr": "csr", "rsp_empty": "row_sparse",
                              "csr_empty": "csr"}
    assert_loaded(ser.load(GOLD / "sparse.params"), want)


@pytest.mark.parametrize("name", sorted(MANIFEST["handbuilt"]))
def test_handbuilt_records_like_mxnet(name):
    rec = MANIFEST["handbuilt"][name]
    path = GOLD / name
    if name == "handbuilt_v2_none.params":
        assert rec["message"] == "unknown storage type: -1"
        with pytest.raises(MXNetError, match=r"empty \(none\) array record"):
            ser.load(path)
    elif name == "handbuilt_trailing.params":  # MXNet ignores trailing bytes; we do not
        assert rec["mxnet"] == "ok"
        with pytest.raises(MXNetError, match="4 bytes of trailing garbage at offset 68"):
            ser.load(path)
    elif name == "handbuilt_v3.params":  # MXNet needs np_shape mode; we always read V3
        assert rec["mxnet"] == "error" and rec["np_shape"]["mxnet"] == "ok"
        assert_loaded(ser.load(path), rec["np_shape"])
    elif name == "handbuilt_flag8.params":  # MXNet 1.9.1 cannot load int16; we can
        assert rec["message"].endswith("Unknown type enum 8")
        assert_array(ser.load(path)[0], np.array([1, -2], np.int16))
    else:
        assert rec["mxnet"] == "ok"
        assert_loaded(ser.load(path), rec)


def test_scalar_written_as_v1_and_mxnet_loads_it():
    got = MANIFEST["reverse"]["ours_scalar.params"]
    assert got["mxnet"] == "ok" and [a["shape"] for a in got["arrays"]] == [[], []]
    data = {"s32": np.array(1.5, "float32"), "s64": np.array(-7, "int64")}
    raw = ser.save_bytes(data)
    assert raw == (GOLD / "ours_scalar.params").read_bytes()
    assert struct.unpack_from("<Ii", raw, 24) == (V1, 0)
    assert_loaded(ser.load_bytes(raw), got)


def test_gpu_context_written_and_accepted():
    raw = ser.save_bytes([np.array([1, 2], "float32")], contexts=[(2, 1)])
    assert raw == (GOLD / "ours_gpu_ctx.params").read_bytes()
    assert MANIFEST["reverse"]["ours_gpu_ctx.params"]["mxnet"] == "ok"
    assert struct.unpack_from("<ii", raw, 24 + 20) == (2, 1)


@pytest.mark.parametrize("name", sorted(MANIFEST["raw_records"]))
def test_raw_records(name):
    raw = (GOLD / name).read_bytes()
    want = expected(MANIFEST["raw_records"][name])
    assert_array(ser.record_from_bytes(raw), want)
    assert ser.record_to_bytes(want) == raw == (GOLD / f"ours_{name}").read_bytes()


# ---- round trips -----------------------------------------------------------------------------
@pytest.mark.parametrize("flag", sorted(FLAG_TO_DTYPE))
@pytest.mark.parametrize("shape", [(), (1,), (0, 3), (3, 1, 2), (2, 1, 2, 1, 2)])
def test_round_trip_every_dtype(flag, shape):
    dt = FLAG_TO_DTYPE[flag]
    rs = np.random.RandomState(flag)
    if dt == np.bool_:
        a = rs.rand(*shape) > 0.5
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        a = rs.randint(0, 100, size=shape).astype(dt)
        if a.size >= 2:
            a.flat[0], a.flat[-1] = info.min, info.max
    else:
        a = np.asarray(rs.randn(*shape) * 10).astype(dt)
    raw = ser.save_bytes({"arg:x": a})
    back = ser.load_bytes(raw)["arg:x"]
    assert_array(back, np.asarray(a))
    rec = ser.record_to_bytes(a)
    assert_array(ser.record_from_bytes(rec), np.asarray(a))
    if shape:
        assert struct.unpack_from("<Iii", raw, 24) == (V2, 0, len(shape))
        assert struct.unpack_from("<i", raw, 36 + 8 * len(shape) + 8)[0] == flag


def test_list_dict_tuple_single_and_order():
    a, b = np.arange(3, dtype="float32"), np.ones((2, 2), "int64")
    d = ser.load_bytes(ser.save_bytes({"zeta": a, "alpha": b}))
    assert list(d) == ["zeta", "alpha"]
    assert ser.save_bytes([a, b]) == ser.save_bytes((a, b))
    lst = ser.load_bytes(ser.save_bytes([a, b]))
    assert isinstance(lst, list) and len(lst) == 2
    assert_array(lst[1], b)
    assert ser.save_bytes(a) == ser.save_bytes([a])
    assert ser.save_bytes([a])[-8:] == b"\0" * 8  # a list writes 0 names


def test_non_contiguous_big_endian_and_array_likes():
    a = np.arange(12, dtype="float32").reshape(3, 4)
    assert ser.record_to_bytes(a.T) == ser.record_to_bytes(np.ascontiguousarray(a.T))
    assert ser.record_to_bytes(a.astype(">f4")) == ser.record_to_bytes(a)
    assert ser.record_to_bytes(a.astype(">f4").astype(np.dtype("float32"))) == ser.record_to_bytes(a)
    assert_array(ser.load_bytes(ser.save_bytes([[1.5, 2.5]]))[0], np.array([1.5, 2.5]))


def test_contexts_by_position_name_and_object():
    class Ctx:
        device_typeid, device_id = 3, 0
    a = np.zeros(1, "float32")
    raw = ser.save_bytes({"x": a, "y": a}, contexts={"y": (2, 4)})
    assert struct.unpack_from("<ii", raw, 24 + 20) == (1, 0)
    assert struct.unpack_from("<ii", raw, 24 + 36 + 20) == (2, 4)
    raw = ser.save_bytes([a], contexts=[Ctx()])
    assert struct.unpack_from("<ii", raw, 24 + 20) == (3, 0)
    with pytest.raises(MXNetError, match="1 contexts given for 2 arrays"):
        ser.save_bytes([a, a], contexts=[(1, 0)])


def test_unsupported_dtypes_and_keys():
    with pytest.raises(MXNetError, match=r"cannot save 'arg:c'.*dtype complex64"):
        ser.save_bytes({"arg:c": np.zeros(2, np.complex64)})
    with pytest.raises(MXNetError, match=r"cannot save '\[1\]'.*dtype <U1"):
        ser.save_bytes([np.zeros(1), np.array(["a"])])
    with pytest.raises(MXNetError, match="dict keys must be str"):
        ser.save_bytes({1: np.zeros(1)})
    with pytest.raises(MXNetError, match="cannot save int"):
        ser.save_bytes(3)


def test_save_load_files(tmp_path):
    path = tmp_path / "m-0001.params"
    ser.save(path, {"arg:w": np.ones((2, 3), "float16")})
    assert os.listdir(tmp_path) == ["m-0001.params"]
    assert_array(ser.load(str(path))["arg:w"], np.ones((2, 3), "float16"))
    with pytest.raises(MXNetError, match="cannot read NDArray file .*missing.params"):
        ser.load(tmp_path / "missing.params")


# ---- older and sparse records, built by hand ------------------------------------------------
def _file(records, names=(), tail=b""):
    out = struct.pack("<QQQ", 0x112, 0, len(records)) + b"".join(records)
    out += struct.pack("<Q", len(names)) + b"".join(struct.pack("<Q", len(n)) + n for n in names)
    return out + tail


def _tshape(shape):
    return struct.pack(f"<i{len(shape)}q", len(shape), *shape)


def _v2(shape, flag=0, data=b"", magic=V2, stype=0, ctx=(1, 0)):
    return struct.pack("<Ii", magic, stype) + _tshape(shape) + struct.pack("<iii", *ctx, flag) + data


def _rsp(shape, rows, values):
    values = np.asarray(values, "<f4")
    return (struct.pack("<Ii", V2, 1) + _tshape(values.shape) + _tshape(shape)
            + struct.pack("<iii", 1, 0, 0) + struct.pack("<i", 6) + _tshape((len(rows),))
            + values.tobytes() + np.asarray(rows, "<i8").tobytes())


def _csr(shape, indptr, indices, values, aux_flag=6):
    values = np.asarray(values, "<f8")
    aux_dt = "<i8" if aux_flag == 6 else "<i4"
    return (struct.pack("<Ii", V2, 2) + _tshape(values.shape) + _tshape(shape)
            + struct.pack("<iii", 1, 0, 1) + struct.pack("<i", aux_flag) + _tshape((len(indptr),))
            + struct.pack("<i", aux_flag) + _tshape((len(indices),)) + values.tobytes()
            + np.asarray(indptr, aux_dt).tobytes() + np.asarray(indices, aux_dt).tobytes())


def test_v1_legacy_v3_records():
    v1 = struct.pack("<I", V1) + _tshape((2,)) + struct.pack("<iii", 1, 0, 4) + b"\1\0\0\0\2\0\0\0"
    legacy = struct.pack("<III", 2, 1, 2) + struct.pack("<iii", 1, 0, 5) + b"\xff\x07"
    v3_scalar = struct.pack("<Ii", V3, 0) + _tshape(()) + struct.pack("<iii", 1, 0, 1) + \
        np.array([2.5], "<f8").tobytes()
    got = ser.load_bytes(_file([v1, legacy, v3_scalar]))
    assert_array(got[0], np.array([1, 2], np.int32))
    assert_array(got[1], np.array([[-1, 7]], np.int8))
    assert_array(got[2], np.array(2.5))


def test_sparse_records_by_hand():
    rsp = _rsp((4, 2), [0, 2], [[1, 2], [3, 4]])
    csr = _csr((2, 3), [0, 1, 3], [2, 0, 1], [5, 6, 7], aux_flag=4)
    got = ser.load_bytes(_file([rsp, csr]))
    assert_array(got[0], np.array([[1, 2], [0, 0], [3, 4], [0, 0]], np.float32))
    assert_array(got[1], np.array([[0, 0, 5], [6, 7, 0]], np.float64))


@pytest.mark.parametrize("record, phrase", [
    (_rsp((4, 2), [0, 4], [[1, 2], [3, 4]]), r"row_sparse row index out of range \[0, 4\)"),
    (_rsp((4, 3), [0], [[1, 2]]), "do not fit shape"),
    (_csr((2, 3), [0, 2, 1], [0, 1], [1, 2]), "csr indptr is not a non-decreasing 0..2"),
    (_csr((2, 3), [0, 1, 2], [0, 3], [1, 2]), r"csr column index out of range \[0, 3\)"),
    (_csr((2, 3), [0, 2], [0, 1], [1, 2]), "do not fit shape"),
    (_v2((2,), stype=1, magic=V3), "unknown storage type 1 .*in a V3 record"),
], ids=lambda v: v[:30] if isinstance(v, str) else "rec")
def test_bad_sparse_records(record, phrase):
    with pytest.raises(MXNetError, match=phrase):
        ser.load_bytes(_file([record]), source="sp.params")


def test_densify_cap():
    rec = _rsp((1 << 30, 1 << 10), [], np.zeros((0, 1 << 10)))
    with pytest.raises(MXNetError, match="densifying the sparse array of shape"):
        ser.load_bytes(_file([rec]))


# ---- corrupt input ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["model-0001.params", "sparse.params", "handbuilt_mixed.params"])
def test_every_truncation_raises(name):
    raw = (GOLD / name).read_bytes()
    for n in range(len(raw)):
        with pytest.raises(MXNetError) as err:
            ser.load_bytes(raw[:n], source="cut.params")
        msg = str(err.value)
        assert msg.startswith("invalid NDArray file cut.params: ")
        assert ("truncated while reading" in msg and "expected" in msg and "found" in msg) or \
            "larger than the file could hold" in msg, (n, msg)


def test_every_truncation_of_a_raw_record_raises():
    raw = (GOLD / "raw_i64.bin").read_bytes()
    for n in range(len(raw)):
        with pytest.raises(MXNetError, match="invalid NDArray file state: truncated while reading"):
            ser.record_from_bytes(raw[:n], source="state")
    with pytest.raises(MXNetError, match="1 bytes of trailing garbage at offset 72 after the record"):
        ser.record_from_bytes(raw + b"x", source="state")


def test_truncation_message_details():
    raw = (GOLD / "model-0001.params").read_bytes()
    with pytest.raises(MXNetError, match=r"record 0 \(starting at offset 24\): truncated while "
                       r"reading data \(48 x float32\) at offset 80: expected 192 bytes, found 120"):
        ser.load_bytes(raw[:200], source="m.params")


A_REC = _v2((1,), 0, b"\0\0\x80\x3f")


@pytest.mark.parametrize("blob, phrases", [
    (b"\x13" + _file([A_REC])[1:], ["bad header magic 0x113 at offset 0", "expected 0x112"]),
    (_file([struct.pack("<I", 0xDEADBEEF) + A_REC[4:]]),
     ["record 0 (starting at offset 24)", "bad record magic 0xDEADBEEF", "expected 0xF993FAC9"]),
    (_file([A_REC, A_REC], [b"a"]), ["name count 1 at offset", "expected 0 (list) or 2 (dict)"]),
    (struct.pack("<QQQ", 0x112, 0, 1 << 62) + A_REC,
     [f"array count {1 << 62} at offset 16 is larger than the file could hold", "36 bytes remain"]),
    (struct.pack("<QQQ", 0x112, 0, 4) + A_REC + struct.pack("<Q", 0),
     ["array count 4 at offset 16 is larger than the file could hold"]),
    (_file([A_REC], [b"\xff\xfe"]), ["name 0: name at offset", "is not valid UTF-8"]),
    (_file([A_REC])[:-8] + struct.pack("<QQ", 1, 1 << 60),
     ["name 0: truncated while reading name bytes", f"expected {1 << 60} bytes, found 0"]),
    (_file([A_REC], tail=b"junk"), ["4 bytes of trailing garbage at offset"]),
    (_file([_v2((2, -3))]), ["shape (2, -3) has a negative dim -3"]),
    (_file([_v2((-1,))]), ["shape (-1,) has a negative dim -1 (-1: an empty (none) array record)"]),
    (_file([_v2((1 << 60,))]), [f"shape ({1 << 60},) has an absurd dim {1 << 60}"]),
    (_file([_v2((1 << 20, 1 << 20))]), ["truncated while reading data", "expected 4398046511104 bytes"]),
    (_file([_v2((0, 1 << 40, 1 << 40))]), ["shape (0, 1099511627776, 1099511627776) is absurdly large"]),
    (_file([struct.pack("<Iii", V2, 0, 1000) + b"\0" * 64]), ["shape ndim 1000", "expected 0..32"]),
    (_file([struct.pack("<Iii", V2, 0, -1) + b"\0" * 64]), ["shape ndim -1", "expected 0..32"]),
    (_file([struct.pack("<Iii", V2, 0, 0)]), ["empty (none) array record (ndim 0) at offset 24",
                                              "unknown storage type: -1"]),
    (_file([struct.pack("<Iii", V3, 0, -1)]), ["empty (none) array record (ndim -1)"]),
    (_file([_v2((1,), 13, b"\0" * 4)]), ["unknown type flag 13 at offset 52"]),
    (_file([_v2((1,), 0, b"\0" * 4, stype=3)]), ["unknown storage type 3 at offset 28"]),
    (_file([_v2((1,), 0, b"\0" * 4, stype=-1)]), ["unknown storage type -1"]),
    (_file([_v2((1,), 0, b"\0" * 4, ctx=(9, 0))]), ["bad context (9, 0) at offset 44"]),
    (_file([_v2((1,), 0, b"\0" * 4, ctx=(1, -1))]), ["bad context (1, -1)"]),
    (_file([struct.pack("<I", 40) + b"\0" * 300]), ["bad record magic 0x00000028"]),
], ids=lambda v: v[0][:40] if isinstance(v, list) else "blob")
def test_corrupt_files(blob, phrases):
    with pytest.raises(MXNetError) as err:
        ser.load_bytes(blob, source="bad.params")
    msg = str(err.value)
    assert type(err.value) is MXNetError
    assert msg.startswith("invalid NDArray file bad.params: "), msg
    for phrase in phrases:
        assert phrase in msg, (phrase, msg)


def test_file_name_in_message(tmp_path):
    path = tmp_path / "broken-0003.params"
    path.write_bytes((GOLD / "list.params").read_bytes()[:-3])
    with pytest.raises(MXNetError, match="broken-0003.params"):
        ser.load(path)


def test_random_corruption_never_escapes_mxneterror():
    raw = bytearray((GOLD / "sparse.params").read_bytes() + (GOLD / "ints.params").read_bytes()[24:])
    raw[16:24] = struct.pack("<Q", 5)  # a 5-record file with a bogus name table: all corrupt-ish
    base = (GOLD / "model-0001.params").read_bytes()
    rs = np.random.RandomState(0)
    for blob in (bytes(raw), base):
        for _ in range(1500):
            b = bytearray(blob)
            for pos in rs.randint(0, len(b), size=rs.randint(1, 4)):
                b[pos] = rs.randint(0, 256)
            try:
                ser.load_bytes(bytes(b))
            except MXNetError:
                pass
