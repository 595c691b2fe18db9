"""Generate the `.params` golden files with real MXNet 1.9.1, and check our writer against it.

Run from the repository root with the MXNet reference interpreter:

    /root/.mxnet-ref/bin/python tests/golden/gen_params.py

It runs in three phases:
1. (MXNet) write fixtures with ``mx.nd.save`` (and hand-built V1 / pre-V1 / odd files, loaded
   with ``mx.nd.load``), recording what MXNet loads in ``params/manifest.json``;
2. (project venv, ``--ours``; a subprocess) write ``params/ours_*`` from the manifest's values
   with ``modjax.ndarray.serialization``;
3. (MXNet) ``mx.nd.load`` every ``ours_*`` file, assert the values match, assert byte identity
   with MXNet's own file for the same data, and add these results to the manifest.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "params"
REPO = HERE.parents[1]
VENV_PY = os.environ.get("MODJAX_PYTHON", str(REPO / ".venv" / "bin" / "python"))
MANIFEST = OUT / "manifest.json"

# name -> (kind, [(key, dtype, shape)]); values are made by _values().
DENSE = {
    "model-0001.params": ("dict", [
        ("arg:conv1_weight", "float32", (4, 3, 2, 2)), ("arg:conv1_bias", "float32", (4,)),
        ("arg:fc1_weight", "float64", (3, 5)), ("arg:fc1_bias", "float16", (3,)),
        ("arg:scale", "float32", (1,)), ("aux:bn_moving_mean", "float32", (4,)),
        ("aux:bn_moving_var", "float32", (1, 1, 1, 1))]),
    "ints.params": ("dict", [
        ("arg:i32", "int32", (2, 3)), ("arg:i64", "int64", (5,)), ("arg:i8", "int8", (2, 2, 2)),
        ("aux:u8", "uint8", (7,)), ("aux:one_i64", "int64", (1,))]),
    "list.params": ("list", [
        ("", "float32", (2, 2)), ("", "int32", (3,)), ("", "float16", (1,)),
        ("", "float64", (0, 3)), ("", "uint8", (2, 1, 2)), ("", "int8", (1, 1))]),
    "single.params": ("single", [("", "float32", (3, 4))]),
    "special.params": ("dict", [("arg:f32", "float32", (8,)), ("arg:f16", "float16", (6,)),
                                ("arg:f64", "float64", (5,))]),
    "unicode.params": ("dict", [("arg:\u00fc_\u540d\u524d", "float32", (2,))]),
    "empty.params": ("dict", []),
    "extra_dtypes.params": ("dict", [("arg:mask", "bool", (2, 3)), ("arg:bf16", "bfloat16", (4,))]),
}
SPECIAL = {
    "float32": [np.nan, np.inf, -np.inf, -0.0, 1e-45, 3.4028235e38, 1.1754944e-38, -1.5],
    "float16": [np.nan, np.inf, 65504.0, -0.0, 6e-08, -2.0],
    "float64": [np.nan, -np.inf, 5e-324, 1.7976931348623157e308, -0.0],
}
BF16 = [1.0, 2.5, -3.0, 0.15625]  # exactly representable in bfloat16


def _values(rs: np.random.RandomState, name: str, key: str, dtype: str, shape: tuple) -> np.ndarray:
    if name == "special.params":
        return np.array(SPECIAL[dtype], dtype)
    if dtype == "bfloat16":
        return np.array(BF16, np.float32)
    if dtype == "bool":
        return rs.rand(*shape) > 0.5
    if dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        a = rs.randint(max(info.min, -1000), min(info.max, 1000) + 1, size=shape).astype(dtype)
        if a.size >= 2:
            a.flat[0], a.flat[-1] = info.min, info.max
        return a
    return (rs.randn(*shape) * 3).astype(dtype)


def _entry(arr) -> dict:
    """JSON form of an mx NDArray (or numpy array) as MXNet loaded it."""
    a = arr.asnumpy() if hasattr(arr, "asnumpy") else np.asarray(arr)
    dtype = a.dtype
    if dtype.names == ("bfloat16",):  # MXNet's bfloat16 numpy dtype: the raw bits
        bits = a.view(np.uint16).astype(np.uint32) << 16
        return {"dtype": "bfloat16", "shape": list(a.shape), "values": bits.view(np.float32).tolist()}
    return {"dtype": dtype.name, "shape": list(a.shape), "values": a.tolist()}


def _loaded(result) -> dict:
    if isinstance(result, dict):
        return {"kind": "dict", "arrays": [dict(name=k, **_entry(v)) for k, v in result.items()]}
    return {"kind": "list", "arrays": [dict(name="", **_entry(v)) for v in result]}


def _mx_try(mx, path: Path) -> dict:
    try:
        return dict(mxnet="ok", **_loaded(mx.nd.load(str(path))))
    except Exception as err:  # noqa: BLE001 - we record what MXNet says
        lines = [ln for ln in str(err).strip().splitlines() if ln.strip()]
        return {"mxnet": "error", "error_type": type(err).__name__, "message": lines[-1] if lines else ""}


# ---- hand-built records --------------------------------------------------------------------
def _file(records: list, names: list | None = None, tail: bytes = b"") -> bytes:
    names = names or []
    out = struct.pack("<QQQ", 0x112, 0, len(records)) + b"".join(records)
    out += struct.pack("<Q", len(names)) + b"".join(struct.pack("<Q", len(n)) + n for n in names)
    return out + tail


def _rec(kind: str, shape: tuple, flag: int, data: bytes, ctx=(1, 0)) -> bytes:
    if kind == "legacy":
        head = struct.pack(f"<I{len(shape)}I", len(shape), *shape)
    else:
        magic = {"v1": 0xF993FAC8, "v2": 0xF993FAC9, "v3": 0xF993FACA}[kind]
        head = struct.pack("<I", magic) + (b"" if kind == "v1" else struct.pack("<i", 0))
        head += struct.pack(f"<i{len(shape)}q", len(shape), *shape)
    return head + struct.pack("<iii", ctx[0], ctx[1], flag) + data


def _f32(*v) -> bytes:
    return np.array(v, "<f4").tobytes()


HANDBUILT = {
    "handbuilt_v1.params": _file([_rec("v1", (2, 2), 0, _f32(1, 2, 3, 4))]),
    "handbuilt_legacy.params": _file([_rec("legacy", (2, 3), 4, np.arange(6, dtype="<i4").tobytes())]),
    "handbuilt_mixed.params": _file(
        [_rec("v2", (2,), 1, np.array([0.5, -1], "<f8").tobytes()), _rec("v1", (1, 3), 6,
         np.array([7, 8, 9], "<i8").tobytes()), _rec("legacy", (3,), 3, bytes([1, 2, 255]))],
        [b"arg:a", b"arg:b", b"aux:c"]),
    "handbuilt_legacy_scalar.params": _file([_rec("legacy", (), 0, _f32(7))]),
    "handbuilt_v1_scalar.params": _file([_rec("v1", (), 1, np.array([2.25], "<f8").tobytes())]),
    "handbuilt_legacy_zero.params": _file([_rec("legacy", (0, 3), 0, b"")]),
    "handbuilt_gpu_ctx.params": _file([_rec("v2", (2,), 0, _f32(1, 2), ctx=(2, 1))]),
    "handbuilt_dup_names.params": _file([_rec("v2", (1,), 0, _f32(1)), _rec("v2", (1,), 0, _f32(2))],
                                        [b"a", b"a"]),
    "handbuilt_v2_none.params": _file([struct.pack("<Iii", 0xF993FAC9, 0, 0)]),
    "handbuilt_v3.params": _file([_rec("v3", (2,), 0, _f32(1, 2)), _rec("v3", (), 0, _f32(5))]),
    "handbuilt_trailing.params": _file([_rec("v2", (1,), 0, _f32(1))], tail=b"junk"),
    "handbuilt_flag8.params": _file([_rec("v2", (2,), 8, np.array([1, -2], "<i2").tobytes())]),
}


def phase_mxnet() -> dict:
    import mxnet as mx
    assert mx.__version__ == "1.9.1", mx.__version__
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*"):
        old.unlink()
    rs = np.random.RandomState(20240601)
    manifest: dict = {"mxnet_version": mx.__version__, "files": {}, "sparse": {}, "handbuilt": {},
                      "raw_records": {}, "reverse": {}}
    bf16 = np.dtype([("bfloat16", np.uint16)])
    for name, (kind, specs) in DENSE.items():
        nds = []
        for key, dtype, shape in specs:
            vals = _values(rs, name, key, dtype, shape)
            if dtype == "bfloat16":
                nds.append((key, mx.nd.array(vals, dtype="float32").astype(bf16)))
            else:
                nds.append((key, mx.nd.array(vals, dtype=dtype)))
        data = dict(nds) if kind == "dict" else nds[0][1] if kind == "single" else [v for _, v in nds]
        mx.nd.save(str(OUT / name), data)
        manifest["files"][name] = dict(written_as=kind, **_loaded(mx.nd.load(str(OUT / name))))
    # sparse: MXNet writes them as sparse records; we read them densified
    rsp = mx.nd.sparse.row_sparse_array((np.array([[1, 2], [3, 4]], "f4"), np.array([1, 3])), shape=(5, 2))
    csr = mx.nd.sparse.csr_matrix((np.array([1, 2, 3], "f8"), np.array([0, 2, 1]), np.array([0, 2, 2, 3])),
                                  shape=(3, 4), dtype="float64")
    sp = {"rsp": rsp, "csr": csr, "rsp_empty": mx.nd.sparse.zeros("row_sparse", (4, 3)),
          "csr_empty": mx.nd.sparse.zeros("csr", (2, 3))}
    mx.nd.save(str(OUT / "sparse.params"), sp)
    loaded = mx.nd.load(str(OUT / "sparse.params"))
    manifest["sparse"]["sparse.params"] = {
        "kind": "dict", "stypes": {k: v.stype for k, v in loaded.items()},
        "arrays": [dict(name=k, **_entry(v.tostype("default"))) for k, v in loaded.items()]}
    for name, blob in HANDBUILT.items():
        (OUT / name).write_bytes(blob)
        manifest["handbuilt"][name] = _mx_try(mx, OUT / name)
    with mx.util.np_shape(True):
        manifest["handbuilt"]["handbuilt_v3.params"]["np_shape"] = _mx_try(mx, OUT / "handbuilt_v3.params")
    # pickled NDArray handles (MXNDArraySaveRawBytes): one record, no list header
    for key, arr in {"raw_f16": mx.nd.array([1, -2.5, 3], dtype="float16"),
                     "raw_i64": mx.nd.array([[1, 2], [3, 4]], dtype="int64")}.items():
        blob = bytes(arr.__getstate__()["handle"])
        (OUT / f"{key}.bin").write_bytes(blob)
        manifest["raw_records"][f"{key}.bin"] = _entry(arr)
    MANIFEST.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def _np_of(entry: dict) -> np.ndarray:
    if entry["dtype"] == "bfloat16":
        import ml_dtypes
        return np.array(entry["values"], np.float32).astype(ml_dtypes.bfloat16).reshape(entry["shape"])
    return np.array(entry["values"], entry["dtype"]).reshape(entry["shape"])


def phase_ours() -> None:
    """Under the project venv: write ours_* from the manifest with modjax."""
    sys.path.insert(0, str(REPO))
    from modjax.ndarray import serialization as ser
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    for name, f in manifest["files"].items():
        arrays = [_np_of(e) for e in f["arrays"]]
        kind = f["written_as"]
        data = {e["name"]: a for e, a in zip(f["arrays"], arrays)} if kind == "dict" else \
            arrays[0] if kind == "single" else arrays
        ser.save(OUT / f"ours_{name}", data)
    ser.save(OUT / "ours_scalar.params", {"s32": np.array(1.5, "float32"), "s64": np.array(-7, "int64")})
    ser.save(OUT / "ours_gpu_ctx.params", [np.array([1, 2], "float32")], contexts=[(2, 1)])
    ser.save(OUT / "ours_int16.params", [np.array([1, -2], "int16")])
    for name, e in manifest["raw_records"].items():
        (OUT / f"ours_{name}").write_bytes(ser.record_to_bytes(_np_of(e)))


def phase_check(manifest: dict) -> None:
    import mxnet as mx
    rev = manifest["reverse"]
    for name, f in manifest["files"].items():
        ours, theirs = (OUT / f"ours_{name}").read_bytes(), (OUT / name).read_bytes()
        got = _loaded(mx.nd.load(str(OUT / f"ours_{name}")))
        assert got == {"kind": f["kind"], "arrays": f["arrays"]} or _same_nan(got, f), name
        assert ours == theirs, f"{name}: our bytes differ from mx.nd.save's"
        rev[f"ours_{name}"] = {"mxnet_loads_equal": True, "byte_identical_to": name}
    for name in manifest["raw_records"]:
        ours = (OUT / f"ours_{name}").read_bytes()
        assert ours == (OUT / name).read_bytes(), name
        rev[f"ours_{name}"] = {"byte_identical_to": name}
    for name in ("ours_scalar.params", "ours_gpu_ctx.params", "ours_int16.params"):
        rev[name] = _mx_try(mx, OUT / name)
    assert rev["ours_scalar.params"]["arrays"] == [
        {"name": "s32", "dtype": "float32", "shape": [], "values": 1.5},
        {"name": "s64", "dtype": "int64", "shape": [], "values": -7}], rev["ours_scalar.params"]
    assert rev["ours_gpu_ctx.params"]["arrays"][0]["values"] == [1.0, 2.0]
    MANIFEST.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _same_nan(got: dict, want: dict) -> bool:
    """Equality where NaN == NaN (json lists hold float('nan'))."""
    def norm(x):
        if isinstance(x, dict):
            return {k: norm(v) for k, v in x.items()}
        return [norm(v) for v in x] if isinstance(x, list) else ("nan" if x != x else x)
    return norm(got["arrays"]) == norm(want["arrays"]) and got["kind"] == want["kind"]


def main() -> None:
    if "--ours" in sys.argv:
        phase_ours()
        return
    manifest = phase_mxnet()
    subprocess.run([VENV_PY, __file__, "--ours"], check=True, cwd=str(REPO))
    phase_check(manifest)
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total} bytes; all reverse checks passed")


if __name__ == "__main__":
    main()
